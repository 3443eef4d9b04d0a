//! HTTP plumbing for the edge: reading bounded bodies, headers, origins, and writing JSON and problem responses.

use futures_util::StreamExt;
use serde_json::Value;
use worker::{console_error, Request, Response, Url};

use crate::domain::api_error::ApiError;
use crate::domain::auth::CHALLENGE;
use crate::domain::problem_json;
use crate::domain::request_body::{check_size, MAX_BODY_BYTES};
use crate::domain::signing::{verify, SignedHeaders, SigningSecret, DEFAULT_TOLERANCE_SECS};

impl From<worker::Error> for ApiError {
    /// Runtime errors are logged and answered as an opaque 500.
    fn from(e: worker::Error) -> Self {
        console_error!(
            "{{\"level\":\"error\",\"msg\":\"runtime error\",\"detail\":{}}}",
            Value::String(e.to_string())
        );
        ApiError::Internal
    }
}

/// A header value, `None` when absent or unreadable.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// `scheme://host[:port]` of the URL the client called, for absolute links.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`]: by a declared `Content-Length` before
/// reading, else as soon as the bytes received pass the limit. A body of unknown length (chunked,
/// or a length the runtime does not pass on) is never buffered whole, nor waited for to the end.
pub async fn read_body(req: &mut Request) -> Result<Vec<u8>, ApiError> {
    if let Some(declared) = header(req, "content-length").and_then(|v| v.trim().parse::<u64>().ok())
    {
        if declared > MAX_BODY_BYTES as u64 {
            return Err(ApiError::PayloadTooLarge {
                limit_bytes: MAX_BODY_BYTES,
            });
        }
    }
    let mut body = Vec::new();
    if req.inner().body().is_none() {
        return Ok(body);
    }
    let mut chunks = req.stream()?;
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk?);
        check_size(body.len())?;
    }
    Ok(body)
}

/// A response with a body given verbatim.
pub fn raw_response(status: u16, content_type: &str, body: Vec<u8>) -> Result<Response, ApiError> {
    Ok(Response::builder()
        .with_status(status)
        .with_header("content-type", content_type)?
        .fixed(body))
}

pub fn json_response(status: u16, value: &Value) -> Result<Response, ApiError> {
    raw_response(status, "application/json", value.to_string().into_bytes())
}

/// Sets a header on a response being built.
pub fn set_header(resp: &mut Response, name: &str, value: &str) -> Result<(), ApiError> {
    resp.headers_mut().set(name, value)?;
    Ok(())
}

/// Adds the headers an error class requires (`WWW-Authenticate`, `Allow`, `Retry-After`).
pub fn add_error_headers(resp: &mut Response, error: &ApiError) -> Result<(), ApiError> {
    match error {
        ApiError::Unauthorized { .. } => set_header(resp, "www-authenticate", CHALLENGE),
        // RFC 6750: which check failed is never said beyond its error codes.
        ApiError::InvalidToken { .. } => set_header(
            resp,
            "www-authenticate",
            r#"Bearer realm="edgepay", error="invalid_token""#,
        ),
        ApiError::InsufficientScope { .. } => set_header(
            resp,
            "www-authenticate",
            r#"Bearer realm="edgepay", error="insufficient_scope""#,
        ),
        ApiError::BadSignature { .. } => set_header(
            resp,
            "www-authenticate",
            r#"Signature realm="edgepay-backend""#,
        ),
        ApiError::MethodNotAllowed { allow } => set_header(resp, "allow", allow),
        ApiError::Unavailable { retry_after_secs } => {
            set_header(resp, "retry-after", &retry_after_secs.to_string())
        }
        _ => Ok(()),
    }
}

/// problem+json for the Zai-compatible and internal routes. Never fails: a last-resort plain 500.
pub fn problem_response(error: &ApiError, instance: &str) -> worker::Result<Response> {
    let build = || -> Result<Response, ApiError> {
        let doc = problem_json::render(error, instance);
        let mut resp = raw_response(
            error.status(),
            problem_json::CONTENT_TYPE,
            doc.to_string().into_bytes(),
        )?;
        add_error_headers(&mut resp, error)?;
        Ok(resp)
    };
    match build() {
        Ok(resp) => Ok(resp),
        Err(_) => Response::error("internal error", 500),
    }
}

/// Verifies a Standard-Webhooks-signed request from the payment backend (or to the sandbox)
/// against `secrets`; returns its `webhook-id`. Failures are `401`.
pub fn verify_signed(
    req: &Request,
    body: &[u8],
    secrets: &[SigningSecret],
    now_ms: u64,
) -> Result<String, ApiError> {
    let (id, ts, sig) = (
        header(req, "webhook-id"),
        header(req, "webhook-timestamp"),
        header(req, "webhook-signature"),
    );
    let signed = SignedHeaders {
        id: id.as_deref(),
        timestamp: ts.as_deref(),
        signature: sig.as_deref(),
    };
    verify(secrets, signed, body, now_ms / 1000, DEFAULT_TOLERANCE_SECS)
        .map(str::to_owned)
        .map_err(|e| ApiError::BadSignature {
            detail: e.describe(),
        })
}

/// A request id from a path; any other form is a `404`, like an unknown id.
pub fn parse_request_id(raw: &str) -> Result<String, ApiError> {
    crate::domain::ids::RequestId::parse(raw)
        .map(|id| id.to_string())
        .ok_or(ApiError::NotFound {
            detail: "no request with this id",
        })
}

/// The optional `Idempotency-Key` header; an invalid one is a `400` naming it.
pub fn idempotency_key(
    req: &Request,
) -> Result<Option<crate::domain::idempotency::IdempotencyKey>, ApiError> {
    header(req, "idempotency-key")
        .map(|raw| crate::domain::idempotency::IdempotencyKey::parse(&raw))
        .transpose()
        .map_err(|e| ApiError::Validation(vec![e]))
}
