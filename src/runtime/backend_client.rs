//! Outbound signed POSTs with a timeout: dispatches to the payment backend, callbacks, and the sandbox's results.

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

use crate::runtime::bounded_body::{self, BodyError};
use crate::runtime::env_config;
use crate::runtime::log;
use edgepay_core::backend::contract::{classify_reply, BackendReply, MAX_RESULT_BYTES};
use edgepay_core::config::GatewayConfig;
use edgepay_core::log_line::LogLine;
use edgepay_core::payment::request_record::RequestRecord;
use edgepay_core::signing::{signature_header, SigningSecret};

/// The answer to an outbound POST, or why there was none.
pub struct PostReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    /// The body's first bytes as received, at most the caller's limit + 1 (so that a body
    /// longer than the limit shows as longer), or why they could not be read; the rest is never
    /// read. Not necessarily text.
    pub body: Result<Vec<u8>, String>,
}

/// How long a POST may take, and how much of the answer's body is read (0: none).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub timeout_ms: u64,
    pub max_body: usize,
}

/// A runtime error's own text goes to the operators' log only: it can name internal hosts or
/// the runtime's internals, and what `signed_post` returns reaches clients (a failed payment's
/// message) and tenants (the delivery log). They get `public`, a fixed text.
fn logged(public: &str, detail: impl std::fmt::Display) -> String {
    log::emit(
        &LogLine::warn("outbound post failed")
            .with("why", public)
            .with("detail", detail.to_string()),
    );
    public.to_owned()
}

/// A Standard-Webhooks-signed JSON POST. Redirects are not followed; `Err` is a network
/// failure or the timeout, as a fixed text (the runtime's own is logged).
pub async fn signed_post(
    url: &str,
    body: &str,
    secrets: &[SigningSecret],
    msg_id: &str,
    extra_headers: &[(&str, &str)],
    now_ms: u64,
    bounds: Bounds,
) -> Result<PostReply, String> {
    let Bounds {
        timeout_ms,
        max_body,
    } = bounds;
    let timestamp = now_ms / 1000;
    let headers = Headers::new();
    let set = |name: &str, value: &str| {
        headers
            .set(name, value)
            .map_err(|e| logged("the request could not be built", e))
    };
    set("content-type", "application/json")?;
    set("user-agent", "edgepay/0.1")?;
    set("webhook-id", msg_id)?;
    set("webhook-timestamp", &timestamp.to_string())?;
    set(
        "webhook-signature",
        &signature_header(secrets, msg_id, timestamp, body.as_bytes()),
    )?;
    for (name, value) in extra_headers {
        set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(JsValue::from_str(body)));
    let request = Request::new_with_init(url, &init)
        .map_err(|e| logged("the request could not be built", e))?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let started_ms = env_config::now_ms();
    // The answer's head within the time bound; then its body within what is left of it. A
    // body that stalls therefore leaves the status known: a receiver's 2xx still counts, and
    // the backend's reply is transient because its body is incomplete.
    let head = async {
        fetch
            .send_with_signal(&signal)
            .await
            .map_err(|e| logged("the peer could not be reached", e))
    };
    let timeout = Delay::from(Duration::from_millis(timeout_ms));
    pin_mut!(head);
    pin_mut!(timeout);
    let reply = match select(head, timeout).await {
        Either::Left((Ok(mut resp), _)) => {
            let content_type = resp.headers().get("content-type").ok().flatten();
            let retry_after = resp.headers().get("retry-after").ok().flatten();
            let left = timeout_ms.saturating_sub(env_config::now_ms().saturating_sub(started_ms));
            // At most `max_body` + 1 bytes (nothing for 0): a longer body shows as longer. A
            // peer's body is never buffered whole nor required to be text.
            let body = match max_body {
                0 => Ok(Vec::new()),
                _ => bounded_body::read_prefix(
                    &mut resp,
                    max_body.saturating_add(1),
                    Duration::from_millis(left),
                )
                .await
                .map(|prefix| prefix.bytes)
                .map_err(|e| match e {
                    BodyError::TimedOut { .. } => "the body did not end in time".to_owned(),
                    BodyError::Broken { detail, .. } => logged("the body broke off", detail),
                }),
            };
            Ok(PostReply {
                status: resp.status_code(),
                content_type,
                retry_after,
                body,
            })
        }
        Either::Left((Err(why), _)) => Err(why),
        Either::Right(((), _)) => Err(format!("no answer within {timeout_ms} ms")),
    };
    // Ends the transfer of whatever was not read (a body past the limit, or a timeout).
    controller.abort();
    reply
}

/// Submits a request to `{BACKEND_URL}/payments` and classifies the answer.
/// Never fails: network errors and timeouts are transient replies.
pub async fn submit(config: &GatewayConfig, record: &RequestRecord, now_ms: u64) -> BackendReply {
    let body = record.dispatch_body().to_string();
    // One message id per submission; the request id is the idempotency key across them.
    let msg_id = format!("{}-{}", record.request_id(), record.submission_count());
    let signing_key = config.backend_secrets.get(..1).unwrap_or_default();
    let reply = signed_post(
        &config.backend_payments_url(),
        &body,
        signing_key,
        &msg_id,
        &[("idempotency-key", record.request_id().as_str())],
        now_ms,
        Bounds {
            timeout_ms: config.dispatch.timeout_ms,
            max_body: MAX_RESULT_BYTES,
        },
    )
    .await;
    match reply {
        Ok(r) => classify_reply(r.status, r.content_type, r.body),
        Err(why) => BackendReply::Transient(why),
    }
}
