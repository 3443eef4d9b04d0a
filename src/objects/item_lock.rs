//! The item-lock Durable Object of before lanes: one of each tenant's lock shards, holding a row per locked subject, asked only during the upgrade window (`LEGACY_ITEM_LOCKS_UNTIL`), with the core's rule (`payment::item_lock`) for who holds each.

use std::cell::Cell;

use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::objects::client::{call, call_payment};
use crate::objects::serve::{serve, unknown_command};
use crate::objects::storage::{sql, table_exists};
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::http_io::{problem_response, OrInternal};
use crate::runtime::log;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::ids::RequestId;
use edgepay_core::log_line::LogLine;
use edgepay_core::objects::commands::{
    Ack, AcquireLock, Command, LegacyHolder, LockReply, PeekLegacyLock, ProbeHolder, ReleaseLock,
};
use edgepay_core::payment::item_lock::{self, Acquire, Holder, HolderProbe};

#[durable_object]
pub struct ItemLock {
    state: State,
    env: Env,
    /// The holders table was created by this instance (once, not per call).
    schema_ready: Cell<bool>,
}

#[derive(Deserialize)]
struct HolderRow {
    request_id: String,
    acquired_ms: f64,
}

fn holder_of(rows: Vec<HolderRow>) -> Option<Holder> {
    rows.into_iter().next().map(|r| Holder {
        request_id: r.request_id,
        acquired_ms: r.acquired_ms as u64,
    })
}

impl ItemLock {
    fn holder(&self, lock: &str) -> Result<Option<Holder>, ApiError> {
        if !self.schema_ready.get() {
            sql(&self.state,
                "CREATE TABLE IF NOT EXISTS holders (lock TEXT PRIMARY KEY, request_id TEXT NOT NULL, acquired_ms INTEGER NOT NULL)",
                vec![],
            )?;
            self.schema_ready.set(true);
        }
        let rows: Vec<HolderRow> = sql(
            &self.state,
            "SELECT request_id, acquired_ms FROM holders WHERE lock = ?",
            vec![lock.into()],
        )?
        .to_array()
        .or_internal()?;
        Ok(holder_of(rows))
    }

    fn set_holder(&self, lock: &str, request_id: &str) -> Result<LockReply, ApiError> {
        sql(
            &self.state,
            "INSERT OR REPLACE INTO holders (lock, request_id, acquired_ms) VALUES (?, ?, ?)",
            vec![lock.into(), request_id.into(), (now_ms() as i64).into()],
        )?;
        Ok(LockReply {
            acquired: true,
            holder: request_id.to_owned(),
        })
    }

    /// Whether `holder` no longer needs its lock, asking its request how it stands (in its
    /// lane, or its own object from before lanes). A request neither holds does not exist; a
    /// probe that fails keeps the holder: a `409` is safe, a second payment is not.
    async fn is_stale(&self, holder: &Holder) -> bool {
        let missing = HolderProbe {
            exists: false,
            terminal: false,
        };
        let probe = match RequestId::parse(&holder.request_id) {
            Some(id) => match call_payment(&self.env, &id, &ProbeHolder {}).await {
                Ok(answer) => Some(answer.unwrap_or(missing)),
                Err(_) => None,
            },
            None => Some(missing),
        };
        item_lock::holder_is_stale(holder, probe, now_ms())
    }

    async fn acquire(&self, cmd: AcquireLock) -> Result<LockReply, ApiError> {
        let lock = cmd.lock.as_str();
        let current = self.holder(lock)?;
        let holder = match item_lock::acquire(current.as_ref(), cmd.request_id.as_str()) {
            Acquire::Granted if current.is_some() => {
                return Ok(LockReply {
                    acquired: true,
                    holder: cmd.request_id.to_string(),
                })
            }
            Acquire::Granted => return self.acquire_free(lock, cmd.request_id.as_str()).await,
            Acquire::ProbeHolder(holder) => holder,
        };
        if !self.is_stale(&holder).await {
            return Ok(LockReply {
                acquired: false,
                holder: holder.request_id,
            });
        }
        // Compare-and-set: another acquire may have healed the lock while we probed.
        match self.holder(lock)? {
            Some(now) if now == holder => {
                log::emit(
                    &LogLine::warn("stale item lock healed").with("payment_id", &holder.request_id),
                );
                self.set_holder(lock, cmd.request_id.as_str())
            }
            now => Ok(LockReply {
                acquired: false,
                holder: now.map(|h| h.request_id).unwrap_or_default(),
            }),
        }
    }

    /// A lock no row holds. During the upgrade window the subject's lock object of before the
    /// shards is asked too, so a payment accepted before the upgrade still keeps its item.
    async fn acquire_free(&self, lock: &str, request_id: &str) -> Result<LockReply, ApiError> {
        let window = config(&self.env)?.legacy_item_locks_until_ms;
        if window.is_none_or(|until| now_ms() >= until) {
            return self.set_holder(lock, request_id);
        }
        let legacy = call(&self.env, lock, &PeekLegacyLock {})
            .await?
            .and_then(|l| l.holder);
        // Compare-and-set again: the row may have been taken while the old object answered.
        match (legacy, self.holder(lock)?) {
            (Some(holder), _)
            | (
                None,
                Some(Holder {
                    request_id: holder, ..
                }),
            ) if holder != request_id => Ok(LockReply {
                acquired: false,
                holder,
            }),
            _ => self.set_holder(lock, request_id),
        }
    }

    fn release(&self, cmd: ReleaseLock) -> Result<Ack, ApiError> {
        if item_lock::releases(self.holder(&cmd.lock)?.as_ref(), cmd.request_id.as_str()) {
            sql(
                &self.state,
                "DELETE FROM holders WHERE lock = ?",
                vec![cmd.lock.into()],
            )?;
        }
        Ok(Ack {})
    }

    /// As a lock object of before the shards (one row, `holder`): its holder, if it still needs
    /// it. Reads only; a stale row simply stays.
    async fn peek_legacy(&self) -> Result<LegacyHolder, ApiError> {
        if !table_exists(&self.state, "holder")? {
            return Ok(LegacyHolder { holder: None });
        }
        let rows: Vec<HolderRow> = sql(
            &self.state,
            "SELECT request_id, acquired_ms FROM holder WHERE id = 1",
            vec![],
        )?
        .to_array()
        .or_internal()?;
        let holder = match holder_of(rows) {
            Some(holder) if !self.is_stale(&holder).await => Some(holder.request_id),
            _ => None,
        };
        Ok(LegacyHolder { holder })
    }

    async fn route(&self, mut req: Request) -> Result<Response, ApiError> {
        let body = req.text().await.or_internal()?;
        match req.path().as_str() {
            AcquireLock::PATH => {
                serve(&body, |c| async move { self.acquire(c).await.map(Some) }).await
            }
            ReleaseLock::PATH => serve(&body, |c| async move { self.release(c).map(Some) }).await,
            PeekLegacyLock::PATH => {
                serve(&body, |_: PeekLegacyLock| async move {
                    self.peek_legacy().await.map(Some)
                })
                .await
            }
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
