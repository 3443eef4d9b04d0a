//! The payments index in D1: writes a request's row, removes it at retention, and runs operators' searches (the rules are `operators::payments_index` and `operators::search` in the core).

use std::cell::Cell;

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::runtime::usage;
use edgepay_core::config::GatewayConfig;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::operators::payments_index::{
    shard_for, IndexRow, SqlValue, DELETE_SQL, UPSERT_SQL,
};
use edgepay_core::operators::search::Search;

thread_local! {
    /// Test-only (`FAULT_INJECTION`): while set, every index write and search in this isolate
    /// fails, as if D1 were down.
    static FAULT_DOWN: Cell<bool> = const { Cell::new(false) };
}

/// `POST /__faults/index-down` and `/__faults/index-up`.
pub fn set_fault_down(down: bool) {
    FAULT_DOWN.with(|f| f.set(down));
}

/// The database holding `tenant`'s rows; `None` when the index is off
/// (`PAYMENTS_INDEX_BINDINGS` empty).
fn database(env: &Env, cfg: &GatewayConfig, tenant: &str) -> Result<Option<D1Database>, String> {
    if cfg.index_bindings.is_empty() {
        return Ok(None);
    }
    if FAULT_DOWN.with(Cell::get) {
        return Err("the payments index is down (fault injection)".to_owned());
    }
    let name = shard_for(tenant, &cfg.index_bindings)
        .ok_or_else(|| "no payments index binding".to_owned())?;
    env.d1(name).map(Some).map_err(|e| format!("{name}: {e}"))
}

fn bind(values: Vec<SqlValue>) -> Vec<JsValue> {
    values
        .into_iter()
        .map(|v| match v {
            SqlValue::Text(s) => JsValue::from_str(&s),
            // Every integer here (milliseconds, counts, statuses) is far below 2^53.
            SqlValue::Int(n) => JsValue::from_f64(n as f64),
            SqlValue::Null => JsValue::NULL,
        })
        .collect()
}

async fn run(db: &D1Database, sql: &str, params: Vec<SqlValue>) -> Result<(), String> {
    let result = db
        .prepare(sql)
        .bind(&bind(params))
        .map_err(|e| e.to_string())?
        .run()
        .await
        .map_err(|e| e.to_string())?;
    if let Ok(Some(meta)) = result.meta() {
        usage::count(|u| {
            u.index_rows_written += meta.rows_written.unwrap_or(0) as u64;
            u.index_rows_read += meta.rows_read.unwrap_or(0) as u64;
        });
    }
    match result.error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Writes `row` (insert or update). `Ok` when the index is off.
pub async fn write(env: &Env, cfg: &GatewayConfig, row: &IndexRow) -> Result<(), String> {
    match database(env, cfg, &row.tenant)? {
        Some(db) => run(&db, UPSERT_SQL, row.upsert_params()).await,
        None => Ok(()),
    }
}

/// Removes a request's row (its object is being deleted). `Ok` when the index is off.
pub async fn remove(
    env: &Env,
    cfg: &GatewayConfig,
    tenant: &str,
    request_id: &str,
) -> Result<(), String> {
    match database(env, cfg, tenant)? {
        Some(db) => run(&db, DELETE_SQL, vec![request_id.into()]).await,
        None => Ok(()),
    }
}

/// A row as D1 hands it over: numbers are JavaScript numbers.
#[derive(Deserialize)]
struct StoredRow {
    request_id: String,
    tenant: String,
    dialect: String,
    subject: String,
    state: String,
    created_ms: f64,
    updated_ms: f64,
    result_status: Option<f64>,
    submission_count: f64,
    callback_state: String,
    callback_attempts: f64,
}

impl From<StoredRow> for IndexRow {
    fn from(r: StoredRow) -> Self {
        IndexRow {
            request_id: r.request_id,
            tenant: r.tenant,
            dialect: r.dialect,
            subject: r.subject,
            state: r.state,
            created_ms: r.created_ms as u64,
            updated_ms: r.updated_ms as u64,
            result_status: r.result_status.map(|s| s as u16),
            submission_count: r.submission_count as u32,
            callback_state: r.callback_state,
            callback_attempts: r.callback_attempts as u32,
        }
    }
}

/// One page (plus one row) of `tenant`'s rows for `search`. The index being off is a `404`;
/// D1 failing is a `503`.
pub async fn search(
    env: &Env,
    cfg: &GatewayConfig,
    tenant: &str,
    search: &Search,
) -> Result<Vec<IndexRow>, ApiError> {
    let unavailable = |why: String| {
        crate::runtime::log::emit(
            &edgepay_core::log_line::LogLine::warn("payments index search failed")
                .with("detail", why),
        );
        ApiError::Unavailable {
            retry_after_secs: 5,
        }
    };
    let db = database(env, cfg, tenant)
        .map_err(unavailable)?
        .ok_or(ApiError::NotFound {
            detail: "the payments index is not configured on this deployment",
        })?;
    let (sql, params) = search.sql(tenant);
    let result = db
        .prepare(sql)
        .bind(&bind(params))
        .map_err(|e| unavailable(e.to_string()))?
        .all()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let rows: Vec<StoredRow> = result.results().map_err(|e| unavailable(e.to_string()))?;
    Ok(rows.into_iter().map(IndexRow::from).collect())
}
