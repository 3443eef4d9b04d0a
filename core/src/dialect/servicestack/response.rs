//! ServiceStack-dialect rendering: `{"data": …}`, `ResponseStatus` errors, the pending shape, JSONP and 406.

use serde_json::{json, Value};

use crate::http::answer::{forbids_body, Answer};
use crate::http::api_error::{ApiError, FieldError};
use crate::payment::request_record::{Links, RequestView, StoredResult, FAILED_STATUS};
use crate::payment::request_state::RequestState;
use crate::payment::wait::WaitDecision;

/// How the response body is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    Json,
    /// `name(<json>)` as `application/javascript`; errors then travel with HTTP 200.
    Jsonp(String),
}

/// Keeps only `[A-Za-z0-9._]` of a JSONP callback name; `None` if nothing is left.
pub fn sanitize_jsonp(name: &str) -> Option<String> {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
        .collect();
    (!clean.is_empty()).then_some(clean)
}

fn accept_allows_json(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && matches!(
                media.as_str(),
                "*/*"
                    | "application/*"
                    | "application/json"
                    | "text/json"
                    | "application/javascript"
                    | "text/javascript"
                    | "text/*"
            )
    })
}

/// Picks the framing from the `.json`/`.xml` suffix, `?format=`, `Accept` and `?callback=`.
pub fn negotiate(
    suffix: Option<&str>,
    format: Option<&str>,
    accept: Option<&str>,
    callback: Option<&str>,
) -> Result<Framing, ApiError> {
    let not_acceptable = ApiError::NotAcceptable {
        detail: "this service answers in JSON (or JSONP with ?callback=) only",
    };
    if suffix.is_some_and(|s| !s.eq_ignore_ascii_case("json")) {
        return Err(not_acceptable);
    }
    if format.is_some_and(|f| !f.trim().eq_ignore_ascii_case("json")) {
        return Err(not_acceptable);
    }
    let explicit_json = suffix.is_some() || format.is_some();
    if !explicit_json && accept.is_some_and(|a| !a.trim().is_empty() && !accept_allows_json(a)) {
        return Err(not_acceptable);
    }
    Ok(callback
        .and_then(sanitize_jsonp)
        .map_or(Framing::Json, Framing::Jsonp))
}

fn field_code(e: &FieldError) -> &'static str {
    match e.code {
        "missing" => "NotEmpty",
        "too_long" | "invalid_length" => "Length",
        _ => "InvalidValue",
    }
}

/// ServiceStack's `errorCode` for an error class.
pub fn error_code(error: &ApiError) -> String {
    match error {
        ApiError::Validation(fields) => fields
            .first()
            .map_or("ValidationException", field_code)
            .to_owned(),
        ApiError::Unauthorized { .. }
        | ApiError::BadSignature { .. }
        | ApiError::InvalidToken { .. } => "Unauthorized".into(),
        ApiError::InsufficientScope { .. } | ApiError::OriginNotAllowed => "Forbidden".into(),
        ApiError::NotFound { .. } => "NotFound".into(),
        ApiError::MethodNotAllowed { .. } => "MethodNotAllowed".into(),
        ApiError::UnknownOperation => "NotImplementedException".into(),
        ApiError::NotAcceptable { .. } => "NotAcceptable".into(),
        ApiError::InFlight { .. } | ApiError::ResultConflict { .. } => "Conflict".into(),
        ApiError::PayloadTooLarge { .. } => "RequestEntityTooLarge".into(),
        ApiError::UnsupportedMediaType { .. } => "UnsupportedMediaType".into(),
        ApiError::IdempotencyMismatch => "IdempotencyKeyReused".into(),
        ApiError::RateLimited { .. } => "TooManyRequests".into(),
        ApiError::Unavailable { .. } => "ServiceUnavailable".into(),
        ApiError::Internal => "InternalServerError".into(),
    }
}

