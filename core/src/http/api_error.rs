//! The one error type of the gateway: each variant knows its HTTP status and machine code.
//!
//! Rendering differs per API dialect (problem+json for the Zai routes), so this
//! module only classifies; `problem_json` and the edge render.

use serde::Serialize;

use crate::auth::api_keys::{challenge, BEARER_REFUSED_CHALLENGE};

/// One invalid input field, named as the client spelled it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }

    pub fn missing(field: &str) -> Self {
        Self::new(field, "missing", format!("`{field}` is required"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: one entry per bad field; nothing was stored.
    Validation(Vec<FieldError>),
    /// 401: missing, malformed or unknown credentials.
    Unauthorized { detail: &'static str },
    /// 401: a client token that failed verification; `reason` is for the log line only.
    InvalidToken { reason: &'static str },
    /// 403: a client token asked for more than its grant (another item, a server route).
    InsufficientScope { detail: &'static str },
    /// 403: a browser origin the authenticated tenant does not allow.
    OriginNotAllowed,
    /// 401 on the internal result endpoint: the backend signature did not verify.
    BadSignature { detail: &'static str },
    /// 404: no such route, or a record of another tenant (never disclosed).
    NotFound { detail: &'static str },
    /// 405 with the methods the route accepts.
    MethodNotAllowed { allow: &'static str },
    /// 405: a ServiceStack operation this service does not have (ServiceStack's
    /// `NotImplementedException`, with its text).
    UnknownOperation,
    /// 406: a response format the gateway does not produce.
    NotAcceptable { detail: &'static str },
    /// 409: a payment for this subject is already in flight.
    InFlight {
        request_id: String,
        status_link: String,
    },
    /// 409: a backend result that contradicts the stored terminal result, or a replayed delivery.
    ResultConflict { detail: &'static str },
    /// 422: an `Idempotency-Key` reused with a different request.
    IdempotencyMismatch,
    /// 413: the body is larger than the limit.
    PayloadTooLarge { limit_bytes: usize },
    /// 415: a body in a content type the route does not read.
    UnsupportedMediaType { detail: String },
    /// 429: the tenant (or a client token's subject) spent its rate limit; nothing was stored.
    RateLimited { retry_after_secs: u64 },
    /// 503: the gateway could not complete the call (object reset, overload, shutdown).
    Unavailable { retry_after_secs: u32 },
    /// 500: a bug or misconfiguration; the detail is logged, never sent.
    Internal,
}

impl ApiError {
    /// The headers this error class requires in every dialect: a challenge for a `401`,
    /// `Allow` for a `405`, `Retry-After` for a `503`.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let header = |name, value: &str| vec![(name, value.to_owned())];
        match self {
            ApiError::Unauthorized { detail } => header("www-authenticate", challenge(detail)),
            // RFC 6750: which check failed is never said beyond its error codes.
            ApiError::InvalidToken { .. } => header("www-authenticate", BEARER_REFUSED_CHALLENGE),
            ApiError::InsufficientScope { .. } => header(
                "www-authenticate",
                r#"Bearer realm="edgepay", error="insufficient_scope""#,
            ),
            ApiError::BadSignature { .. } => {
                header("www-authenticate", r#"Signature realm="edgepay-backend""#)
            }
            ApiError::MethodNotAllowed { allow } => header("allow", allow),
            ApiError::Unavailable { retry_after_secs } => {
                header("retry-after", &retry_after_secs.to_string())
            }
            ApiError::RateLimited { retry_after_secs } => {
                header("retry-after", &retry_after_secs.to_string())
            }
            _ => Vec::new(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation(_) => 400,
            ApiError::Unauthorized { .. }
            | ApiError::BadSignature { .. }
            | ApiError::InvalidToken { .. } => 401,
            ApiError::InsufficientScope { .. } | ApiError::OriginNotAllowed => 403,
            ApiError::NotFound { .. } => 404,
            ApiError::MethodNotAllowed { .. } | ApiError::UnknownOperation => 405,
            ApiError::NotAcceptable { .. } => 406,
            ApiError::InFlight { .. } | ApiError::ResultConflict { .. } => 409,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::IdempotencyMismatch => 422,
            ApiError::RateLimited { .. } => 429,
            ApiError::Unavailable { .. } => 503,
            ApiError::Internal => 500,
        }
    }

    /// Stable machine-readable code, for clients that branch on errors.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::InvalidToken { .. } => "invalid_token",
            ApiError::InsufficientScope { .. } => "insufficient_scope",
            ApiError::OriginNotAllowed => "origin_not_allowed",
            ApiError::BadSignature { .. } => "bad_signature",
            ApiError::NotFound { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::UnknownOperation => "unknown_operation",
            ApiError::NotAcceptable { .. } => "not_acceptable",
            ApiError::InFlight { .. } => "duplicate_request_conflict",
            ApiError::ResultConflict { .. } => "result_conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::IdempotencyMismatch => "idempotency_key_reused",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable { .. } => "interrupted",
            ApiError::Internal => "internal_error",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "Invalid request",
            ApiError::Unauthorized { .. }
            | ApiError::BadSignature { .. }
            | ApiError::InvalidToken { .. } => "Unauthorized",
            ApiError::InsufficientScope { .. } | ApiError::OriginNotAllowed => "Forbidden",
            ApiError::NotFound { .. } => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::UnknownOperation => "Unknown operation",
            ApiError::NotAcceptable { .. } => "Not acceptable",
            ApiError::InFlight { .. } => "duplicate request conflict",
            ApiError::ResultConflict { .. } => "Result conflict",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType { .. } => "Unsupported media type",
            ApiError::IdempotencyMismatch => "Idempotency-Key reused",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::Unavailable { .. } => "Service unavailable",
            ApiError::Internal => "Internal error",
        }
    }

    /// Human-readable explanation; never includes secrets or internal detail.
    pub fn detail(&self) -> String {
        match self {
            ApiError::Validation(errors) => {
                let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid or missing fields: {}", names.join(", "))
            }
            ApiError::InvalidToken { .. } => {
                "the client token is not valid".to_owned()
            }
            ApiError::OriginNotAllowed => {
                "this tenant does not allow calls from this page's origin".to_owned()
            }
            ApiError::Unauthorized { detail }
            | ApiError::InsufficientScope { detail }
            | ApiError::BadSignature { detail }
            | ApiError::NotFound { detail }
            | ApiError::NotAcceptable { detail }
            | ApiError::ResultConflict { detail } => (*detail).to_owned(),
            ApiError::MethodNotAllowed { allow } => format!("this route accepts {allow}"),
            ApiError::UnknownOperation => "The operation does not exist for this service".to_owned(),
            ApiError::InFlight { request_id, .. } => {
                format!("a payment for this subject is already in flight as request {request_id}")
            }
            ApiError::PayloadTooLarge { limit_bytes } => {
                format!("the body must be at most {limit_bytes} bytes")
            }
            ApiError::UnsupportedMediaType { detail } => detail.clone(),
            ApiError::IdempotencyMismatch => {
                "this Idempotency-Key was first used with a different request; use a new key for a new payment".to_owned()
            }
            ApiError::RateLimited { retry_after_secs } => format!(
                "a rate limit is spent (the tenant's, or a client token's own); nothing was stored, try again in {retry_after_secs} s"
            ),
            ApiError::Unavailable { .. } => {
                "received an interrupt or terminate signal, please try again".to_owned()
            }
            ApiError::Internal => "the gateway hit an internal error".to_owned(),
        }
    }

    /// The log line's error code: the class code, or for a refused token why it was refused.
    pub fn log_code(&self) -> &'static str {
        match self {
            ApiError::InvalidToken { reason } => reason,
            _ => self.code(),
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            ApiError::Validation(errors) => errors,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_are_distinct_per_class() {
        let cases = [
            (
                ApiError::Validation(vec![FieldError::missing("account_id")]),
                400,
            ),
            (ApiError::Unauthorized { detail: "x" }, 401),
            (ApiError::NotFound { detail: "x" }, 404),
            (ApiError::MethodNotAllowed { allow: "GET" }, 405),
            (ApiError::UnknownOperation, 405),
            (
                ApiError::InFlight {
                    request_id: "r".into(),
                    status_link: "l".into(),
                },
                409,
            ),
            (ApiError::PayloadTooLarge { limit_bytes: 1 }, 413),
            (ApiError::UnsupportedMediaType { detail: "x".into() }, 415),
            (
                ApiError::RateLimited {
                    retry_after_secs: 60,
                },
                429,
            ),
            (
                ApiError::Unavailable {
                    retry_after_secs: 1,
                },
                503,
            ),
            (ApiError::Internal, 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error:?}");
        }
    }

    #[test]
    fn validation_detail_names_every_field() {
        let e = ApiError::Validation(vec![
            FieldError::missing("account_id"),
            FieldError::new("wait", "invalid", "bad"),
        ]);
        assert_eq!(e.detail(), "invalid or missing fields: account_id, wait");
        assert_eq!(e.field_errors().len(), 2);
    }
}
