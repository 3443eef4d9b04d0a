//! Typed calls from the edge (and between objects) to the Durable Objects, over the stub's `fetch`.
//!
//! A call the runtime cannot complete (object reset, overloaded, code
//! reloading) becomes `503` with `Retry-After`, so the client knows to retry.
//! So does a call that outlives its deadline: an object whose instance died
//! mid-call (a panic in another isolate) never answers, and the caller must
//! not wait on it forever.

use std::time::Duration;

use futures_util::future::{select, Either};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;
use worker::{console_error, Delay, Env, Method, Request, RequestInit};

use super::do_protocol::{
    CallbackJob, CallbackJobQuery, CallbackLogReply, CallbackReport, ClaimCommand, CreateCommand,
    LockCommand, LockReply, ProbeReply, ReplayReply, ResultCommand, ResultReply, SettleCommand,
    StatusQuery, TenantQuery,
};
use crate::domain::api_error::ApiError;
use crate::domain::idempotency::Claim;
use crate::domain::request_record::{RequestView, RETRY_AFTER_SECS};

/// Binding names in `wrangler.toml`.
pub const PAYMENT_REQUEST: &str = "PAYMENT_REQUEST";
pub const ITEM_LOCK: &str = "ITEM_LOCK";
pub const IDEMPOTENCY: &str = "IDEMPOTENCY";

/// How long a call may take beyond the time the object is asked to hold the caller.
const CALL_GRACE_MS: u64 = 10_000;

fn unavailable(context: &str, e: impl std::fmt::Display) -> ApiError {
    console_error!(
        "{}",
        serde_json::json!({"level": "warn", "msg": "durable object call failed", "call": context, "detail": e.to_string()})
    );
    ApiError::Unavailable {
        retry_after_secs: RETRY_AFTER_SECS,
    }
}

/// POSTs `command` to `path` on the object named `name`; `Ok(None)` for a 404.
async fn call<T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    path: &str,
    command: &impl Serialize,
) -> Result<Option<T>, ApiError> {
    call_holding(env, binding, name, path, command, 0).await
}

/// As [`call`], for a command that holds the caller up to `hold_ms` before answering.
async fn call_holding<T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    path: &str,
    command: &impl Serialize,
    hold_ms: u64,
) -> Result<Option<T>, ApiError> {
    let body = serde_json::to_string(command).map_err(|_| ApiError::Internal)?;
    let attempt = async {
        let stub = env
            .durable_object(binding)?
            .id_from_name(name)?
            .get_stub()?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&body)));
        let request = Request::new_with_init(&format!("https://{binding}.internal{path}"), &init)?;
        let mut resp = stub.fetch_with_request(request).await?;
        match resp.status_code() {
            200 => resp.json::<T>().await.map(|v| Ok(Some(v))),
            404 => Ok(Ok(None)),
            status => Ok(Err(status)),
        }
    };
    let deadline = Delay::from(Duration::from_millis(hold_ms.saturating_add(CALL_GRACE_MS)));
    let outcome = match select(Box::pin(attempt), deadline).await {
        Either::Left((outcome, _)) => Some(outcome),
        Either::Right(_) => None,
    };
    match outcome {
        Some(Ok(Ok(value))) => Ok(value),
        Some(Ok(Err(status))) => Err(unavailable(path, format!("object answered HTTP {status}"))),
        Some(Err(e)) => Err(unavailable(path, e)),
        None => Err(unavailable(path, "no answer before the deadline")),
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound {
        detail: "no request with this id",
    }
}

pub async fn create_payment(env: &Env, cmd: &CreateCommand) -> Result<RequestView, ApiError> {
    call_holding(
        env,
        PAYMENT_REQUEST,
        &cmd.request_id,
        "/create",
        cmd,
        cmd.wait_ms,
    )
    .await?
    .ok_or(ApiError::Internal)
}

pub async fn request_status(
    env: &Env,
    request_id: &str,
    query: &StatusQuery,
) -> Result<RequestView, ApiError> {
    call_holding(
        env,
        PAYMENT_REQUEST,
        request_id,
        "/status",
        query,
        query.wait_ms,
    )
    .await?
    .ok_or_else(not_found)
}

