//! `call::<C>()`: sends any object command (`edgepay_core::objects::commands`) over the stub's `fetch`, with a deadline; `call_payment` finds the object that holds a payment.
//!
//! Every stub asks for its object's tenant's location hint (`TENANTS`, see
//! `edgepay_core::objects::placement`), which places the object when it is first created.
//!
//! A call the runtime cannot complete (object reset, overloaded, code
//! reloading) becomes `503` with `Retry-After`, so the client knows to retry.
//! So does a call that outlives its deadline: an object whose instance died
//! mid-call (a panic in another isolate) never answers, and the caller must
//! not wait on it forever.

use std::time::Duration;

use futures_util::future::{select, Either};
use wasm_bindgen::JsValue;
use worker::{Delay, Env, Method, Request, RequestInit};

use crate::runtime::env_config::config;
use crate::runtime::{log, usage};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::ids::RequestId;
use edgepay_core::log_line::LogLine;
use edgepay_core::objects::commands::Command;
use edgepay_core::payment::lane;
use edgepay_core::payment::request_record::RETRY_AFTER_SECS;

/// The header that names the payment a payment-object command is about.
pub const PAYMENT_HEADER: &str = "edgepay-payment";

/// Set on a lane's `404` when it holds no payment with the id asked for (as opposed to a
/// payment it holds but will not show this caller).
pub const UNKNOWN_PAYMENT_HEADER: &str = "edgepay-unknown-payment";

/// What an object answered, before its reply is decoded.
enum Answer {
    /// `200`, with the reply's JSON.
    Reply(String),
    /// `404`: no such request (or not for this caller).
    NotFound,
    /// `404` from a lane that does not hold the payment at all.
    UnknownPayment,
}

/// Where a command goes and what it carries; everything the (non-generic) sending needs.
struct Envelope<'a> {
    binding: &'static str,
    path: &'static str,
    body: String,
    hold_ms: u64,
    payment: Option<&'a RequestId>,
}

impl<'a> Envelope<'a> {
    fn of<C: Command>(command: &C, payment: Option<&'a RequestId>) -> Result<Self, ApiError> {
        Ok(Self {
            binding: C::OBJECT.binding(),
            path: C::PATH,
            body: serde_json::to_string(command).map_err(|_| ApiError::Internal)?,
            hold_ms: command.hold_ms(),
            payment,
        })
    }
}

/// The reply's JSON as `R`; `None` for a `404` of either kind.
fn decode<R: serde::de::DeserializeOwned>(answer: Answer) -> Result<Option<R>, ApiError> {
    match answer {
        Answer::Reply(json) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|_| ApiError::Internal),
        Answer::NotFound | Answer::UnknownPayment => Ok(None),
    }
}

/// How long a call may take beyond the time the object is asked to hold the caller.
const CALL_GRACE_MS: u64 = 10_000;

fn unavailable(path: &str, detail: impl std::fmt::Display) -> ApiError {
    log::emit(
        &LogLine::warn("durable object call failed")
            .with("call", path)
            .with("detail", detail.to_string()),
    );
    ApiError::Unavailable {
        retry_after_secs: RETRY_AFTER_SECS,
    }
}

/// The answer for an object that says it has no such request.
pub fn not_found() -> ApiError {
    ApiError::NotFound {
        detail: "no request with this id",
    }
}

/// Sends `command` to the object `name` of its class; `Ok(None)` when the object answers `404`.
pub async fn call<C: Command>(
    env: &Env,
    name: &str,
    command: &C,
) -> Result<Option<C::Reply>, ApiError> {
    decode(send(env, name, &Envelope::of(command, None)?).await?)
}

/// Sends `command` about payment `id` to the object that holds it: the lane named in the id
/// (`payment::lane`) or, for a payment from before lanes, which its lane does not know, the
/// object named by the id itself. `Ok(None)` when neither has it for this caller.
pub async fn call_payment<C: Command>(
    env: &Env,
    id: &RequestId,
    command: &C,
) -> Result<Option<C::Reply>, ApiError> {
    decode(send_about_payment(env, id, &Envelope::of(command, Some(id))?).await?)
}

async fn send_about_payment(
    env: &Env,
    id: &RequestId,
    envelope: &Envelope<'_>,
) -> Result<Answer, ApiError> {
    match send(env, &lane::object_of(id), envelope).await? {
        Answer::UnknownPayment => send(env, id.as_str(), envelope).await,
        answer => Ok(answer),
    }
}

/// One command to the object `name`, raced against its deadline.
async fn send(env: &Env, name: &str, envelope: &Envelope<'_>) -> Result<Answer, ApiError> {
    let Envelope {
        binding,
        path,
        body,
        hold_ms,
        payment,
    } = envelope;
    let cfg = config(env)?;
    let hint = cfg.tenants.placements.hint_for_object(name);
    usage::count(|u| u.object_requests += 1);
    let attempt = async {
        let namespace = env.durable_object(binding)?;
        let stub = match hint {
            Some(hint) => namespace.get_by_name_with_location_hint(name, hint)?,
            None => namespace.get_by_name(name)?,
        };
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(body)));
        if let Some(id) = payment {
            let headers = worker::Headers::new();
            headers.set(PAYMENT_HEADER, id.as_str())?;
            init.with_headers(headers);
        }
        let request = Request::new_with_init(&format!("https://{binding}.internal{path}"), &init)?;
        let mut resp = stub.fetch_with_request(request).await?;
        match resp.status_code() {
            200 => resp.text().await.map(|v| Ok(Answer::Reply(v))),
            404 if resp.headers().has(UNKNOWN_PAYMENT_HEADER)? => Ok(Ok(Answer::UnknownPayment)),
            404 => Ok(Ok(Answer::NotFound)),
            status => Ok(Err(status)),
        }
    };
    let deadline = Delay::from(Duration::from_millis(hold_ms.saturating_add(CALL_GRACE_MS)));
    let outcome = match select(Box::pin(attempt), deadline).await {
        Either::Left((outcome, _)) => Some(outcome),
        Either::Right(_) => None,
    };
    match outcome {
        Some(Ok(Ok(answer))) => Ok(answer),
        Some(Ok(Err(status))) => Err(unavailable(path, format!("object answered HTTP {status}"))),
        Some(Err(e)) => Err(unavailable(path, e)),
        None => Err(unavailable(path, "no answer before the deadline")),
    }
}

/// As [`call`], for a command whose object always answers (a `404` is an internal error).
pub async fn call_existing<C: Command>(
    env: &Env,
    name: &str,
    command: &C,
) -> Result<C::Reply, ApiError> {
    call(env, name, command).await?.ok_or(ApiError::Internal)
}
