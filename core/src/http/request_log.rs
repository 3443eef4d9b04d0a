//! One structured JSON log line per request: its fields, its level, and the `X-Request-Id` rules.
//!
//! The line is built only from facts the gateway chose to record: the route template (never
//! the raw path or query string, which may carry device ids or payment details), the tenant
//! name, the payment's id and state change, and the status. Bodies, headers, credentials and
//! client addresses are never recorded, so nothing in a line needs masking after the fact.

use serde::Serialize;

use crate::payment::new_payment::Dialect;
use crate::payment::request_state::RequestState;
use crate::time::rfc3339_millis;

/// The header a caller may set to correlate its call with edgepay's logs; always answered.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest incoming `X-Request-Id` kept as given.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The incoming `X-Request-Id`, when it is 1–128 characters of `A–Z a–z 0–9 - _ . : / + = @`.
/// Anything else (empty, too long, spaces, control or non-ASCII characters) is replaced by a
/// generated id, so a hostile value never reaches a log line or a response header.
pub fn accept_request_id(incoming: Option<&str>) -> Option<&str> {
    let value = incoming?.trim();
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b);
    (!value.is_empty() && value.len() <= MAX_REQUEST_ID_LEN && value.bytes().all(allowed))
        .then_some(value)
}

/// A generated request id, `req_` and 32 hex digits of a random UUID.
pub fn generated_request_id(uuid: uuid::Uuid) -> String {
    format!("req_{}", uuid.simple())
}

/// Which family of routes served the request; the payment routes are their dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    Zai,
    ServiceStack,
    /// The backend's result endpoint.
    Internal,
    Sandbox,
    /// Health, the API document, the ServiceStack types, unknown routes.
    Meta,
    /// The payments index's APIs and the dashboard.
    Operators,
}

impl From<Dialect> for Surface {
    fn from(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Zai => Surface::Zai,
            Dialect::ServiceStack => Surface::ServiceStack,
        }
    }
}

/// A change of a payment's state caused by this request; `from` is `None` for a new payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: Option<RequestState>,
    pub to: RequestState,
}

/// What the route handlers learn while serving a request, for its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// The route template, e.g. `/items/{item}/make_payment`.
    pub route: &'static str,
    pub surface: Surface,
    pub tenant: Option<String>,
    /// The id of the payment request concerned (the status link's id).
    pub payment_id: Option<String>,
    pub transition: Option<Transition>,
    /// The error code of a refused request (`validation_failed`, `unauthorized`, ...).
    pub error: Option<&'static str>,
}

impl Default for RequestFacts {
    fn default() -> Self {
        Self {
            route: "unmatched",
            surface: Surface::Meta,
            tenant: None,
            payment_id: None,
            transition: None,
            error: None,
        }
    }
}

impl RequestFacts {
    pub fn route(&mut self, route: &'static str, surface: Surface) {
        self.route = route;
        self.surface = surface;
    }

    pub fn tenant(&mut self, tenant: &str) {
        self.tenant = Some(tenant.to_owned());
    }

    pub fn payment(&mut self, payment_id: &str) {
        self.payment_id = Some(payment_id.to_owned());
    }
}

#[derive(Debug, Serialize)]
struct Line<'a> {
    ts: String,
    level: &'static str,
    msg: &'static str,
    request_id: &'a str,
    method: &'a str,
    route: &'static str,
    dialect: Surface,
    status: u16,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transition: Option<Transition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

/// `error` for 5xx, `warn` for 4xx, `info` otherwise.
pub fn level_for(status: u16) -> &'static str {
    match status {
        500.. => "error",
        400..=499 => "warn",
        _ => "info",
    }
}

/// The request's log line as one line of JSON.
pub fn request_line(
    facts: &RequestFacts,
    request_id: &str,
    method: &str,
    status: u16,
    started_ms: u64,
    finished_ms: u64,
) -> String {
    let line = Line {
        ts: rfc3339_millis(started_ms),
        level: level_for(status),
        msg: "request",
        request_id,
        method,
        route: facts.route,
        dialect: facts.surface,
        status,
        duration_ms: finished_ms.saturating_sub(started_ms),
        tenant: facts.tenant.as_deref(),
        payment_id: facts.payment_id.as_deref(),
        transition: facts.transition,
        error: facts.error,
    };
    // Serialising this struct of strings and numbers cannot fail; keep a line either way.
    serde_json::to_string(&line).unwrap_or_else(|_| {
        serde_json::json!({"level": "error", "msg": "unloggable request", "status": status})
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn keeps_well_formed_request_ids_and_refuses_the_rest() {
        assert_eq!(accept_request_id(Some("abc-123")), Some("abc-123"));
        assert_eq!(
            accept_request_id(Some(" trace:9/a+b=c@d_e.f ")),
            Some("trace:9/a+b=c@d_e.f")
        );
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(accept_request_id(Some(&longest)), Some(longest.as_str()));
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for bad in [
            "",
            "   ",
            too_long.as_str(),
            "two words",
            "new\nline",
            "quote\"d",
            "{\"json\":1}",
            "é",
            "semi;colon",
        ] {
            assert_eq!(accept_request_id(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(accept_request_id(None), None);
    }

    #[test]
    fn generated_ids_are_prefixed_uuids() {
        let id = generated_request_id(uuid::Uuid::nil());
        assert_eq!(id, format!("req_{}", "0".repeat(32)));
        assert!(accept_request_id(Some(&id)).is_some());
    }

    #[test]
    fn levels_follow_the_status_class() {
        assert_eq!(level_for(200), "info");
        assert_eq!(level_for(202), "info");
        assert_eq!(level_for(400), "warn");
        assert_eq!(level_for(499), "warn");
        assert_eq!(level_for(500), "error");
        assert_eq!(level_for(503), "error");
    }

    #[test]
    fn a_line_carries_exactly_the_recorded_facts() {
        let mut facts = RequestFacts::default();
        facts.route("/items/{item}/make_payment", Surface::Zai);
        facts.tenant("tenant-a");
        facts.payment("0123456789abcdef0123456789abcdef");
        facts.transition = Some(Transition {
            from: None,
            to: RequestState::Completed,
        });
        let line = request_line(
            &facts,
            "req_1",
            "PATCH",
            200,
            1_795_245_413_123,
            1_795_245_413_150,
        );
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ts"], "2026-11-21T07:16:53.123Z");
        assert_eq!(v["level"], "info");
        assert_eq!(v["msg"], "request");
        assert_eq!(v["request_id"], "req_1");
        assert_eq!(v["method"], "PATCH");
        assert_eq!(v["route"], "/items/{item}/make_payment");
        assert_eq!(v["dialect"], "zai");
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 27);
        assert_eq!(v["tenant"], "tenant-a");
        assert_eq!(v["payment_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(v["transition"]["from"], Value::Null);
        assert_eq!(v["transition"]["to"], "completed");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 12, "{keys:?}");
    }

    #[test]
    fn a_refused_request_logs_its_error_code_and_no_unknown_facts() {
        let mut facts = RequestFacts::default();
        facts.route("/mobile/payments/makePayment", Surface::ServiceStack);
        facts.error = Some("unauthorized");
        let line = request_line(&facts, "abc", "POST", 401, 10, 5);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["dialect"], "service_stack");
        assert_eq!(v["error"], "unauthorized");
        assert_eq!(
            v["duration_ms"], 0,
            "a clock step back is not a negative duration"
        );
        for absent in ["tenant", "payment_id", "transition"] {
            assert!(v.get(absent).is_none(), "{absent} must be absent");
        }
    }
}
