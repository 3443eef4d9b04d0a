//! The item-lock Durable Object: one per (tenant, subject); its row, and the core's rule (`payment::item_lock`) for who holds it.

use std::cell::Cell;

use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::objects::client::call;
use crate::objects::serve::{serve, unknown_command};
use crate::objects::storage::sql;
use crate::runtime::env_config::now_ms;
use crate::runtime::http_io::{problem_response, OrInternal};
use crate::runtime::log;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::log_line::LogLine;
use edgepay_core::objects::commands::{
    Ack, AcquireLock, Command, LockReply, ProbeHolder, ReleaseLock,
};
use edgepay_core::payment::item_lock::{self, Acquire, Holder};

#[durable_object]
pub struct ItemLock {
    state: State,
    env: Env,
    /// The holder table was created by this instance (once, not per call).
    schema_ready: Cell<bool>,
}

#[derive(Deserialize)]
struct HolderRow {
    request_id: String,
    acquired_ms: f64,
}

impl ItemLock {
    fn holder(&self) -> Result<Option<Holder>, ApiError> {
        if !self.schema_ready.get() {
            sql(&self.state,
                "CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), request_id TEXT NOT NULL, acquired_ms INTEGER NOT NULL)",
                vec![],
            )?;
            self.schema_ready.set(true);
        }
        let rows: Vec<HolderRow> = sql(
            &self.state,
            "SELECT request_id, acquired_ms FROM holder WHERE id = 1",
            vec![],
        )?
        .to_array()
        .or_internal()?;
        Ok(rows.into_iter().next().map(|r| Holder {
            request_id: r.request_id,
            acquired_ms: r.acquired_ms as u64,
        }))
    }

    fn set_holder(&self, request_id: &str) -> Result<LockReply, ApiError> {
        sql(
            &self.state,
            "INSERT OR REPLACE INTO holder (id, request_id, acquired_ms) VALUES (1, ?, ?)",
            vec![request_id.into(), (now_ms() as i64).into()],
        )?;
        Ok(LockReply {
            acquired: true,
            holder: request_id.to_owned(),
        })
    }

    async fn acquire(&self, cmd: AcquireLock) -> Result<LockReply, ApiError> {
        let current = self.holder()?;
        let holder = match item_lock::acquire(current.as_ref(), cmd.request_id.as_str()) {
            Acquire::Granted if current.is_some() => {
                return Ok(LockReply {
                    acquired: true,
                    holder: cmd.request_id.to_string(),
                })
            }
            Acquire::Granted => return self.set_holder(cmd.request_id.as_str()),
            Acquire::ProbeHolder(holder) => holder,
        };
        // A probe that fails keeps the holder: a `409` is safe, a second payment is not.
        let probe = call(&self.env, &holder.request_id, &ProbeHolder {})
            .await
            .ok()
            .flatten();
        if !item_lock::holder_is_stale(&holder, probe, now_ms()) {
            return Ok(LockReply {
                acquired: false,
                holder: holder.request_id,
            });
        }
        // Compare-and-set: another acquire may have healed the lock while we probed.
        match self.holder()? {
            Some(now) if now == holder => {
                log::emit(
                    &LogLine::warn("stale item lock healed").with("payment_id", &holder.request_id),
                );
                self.set_holder(cmd.request_id.as_str())
            }
            now => Ok(LockReply {
                acquired: false,
                holder: now.map(|h| h.request_id).unwrap_or_default(),
            }),
        }
    }

    fn release(&self, cmd: ReleaseLock) -> Result<Ack, ApiError> {
        if item_lock::releases(self.holder()?.as_ref(), cmd.request_id.as_str()) {
            sql(&self.state, "DELETE FROM holder WHERE id = 1", vec![])?;
        }
        Ok(Ack {})
    }

    async fn route(&self, mut req: Request) -> Result<Response, ApiError> {
        let body = req.text().await.or_internal()?;
        match req.path().as_str() {
            AcquireLock::PATH => {
                serve(&body, |c| async move { self.acquire(c).await.map(Some) }).await
            }
            ReleaseLock::PATH => serve(&body, |c| async move { self.release(c).map(Some) }).await,
            _ => Err(unknown_command()),
        }
    }
}

impl DurableObject for ItemLock {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            schema_ready: Cell::new(false),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match self.route(req).await {
            Ok(resp) => Ok(resp),
            Err(e) => problem_response(&e, "item-lock"),
        }
    }
}