pub async fn deliver_result(
    env: &Env,
    request_id: &str,
    cmd: &ResultCommand,
) -> Result<ResultReply, ApiError> {
    call(env, PAYMENT_REQUEST, request_id, "/result", cmd)
        .await?
        .ok_or_else(not_found)
}

pub async fn probe(env: &Env, request_id: &str) -> Result<ProbeReply, ApiError> {
    call(
        env,
        PAYMENT_REQUEST,
        request_id,
        "/probe",
        &serde_json::json!({}),
    )
    .await?
    .ok_or(ApiError::Internal)
}

pub async fn acquire_lock(
    env: &Env,
    lock_name: &str,
    request_id: &str,
) -> Result<LockReply, ApiError> {
    let cmd = LockCommand {
        request_id: request_id.to_owned(),
    };
    call(env, ITEM_LOCK, lock_name, "/acquire", &cmd)
        .await?
        .ok_or(ApiError::Internal)
}

pub async fn release_lock(env: &Env, lock_name: &str, request_id: &str) -> Result<(), ApiError> {
    let cmd = LockCommand {
        request_id: request_id.to_owned(),
    };
    call::<serde_json::Value>(env, ITEM_LOCK, lock_name, "/release", &cmd).await?;
    Ok(())
}

pub async fn callback_job(
    env: &Env,
    request_id: &str,
    attempt: u32,
) -> Result<CallbackJob, ApiError> {
    let job = call(
        env,
        PAYMENT_REQUEST,
        request_id,
        "/callback/job",
        &CallbackJobQuery { attempt },
    )
    .await?;
    Ok(job.unwrap_or(CallbackJob::Skip {
        reason: "no such request".to_owned(),
    }))
}

pub async fn callback_report(
    env: &Env,
    request_id: &str,
    report: &CallbackReport,
) -> Result<(), ApiError> {
    call::<serde_json::Value>(env, PAYMENT_REQUEST, request_id, "/callback/report", report).await?;
    Ok(())
}

pub async fn callback_dead_lettered(env: &Env, request_id: &str) -> Result<(), ApiError> {
    call::<serde_json::Value>(
        env,
        PAYMENT_REQUEST,
        request_id,
        "/callback/dead-lettered",
        &serde_json::json!({}),
    )
    .await?;
    Ok(())
}

pub async fn callback_log(
    env: &Env,
    request_id: &str,
    tenant: &str,
) -> Result<CallbackLogReply, ApiError> {
    let query = TenantQuery {
        tenant: tenant.to_owned(),
    };
    call(env, PAYMENT_REQUEST, request_id, "/callback/log", &query)
        .await?
        .ok_or_else(not_found)
}

pub async fn callback_replay(
    env: &Env,
    request_id: &str,
    tenant: &str,
) -> Result<ReplayReply, ApiError> {
    let query = TenantQuery {
        tenant: tenant.to_owned(),
    };
    call(env, PAYMENT_REQUEST, request_id, "/callback/replay", &query)
        .await?
        .ok_or_else(not_found)
}

pub async fn claim_key(
    env: &Env,
    object_name: &str,
    cmd: &ClaimCommand,
) -> Result<Claim, ApiError> {
    call(env, IDEMPOTENCY, object_name, "/claim", cmd)
        .await?
        .ok_or(ApiError::Internal)
}

/// Gives back the answering lease of the key's first call (`request_id`).
pub async fn settle_key(env: &Env, object_name: &str, request_id: &str) -> Result<(), ApiError> {
    let cmd = SettleCommand {
        request_id: request_id.to_owned(),
    };
    call::<serde_json::Value>(env, IDEMPOTENCY, object_name, "/settle", &cmd).await?;
    Ok(())
}

/// Test-only: asks the request's object to panic or reset itself (`fault_routes`).
pub async fn inject_fault(
    env: &Env,
    request_id: &str,
    fault: super::fault_routes::ObjectFault,
) -> Result<(), ApiError> {
    call::<serde_json::Value>(env, PAYMENT_REQUEST, request_id, "/fault", &fault).await?;
    Ok(())
}
