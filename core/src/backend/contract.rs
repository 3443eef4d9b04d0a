//! The contract with the payment backend: reply classification, the re-submission schedule, async results (the dispatch body is `RequestRecord::dispatch_body`).

use crate::fnv::fnv1a;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::breaker::BreakerPolicy;
use crate::http::api_error::{ApiError, FieldError};

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
    /// Any status but 202, 3xx, 408, 429 and 5xx: the result itself.
    Answered(StoredResult),
    /// 202: the result will be POSTed to `/internal/requests/{id}/result`.
    Acknowledged,
    /// 5xx, 408, 429, redirects (never followed), timeouts and network errors: submit again later.
    Transient(String),
}

pub fn classify_reply(status: u16, content_type: Option<String>, body: String) -> BackendReply {
    match status {
        202 => BackendReply::Acknowledged,
        300..=399 | 408 | 429 | 500..=599 => {
            BackendReply::Transient(format!("backend answered HTTP {status}"))
        }
        _ if body.len() > MAX_RESULT_BYTES => {
            BackendReply::Transient(format!("backend answer exceeds {MAX_RESULT_BYTES} bytes"))
        }
        _ => BackendReply::Answered(StoredResult {
            status,
            content_type: content_type.unwrap_or_else(|| "application/json".to_owned()),
            body,
        }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultDelivery {
    status: Value,
    body: Value,
}

fn result_error(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, "invalid", message)])
}

/// Parses `{"status": <http status to mirror>, "body": <item response>}` from the backend.
pub fn parse_result_delivery(bytes: &[u8]) -> Result<StoredResult, ApiError> {
    let delivery: ResultDelivery = serde_json::from_slice(bytes).map_err(|_| {
        result_error(
            "body",
            "expected {\"status\": <200-599>, \"body\": <JSON item response>}",
        )
    })?;
    let status = delivery
        .status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (200..=599).contains(s) && *s != 202)
        .ok_or_else(|| {
            result_error(
                "status",
                "`status` must be a final HTTP status from 200 to 599, not 202",
            )
        })?;
    Ok(StoredResult {
        status,
        content_type: "application/json".to_owned(),
        body: delivery.body.to_string(),
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
        let answered = |s| classify_reply(s, None, "{}".into());
        assert_eq!(answered(202), BackendReply::Acknowledged);
        for s in [301, 307, 408, 429, 500, 502, 503, 599] {
            assert!(matches!(answered(s), BackendReply::Transient(_)), "{s}");
        }
        for s in [200, 201, 400, 402, 409, 422] {
            match answered(s) {
                BackendReply::Answered(r) => {
                    assert_eq!((r.status, r.content_type.as_str()), (s, "application/json"))
                }
                other => panic!("{s}: {other:?}"),
            }
        }
        let big = classify_reply(200, None, "x".repeat(MAX_RESULT_BYTES + 1));
        assert!(matches!(big, BackendReply::Transient(_)));
        let typed = classify_reply(200, Some("text/plain".into()), "ok".into());
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
    fn result_deliveries_are_validated() {
        let ok = parse_result_delivery(
            br#"{"status": 422, "body": {"items": {"state": "payment_failed"}}}"#,
        )
        .unwrap();
        assert_eq!(ok.status, 422);
        assert_eq!(ok.body, r#"{"items":{"state":"payment_failed"}}"#);
        for bad in [
            &br#"{"status": 202, "body": {}}"#[..],
            br#"{"status": 99, "body": {}}"#,
            br#"{"status": "200", "body": {}}"#,
            br#"{"status": 200}"#,
            br#"{"status": 200, "body": {}, "extra": 1}"#,
            b"nope",
        ] {
            assert_eq!(
                parse_result_delivery(bad).unwrap_err().status(),
                400,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
