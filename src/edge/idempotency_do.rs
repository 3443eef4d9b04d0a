//! The idempotency-key Durable Object: one per (tenant, key); remembers the first request for 24 h.

use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, SqlStorageValue, State};

use super::do_protocol::ClaimCommand;
use super::durable_storage;
use super::env_config::now_ms;
use super::http_io::{json_response, problem_response};
use crate::domain::api_error::ApiError;
use crate::domain::idempotency::{Claim, KeyRecord};

#[durable_object]
pub struct IdempotencyRecord {
    state: State,
}

#[derive(Deserialize)]
struct Row {
    body: String,
}

impl IdempotencyRecord {
    fn sql_exec(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<worker::SqlCursor, ApiError> {
        durable_storage::sql(&self.state, query, bindings)
    }

    async fn claim(&self, cmd: ClaimCommand) -> Result<Claim, ApiError> {
        self.sql_exec("CREATE TABLE IF NOT EXISTS key_record (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)", vec![])?;
        let rows: Vec<Row> = self
            .sql_exec("SELECT body FROM key_record WHERE id = 1", vec![])?
            .to_array()?;
        let now = now_ms();
        let stored = rows
            .into_iter()
            .next()
            .and_then(|row| serde_json::from_str::<KeyRecord>(&row.body).ok())
            .filter(|record| record.expires_ms() > now);
        if let Some(record) = stored {
            return Ok(record.claim(&cmd.fingerprint));
        }
        let record = KeyRecord {
            fingerprint: cmd.fingerprint,
            request_id: cmd.request_id.clone(),
            created_ms: now,
        };
        let body = serde_json::to_string(&record).map_err(|_| ApiError::Internal)?;
        self.sql_exec(
            "INSERT OR REPLACE INTO key_record (id, body) VALUES (1, ?)",
            vec![body.into()],
        )?;
        // The key is forgotten after its retention; the alarm clears the object.
        durable_storage::set_alarm_at(&self.state, record.expires_ms()).await?;
        Ok(Claim::New {
            request_id: cmd.request_id,
        })
    }
}

impl DurableObject for IdempotencyRecord {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let outcome = async {
            let cmd: ClaimCommand =
                serde_json::from_str(&req.text().await?).map_err(|_| ApiError::Internal)?;
            let claim = self.claim(cmd).await?;
            json_response(
                200,
                &serde_json::to_value(claim).map_err(|_| ApiError::Internal)?,
            )
        };
        match outcome.await {
            Ok(resp) => Ok(resp),
            Err(e) => problem_response(&e, "idempotency-key"),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.state.storage().delete_all().await?;
        Response::ok("")
    }
}