/// `{"responseStatus": {"errorCode", "message", "errors": [{"errorCode", "fieldName", "message"}]}}`.
pub fn error_body(error: &ApiError) -> Value {
    let errors: Vec<Value> = error
        .field_errors()
        .iter()
        .map(|e| json!({"errorCode": field_code(e), "fieldName": e.field, "message": e.message}))
        .collect();
    let message = match error {
        ApiError::Validation(fields) => fields
            .first()
            .map_or_else(|| error.detail(), |f| f.message.clone()),
        // ServiceStack's own text; which check failed is for the log line, not the caller.
        ApiError::Unauthorized { .. } | ApiError::InvalidToken { .. } => {
            "Not Authenticated".to_owned()
        }
        _ => error.detail(),
    };
    let mut status = json!({"errorCode": error_code(error), "message": message, "errors": errors});
    if let ApiError::InFlight {
        request_id,
        status_link,
    } = error
    {
        if let Some(members) = status.as_object_mut() {
            members.insert(
                "meta".into(),
                json!({"requestId": request_id, "location": status_link}),
            );
        }
    }
    json!({ "responseStatus": status })
}

/// The backend's result as `data`: a JSON string stays that string; any other body is the text.
fn data_string(result: &StoredResult) -> String {
    match serde_json::from_str::<Value>(&result.body) {
        Ok(Value::String(s)) => s,
        _ => result.body.clone(),
    }
}

/// Status and body for a request view in this dialect.
pub fn render_view(view: &RequestView, status_link: &str) -> (u16, Value) {
    let meta = || json!({"requestId": view.request_id, "status": view.state.as_str(), "location": status_link});
    match (&view.result, view.state) {
        // A mobile client always reads `data`: a "no content" result (204, 205) is a success
        // with an empty `data`, answered 200 so that its body is allowed.
        (Some(result), _) if forbids_body(result.status) => (200, json!({ "data": "" })),
        (Some(result), _) if result.status < 400 => {
            (result.status, json!({ "data": data_string(result) }))
        }
        (Some(result), _) => (
            result.status,
            json!({
                "data": null,
                "responseStatus": {
                    "errorCode": "PaymentFailed",
                    "message": "the payment backend refused the payment",
                    "errors": [],
                    "meta": {"requestId": view.request_id, "status": view.state.as_str(), "detail": data_string(result)},
                }
            }),
        ),
        (None, RequestState::Failed) => (
            FAILED_STATUS,
            json!({"data": null, "responseStatus": {"errorCode": "PaymentFailed", "message": view.message(), "errors": [], "meta": meta()}}),
        ),
        (None, _) => (
            202,
            json!({"data": null, "responseStatus": {"errorCode": "Pending", "message": view.message(), "meta": meta()}}),
        ),
    }
}

/// Frames `body` as JSON or JSONP. Under JSONP every answer is HTTP 200, as ServiceStack does.
pub fn frame(framing: &Framing, status: u16, body: &Value) -> Answer {
    match framing {
        Framing::Json => Answer::new(
            status,
            "application/json; charset=utf-8",
            body.to_string().into_bytes(),
        ),
        Framing::Jsonp(name) => Answer::new(
            200,
            "application/javascript; charset=utf-8",
            format!("{name}({body})").into_bytes(),
        ),
    }
}

/// A ServiceStack-shaped error answer, with the headers its class requires.
pub fn error_answer(framing: &Framing, error: &ApiError) -> Answer {
    let mut answer = frame(framing, error.status(), &error_body(error));
    answer.headers.extend(error.headers());
    answer
}

