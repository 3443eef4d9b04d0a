//! Outbound signed POSTs with a timeout: dispatches to the payment backend, callbacks, and the sandbox's results.

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

use edgepay_core::backend::contract::{classify_reply, BackendReply};
use edgepay_core::config::GatewayConfig;
use edgepay_core::payment::request_record::RequestRecord;
use edgepay_core::signing::{signature_header, SigningSecret};

/// The answer to an outbound POST, or why there was none.
pub struct PostReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

/// A Standard-Webhooks-signed JSON POST. Redirects are not followed; `Err` is a network
/// failure or the timeout.
pub async fn signed_post(
    url: &str,
    body: &str,
    secrets: &[SigningSecret],
    msg_id: &str,
    extra_headers: &[(&str, &str)],
    now_ms: u64,
    timeout_ms: u64,
) -> Result<PostReply, String> {
    let timestamp = now_ms / 1000;
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(|e| e.to_string());
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
    let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let send = async {
        let mut resp = fetch
            .send_with_signal(&signal)
            .await
            .map_err(|e| e.to_string())?;
        let content_type = resp.headers().get("content-type").ok().flatten();
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(PostReply {
            status: resp.status_code(),
            content_type,
            retry_after,
            body: text,
        })
    };
    let timeout = Delay::from(Duration::from_millis(timeout_ms));
    pin_mut!(send);
    pin_mut!(timeout);
    match select(send, timeout).await {
        Either::Left((reply, _)) => reply,
        Either::Right(((), _)) => {
            controller.abort();
            Err(format!("no answer within {timeout_ms} ms"))
        }
    }
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
        config.dispatch.timeout_ms,
    )
    .await;
    match reply {
        Ok(r) => classify_reply(r.status, r.content_type, r.body),
        Err(why) => BackendReply::Transient(why),
    }
}
