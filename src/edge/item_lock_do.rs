//! The item-lock Durable Object: one per (tenant, subject); at most one payment in flight, or `409`.
//!
//! The holder is released by its payment-request object when the request turns
//! terminal. A lock whose holder was never created (the edge failed between
//! acquiring and creating) or whose release was lost is healed on the next
//! conflict by probing the holder.

use serde::Deserialize;
use worker::{console_log, durable_object, DurableObject, Env, Request, Response, State};

use super::do_client;
use super::do_protocol::{LockCommand, LockReply};
use super::durable_storage::sql;
use super::env_config::now_ms;
use super::http_io::json_response;
use crate::domain::api_error::ApiError;

/// How long a holder with no stored request keeps the lock: covers the edge's create call.
const UNCREATED_HOLDER_GRACE_MS: u64 = 60_000;

#[durable_object]
pub struct ItemLock {
    state: State,
    env: Env,
}

#[derive(Deserialize)]
struct HolderRow {
    request_id: String,
    acquired_ms: f64,
}

impl ItemLock {
    fn holder(&self) -> Result<Option<HolderRow>, ApiError> {
        sql(&self.state,
            "CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), request_id TEXT NOT NULL, acquired_ms INTEGER NOT NULL)",
            vec![],
        )?;
        let rows: Vec<HolderRow> = sql(
            &self.state,
            "SELECT request_id, acquired_ms FROM holder WHERE id = 1",
            vec![],
        )?
        .to_array()?;
        Ok(rows.into_iter().next())
    }

    fn set_holder(&self, request_id: &str) -> Result<(), ApiError> {
        sql(
            &self.state,
            "INSERT OR REPLACE INTO holder (id, request_id, acquired_ms) VALUES (1, ?, ?)",
            vec![request_id.into(), (now_ms() as i64).into()],
        )?;
        Ok(())
    }

    /// Asks the holder's payment-request object whether it still needs the lock.
    async fn holder_is_stale(&self, holder: &HolderRow) -> bool {
        match do_client::probe(&self.env, &holder.request_id).await {
            Ok(p) if p.terminal => true,
            Ok(p) if !p.exists => {
                now_ms().saturating_sub(holder.acquired_ms as u64) > UNCREATED_HOLDER_GRACE_MS
            }
            _ => false,
        }
    }

    async fn acquire(&self, cmd: LockCommand) -> Result<Response, ApiError> {
        let granted = || LockReply {
            acquired: true,
            holder: cmd.request_id.clone(),
        };
        let Some(holder) = self.holder()? else {
            self.set_holder(&cmd.request_id)?;
            return reply(&granted());
        };
        if holder.request_id == cmd.request_id {
            return reply(&granted());
        }
        if self.holder_is_stale(&holder).await {
            // Compare-and-set: another acquire may have healed the lock while we probed.
            let current = self.holder()?;
            if current
                .as_ref()
                .is_some_and(|c| c.request_id == holder.request_id)
            {
                console_log!("{{\"level\":\"warn\",\"msg\":\"stale item lock healed\",\"payment_id\":\"{}\"}}", holder.request_id);
                self.set_holder(&cmd.request_id)?;
                return reply(&granted());
            }
            let holder = current.map(|c| c.request_id).unwrap_or_default();
            return reply(&LockReply {
                acquired: false,
                holder,
            });
        }
        reply(&LockReply {
            acquired: false,
            holder: holder.request_id,
        })
    }

    fn release(&self, cmd: LockCommand) -> Result<Response, ApiError> {
        if self
            .holder()?
            .is_some_and(|h| h.request_id == cmd.request_id)
        {
            sql(&self.state, "DELETE FROM holder WHERE id = 1", vec![])?;
        }
        json_response(200, &serde_json::json!({"released": true}))
    }

    async fn route(&self, mut req: Request) -> Result<Response, ApiError> {
        let path = req.path();
        let cmd: LockCommand =
            serde_json::from_str(&req.text().await?).map_err(|_| ApiError::Internal)?;
        match path.as_str() {
            "/acquire" => self.acquire(cmd).await,
            "/release" => self.release(cmd),
            _ => Err(ApiError::NotFound {
                detail: "no such command",
            }),
        }
    }
}

fn reply(r: &LockReply) -> Result<Response, ApiError> {
    json_response(
        200,
        &serde_json::to_value(r).map_err(|_| ApiError::Internal)?,
    )
}

impl DurableObject for ItemLock {
    fn new(state: State, env: Env) -> Self {
        Self { state, env }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match self.route(req).await {
            Ok(resp) => Ok(resp),
            Err(e) => super::http_io::problem_response(&e, "item-lock"),
        }
    }
}
