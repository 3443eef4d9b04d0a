//! Gateway configuration from Worker vars and secrets, parsed and checked in one place.
//!
//! Errors name the variable, never its value, since several are secrets.

use url::Url;

use crate::auth::api_keys::ClientRegistry;
use crate::auth::tenants::Tenants;
use crate::backend::breaker::BreakerPolicy;
use crate::backend::contract::DispatchPolicy;
use crate::callback::delivery::CallbackPolicyTiming;
use crate::callback::ssrf_rules::CallbackPolicy;
use crate::payment::idempotency::KEY_RETENTION_MS;
use crate::payment::request_record::Lifetimes;
use crate::signing::SigningSecret;
use crate::time::{DAY_MS, HOUR_MS, SECOND_MS};

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub clients: ClientRegistry,
    /// Per-tenant allowed origins and client-token issuers (`TENANTS`).
    pub tenants: Tenants,
    /// Base URL of the payment backend; dispatches go to `{backend_url}/payments`.
    pub backend_url: Url,
    /// The first key signs dispatches; any key verifies results (rotation).
    pub backend_secrets: Vec<SigningSecret>,
    pub sandbox_enabled: bool,
    /// Test-only: serves `/__faults/...` (panic, object reset) so tests can interrupt held
    /// callers on purpose. Never on in a shipped configuration.
    pub fault_injection: bool,
    pub callback_policy: CallbackPolicy,
    pub dispatch: DispatchPolicy,
    pub lifetimes: Lifetimes,
    pub callbacks: CallbackPolicyTiming,
    /// The D1 bindings of the payments index, one per shard (`PAYMENTS_INDEX_BINDINGS`);
    /// empty: no index.
    pub index_bindings: Vec<String>,
    /// Until when (epoch ms) a free item lock also asks the lock object of before the shards
    /// (`LEGACY_ITEM_LOCKS_UNTIL`, RFC 3339; the upgrade window in docs/operating.md). `None`: never.
    pub legacy_item_locks_until_ms: Option<u64>,
    /// Until when (epoch ms) the backend may still post a result that does not name its
    /// request (`LEGACY_UNBOUND_RESULTS_UNTIL`, RFC 3339): the deploy window for results signed
    /// by a backend that predates the binding. `None`: every result must name its request.
    pub legacy_unbound_results_until_ms: Option<u64>,
}

/// An optional RFC 3339 time, as epoch milliseconds.
fn parse_time(name: &str, raw: Option<String>) -> Result<Option<u64>, String> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(None);
    };
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
        .map(Some)
        .ok_or_else(|| format!("{name} must be an RFC 3339 time, e.g. 2026-12-03T12:00:00Z"))
}

/// `PAYMENTS_INDEX_BINDINGS`: comma-separated binding names (`A-Z`, `0-9`, `_`); an empty value
/// turns the index off; unset, the one database `PAYMENTS_INDEX`.
fn parse_index_bindings(raw: Option<String>) -> Result<Vec<String>, String> {
    let Some(raw) = raw else {
        return Ok(vec!["PAYMENTS_INDEX".to_owned()]);
    };
    let names: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    let valid = |n: &String| {
        n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    if names.iter().all(valid) {
        Ok(names)
    } else {
        Err(
            "PAYMENTS_INDEX_BINDINGS must list binding names (A-Z, 0-9, _), comma-separated"
                .to_owned(),
        )
    }
}

/// `RETENTION_DAYS`, as milliseconds: at least the life of an `Idempotency-Key`
/// ([`KEY_RETENTION_MS`], a day), so a payment outlives every key that names it. A key is claimed
/// before its payment is created, and a payment is deleted its retention after its last change,
/// so a retention as long as the key's life deletes no payment a live key still names. `0`
/// (delete a terminal payment at once) is for tests and only accepted with `FAULT_INJECTION`:
/// there, a key retried after its payment was deleted starts that payment again.
fn parse_retention_ms(raw: Option<String>, fault_injection: bool) -> Result<u64, String> {
    let days = parse_u64("RETENTION_DAYS", raw, 7)?;
    let retention_ms = days.saturating_mul(DAY_MS);
    if retention_ms < KEY_RETENTION_MS && !(fault_injection && days == 0) {
        return Err(format!(
            "RETENTION_DAYS must be at least {}: a payment must outlive the {} h an \
             Idempotency-Key names it (0 is for tests, with FAULT_INJECTION=true)",
            KEY_RETENTION_MS.div_ceil(DAY_MS),
            KEY_RETENTION_MS / HOUR_MS,
        ));
    }
    Ok(retention_ms)
}

fn parse_bool(name: &str, raw: Option<String>, default: bool) -> Result<bool, String> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(format!("{name} must be true or false")),
    }
}

