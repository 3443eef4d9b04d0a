//! A finished HTTP answer as plain data (status, content type, body, headers): what a dialect renders and the Worker sends.
//!
//! An `Answer` is always one the runtime can send: its status is a final status (200–599) and
//! a status that forbids a body (204, 205, 304) carries none. The runtime refuses to build a
//! response that breaks either rule, and the `worker` crate turns that refusal into a panic,
//! which would reset the wasm instance and strand every caller held in it. So the rule is
//! enforced here, where every answer is built, not in the routes that happen to meet a peer's
//! odd status.

use serde_json::Value;

use crate::payment::request_record::{Links, RequestView, RETRY_AFTER_SECS};
use crate::payment::wait::WaitDecision;

/// The status an answer takes when it was asked for one no response can have (below 200 or
/// above 599): the gateway could not produce a proper answer from what it was given.
pub const UNSENDABLE_STATUS: u16 = 502;

/// Whether an answer with `status` must have no body (RFC 9110: 1xx, 204 No Content,
/// 205 Reset Content, 304 Not Modified).
pub fn forbids_body(status: u16) -> bool {
    matches!(status, 100..=199 | 204 | 205 | 304)
}

/// Whether a Worker can answer with `status` (the Fetch standard's `Response` takes 200–599).
pub fn is_final_status(status: u16) -> bool {
    (200..=599).contains(&status)
}

/// An [`Answer`] taken apart for sending; built only from an `Answer`, so it keeps its rules.
pub struct Parts {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
    /// Extra headers, lower-case names, in order.
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// An answer of `status` with `body`. A status no response can have becomes
    /// [`UNSENDABLE_STATUS`] (keeping the body); a status that forbids a body drops the body and
    /// its content type.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        let status = if is_final_status(status) {
            status
        } else {
            UNSENDABLE_STATUS
        };
        let (content_type, body) = if forbids_body(status) {
            (None, Vec::new())
        } else {
            (Some(content_type.to_owned()), body)
        };
        Self {
            status,
            content_type,
            body,
            headers: Vec::new(),
        }
    }

    pub fn json(status: u16, body: &Value) -> Self {
        Self::new(status, "application/json", body.to_string().into_bytes())
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body's media type; `None` for an answer without a body.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Status, content type (`None`: no body), body and headers, for sending.
    pub fn into_parts(self) -> Parts {
        Parts {
            status: self.status,
            content_type: self.content_type,
            body: self.body,
            headers: self.headers,
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The headers every answer about a request carries, in either dialect: a pending request
    /// points at its status link with `Location` and `Retry-After`, a finished one names it
    /// with `Content-Location`; and `Preference-Applied` when the caller's `Prefer` was honoured.
    pub fn about_request(self, view: &RequestView, links: &Links, decision: &WaitDecision) -> Self {
        let pending = view.is_pending();
        let answer = if pending {
            self.with("location", links.status.clone())
                .with("retry-after", RETRY_AFTER_SECS.to_string())
        } else {
            self.with("content-location", links.status.clone())
        };
        match decision.preference_applied(pending) {
            Some(applied) => answer.with("preference-applied", applied),
            None => answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_that_forbids_a_body_never_carries_one() {
        for status in [204, 205, 304] {
            let a = Answer::new(status, "application/json", b"{\"items\":{}}".to_vec());
            assert_eq!(a.status(), status);
            assert!(a.body().is_empty(), "{status}");
            assert_eq!(a.content_type(), None, "{status}");
        }
        let ok = Answer::json(200, &serde_json::json!({"a": 1}));
        assert_eq!(ok.body(), br#"{"a":1}"#);
        assert_eq!(ok.content_type(), Some("application/json"));
    }

    #[test]
    fn a_status_no_response_can_have_becomes_a_502() {
        for status in [0, 100, 101, 103, 199, 600, 999, u16::MAX] {
            let a = Answer::new(status, "text/plain", b"x".to_vec());
            assert_eq!(a.status(), UNSENDABLE_STATUS, "{status}");
            assert_eq!(a.body(), b"x");
        }
        for status in [200, 201, 299, 400, 422, 500, 599] {
            assert_eq!(Answer::new(status, "text/plain", vec![]).status(), status);
        }
    }

    #[test]
    fn every_status_gives_a_sendable_answer() {
        for status in 0..=u16::MAX {
            let a = Answer::new(status, "text/plain", b"body".to_vec());
            assert!(is_final_status(a.status()), "{status}");
            assert!(!forbids_body(a.status()) || a.body().is_empty(), "{status}");
        }
    }
}
