//! The idempotency-key Durable Object: one per (tenant, owner, key); remembers the first request for 24 h and whether its first call is still answering.

use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::objects::serve::{serve, unknown_command};
use crate::objects::storage::{self, DocTable};
use crate::runtime::env_config::now_ms;
use crate::runtime::http_io::{problem_response, OrInternal};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::objects::commands::{ClaimKey, Command, SettleKey};
use edgepay_core::payment::idempotency::{Claim, KeyRecord};

#[durable_object]
pub struct IdempotencyRecord {
    state: State,
    /// The key's record (one JSON document).
    table: DocTable,
}

impl IdempotencyRecord {
    /// The live record, if any (an expired one awaits its alarm and counts as gone).
    fn load(&self, now: u64) -> Result<Option<KeyRecord>, ApiError> {
        Ok(self
            .table
            .read::<KeyRecord>(&self.state)?
            .filter(|record| record.expires_ms() > now))
    }

    fn save(&self, record: &KeyRecord) -> Result<(), ApiError> {
        self.table.write(&self.state, record)
    }

    async fn claim(&self, cmd: ClaimKey) -> Result<Claim, ApiError> {
        let now = now_ms();
        if let Some(record) = self.load(now)? {
            return Ok(record.claim(&cmd.fingerprint, now));
        }
        let record = KeyRecord::first_use(
            cmd.fingerprint,
            cmd.request_id.to_string(),
            now,
            cmd.hold_ms,
        );
        self.save(&record)?;
        // The key is forgotten after its retention; the alarm clears the object.
        storage::set_alarm_at(&self.state, record.expires_ms()).await?;
        Ok(Claim::New {
            request_id: cmd.request_id.to_string(),
        })
    }

    fn settle(&self, cmd: SettleKey) -> Result<bool, ApiError> {
        let Some(mut record) = self.load(now_ms())? else {
            return Ok(false);
        };
        if !record.settle(cmd.request_id.as_str()) {
            return Ok(false);
        }
        self.save(&record)?;
        Ok(true)
    }

    async fn route(&self, mut req: Request) -> Result<Response, ApiError> {
        let body = req.text().await.or_internal()?;
        match req.path().as_str() {
            ClaimKey::PATH => serve(&body, |c| async move { self.claim(c).await.map(Some) }).await,
            SettleKey::PATH => serve(&body, |c| async move { self.settle(c).map(Some) }).await,
            _ => Err(unknown_command()),
        }
    }
}

impl DurableObject for IdempotencyRecord {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            table: DocTable::new("key_record"),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match self.route(req).await {
            Ok(resp) => Ok(resp),
            Err(e) => problem_response(&e, "idempotency-key"),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        crate::runtime::usage::count(|u| u.object_requests += 1);
        self.state.storage().delete_all().await?;
        self.table.forget();
        Response::ok("")
    }
}
