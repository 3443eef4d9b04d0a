//! HTTP plumbing for the edge: reading bounded bodies, headers, origins, and writing JSON and problem responses.

use futures_util::StreamExt;
use serde_json::Value;
use worker::{Request, Response, Url};

use crate::runtime::log;
use edgepay_core::log_line::LogLine;

use edgepay_core::http::answer::{Answer, Parts};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::problem_json;
use edgepay_core::http::request_body::MAX_BODY_BYTES;
use edgepay_core::ids::RequestId;
use edgepay_core::signing::{verify, SignedHeaders, SigningSecret, DEFAULT_TOLERANCE_SECS};

/// Runtime errors are logged and answered as an opaque 500. (`ApiError` lives in the core, which
/// knows nothing of `worker`, so this is an extension trait rather than a `From`.)
pub trait OrInternal<T> {
    fn or_internal(self) -> Result<T, ApiError>;
}

impl<T> OrInternal<T> for worker::Result<T> {
    fn or_internal(self) -> Result<T, ApiError> {
        self.map_err(|e| {
            log::emit(&LogLine::error("runtime error").with("detail", e.to_string()));
            ApiError::Internal
        })
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
    read_body_up_to(req, MAX_BODY_BYTES).await
}

/// As [`read_body`], with its own limit (the backend's result posts carry larger bodies).
pub async fn read_body_up_to(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::PayloadTooLarge { limit_bytes: limit };
    if let Some(declared) = header(req, "content-length").and_then(|v| v.trim().parse::<u64>().ok())
    {
        if declared > limit as u64 {
            return Err(too_large());
        }
    }
    let mut body = Vec::new();
    if req.inner().body().is_none() {
        return Ok(body);
    }
    let mut chunks = req.stream().or_internal()?;
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk.or_internal()?);
        if body.len() > limit {
            return Err(too_large());
        }
    }
    Ok(body)
}

/// A response with a body given verbatim, built through [`Answer`], so that a status no
/// response can have, or a body on a status that forbids one, never reaches the runtime.
pub fn raw_response(status: u16, content_type: &str, body: Vec<u8>) -> Result<Response, ApiError> {
    answer_response(Answer::new(status, content_type, body))
}

pub fn json_response(status: u16, value: &Value) -> Result<Response, ApiError> {
    raw_response(status, "application/json", value.to_string().into_bytes())
}

/// Sets a header on a response being built.
pub fn set_header(resp: &mut Response, name: &str, value: &str) -> Result<(), ApiError> {
    resp.headers_mut().set(name, value).or_internal()
}

/// Adds the headers an error class requires (`ApiError::headers`).
pub fn add_error_headers(resp: &mut Response, error: &ApiError) -> Result<(), ApiError> {
    for (name, value) in error.headers() {
        set_header(resp, name, &value)?;
    }
    Ok(())
}

/// Sends a rendered [`Answer`] (which is always sendable: see `edgepay_core::http::answer`).
pub fn answer_response(answer: Answer) -> Result<Response, ApiError> {
    let Parts {
        status,
        content_type,
        body,
        headers,
    } = answer.into_parts();
    let mut resp = match content_type {
        Some(content_type) => Response::builder()
            .with_status(status)
            .with_header("content-type", &content_type)
            .or_internal()?
            .fixed(body),
        None => Response::builder().with_status(status).empty(),
    };
    for (name, value) in &headers {
        set_header(&mut resp, name, value)?;
    }
    Ok(resp)
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
pub fn parse_request_id(raw: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(raw).ok_or(ApiError::NotFound {
        detail: "no request with this id",
    })
}

/// The optional `Idempotency-Key` header; an invalid one is a `400` naming it.
pub fn idempotency_key(
    req: &Request,
) -> Result<Option<edgepay_core::payment::idempotency::IdempotencyKey>, ApiError> {
    header(req, "idempotency-key")
        .map(|raw| edgepay_core::payment::idempotency::IdempotencyKey::parse(&raw))
        .transpose()
        .map_err(|e| ApiError::Validation(vec![e]))
}
