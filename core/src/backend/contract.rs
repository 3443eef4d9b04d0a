//! The contract with the payment backend: reply classification, the re-submission schedule, async results (the dispatch body is `RequestRecord::dispatch_body`).

use crate::fnv::fnv1a;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::breaker::BreakerPolicy;
use crate::http::answer::forbids_body;
use crate::http::api_error::{ApiError, FieldError};
use crate::ids::RequestId;

/// Largest backend body edgepay stores; larger answers are treated as a backend fault.
pub const MAX_RESULT_BYTES: usize = 256 * 1024;

/// How submissions to the backend are timed and retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchPolicy {
    /// Abort one submission after this long and treat it as a transient failure.
    pub timeout_ms: u64,
    /// Delay before re-submission n+1 after transient failure n; its length + 1 bounds the tries.
    pub retry_delays_ms: Vec<u64>,
    /// When the per-isolate breaker holds submissions back.
    pub breaker: BreakerPolicy,
}

impl Default for DispatchPolicy {
    /// 9 tries over about 24 minutes (5 s, 15 s, 30 s, 1, 2, 4, 8 and 8 min, each ±20 %): even at
    /// their earliest (19 min) they outlast a 15-minute backend deploy or database failover, so
    /// no payment accepted during one fails; the first retries still come fast for a blip, and
    /// the doubling, capped at 8 min, keeps a long outage's load low.
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            retry_delays_ms: vec![
                5_000, 15_000, 30_000, 60_000, 120_000, 240_000, 480_000, 480_000,
            ],
            breaker: BreakerPolicy::default(),
        }
    }
}

/// Each re-submission delay is spread by ±20 %, so payments that failed together (an outage)
/// do not come back together (a storm on the recovering backend).
pub const RETRY_JITTER: f64 = 0.2;

/// A number in [0, 1) fixed by the request and its submission number: the jitter is
/// deterministic (the core reads no randomness), yet differs from payment to payment.
pub fn jitter_unit(request_id: &str, submissions_made: u32) -> f64 {
    // FNV-1a: small, stable and well spread over ids that differ in a few hex digits.
    let hash = fnv1a(request_id.bytes().chain(submissions_made.to_le_bytes()));
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// `delay_ms` spread by ±[`RETRY_JITTER`]: `unit` 0 is 20 % sooner, 1 is 20 % later.
pub fn jittered(delay_ms: u64, unit: f64) -> u64 {
    let factor = 1.0 - RETRY_JITTER + 2.0 * RETRY_JITTER * unit.clamp(0.0, 1.0);
    (delay_ms as f64 * factor).round() as u64
}

impl DispatchPolicy {
    pub fn max_submissions(&self) -> u32 {
        u32::try_from(self.retry_delays_ms.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// The wait before the next submission after `submissions_made` transient failures (the
    /// schedule's entry, before jitter), or `None` when the tries are used up.
    pub fn delay_after(&self, submissions_made: u32) -> Option<u64> {
        let index = usize::try_from(submissions_made.checked_sub(1)?).ok()?;
        self.retry_delays_ms.get(index).copied()
    }

    /// The longest a payment can spend re-submitting: every delay at its latest, plus a timeout
    /// per try.
    pub fn worst_case_span_ms(&self) -> u64 {
        let waits: u64 = self.retry_delays_ms.iter().map(|d| jittered(*d, 1.0)).sum();
        waits.saturating_add(
            self.timeout_ms
                .saturating_mul(u64::from(self.max_submissions())),
        )
    }
}

/// The backend's answer, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResult {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// What one submission's HTTP answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendReply {
    /// A final answer the contract takes as the result (see [`classify_reply`]).
    Answered(StoredResult),
    /// 202: the result will be POSTed to `/internal/requests/{id}/result`.
    Acknowledged,
    /// An answer that is not a result, timeouts and network errors: submit again later.
    Transient(String),
}

/// Whether the contract takes `status` as a payment's result, from a submission's answer or a
/// result post alike: a final status below 500 that is not 202 (the result comes later), a
/// redirect (never followed), 408 or 429 (the backend asks to be called again). 5xx means
/// "try again", never "this is the result".
pub fn is_result_status(status: u16) -> bool {
    (200..=499).contains(&status) && !matches!(status, 202 | 300..=399 | 408 | 429)
}

/// What one submission's answer means. `body` is at most [`MAX_RESULT_BYTES`] + 1 bytes of the
/// answer (the reader stops there, so a longer one shows as longer than the limit), or why it
/// could not be read (the connection broke, a `Content-Length` that lied).
///
/// - 202: acknowledged; the result comes later. Its body is not looked at.
/// - A status that is not a result ([`is_result_status`]): transient.
/// - 204 and 205: the result, with no body (their status forbids one).
/// - A body that could not be read whole, is over [`MAX_RESULT_BYTES`], or is not UTF-8 text:
///   transient, a backend fault that a re-submission (same `Idempotency-Key`) may mend;
///   edgepay stores results verbatim and cannot store these faithfully.
/// - Otherwise: the result, status and body verbatim.
pub fn classify_reply(
    status: u16,
    content_type: Option<String>,
    body: Result<Vec<u8>, String>,
) -> BackendReply {
    if status == 202 {
        return BackendReply::Acknowledged;
    }
    if !is_result_status(status) {
        return BackendReply::Transient(format!("backend answered HTTP {status}"));
    }
    if forbids_body(status) {
        return BackendReply::Answered(StoredResult {
            status,
            content_type: "application/json".to_owned(),
            body: String::new(),
        });
    }
    let body = match body {
        Ok(body) if body.len() > MAX_RESULT_BYTES => {
            return BackendReply::Transient(format!(
                "backend answer exceeds {MAX_RESULT_BYTES} bytes"
            ))
        }
        Ok(body) => body,
        Err(why) => {
            return BackendReply::Transient(format!("backend answer could not be read: {why}"))
        }
    };
    match String::from_utf8(body) {
        Ok(body) => BackendReply::Answered(StoredResult {
            status,
            content_type: content_type.unwrap_or_else(|| "application/json".to_owned()),
            body,
        }),
        Err(_) => BackendReply::Transient("backend answer is not UTF-8 text".to_owned()),
    }
}

/// The largest result post edgepay reads: an item response of [`MAX_RESULT_BYTES`] and its
/// envelope. A longer post is a `413`.
pub const MAX_RESULT_DELIVERY_BYTES: usize = MAX_RESULT_BYTES + 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultDelivery {
    #[serde(default)]
    request_id: Option<Value>,
    status: Value,
    body: Value,
}

fn result_error(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, "invalid", message)])
}

