//! Idempotency-Key (IETF httpapi draft, Stripe semantics): key validation, request fingerprints, key records.
//!
//! A key is scoped to the tenant and remembers the request id and the
//! fingerprint of the first request made with it. The same key with the same
//! request finds that request; with a different request it is a `422`.
//!
//! "In flight" (`409`) means the first HTTP call is still being answered, not
//! that the payment is still pending: the first call holds an answering lease
//! that it gives back when it answers. A call cut short (a panic) cannot give
//! it back, so the lease also runs out by itself after the longest hold plus
//! [`ANSWER_GRACE_MS`]. After that, a retry gets the request's current outcome.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::http::api_error::FieldError;
use crate::payment::new_payment::NewPayment;
use crate::time::HOUR_MS;

/// Keys are kept at least this long.
pub const KEY_RETENTION_MS: u64 = 24 * HOUR_MS;

/// How long beyond its hold a first call may take to answer before its lease runs out.
pub const ANSWER_GRACE_MS: u64 = 15_000;

/// The header as the client spells it, for error messages.
pub const HEADER: &str = "Idempotency-Key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// 1–255 printable ASCII characters (space allowed inside, as the header grammar does).
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                HEADER,
                "invalid_length",
                format!("`{HEADER}` must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(FieldError::new(
                HEADER,
                "invalid",
                format!("`{HEADER}` must be printable ASCII"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of the object that holds `key` for `tenant` and, for a client token, its `owner`
/// (its principal, `iss` U+001F `sub`): a token's keys never find a server's or another
/// token's payment.
///
/// The name is `tenant/key` for a server and `tenant/iss<U+001F>sub/key` for a token, as it
/// always was, with `%`, `/` and U+001F percent-encoded where a part could otherwise be cut in
/// two places: in the tenant and the subject (`%`, `/`, U+001F) and in the issuer (`%`,
/// U+001F; its `/` stays, since the tenant's end and the U+001F after it delimit it). The key
/// is never encoded: it is the rest of the name, and holds no U+001F (it is printable ASCII),
/// so a token's name, which has exactly one, is never a server's. An owner without U+001F (no
/// token has one) is written as an issuer followed by a lone `%`, which no encoded subject
/// is. So every (tenant, owner, key) has its own name, and a name whose parts need no encoding
/// is byte for byte the name of before: the object a key was stored in before this encoding
/// is still found (a changed name would let a retry start a second payment).
pub fn key_object_name(tenant: &str, owner: Option<&str>, key: &IdempotencyKey) -> String {
    let mut name = escape(tenant, &['%', '/', '\u{1f}']);
    name.push('/');
    if let Some(owner) = owner {
        match owner.rsplit_once('\u{1f}') {
            Some((iss, sub)) => {
                name.push_str(&escape(iss, &['%', '\u{1f}']));
                name.push('\u{1f}');
                name.push_str(&escape(sub, &['%', '/', '\u{1f}']));
            }
            None => {
                name.push_str(&escape(owner, &['%', '\u{1f}']));
                name.push_str("\u{1f}%");
            }
        }
        name.push('/');
    }
    name.push_str(&key.0);
    name
}

/// `part` with each of `special` percent-encoded (`%25`, `%2F`, `%1F`); a part without them is
/// returned as it is.
fn escape(part: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        if special.contains(&c) {
            out.push_str(&format!("%{:02X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// SHA-256 over the canonical JSON of what makes a payment this payment: the dialect, the
/// subject, every validated field and the callback. Object keys serialise sorted, so field
/// order and formatting do not matter. `wait` and `Prefer` only shape the answer and are left out.
pub fn fingerprint(payment: &NewPayment) -> String {
    let canonical: Value = json!({
        "dialect": payment.dialect.as_str(),
        "subject": payment.subject,
        "fields": payment.fields,
        "callback": payment.callback,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a key remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub fingerprint: String,
    pub request_id: String,
    pub created_ms: u64,
    /// Until when the first call may still be answering (0 once it has answered).
    #[serde(default)]
    pub answering_until_ms: u64,
}

/// What presenting a key decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Claim {
    /// First use: the candidate request id now belongs to the key.
    New { request_id: String },
    /// The same request again: it is (or was meant to be) this request id. `answering`:
    /// the first call has not answered yet.
    Existing { request_id: String, answering: bool },
    /// The key was first used with a different request.
    Mismatch,
}

impl KeyRecord {
    /// The record of a key's first use, by a call that holds its caller up to `hold_ms`.
    pub fn first_use(fingerprint: String, request_id: String, now_ms: u64, hold_ms: u64) -> Self {
        Self {
            fingerprint,
            request_id,
            created_ms: now_ms,
            answering_until_ms: now_ms
                .saturating_add(hold_ms)
                .saturating_add(ANSWER_GRACE_MS),
        }
    }

    pub fn claim(&self, fingerprint: &str, now_ms: u64) -> Claim {
        if self.fingerprint == fingerprint {
            Claim::Existing {
                request_id: self.request_id.clone(),
                answering: now_ms < self.answering_until_ms,
            }
        } else {
            Claim::Mismatch
        }
    }

    /// The first call (for `request_id`) has answered; `false` if the key names another request.
    pub fn settle(&mut self, request_id: &str) -> bool {
        if self.request_id != request_id {
            return false;
        }
        self.answering_until_ms = 0;
        true
    }

    pub fn expires_ms(&self) -> u64 {
        self.created_ms.saturating_add(KEY_RETENTION_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::new_payment::Dialect;
    use serde_json::Map;

    /// A Zai payment for tenant `t`, item `order-1`, with `fields` (a JSON object).
    fn payment_with(fields: Map<String, Value>) -> NewPayment {
        NewPayment {
            tenant: "t".into(),
            dialect: Dialect::Zai,
            subject: "order-1".into(),
            account: None,
            fields,
            callback: None,
            owner: None,
        }
    }

    fn payment(fields: &str) -> NewPayment {
        payment_with(serde_json::from_str(fields).unwrap())
    }

    #[test]
    fn fingerprints_ignore_field_order_and_formatting() {
        let a = fingerprint(&payment(
            r#"{"account_id": "x", "nested": {"b": 1, "a": [1, 2]}}"#,
        ));
        let b = fingerprint(&payment(
            "{\n  \"nested\":{\"a\":[1,2],\"b\":1},\"account_id\":\"x\"}",
        ));
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn fingerprints_change_with_any_field_subject_dialect_or_callback() {
        let base = payment(r#"{"account_id": "x"}"#);
        let fp = fingerprint(&base);
        let mut other_field = base.clone();
        other_field.fields.insert("device_id".into(), json!("d"));
        let mut other_subject = base.clone();
        other_subject.subject = "order-2".into();
        let mut other_dialect = base.clone();
        other_dialect.dialect = Dialect::ServiceStack;
        let mut other_callback = base.clone();
        other_callback.callback = Some("https://a.example.com/".into());
        for changed in [other_field, other_subject, other_dialect, other_callback] {
            assert_ne!(fingerprint(&changed), fp, "{changed:?}");
        }
    }

    #[test]
    fn keys_are_validated() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse("order-1 retry #2").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for (bad, code) in [
            ("", "invalid_length"),
            ("   ", "invalid_length"),
            ("é", "invalid"),
            ("a\tb", "invalid"),
        ] {
            let err = IdempotencyKey::parse(bad).unwrap_err();
            assert_eq!((err.field.as_str(), err.code), (HEADER, code), "{bad:?}");
        }
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)).unwrap_err().code,
            "invalid_length"
        );
        let key = IdempotencyKey::parse("k1").unwrap();
        assert_ne!(
            key_object_name("t1", None, &key),
            key_object_name("t2", None, &key),
            "keys are scoped to the tenant"
        );
    }

    #[test]
    fn claims() {
        let mut record = KeyRecord::first_use("f1".into(), "r1".into(), 1_000, 5_000);
        let existing = |answering| Claim::Existing {
            request_id: "r1".into(),
            answering,
        };
        assert_eq!(
            record.claim("f1", 1_001),
            existing(true),
            "first call still holding"
        );
        assert_eq!(
            record.claim("f1", 1_000 + 5_000 + ANSWER_GRACE_MS - 1),
            existing(true)
        );
        assert_eq!(
            record.claim("f1", 1_000 + 5_000 + ANSWER_GRACE_MS),
            existing(false),
            "a first call cut short stops counting as in flight"
        );
        assert_eq!(record.claim("f2", 1_001), Claim::Mismatch);
        assert_eq!(record.expires_ms(), 1_000 + KEY_RETENTION_MS);

        assert!(
            !record.settle("r2"),
            "another request cannot settle the key"
        );
        assert_eq!(record.claim("f1", 1_001), existing(true));
        assert!(record.settle("r1"));
        assert_eq!(record.claim("f1", 1_001), existing(false), "answered");
    }

    #[test]
    fn records_stored_before_leases_existed_read_as_answered() {
        let old = r#"{"fingerprint":"f","request_id":"r","created_ms":1}"#;
        let record: KeyRecord = serde_json::from_str(old).unwrap();
        assert_eq!(
            record.claim("f", 2),
            Claim::Existing {
                request_id: "r".into(),
                answering: false
            }
        );
    }

    fn key(raw: &str) -> IdempotencyKey {
        IdempotencyKey::parse(raw).unwrap()
    }

    #[test]
    fn scopes_never_share_an_object_whatever_their_parts_hold() {
        let pairs = [
            // A subject and a key that both hold `/`: the collision of before.
            (
                ("t", Some("iss\u{1f}a/b"), "c"),
                ("t", Some("iss\u{1f}a"), "b/c"),
            ),
            // An issuer holding `/`, against a subject holding it.
            (
                ("t", Some("i/a\u{1f}b"), "c"),
                ("t", Some("i\u{1f}a/b"), "c"),
            ),
            // A tenant holding `/` reaching into another tenant's scope.
            (("t/x", None, "k"), ("t", None, "x/k")),
            (("t/i\u{1f}s", None, "k"), ("t", Some("i\u{1f}s"), "k")),
            // An owner without an issuer's separator, against a server's key holding `/`.
            (("t", Some("o"), "k"), ("t", None, "o/k")),
            (("t", Some("o"), "k"), ("t", Some("o\u{1f}"), "k")),
            // Escapes given literally.
            (
                ("t", Some("i\u{1f}a%2Fb"), "c"),
                ("t", Some("i\u{1f}a/b"), "c"),
            ),
            (("t%2Fx", None, "k"), ("t/x", None, "k")),
        ];
        for ((t1, o1, k1), (t2, o2, k2)) in pairs {
            assert_ne!(
                key_object_name(t1, o1, &key(k1)),
                key_object_name(t2, o2, &key(k2)),
                "{t1:?} {o1:?} {k1:?} vs {t2:?} {o2:?} {k2:?}"
            );
        }
    }

    #[test]
    fn plain_scopes_keep_the_object_names_of_before() {
        for (tenant, owner, raw, name) in [
            ("tenant-a", None, "order-1", "tenant-a/order-1"),
            // A server's keys are never re-encoded, whatever they hold.
            (
                "tenant-a",
                None,
                "orders/42 retry%1",
                "tenant-a/orders/42 retry%1",
            ),
            (
                "tenant-a",
                Some("edgepay:tenant-a\u{1f}client_3f2a"),
                "k 1",
                "tenant-a/edgepay:tenant-a\u{1f}client_3f2a/k 1",
            ),
            // An issuer URL keeps its slashes; a token's key is not re-encoded either.
            (
                "tenant-a",
                Some("https://auth.shop.example/\u{1f}user-1"),
                "a/b%",
                "tenant-a/https://auth.shop.example/\u{1f}user-1/a/b%",
            ),
        ] {
            assert_eq!(key_object_name(tenant, owner, &key(raw)), name);
        }
    }
}
