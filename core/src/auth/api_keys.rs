//! Caller authentication: HTTP Basic (`key_id:secret`) or Bearer, against API clients from config.
//!
//! Secrets are kept only as SHA-256 digests and compared in constant time
//! across every configured client, so neither timing nor `Debug` output
//! reveals them.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::callback::zai_signature::ZaiWebhookSecret;
use crate::signing::SigningSecret;

/// The `WWW-Authenticate` challenge sent with every 401 but a refused Bearer credential's.
pub const CHALLENGE: &str = r#"Basic realm="edgepay", charset="UTF-8", Bearer realm="edgepay""#;

/// The challenge of a 401 that refused a Bearer credential (no server secret, no valid client
/// token): RFC 6750's `invalid_token` on the Bearer challenge, the Basic challenge beside it.
pub const BEARER_REFUSED_CHALLENGE: &str =
    r#"Basic realm="edgepay", charset="UTF-8", Bearer realm="edgepay", error="invalid_token""#;

/// The detail of a 401 that refused a Bearer credential that is not a client token; the
/// detail is what tells [`challenge`] to answer with [`BEARER_REFUSED_CHALLENGE`].
pub const BEARER_REFUSED: &str =
    "the Bearer credential is neither a server secret nor a valid client token";

/// The challenge of a 401 (`unauthorized`) whose detail is `detail`.
pub fn challenge(detail: &str) -> &'static str {
    if detail == BEARER_REFUSED {
        BEARER_REFUSED_CHALLENGE
    } else {
        CHALLENGE
    }
}

/// Credentials as presented in an `Authorization` header.
#[derive(PartialEq, Eq)]
pub enum Credentials {
    Basic { key_id: String, secret: String },
    Bearer { secret: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { key_id, .. } => write!(f, "Basic({key_id}:<redacted>)"),
            Credentials::Bearer { .. } => f.write_str("Bearer(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Malformed,
    UnsupportedScheme,
    UnknownCredentials,
}

impl AuthError {
    pub fn describe(self) -> &'static str {
        match self {
            AuthError::Missing => "an Authorization header is required",
            AuthError::Malformed => "the Authorization header is malformed",
            AuthError::UnsupportedScheme => {
                "use HTTP Basic (key_id:secret) or Bearer authentication"
            }
            AuthError::UnknownCredentials => "the credentials are not valid",
        }
    }
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(header: Option<&str>) -> Result<Credentials, AuthError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(AuthError::Missing)?;
    let (scheme, rest) = header.split_once(' ').ok_or(AuthError::Malformed)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = B64.decode(rest).map_err(|_| AuthError::Malformed)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthError::Malformed)?;
        let (key_id, secret) = decoded.split_once(':').ok_or(AuthError::Malformed)?;
        if key_id.is_empty() || secret.is_empty() {
            return Err(AuthError::Malformed);
        }
        Ok(Credentials::Basic {
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(AuthError::Malformed);
        }
        Ok(Credentials::Bearer {
            secret: rest.to_owned(),
        })
    } else {
        Err(AuthError::UnsupportedScheme)
    }
}

