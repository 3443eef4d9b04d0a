//! Small helpers over a Durable Object's storage shared by every object: SQL, one-document
//! tables and absolute alarms.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::{js_sys, ScheduledTime, SqlCursor, SqlStorageValue, State};

use crate::runtime::http_io::OrInternal;
use crate::runtime::log;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::log_line::LogLine;

#[derive(Deserialize)]
struct CountRow {
    n: f64,
}

#[derive(Deserialize)]
struct DocRow {
    body: String,
}

/// Runs one SQL statement on the object's SQLite storage.
pub fn sql(
    state: &State,
    query: &str,
    bindings: Vec<SqlStorageValue>,
) -> Result<SqlCursor, ApiError> {
    state
        .storage()
        .sql()
        .exec(query, Some(bindings))
        .or_internal()
}

/// Sets the object's alarm for an absolute time (worker's `From<i64>` would read an offset).
pub async fn set_alarm_at(state: &State, epoch_ms: u64) -> Result<(), ApiError> {
    let when = ScheduledTime::new(js_sys::Date::new(&js_sys::Number::from(epoch_ms as f64)));
    state.storage().set_alarm(when).await.or_internal()
}

/// The JSON document kept as row 1 of `table`; `None` if none was ever written. Reading
/// creates no table, so probing an object that was never written stores nothing.
pub fn read_doc<T: DeserializeOwned>(state: &State, table: &str) -> Result<Option<T>, ApiError> {
    let exists: Vec<CountRow> = sql(
        state,
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
        vec![table.to_owned().into()],
    )?
    .to_array()
    .or_internal()?;
    if exists.first().is_none_or(|r| r.n < 1.0) {
        return Ok(None);
    }
    let rows: Vec<DocRow> = sql(
        state,
        &format!("SELECT body FROM {table} WHERE id = 1"),
        vec![],
    )?
    .to_array()
    .or_internal()?;
    match rows.into_iter().next() {
        None => Ok(None),
        Some(row) => serde_json::from_str(&row.body).map(Some).map_err(|e| {
            log::emit(
                &LogLine::error("corrupt stored document")
                    .with("table", table)
                    .with("detail", e.to_string()),
            );
            ApiError::Internal
        }),
    }
}

/// Writes `doc` as row 1 of `table`, creating the table on first use.
pub fn write_doc<T: Serialize>(state: &State, table: &str, doc: &T) -> Result<(), ApiError> {
    sql(
        state,
        &format!("CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)"),
        vec![],
    )?;
    let body = serde_json::to_string(doc).map_err(|_| ApiError::Internal)?;
    sql(
        state,
        &format!("INSERT OR REPLACE INTO {table} (id, body) VALUES (1, ?)"),
        vec![body.into()],
    )?;
    Ok(())
}
