//! Small helpers over a Durable Object's storage shared by every object: SQL, one-document
//! tables and absolute alarms.

use std::cell::Cell;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::{js_sys, ScheduledTime, SqlCursor, SqlStorageValue, State};

use crate::runtime::http_io::OrInternal;
use crate::runtime::{log, usage};
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
    let cursor = state
        .storage()
        .sql()
        .exec(query, Some(bindings))
        .or_internal()?;
    // A statement without result rows has run to its end by now, so its count is final.
    usage::count(|u| u.object_rows_written += cursor.rows_written() as u64);
    Ok(cursor)
}

/// Sets the object's alarm for an absolute time (worker's `From<i64>` would read an offset).
pub async fn set_alarm_at(state: &State, epoch_ms: u64) -> Result<(), ApiError> {
    let when = ScheduledTime::new(js_sys::Date::new(&js_sys::Number::from(epoch_ms as f64)));
    state.storage().set_alarm(when).await.or_internal()
}

/// Whether the object's SQLite has a table `name` (asking creates nothing).
pub fn table_exists(state: &State, name: &str) -> Result<bool, ApiError> {
    let found: Vec<CountRow> = sql(
        state,
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
        vec![name.into()],
    )?
    .to_array()
    .or_internal()?;
    Ok(found.first().is_some_and(|r| r.n >= 1.0))
}

/// A table holding one JSON document as its row 1. Whether the table exists is asked of
/// SQLite at most once per object instance (and never again once it was written), not on
/// every call; reading creates nothing, so probing an object that was never written stores
/// nothing.
pub struct DocTable {
    name: &'static str,
    exists: Cell<bool>,
}

impl DocTable {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            exists: Cell::new(false),
        }
    }

    /// The stored document; `None` if none was ever written.
    pub fn read<T: DeserializeOwned>(&self, state: &State) -> Result<Option<T>, ApiError> {
        if !self.exists.get() {
            if !table_exists(state, self.name)? {
                return Ok(None);
            }
            self.exists.set(true);
        }
        let rows: Vec<DocRow> = sql(
            state,
            &format!("SELECT body FROM {} WHERE id = 1", self.name),
            vec![],
        )?
        .to_array()
        .or_internal()?;
        match rows.into_iter().next() {
            None => Ok(None),
            Some(row) => serde_json::from_str(&row.body).map(Some).map_err(|e| {
                log::emit(
                    &LogLine::error("corrupt stored document")
                        .with("table", self.name)
                        .with("detail", e.to_string()),
                );
                ApiError::Internal
            }),
        }
    }

    /// Writes `doc` as row 1, creating the table on this instance's first write.
    pub fn write<T: Serialize>(&self, state: &State, doc: &T) -> Result<(), ApiError> {
        if !self.exists.get() {
            sql(
                state,
                &format!(
                    "CREATE TABLE IF NOT EXISTS {} (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)",
                    self.name
                ),
                vec![],
            )?;
            self.exists.set(true);
        }
        let body = serde_json::to_string(doc).map_err(|_| ApiError::Internal)?;
        sql(
            state,
            &format!(
                "INSERT OR REPLACE INTO {} (id, body) VALUES (1, ?)",
                self.name
            ),
            vec![body.into()],
        )?;
        Ok(())
    }

    /// The object's storage was deleted (`delete_all`): the table is gone with it.
    pub fn forget(&self) {
        self.exists.set(false);
    }
}