/// One configured API client. Its secret is held as a digest only.
#[derive(Clone)]
pub struct ApiClient {
    pub key_id: String,
    pub tenant: String,
    secret_digest: [u8; 32],
    /// Signing keys for this client's callbacks; several while a key rotates.
    pub callback_secrets: Vec<SigningSecret>,
    /// Opt-in: also sign callbacks with Zai's `Webhooks-signature` under this key.
    pub zai_webhook_secret: Option<ZaiWebhookSecret>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("key_id", &self.key_id)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientConfig {
    key_id: String,
    secret: String,
    tenant: String,
    /// `whsec_…`, or several separated by spaces during rotation (newest first).
    #[serde(default)]
    callback_secret: Option<String>,
    /// Opt-in: the secret this client registered with Zai, to sign callbacks as Zai does too.
    #[serde(default)]
    zai_webhook_secret: Option<String>,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Every API client of the deployment, from the `API_CLIENTS` JSON secret.
#[derive(Debug, Clone)]
pub struct ClientRegistry {
    clients: Vec<ApiClient>,
}

impl ClientRegistry {
    pub const MIN_SECRET_LEN: usize = 16;

    /// Parses `[{"key_id", "secret", "tenant", "callback_secret"}]`. Errors never echo secrets.
    pub fn from_json(raw: &str) -> Result<Self, String> {
        let configs: Vec<ClientConfig> = serde_json::from_str(raw).map_err(|e| {
            format!(
                "API_CLIENTS is not a valid client list (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let mut clients: Vec<ApiClient> = Vec::with_capacity(configs.len());
        for (i, c) in configs.into_iter().enumerate() {
            if !valid_name(&c.key_id) || !valid_name(&c.tenant) {
                return Err(format!(
                    "API_CLIENTS[{i}]: key_id and tenant must be 1-64 of [A-Za-z0-9_-]"
                ));
            }
            if c.secret.len() < Self::MIN_SECRET_LEN || c.secret.contains(char::is_whitespace) {
                return Err(format!(
                    "API_CLIENTS[{i}]: secret must be at least {} characters without spaces",
                    Self::MIN_SECRET_LEN
                ));
            }
            if clients.iter().any(|k| k.key_id == c.key_id) {
                return Err(format!("API_CLIENTS[{i}]: duplicate key_id {}", c.key_id));
            }
            let callback_secrets = c
                .callback_secret
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(SigningSecret::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("API_CLIENTS[{i}].callback_secret: {e}"))?;
            let zai_webhook_secret = c
                .zai_webhook_secret
                .as_deref()
                .map(ZaiWebhookSecret::parse)
                .transpose()
                .map_err(|e| format!("API_CLIENTS[{i}].zai_webhook_secret: {e}"))?;
            clients.push(ApiClient {
                key_id: c.key_id,
                tenant: c.tenant,
                secret_digest: digest(&c.secret),
                callback_secrets,
                zai_webhook_secret,
            });
        }
        Ok(Self { clients })
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Every callback signing key of a tenant's clients (all of them sign, for rotation).
    pub fn callback_secrets_for_tenant(&self, tenant: &str) -> Vec<SigningSecret> {
        self.clients
            .iter()
            .filter(|c| c.tenant == tenant)
            .flat_map(|c| c.callback_secrets.iter().cloned())
            .collect()
    }

    /// The Zai webhook secrets of a tenant's clients that opted in (empty: no `Webhooks-signature`).
    pub fn zai_webhook_secrets_for_tenant(&self, tenant: &str) -> Vec<ZaiWebhookSecret> {
        self.clients
            .iter()
            .filter(|c| c.tenant == tenant)
            .filter_map(|c| c.zai_webhook_secret.clone())
            .collect()
    }

    /// Finds the client the header authenticates. Every client is compared, in constant time.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<&ApiClient, AuthError> {
        let credentials = parse_authorization(authorization)?;
        let (key_id, secret) = match &credentials {
            Credentials::Basic { key_id, secret } => (Some(key_id.as_str()), secret.as_str()),
            Credentials::Bearer { secret } => (None, secret.as_str()),
        };
        let given = digest(secret);
        let mut found: Option<&ApiClient> = None;
        for client in &self.clients {
            let key_ok = key_id.map_or(Choice::from(1), |k| {
                k.as_bytes().ct_eq(client.key_id.as_bytes())
            });
            let matched: bool = (key_ok & given.ct_eq(&client.secret_digest)).into();
            if matched && found.is_none() {
                found = Some(client);
            }
        }
        found.ok_or(AuthError::UnknownCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENTS: &str = r#"[
        {"key_id": "shop_a", "secret": "sk_test_aaaaaaaaaaaaaaaa", "tenant": "tenant-a",
         "callback_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        {"key_id": "shop_b", "secret": "sk_test_bbbbbbbbbbbbbbbb", "tenant": "tenant-b"}
    ]"#;

    fn basic(user: &str, pass: &str) -> String {
        format!("Basic {}", B64.encode(format!("{user}:{pass}")))
    }

    #[test]
    fn basic_and_bearer_authenticate_to_their_tenant() {
        let reg = ClientRegistry::from_json(CLIENTS).unwrap();
        let a = reg
            .authenticate(Some(&basic("shop_a", "sk_test_aaaaaaaaaaaaaaaa")))
            .unwrap();
        assert_eq!(a.tenant, "tenant-a");
        assert_eq!(a.callback_secrets.len(), 1);
        let b = reg
            .authenticate(Some("Bearer sk_test_bbbbbbbbbbbbbbbb"))
            .unwrap();
        assert_eq!(b.tenant, "tenant-b");
        let lower = reg
            .authenticate(Some("bearer sk_test_bbbbbbbbbbbbbbbb"))
            .unwrap();
        assert_eq!(lower.key_id, "shop_b");
        assert_eq!(reg.callback_secrets_for_tenant("tenant-a").len(), 1);
        assert!(reg.callback_secrets_for_tenant("tenant-b").is_empty());
    }

    #[test]
    fn every_failure_is_classified() {
        let reg = ClientRegistry::from_json(CLIENTS).unwrap();
        let cases: [(Option<&str>, AuthError); 10] = [
            (None, AuthError::Missing),
            (Some(""), AuthError::Missing),
            (Some("Basic"), AuthError::Malformed),
            (Some("Basic !!!"), AuthError::Malformed),
            (Some("Basic c2hvcF9h"), AuthError::Malformed), // "shop_a", no colon
            (Some("Bearer a b"), AuthError::Malformed),
            (Some("Digest abc"), AuthError::UnsupportedScheme),
            (
                Some("Bearer sk_test_cccccccccccccccc"),
                AuthError::UnknownCredentials,
            ),
            (Some("Bearer shop_a"), AuthError::UnknownCredentials),
            (
                Some("Basic c2hvcF9iOnNrX3Rlc3RfYWFhYWFhYWFhYWFhYWFhYQ=="),
                AuthError::UnknownCredentials,
            ), // shop_b with a's secret
        ];
        for (header, expected) in cases {
            assert_eq!(
                reg.authenticate(header).unwrap_err(),
                expected,
                "{header:?}"
            );
        }
    }

    #[test]
    fn config_is_validated_without_echoing_secrets() {
        for bad in [
            "not json",
            r#"[{"key_id": "a", "secret": "short", "tenant": "t"}]"#,
            r#"[{"key_id": "a b", "secret": "sk_test_aaaaaaaaaaaaaaaa", "tenant": "t"}]"#,
            r#"[{"key_id": "a", "secret": "sk_test_aaaaaaaaaaaaaaaa", "tenant": "t", "callback_secret": "nope"}]"#,
            r#"[{"key_id": "a", "secret": "sk_test_aaaaaaaaaaaaaaaa", "tenant": "t"},
                {"key_id": "a", "secret": "sk_test_bbbbbbbbbbbbbbbb", "tenant": "u"}]"#,
        ] {
            let err = ClientRegistry::from_json(bad).unwrap_err();
            assert!(!err.contains("sk_test"), "{err}");
        }
        let reg = ClientRegistry::from_json(CLIENTS).unwrap();
        let debug = format!("{reg:?}");
        assert!(
            !debug.contains("sk_test") && !debug.contains("whsec"),
            "{debug}"
        );
        let creds = parse_authorization(Some("Bearer sk_test_bbbbbbbbbbbbbbbb")).unwrap();
        assert_eq!(format!("{creds:?}"), "Bearer(<redacted>)");
    }

    #[test]
    fn zai_webhook_signing_is_opt_in_per_client() {
        let reg = ClientRegistry::from_json(
            r#"[{"key_id": "a", "secret": "sk_test_aaaaaaaaaaaaaaaa", "tenant": "t",
                 "zai_webhook_secret": "zai_0123456789abcdef0123456789abcdef"},
                {"key_id": "b", "secret": "sk_test_bbbbbbbbbbbbbbbb", "tenant": "u"}]"#,
        )
        .unwrap();
        assert_eq!(reg.zai_webhook_secrets_for_tenant("t").len(), 1);
        assert!(reg.zai_webhook_secrets_for_tenant("u").is_empty());
        assert!(!format!("{reg:?}").contains("zai_0123"));
        let err = ClientRegistry::from_json(
            r#"[{"key_id": "a", "secret": "sk_test_aaaaaaaaaaaaaaaa", "tenant": "t",
                 "zai_webhook_secret": "too short"}]"#,
        )
        .unwrap_err();
        assert!(err.contains("API_CLIENTS[0].zai_webhook_secret"), "{err}");
        assert!(!err.contains("too short"), "{err}");
    }
}
