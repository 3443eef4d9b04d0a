//! A finished HTTP answer as plain data (status, content type, body, headers): what a dialect renders and the Worker sends.

use serde_json::Value;

use crate::payment::request_record::{Links, RequestView, RETRY_AFTER_SECS};
use crate::payment::wait::WaitDecision;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Extra headers, lower-case names, in order.
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type: content_type.to_owned(),
            body,
            headers: Vec::new(),
        }
    }

    pub fn json(status: u16, body: &Value) -> Self {
        Self::new(status, "application/json", body.to_string().into_bytes())
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