fn parse_u64(name: &str, raw: Option<String>, default: u64) -> Result<u64, String> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name} must be a whole number")),
    }
}

fn parse_list(name: &str, raw: Option<String>, default: &[u64]) -> Result<Vec<u64>, String> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(default.to_vec()),
        Some(v) => v
            .split(',')
            .map(|part| part.trim().parse::<u64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("{name} must be a comma-separated list of whole numbers")),
    }
}

impl GatewayConfig {
    /// Reads every setting through `get` (the Worker's env on the edge, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let clients =
            ClientRegistry::from_json(&get("API_CLIENTS").ok_or("API_CLIENTS is not set")?)?;
        if clients.is_empty() {
            return Err("API_CLIENTS lists no clients".to_owned());
        }
        let tenants = Tenants::from_json(get("TENANTS").as_deref())?;
        let backend_url = get("BACKEND_URL").ok_or("BACKEND_URL is not set")?;
        let backend_url =
            Url::parse(backend_url.trim()).map_err(|_| "BACKEND_URL must be an absolute URL")?;
        if !matches!(backend_url.scheme(), "http" | "https") {
            return Err("BACKEND_URL must be http or https".to_owned());
        }
        let backend_secrets = get("BACKEND_SECRET")
            .ok_or("BACKEND_SECRET is not set")?
            .split_whitespace()
            .map(SigningSecret::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("BACKEND_SECRET: {e}"))?;
        if backend_secrets.is_empty() {
            return Err("BACKEND_SECRET is empty".to_owned());
        }
        let defaults = DispatchPolicy::default();
        let dispatch = DispatchPolicy {
            timeout_ms: parse_u64(
                "DISPATCH_TIMEOUT_MS",
                get("DISPATCH_TIMEOUT_MS"),
                defaults.timeout_ms,
            )?,
            retry_delays_ms: parse_list(
                "DISPATCH_RETRY_DELAYS_MS",
                get("DISPATCH_RETRY_DELAYS_MS"),
                &defaults.retry_delays_ms,
            )?,
            breaker: BreakerPolicy {
                trip_after: u32::try_from(parse_u64(
                    "BACKEND_BREAKER_FAILURES",
                    get("BACKEND_BREAKER_FAILURES"),
                    u64::from(defaults.breaker.trip_after),
                )?)
                .map_err(|_| "BACKEND_BREAKER_FAILURES is too large".to_owned())?,
                open_ms: parse_u64(
                    "BACKEND_BREAKER_OPEN_MS",
                    get("BACKEND_BREAKER_OPEN_MS"),
                    defaults.breaker.open_ms,
                )?,
            },
        };
        let fault_injection = parse_bool("FAULT_INJECTION", get("FAULT_INJECTION"), false)?;
        let lifetimes = Lifetimes {
            result_timeout_ms: parse_u64(
                "RESULT_TIMEOUT_SECS",
                get("RESULT_TIMEOUT_SECS"),
                86_400,
            )?
            .saturating_mul(SECOND_MS),
            retention_ms: parse_retention_ms(get("RETENTION_DAYS"), fault_injection)?,
        };
        let callback_defaults = CallbackPolicyTiming::default();
        let callbacks = CallbackPolicyTiming {
            schedule_ms: parse_list(
                "CALLBACK_RETRY_SCHEDULE_MS",
                get("CALLBACK_RETRY_SCHEDULE_MS"),
                &callback_defaults.schedule_ms,
            )?,
            timeout_ms: parse_u64(
                "CALLBACK_TIMEOUT_MS",
                get("CALLBACK_TIMEOUT_MS"),
                callback_defaults.timeout_ms,
            )?,
            confirm_ms: parse_u64(
                "CALLBACK_CONFIRM_MS",
                get("CALLBACK_CONFIRM_MS"),
                callback_defaults.confirm_ms,
            )?,
            slow_after_ms: parse_u64(
                "CALLBACK_SLOW_MS",
                get("CALLBACK_SLOW_MS"),
                callback_defaults.slow_after_ms,
            )?,
        };
        if callbacks.schedule_ms.is_empty() {
            return Err("CALLBACK_RETRY_SCHEDULE_MS must list at least one delay".to_owned());
        }
        Ok(Self {
            clients,
            tenants,
            backend_url,
            backend_secrets,
            sandbox_enabled: parse_bool("SANDBOX_ENABLED", get("SANDBOX_ENABLED"), false)?,
            fault_injection,
            callback_policy: CallbackPolicy {
                allow_insecure: parse_bool(
                    "ALLOW_INSECURE_CALLBACKS",
                    get("ALLOW_INSECURE_CALLBACKS"),
                    false,
                )?,
            },
            dispatch,
            lifetimes,
            callbacks,
            index_bindings: parse_index_bindings(get("PAYMENTS_INDEX_BINDINGS"))?,
            legacy_item_locks_until_ms: parse_time(
                "LEGACY_ITEM_LOCKS_UNTIL",
                get("LEGACY_ITEM_LOCKS_UNTIL"),
            )?,
            legacy_unbound_results_until_ms: parse_time(
                "LEGACY_UNBOUND_RESULTS_UNTIL",
                get("LEGACY_UNBOUND_RESULTS_UNTIL"),
            )?,
        })
    }

    /// `{BACKEND_URL}/payments`, keeping any path prefix of the base URL.
    pub fn backend_payments_url(&self) -> String {
        format!(
            "{}/payments",
            self.backend_url.as_str().trim_end_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            (
                "API_CLIENTS",
                r#"[{"key_id":"k","secret":"sk_test_0123456789abcdef","tenant":"t"}]"#.to_owned(),
            ),
            ("BACKEND_URL", "http://127.0.0.1:8787/sandbox/".to_owned()),
            (
                "BACKEND_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            ),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<GatewayConfig, String> {
        GatewayConfig::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_are_production_safe() {
        let c = load(&base()).unwrap();
        assert!(!c.sandbox_enabled);
        assert!(!c.fault_injection);
        assert_eq!(c.callback_policy, CallbackPolicy::PRODUCTION);
        assert_eq!(c.dispatch, DispatchPolicy::default());
        assert_eq!(c.lifetimes.result_timeout_ms, 86_400_000);
        assert_eq!(c.lifetimes.retention_ms, 7 * DAY_MS);
        assert_eq!(c.callbacks, CallbackPolicyTiming::default());
        assert_eq!(
            c.backend_payments_url(),
            "http://127.0.0.1:8787/sandbox/payments"
        );
    }

    #[test]
    fn the_unbound_results_window_is_an_rfc3339_time_or_nothing() {
        let mut vars = base();
        assert_eq!(load(&vars).unwrap().legacy_unbound_results_until_ms, None);
        vars.insert(
            "LEGACY_UNBOUND_RESULTS_UNTIL",
            "2026-12-06T12:05:00Z".into(),
        );
        assert_eq!(
            load(&vars).unwrap().legacy_unbound_results_until_ms,
            Some(1_796_558_700_000)
        );
        vars.insert("LEGACY_UNBOUND_RESULTS_UNTIL", "after the deploy".into());
        assert!(load(&vars)
            .unwrap_err()
            .contains("LEGACY_UNBOUND_RESULTS_UNTIL"));
    }

    #[test]
    fn a_payment_outlives_every_idempotency_key_that_names_it() {
        for days in 0..=3u64 {
            let mut vars = base();
            vars.insert("RETENTION_DAYS", days.to_string());
            match load(&vars) {
                Ok(c) => assert!(
                    c.lifetimes.retention_ms >= KEY_RETENTION_MS,
                    "RETENTION_DAYS={days} deletes payments a key still names"
                ),
                Err(e) => {
                    assert_eq!(days, 0, "{e}");
                    assert!(e.contains("RETENTION_DAYS"), "{e}");
                    assert!(e.contains("Idempotency-Key"), "{e}");
                }
            }
        }
        let mut zero = base();
        zero.insert("RETENTION_DAYS", "0".into());
        assert!(load(&zero).is_err(), "RETENTION_DAYS=0 is refused");
        // Tests delete at once: only where the test-only faults are on.
        zero.insert("FAULT_INJECTION", "true".into());
        assert_eq!(load(&zero).unwrap().lifetimes.retention_ms, 0);
    }

    #[test]
    fn the_legacy_lock_window_is_an_rfc3339_time_or_nothing() {
        let mut vars = base();
        assert_eq!(load(&vars).unwrap().legacy_item_locks_until_ms, None);
        vars.insert("LEGACY_ITEM_LOCKS_UNTIL", "2026-12-03T12:00:00Z".into());
        assert_eq!(
            load(&vars).unwrap().legacy_item_locks_until_ms,
            Some(1_796_299_200_000)
        );
        vars.insert("LEGACY_ITEM_LOCKS_UNTIL", "tomorrow".into());
        let err = load(&vars).err().unwrap();
        assert!(err.contains("LEGACY_ITEM_LOCKS_UNTIL"), "{err}");
        vars.insert("LEGACY_ITEM_LOCKS_UNTIL", " ".into());
        assert_eq!(load(&vars).unwrap().legacy_item_locks_until_ms, None);
    }

    #[test]
    fn overrides_and_errors_name_the_variable() {
        let mut vars = base();
        vars.insert("SANDBOX_ENABLED", "true".into());
        vars.insert("DISPATCH_RETRY_DELAYS_MS", "100, 200".into());
        let c = load(&vars).unwrap();
        assert!(c.sandbox_enabled);
        assert_eq!(c.dispatch.retry_delays_ms, vec![100, 200]);
        vars.insert("CALLBACK_SLOW_MS", "750".into());
        assert_eq!(load(&vars).unwrap().callbacks.slow_after_ms, 750);
        assert_eq!(load(&vars).unwrap().index_bindings, ["PAYMENTS_INDEX"]);
        vars.insert("PAYMENTS_INDEX_BINDINGS", " INDEX_A, INDEX_B ".into());
        assert_eq!(load(&vars).unwrap().index_bindings, ["INDEX_A", "INDEX_B"]);
        vars.insert("PAYMENTS_INDEX_BINDINGS", "".into());
        assert!(load(&vars).unwrap().index_bindings.is_empty());

        for (name, value) in [
            ("SANDBOX_ENABLED", "maybe"),
            ("FAULT_INJECTION", "on"),
            ("DISPATCH_TIMEOUT_MS", "-1"),
            ("DISPATCH_RETRY_DELAYS_MS", "1,x"),
            ("BACKEND_URL", "not a url"),
            ("BACKEND_SECRET", "plain"),
            ("API_CLIENTS", "[]"),
            ("CALLBACK_RETRY_SCHEDULE_MS", "0,soon"),
            ("CALLBACK_TIMEOUT_MS", "x"),
            ("CALLBACK_SLOW_MS", "2s"),
            ("PAYMENTS_INDEX_BINDINGS", "payments-index"),
        ] {
            let mut vars = base();
            vars.insert(name, value.into());
            let err = load(&vars).unwrap_err();
            assert!(err.contains(name), "{name}: {err}");
        }
        let mut missing = base();
        missing.remove("BACKEND_SECRET");
        assert!(load(&missing).unwrap_err().contains("BACKEND_SECRET"));
    }
}