/// Whether a result post may leave out `request_id` (a backend that predates the binding, in
/// the deploy window `LEGACY_UNBOUND_RESULTS_UNTIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Required,
    MayBeAbsent,
}

/// Parses `{"request_id": "<id>", "status": <http status to mirror>, "body": <item response>}`
/// posted for the request `path_id`.
///
/// The signature covers the body, so `request_id` in it binds the signed delivery to one
/// request: the same signed post replayed to another request's path is refused (`400` naming
/// `request_id`). `status` is one the sync path would also take as a result
/// ([`is_result_status`]); 204 and 205 carry no item response, so their `body` must be `null`.
pub fn parse_result_delivery(
    bytes: &[u8],
    path_id: &RequestId,
    binding: Binding,
) -> Result<StoredResult, ApiError> {
    let delivery: ResultDelivery = serde_json::from_slice(bytes).map_err(|_| {
        result_error(
            "body",
            "expected {\"request_id\": \"<request id>\", \"status\": <200-599>, \"body\": <JSON item response>}",
        )
    })?;
    match delivery.request_id.as_ref() {
        None if binding == Binding::MayBeAbsent => {}
        None => return Err(result_error(
            "request_id",
            "`request_id` is required: the id of the request this result is for, as in the path",
        )),
        Some(named) => {
            let same = named
                .as_str()
                .and_then(RequestId::parse)
                .is_some_and(|named| named == *path_id);
            if !same {
                return Err(result_error(
                    "request_id",
                    "`request_id` must name the request in the path: this delivery is for another request",
                ));
            }
        }
    }
    let status = delivery
        .status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| is_result_status(*s))
        .ok_or_else(|| {
            result_error(
                "status",
                "`status` must be a result's HTTP status: 200 to 499, not 202, a redirect (3xx), 408 or 429",
            )
        })?;
    let body = if forbids_body(status) {
        if !delivery.body.is_null() {
            return Err(result_error(
                "body",
                "a result with status 204 or 205 has no item response: `body` must be null",
            ));
        }
        String::new()
    } else {
        delivery.body.to_string()
    };
    if body.len() > MAX_RESULT_BYTES {
        return Err(result_error(
            "body",
            &format!("the item response exceeds {MAX_RESULT_BYTES} bytes"),
        ));
    }
    Ok(StoredResult {
        status,
        content_type: "application/json".to_owned(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_outlasts_a_fifteen_minute_outage() {
        let p = DispatchPolicy::default();
        assert_eq!(p.max_submissions(), 9);
        let earliest: u64 = p.retry_delays_ms.iter().map(|d| jittered(*d, 0.0)).sum();
        assert!(earliest >= 15 * 60 * 1000, "{earliest}");
        assert!(p.worst_case_span_ms() < 35 * 60 * 1000);
    }

    #[test]
    fn jitter_spreads_payments_within_twenty_percent_and_is_stable() {
        assert_eq!(jittered(10_000, 0.0), 8_000);
        assert_eq!(jittered(10_000, 1.0), 12_000);
        let a = jitter_unit("0123456789ab4def8123456789abcdef", 1);
        assert_eq!(a, jitter_unit("0123456789ab4def8123456789abcdef", 1));
        assert_ne!(a, jitter_unit("0123456789ab4def8123456789abcdee", 1));
        assert_ne!(a, jitter_unit("0123456789ab4def8123456789abcdef", 2));
        // Over many ids the units cover [0, 1) evenly enough to spread a storm.
        let mut buckets = [0u32; 10];
        for n in 0..10_000u32 {
            let unit = jitter_unit(&format!("{n:032x}"), 1);
            assert!((0.0..1.0).contains(&unit));
            buckets[(unit * 10.0) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|b| (800..1200).contains(b)),
            "{buckets:?}"
        );
    }

    #[test]
    fn retry_schedule_bounds_the_tries() {
        let p = DispatchPolicy::default();
        assert_eq!(p.max_submissions(), 9);
        assert_eq!(p.delay_after(0), None);
        assert_eq!(p.delay_after(1), Some(5_000));
        assert_eq!(p.delay_after(4), Some(60_000));
        assert_eq!(p.delay_after(8), Some(480_000));
        assert_eq!(p.delay_after(9), None);
        let total: u64 = p.retry_delays_ms.iter().sum();
        assert_eq!(
            total, 1_430_000,
            "about 24 minutes between the first and last try"
        );
    }

    #[test]
    fn replies_are_classified() {
        let answered = |s| classify_reply(s, None, Ok(b"{}".to_vec()));
        assert_eq!(answered(202), BackendReply::Acknowledged);
        assert_eq!(
            classify_reply(202, None, Err("reset".into())),
            BackendReply::Acknowledged
        );
        for s in [
            0, 100, 101, 103, 199, 301, 304, 307, 408, 429, 500, 502, 503, 599, 600,
        ] {
            assert!(matches!(answered(s), BackendReply::Transient(_)), "{s}");
        }
        for s in [200, 201, 400, 402, 409, 418, 422] {
            match answered(s) {
                BackendReply::Answered(r) => {
                    assert_eq!((r.status, r.content_type.as_str()), (s, "application/json"))
                }
                other => panic!("{s}: {other:?}"),
            }
        }
        let big = classify_reply(200, None, Ok(vec![b'x'; MAX_RESULT_BYTES + 1]));
        assert!(matches!(big, BackendReply::Transient(_)));
        let at_limit = classify_reply(200, None, Ok(vec![b'x'; MAX_RESULT_BYTES]));
        assert!(matches!(at_limit, BackendReply::Answered(_)));
        let broken = classify_reply(200, None, Err("connection reset".into()));
        assert!(matches!(broken, BackendReply::Transient(_)));
        let typed = classify_reply(200, Some("text/plain".into()), Ok(b"ok".to_vec()));
        assert_eq!(
            typed,
            BackendReply::Answered(StoredResult {
                status: 200,
                content_type: "text/plain".into(),
                body: "ok".into()
            })
        );
    }

    #[test]
    fn a_reply_that_is_not_utf8_is_transient_and_no_content_is_a_result_without_body() {
        let binary = classify_reply(200, None, Ok(vec![0xff, 0xfe, 0x00, 0x80]));
        assert!(matches!(binary, BackendReply::Transient(ref why) if why.contains("UTF-8")));
        for s in [204, 205] {
            assert_eq!(
                classify_reply(s, None, Err("the body of a 204 is never read".into())),
                BackendReply::Answered(StoredResult {
                    status: s,
                    content_type: "application/json".into(),
                    body: String::new()
                })
            );
        }
    }

    const ID: &str = "0123456789ab4def8123456789abcdef";
    const OTHER: &str = "fedcba9876544def8123456789abcdef";

    fn id() -> RequestId {
        RequestId::parse(ID).unwrap()
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Validation(errors) => errors[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn result_deliveries_are_validated() {
        let ok = parse_result_delivery(
            format!(r#"{{"request_id": "{ID}", "status": 422, "body": {{"items": {{"state": "payment_failed"}}}}}}"#).as_bytes(),
            &id(),
            Binding::Required,
        )
        .unwrap();
        assert_eq!(ok.status, 422);
        assert_eq!(ok.body, r#"{"items":{"state":"payment_failed"}}"#);
        for bad in [
            r#"{"status": 202, "body": {}}"#,
            r#"{"status": 99, "body": {}}"#,
            r#"{"status": 101, "body": {}}"#,
            r#"{"status": 304, "body": {}}"#,
            r#"{"status": 301, "body": {}}"#,
            r#"{"status": 600, "body": {}}"#,
            r#"{"status": 500, "body": {}}"#,
            r#"{"status": 503, "body": {}}"#,
            r#"{"status": 429, "body": {}}"#,
            r#"{"status": "200", "body": {}}"#,
            r#"{"status": 204, "body": {}}"#,
            r#"{"status": 205, "body": "x"}"#,
            r#"{"status": 200}"#,
            r#"{"status": 200, "body": {}, "extra": 1}"#,
            "nope",
        ] {
            let bound = bad.replacen('{', &format!(r#"{{"request_id": "{ID}", "#), 1);
            let bound = if bad.starts_with('{') {
                bound
            } else {
                bad.to_owned()
            };
            assert_eq!(
                parse_result_delivery(bound.as_bytes(), &id(), Binding::Required)
                    .unwrap_err()
                    .status(),
                400,
                "{bound}"
            );
        }
        let no_content = parse_result_delivery(
            format!(r#"{{"request_id": "{ID}", "status": 204, "body": null}}"#).as_bytes(),
            &id(),
            Binding::Required,
        )
        .unwrap();
        assert_eq!((no_content.status, no_content.body.as_str()), (204, ""));
        let oversized = format!(
            r#"{{"request_id": "{ID}", "status": 200, "body": "{}"}}"#,
            "x".repeat(MAX_RESULT_BYTES)
        );
        let e = parse_result_delivery(oversized.as_bytes(), &id(), Binding::Required).unwrap_err();
        assert_eq!(field_of(e), "body");
    }

    #[test]
    fn a_result_is_bound_to_the_request_it_names() {
        let post = |named: &str| {
            format!(r#"{{"request_id": {named}, "status": 200, "body": {{}}}}"#).into_bytes()
        };
        // The same signed body posted to another request's path is refused.
        let replayed =
            parse_result_delivery(&post(&format!("\"{OTHER}\"")), &id(), Binding::Required);
        assert_eq!(field_of(replayed.unwrap_err()), "request_id");
        // `null` is as good as absent: refused unless in the deploy window.
        let e = parse_result_delivery(&post("null"), &id(), Binding::Required).unwrap_err();
        assert_eq!(field_of(e), "request_id");
        for named in ["42", "\"\"", "\"not-an-id\"", "{}"] {
            let e = parse_result_delivery(&post(named), &id(), Binding::MayBeAbsent).unwrap_err();
            assert_eq!(field_of(e), "request_id", "{named}");
        }
        // Upper-case hex names the same request; any other form is not the id edgepay gave.
        let upper = format!("\"{}\"", ID.to_uppercase());
        assert!(parse_result_delivery(&post(&upper), &id(), Binding::Required).is_ok());
        let dashed = "\"01234567-89ab-4def-8123-456789abcdef\"";
        let e = parse_result_delivery(&post(dashed), &id(), Binding::Required).unwrap_err();
        assert_eq!(field_of(e), "request_id");
        // Leaving it out is allowed only in the deploy window.
        let unbound = br#"{"status": 200, "body": {}}"#;
        let e = parse_result_delivery(unbound, &id(), Binding::Required).unwrap_err();
        assert_eq!(field_of(e), "request_id");
        assert!(parse_result_delivery(unbound, &id(), Binding::MayBeAbsent).is_ok());
    }
}
