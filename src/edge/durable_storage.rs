//! Small helpers over a Durable Object's storage shared by every object: SQL and absolute alarms.

use worker::{js_sys, ScheduledTime, SqlCursor, SqlStorageValue, State};

use crate::domain::api_error::ApiError;

/// Runs one SQL statement on the object's SQLite storage.
pub fn sql(
    state: &State,
    query: &str,
    bindings: Vec<SqlStorageValue>,
) -> Result<SqlCursor, ApiError> {
    Ok(state.storage().sql().exec(query, Some(bindings))?)
}

/// Sets the object's alarm for an absolute time (worker's `From<i64>` would read an offset).
pub async fn set_alarm_at(state: &State, epoch_ms: u64) -> Result<(), ApiError> {
    let when = ScheduledTime::new(js_sys::Date::new(&js_sys::Number::from(epoch_ms as f64)));
    state.storage().set_alarm(when).await?;
    Ok(())
}