/// A request's answer in this dialect (also what the status link gives its requests).
pub fn answer(
    framing: &Framing,
    view: &RequestView,
    origin: &str,
    decision: &WaitDecision,
) -> Answer {
    let links = Links::new(origin, &view.request_id, view.has_callback);
    let (status, body) = render_view(view, &links.status);
    frame(framing, status, &body).about_request(view, &links, decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::new_payment::Dialect;

    fn view(state: RequestState, result: Option<StoredResult>) -> RequestView {
        RequestView {
            request_id: "r1".into(),
            dialect: Dialect::ServiceStack,
            state,
            submission_count: 1,
            last_updated_ms: 0,
            has_callback: false,
            result,
            failure_reason: None,
        }
    }

    fn result(status: u16, body: &str) -> Option<StoredResult> {
        Some(StoredResult {
            status,
            content_type: "application/json".into(),
            body: body.into(),
        })
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None, None, None, None), Ok(Framing::Json));
        assert_eq!(
            negotiate(Some("json"), Some("json"), None, None),
            Ok(Framing::Json)
        );
        assert_eq!(
            negotiate(
                None,
                None,
                Some("text/html,application/xhtml+xml,*/*;q=0.8"),
                None
            ),
            Ok(Framing::Json)
        );
        assert_eq!(
            negotiate(None, None, None, Some("cb")),
            Ok(Framing::Jsonp("cb".into()))
        );
        assert_eq!(
            negotiate(None, None, None, Some("alert(1)//")),
            Ok(Framing::Jsonp("alert1".into()))
        );
        assert_eq!(negotiate(None, None, None, Some("();")), Ok(Framing::Json));
        for (suffix, format, accept) in [
            (Some("xml"), None, None),
            (None, Some("xml"), None),
            (None, Some("csv"), None),
            (None, None, Some("application/xml")),
            (None, None, Some("application/xml, text/xml;q=0.9")),
            (None, None, Some("application/json;q=0")),
        ] {
            assert_eq!(
                negotiate(suffix, format, accept, None)
                    .unwrap_err()
                    .status(),
                406,
                "{suffix:?} {format:?} {accept:?}"
            );
        }
        // An explicit .json / ?format=json wins over an XML-only Accept.
        assert_eq!(
            negotiate(Some("json"), None, Some("application/xml"), None),
            Ok(Framing::Json)
        );
    }

    #[test]
    fn jsonp_names_are_sanitised() {
        assert_eq!(
            sanitize_jsonp("jQuery_123.cb"),
            Some("jQuery_123.cb".into())
        );
        assert_eq!(
            sanitize_jsonp("alert(document.cookie)//"),
            Some("alertdocument.cookie".into())
        );
        assert_eq!(sanitize_jsonp("<>"), None);
    }

    #[test]
    fn results_become_data_strings() {
        let (status, body) = render_view(
            &view(
                RequestState::Completed,
                result(200, r#"{"items":{"id":"x"}}"#),
            ),
            "l",
        );
        assert_eq!(status, 200);
        assert_eq!(body, json!({"data": "{\"items\":{\"id\":\"x\"}}"}));
        let (_, body) = render_view(
            &view(RequestState::Completed, result(200, r#""tok_abc""#)),
            "l",
        );
        assert_eq!(body, json!({"data": "tok_abc"}));
        let (status, body) = render_view(
            &view(RequestState::Completed, result(422, r#"{"declined":true}"#)),
            "l",
        );
        assert_eq!(status, 422);
        assert_eq!(body["responseStatus"]["errorCode"], "PaymentFailed");
    }

    #[test]
    fn pending_and_failed_shapes() {
        let (status, body) = render_view(
            &view(RequestState::Submitted, None),
            "https://x/request/r1/status",
        );
        assert_eq!(status, 202);
        assert_eq!(body["data"], Value::Null);
        assert_eq!(body["responseStatus"]["errorCode"], "Pending");
        assert_eq!(body["responseStatus"]["meta"]["requestId"], "r1");
        assert_eq!(body["responseStatus"]["meta"]["status"], "submitted");
        let (status, body) = render_view(&view(RequestState::Failed, None), "l");
        assert_eq!(status, 502);
        assert_eq!(body["responseStatus"]["errorCode"], "PaymentFailed");
    }

    #[test]
    fn error_bodies() {
        let e = ApiError::Validation(vec![
            FieldError::missing("paymentId"),
            FieldError::new("clientType", "invalid", "bad"),
        ]);
        let body = error_body(&e);
        assert_eq!(body["responseStatus"]["errorCode"], "NotEmpty");
        assert_eq!(
            body["responseStatus"]["errors"][0]["fieldName"],
            "paymentId"
        );
        assert_eq!(
            body["responseStatus"]["errors"][1]["errorCode"],
            "InvalidValue"
        );
        let conflict = error_body(&ApiError::InFlight {
            request_id: "r".into(),
            status_link: "l".into(),
        });
        assert_eq!(conflict["responseStatus"]["errorCode"], "Conflict");
        assert_eq!(conflict["responseStatus"]["meta"]["location"], "l");
        assert_eq!(
            error_body(&ApiError::Unauthorized { detail: "x" })["responseStatus"]["errorCode"],
            "Unauthorized"
        );
        assert_eq!(
            error_body(&ApiError::Unavailable {
                retry_after_secs: 2
            })["responseStatus"]["errorCode"],
            "ServiceUnavailable"
        );
    }
}
