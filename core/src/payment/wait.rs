//! How long a caller is held: the `wait` field, `?wait=`, and RFC 7240 `Prefer` (`wait=N`, `respond-async`).

use serde_json::Value;

use crate::http::api_error::FieldError;

/// A hold time in whole seconds, already capped at [`WaitSecs::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitSecs(u32);

impl WaitSecs {
    pub const MAX: u32 = 30;
    pub const ZERO: WaitSecs = WaitSecs(0);

    /// Caps at 30 seconds; larger requests are honoured as 30, as the contract says.
    pub const fn capped(secs: u64) -> Self {
        if secs < Self::MAX as u64 {
            Self(secs as u32)
        } else {
            Self(Self::MAX)
        }
    }

    pub fn secs(self) -> u32 {
        self.0
    }

    pub fn millis(self) -> u64 {
        u64::from(self.0) * 1000
    }

    /// `wait` given as a string (form body, query string): a non-negative whole number.
    pub fn parse_str(field: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                field,
                "invalid",
                format!("`{field}` must be a whole number of seconds from 0 (at most 30 is used)"),
            )
        };
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        // Any run of digits is numeric; a value too large for u64 is simply above the cap.
        Ok(raw
            .parse::<u64>()
            .map_or(Self::capped(u64::MAX), Self::capped))
    }

    /// `wait` given in a JSON body: an integer, an integral float, or a numeric string.
    pub fn parse_json(field: &str, value: &Value) -> Result<Self, FieldError> {
        match value {
            Value::String(s) => Self::parse_str(field, s),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    return Ok(Self::capped(u));
                }
                match n.as_f64() {
                    Some(f) if f >= 0.0 && f.fract() == 0.0 => Ok(Self::capped(f as u64)),
                    _ => Err(FieldError::new(
                        field,
                        "invalid",
                        format!("`{field}` must be a whole number of seconds from 0"),
                    )),
                }
            }
            _ => Err(FieldError::new(
                field,
                "invalid_type",
                format!("`{field}` must be a number or a numeric string"),
            )),
        }
    }
}

/// What the client asked for in `Prefer` headers; unknown or malformed preferences are ignored (RFC 7240 §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preferences {
    pub respond_async: bool,
    pub wait: Option<WaitSecs>,
}

impl Preferences {
    /// Parses one or more `Prefer` header values (already joined with `,`).
    pub fn parse(header: Option<&str>) -> Self {
        let mut prefs = Preferences::default();
        let Some(header) = header else { return prefs };
        for preference in header.split(',') {
            // Parameters after ';' do not change these two preferences.
            let head = preference.split(';').next().unwrap_or_default().trim();
            let (name, value) = match head.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (head, None),
            };
            if name.eq_ignore_ascii_case("respond-async") && value.is_none() {
                prefs.respond_async = true;
            } else if name.eq_ignore_ascii_case("wait") && prefs.wait.is_none() {
                if let Some(Ok(w)) = value.map(|v| WaitSecs::parse_str("wait", v)) {
                    prefs.wait = Some(w);
                }
            }
        }
        prefs
    }
}

/// The hold time chosen for one call, and which preferences it honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitDecision {
    pub wait: WaitSecs,
    pub applied_wait: bool,
    pub requested_async: bool,
}

impl WaitDecision {
    /// Explicit `wait` (body or query) wins over `Prefer: wait`; `respond-async` alone means
    /// no hold; otherwise the route's default applies.
    pub fn decide(explicit: Option<WaitSecs>, prefs: Preferences, default: WaitSecs) -> Self {
        let (wait, applied_wait) = match (explicit, prefs.wait) {
            (Some(w), _) => (w, false),
            (None, Some(w)) => (w, true),
            (None, None) if prefs.respond_async => (WaitSecs::ZERO, false),
            (None, None) => (default, false),
        };
        Self {
            wait,
            applied_wait,
            requested_async: prefs.respond_async,
        }
    }

    /// The `Preference-Applied` value for the response, if any preference was honoured.
    pub fn preference_applied(&self, answered_async: bool) -> Option<String> {
        let mut applied = Vec::new();
        if self.requested_async && answered_async {
            applied.push("respond-async".to_owned());
        }
        if self.applied_wait {
            applied.push(format!("wait={}", self.wait.secs()));
        }
        (!applied.is_empty()).then(|| applied.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wait_from_json_values() {
        let ok = [
            (json!(0), 0),
            (json!(5), 5),
            (json!(30), 30),
            (json!(31), 30),
            (json!(1e30), 30),
            (json!(7.0), 7),
            (json!("12"), 12),
            (json!("007"), 7),
            (json!("99999999999999999999999"), 30),
        ];
        for (value, secs) in ok {
            assert_eq!(
                WaitSecs::parse_json("wait", &value).map(WaitSecs::secs),
                Ok(secs),
                "{value}"
            );
        }
        let bad = [
            (json!(-1), "invalid"),
            (json!(1.5), "invalid"),
            (json!("-3"), "invalid"),
            (json!("abc"), "invalid"),
            (json!(""), "invalid"),
            (json!(" 5"), "invalid"),
            (json!("5s"), "invalid"),
            (json!(true), "invalid_type"),
            (json!(null), "invalid_type"),
            (json!([1]), "invalid_type"),
        ];
        for (value, code) in bad {
            let err = WaitSecs::parse_json("wait", &value).unwrap_err();
            assert_eq!((err.field.as_str(), err.code), ("wait", code), "{value}");
        }
    }

    #[test]
    fn prefer_header_parsing() {
        let cases: [(Option<&str>, bool, Option<u32>); 9] = [
            (None, false, None),
            (Some("respond-async"), true, None),
            (Some("wait=10"), false, Some(10)),
            (Some("respond-async, wait=100"), true, Some(30)),
            (Some("Respond-Async; foo=bar, WAIT=\"4\""), true, Some(4)),
            (Some("wait=abc"), false, None),
            (Some("wait=-1"), false, None),
            (Some("return=minimal, handling=lenient"), false, None),
            (Some("wait=3, wait=9"), false, Some(3)),
        ];
        for (header, respond_async, wait) in cases {
            let p = Preferences::parse(header);
            assert_eq!(p.respond_async, respond_async, "{header:?}");
            assert_eq!(p.wait.map(WaitSecs::secs), wait, "{header:?}");
        }
    }

    #[test]
    fn explicit_wait_beats_prefer_and_defaults_apply() {
        let prefs = Preferences::parse(Some("wait=9"));
        let body = WaitDecision::decide(Some(WaitSecs::capped(2)), prefs, WaitSecs::ZERO);
        assert_eq!((body.wait.secs(), body.applied_wait), (2, false));
        assert_eq!(body.preference_applied(false), None);

        let header = WaitDecision::decide(None, prefs, WaitSecs::ZERO);
        assert_eq!((header.wait.secs(), header.applied_wait), (9, true));
        assert_eq!(header.preference_applied(true).as_deref(), Some("wait=9"));

        let async_only = WaitDecision::decide(
            None,
            Preferences::parse(Some("respond-async")),
            WaitSecs::capped(30),
        );
        assert_eq!(async_only.wait.secs(), 0);
        assert_eq!(
            async_only.preference_applied(true).as_deref(),
            Some("respond-async")
        );
        assert_eq!(async_only.preference_applied(false), None);

        let default = WaitDecision::decide(None, Preferences::default(), WaitSecs::capped(30));
        assert_eq!(default.wait.secs(), 30);
    }
}
