//! Zai's own webhook signature (`Webhooks-signature: t=<unix ts>,v=<sig>`), sent beside the Standard Webhooks headers when a client opts in.
//!
//! Zai signs its platform webhooks with HMAC-SHA256 over `"{t}.{raw body}"`,
//! keyed with the ASCII secret registered through its "Create a secret key"
//! API (at least 32 bytes), and writes the MAC as base64url without padding.
//! Receivers that already verify Zai webhooks verify edgepay callbacks with
//! the same code when their API client has `zai_webhook_secret` configured.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header's name (HTTP header names are case-insensitive; Zai spells it `Webhooks-signature`).
pub const HEADER: &str = "webhooks-signature";

/// Shortest and longest secret accepted.
const MIN_LEN: usize = 32;
const MAX_LEN: usize = 256;

/// A Zai webhook signing secret; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ZaiWebhookSecret(Vec<u8>);

impl fmt::Debug for ZaiWebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ZaiWebhookSecret(<redacted>)")
    }
}

impl ZaiWebhookSecret {
    /// A secret as Zai takes it: 32 to 256 printable ASCII characters, used as the key as it is.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if !(MIN_LEN..=MAX_LEN).contains(&raw.len()) {
            return Err("a Zai webhook secret must be 32 to 256 characters");
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("a Zai webhook secret must be printable ASCII without spaces");
        }
        Ok(Self(raw.as_bytes().to_vec()))
    }

    /// The base64url (unpadded) HMAC-SHA256 of `"{t}.{body}"`.
    fn sign(&self, timestamp: u64, body: &[u8]) -> String {
        // HMAC takes keys of any length, so this cannot fail for a parsed secret.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        B64URL.encode(mac.finalize().into_bytes())
    }
}

/// `t=<timestamp>,v=<sig>` with one `v=` per secret (several while a secret rotates), or
/// `None` when the tenant has not opted in.
pub fn header_value(secrets: &[ZaiWebhookSecret], timestamp: u64, body: &[u8]) -> Option<String> {
    if secrets.is_empty() {
        return None;
    }
    let mut value = format!("t={timestamp}");
    for secret in secrets {
        value.push_str(",v=");
        value.push_str(&secret.sign(timestamp, body));
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A published example of Zai's scheme (key, timestamp, body and signature), as used by the
    // zai_payment Ruby SDK's tests; the short key is the example's, built without `parse`.
    const EXAMPLE_KEY: &[u8] = b"xPpcHHoAOM";
    const EXAMPLE_TS: u64 = 1_257_894_000;
    const EXAMPLE_BODY: &str = r#"{"event": "status_updated"}"#;
    const EXAMPLE_SIG: &str = "MHs6orLEJg1W1wPqkL_8X24UjUVe-ZiAXtk2ICHotuQ";

    #[test]
    fn signs_the_published_example() {
        let key = ZaiWebhookSecret(EXAMPLE_KEY.to_vec());
        assert_eq!(
            header_value(&[key], EXAMPLE_TS, EXAMPLE_BODY.as_bytes()).as_deref(),
            Some(format!("t={EXAMPLE_TS},v={EXAMPLE_SIG}").as_str())
        );
    }

    #[test]
    fn one_signature_per_secret_and_none_without_a_secret() {
        let a = ZaiWebhookSecret::parse(&"a".repeat(32)).unwrap();
        let b = ZaiWebhookSecret::parse(&"b".repeat(40)).unwrap();
        let value = header_value(&[a.clone(), b], 7, b"{}").unwrap();
        let parts: Vec<&str> = value.split(',').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "t=7");
        assert!(parts[1].starts_with("v=") && parts[2].starts_with("v="));
        assert_ne!(parts[1], parts[2]);
        // base64url of 32 bytes, unpadded: 43 characters of [A-Za-z0-9_-].
        let sig = &parts[1][2..];
        assert_eq!(sig.len(), 43);
        assert!(sig
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(
            header_value(std::slice::from_ref(&a), 7, b"{}"),
            header_value(&[a], 8, b"{}")
        );
        assert_eq!(header_value(&[], 7, b"{}"), None);
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert!(ZaiWebhookSecret::parse(&"x".repeat(31)).is_err());
        assert!(ZaiWebhookSecret::parse(&"x".repeat(257)).is_err());
        assert!(ZaiWebhookSecret::parse(&format!("{} ", "x".repeat(32))).is_err());
        assert!(ZaiWebhookSecret::parse(&format!("{}é", "x".repeat(32))).is_err());
        let s = ZaiWebhookSecret::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert!(!format!("{s:?}").contains("0123"));
    }
}
