//! Standard Webhooks signing and verification (HMAC-SHA256 over `{id}.{timestamp}.{body}`).
//!
//! Used for callbacks to clients, for dispatches to the backend and for
//! verifying the backend's asynchronous results. Secrets are `whsec_` +
//! base64 key bytes, as the Standard Webhooks libraries expect.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a delivery's timestamp may be from now, either way.
pub const DEFAULT_TOLERANCE_SECS: u64 = 5 * 60;

/// A signing key. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    pub const PREFIX: &'static str = "whsec_";

    /// Parses `whsec_<base64>`; the key must be 24–64 bytes, as Standard Webhooks requires.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let encoded = raw
            .trim()
            .strip_prefix(Self::PREFIX)
            .ok_or("a signing secret must start with whsec_")?;
        let key = B64
            .decode(encoded)
            .map_err(|_| "a signing secret must be whsec_ followed by base64")?;
        if !(24..=64).contains(&key.len()) {
            return Err("a signing secret must hold 24 to 64 bytes of key");
        }
        Ok(Self(key))
    }

    /// `v1,<base64 signature>` for one message.
    pub fn sign(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
        let mac = self
            .message_mac(msg_id, timestamp, body)
            .map(|m| m.finalize().into_bytes().to_vec());
        format!("v1,{}", B64.encode(mac.unwrap_or_default()))
    }

    /// The keyed MAC over `{id}.{timestamp}.{body}`, ready to finalize or verify.
    fn message_mac(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> Option<HmacSha256> {
        // HMAC accepts keys of any length, so this only fails on an impossible key size.
        let mut mac = HmacSha256::new_from_slice(&self.0).ok()?;
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Some(mac)
    }

    fn verify_one(&self, msg_id: &str, timestamp: u64, body: &[u8], signature_b64: &str) -> bool {
        let (Ok(given), Some(mac)) = (
            B64.decode(signature_b64),
            self.message_mac(msg_id, timestamp, body),
        ) else {
            return false;
        };
        // verify_slice compares in constant time.
        mac.verify_slice(&given).is_ok()
    }
}

/// The `webhook-signature` header value: one `v1,` signature per secret, space-separated
/// (several during key rotation).
pub fn signature_header(
    secrets: &[SigningSecret],
    msg_id: &str,
    timestamp: u64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    MissingHeaders,
    BadTimestamp,
    Stale,
    BadSignature,
}

impl VerifyError {
    pub fn describe(self) -> &'static str {
        match self {
            VerifyError::MissingHeaders => {
                "webhook-id, webhook-timestamp and webhook-signature are required"
            }
            VerifyError::BadTimestamp => "webhook-timestamp must be whole seconds since the epoch",
            VerifyError::Stale => "webhook-timestamp is too far from the current time",
            VerifyError::BadSignature => "no webhook-signature matches",
        }
    }
}

/// The three Standard Webhooks headers of one delivery.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Verifies a delivery against any of `secrets`; returns the message id on success.
pub fn verify<'a>(
    secrets: &[SigningSecret],
    headers: SignedHeaders<'a>,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<&'a str, VerifyError> {
    let (Some(id), Some(ts), Some(sigs)) = (headers.id, headers.timestamp, headers.signature)
    else {
        return Err(VerifyError::MissingHeaders);
    };
    if id.is_empty() || id.len() > 255 {
        return Err(VerifyError::MissingHeaders);
    }
    let timestamp: u64 = ts.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if timestamp.abs_diff(now_secs) > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    let matched = sigs.split_whitespace().any(|versioned| {
        versioned.strip_prefix("v1,").is_some_and(|sig| {
            secrets
                .iter()
                .any(|s| s.verify_one(id, timestamp, body, sig))
        })
    });
    if matched {
        Ok(id)
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example in the Standard Webhooks specification and its reference libraries.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: u64 = 1614265330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> SigningSecret {
        SigningSecret::parse(SPEC_SECRET).unwrap()
    }

    fn headers<'a>(sig: &'a str, ts: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: Some(SPEC_ID),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn signs_the_spec_vector() {
        assert_eq!(
            secret().sign(SPEC_ID, SPEC_TS, SPEC_BODY.as_bytes()),
            SPEC_SIG
        );
    }

    #[test]
    fn verifies_the_spec_vector_and_rejects_tampering() {
        let ts = SPEC_TS.to_string();
        let ok = verify(
            &[secret()],
            headers(SPEC_SIG, &ts),
            SPEC_BODY.as_bytes(),
            SPEC_TS,
            300,
        );
        assert_eq!(ok, Ok(SPEC_ID));
        let tampered = verify(
            &[secret()],
            headers(SPEC_SIG, &ts),
            b"{\"test\": 1}",
            SPEC_TS,
            300,
        );
        assert_eq!(tampered, Err(VerifyError::BadSignature));
        let stale = verify(
            &[secret()],
            headers(SPEC_SIG, &ts),
            SPEC_BODY.as_bytes(),
            SPEC_TS + 301,
            300,
        );
        assert_eq!(stale, Err(VerifyError::Stale));
        let future = verify(
            &[secret()],
            headers(SPEC_SIG, &ts),
            SPEC_BODY.as_bytes(),
            SPEC_TS - 301,
            300,
        );
        assert_eq!(future, Err(VerifyError::Stale));
        let bad_ts = verify(
            &[secret()],
            headers(SPEC_SIG, "soon"),
            SPEC_BODY.as_bytes(),
            SPEC_TS,
            300,
        );
        assert_eq!(bad_ts, Err(VerifyError::BadTimestamp));
        let missing = SignedHeaders {
            id: None,
            timestamp: Some(&ts),
            signature: Some(SPEC_SIG),
        };
        assert_eq!(
            verify(&[secret()], missing, SPEC_BODY.as_bytes(), SPEC_TS, 300),
            Err(VerifyError::MissingHeaders)
        );
        let wrong_version = "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(
            verify(
                &[secret()],
                headers(wrong_version, &ts),
                SPEC_BODY.as_bytes(),
                SPEC_TS,
                300
            ),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn rotation_signs_with_every_key_and_verifies_with_any() {
        let old = secret();
        let new = SigningSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let header = signature_header(
            &[new.clone(), old.clone()],
            SPEC_ID,
            SPEC_TS,
            SPEC_BODY.as_bytes(),
        );
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.ends_with(SPEC_SIG));
        let ts = SPEC_TS.to_string();
        for receiver_key in [old, new] {
            assert!(verify(
                &[receiver_key],
                headers(&header, &ts),
                SPEC_BODY.as_bytes(),
                SPEC_TS,
                300
            )
            .is_ok());
        }
        let stranger = SigningSecret::parse("whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB").unwrap();
        assert!(verify(
            &[stranger],
            headers(&header, &ts),
            SPEC_BODY.as_bytes(),
            SPEC_TS,
            300
        )
        .is_err());
    }

    #[test]
    fn secrets_parse_strictly_and_never_print() {
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningSecret::parse("whsec_!!!").is_err());
        assert!(SigningSecret::parse("whsec_AAAA").is_err());
        assert_eq!(format!("{:?}", secret()), "SigningSecret(<redacted>)");
    }
}
