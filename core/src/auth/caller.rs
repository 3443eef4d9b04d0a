//! Who is calling: a server credential (an API client) or a client token, and what each may do.
//!
//! A `Bearer` value is first compared with every server secret (in constant
//! time); only when none matches and it has a JWT's shape is it verified as a
//! client token. A Bearer value refused either way is answered with RFC 6750's
//! `error="invalid_token"` in the challenge. Server credentials may do
//! everything for their tenant; a client token only what its grant says (see
//! `client_token`).

use crate::auth::api_keys::{ApiClient, ClientRegistry, BEARER_REFUSED};
use crate::auth::client_token::{
    PendingToken, TokenAuthority, TokenCandidates, TokenError, TokenGrant,
};
use crate::http::api_error::ApiError;

#[derive(Debug, Clone)]
pub enum Caller<'a> {
    Server(&'a ApiClient),
    Client(TokenGrant),
}

impl<'a> Caller<'a> {
    /// The server credential; `403` for a client token, which cannot use server routes.
    pub fn into_server(self) -> Result<&'a ApiClient, ApiError> {
        match self {
            Caller::Server(client) => Ok(client),
            Caller::Client(_) => Err(ApiError::InsufficientScope {
                detail: "this route takes a server credential, not a client token",
            }),
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            Caller::Server(client) => &client.tenant,
            Caller::Client(grant) => &grant.tenant,
        }
    }

    /// The client token's principal, which owns the payments it makes; `None` for servers.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Caller::Server(_) => None,
            Caller::Client(grant) => Some(&grant.principal),
        }
    }

    /// May this caller pay Zai item `item`, asking for `callback`?
    pub fn check_pay_item(&self, item: &str, callback: Option<&str>) -> Result<(), ApiError> {
        match self {
            Caller::Server(_) => Ok(()),
            Caller::Client(grant) => {
                if !grant.may_pay_item(item) {
                    return Err(ApiError::InsufficientScope {
                        detail: "this client token may not pay this item",
                    });
                }
                Self::check_callback(grant, callback)
            }
        }
    }

    /// May this caller pay ServiceStack `paymentId`?
    pub fn check_pay_payment_id(&self, payment_id: &uuid::Uuid) -> Result<(), ApiError> {
        match self {
            Caller::Client(grant) if !grant.may_pay_payment_id(payment_id) => {
                Err(ApiError::InsufficientScope {
                    detail: "this client token may not pay this paymentId",
                })
            }
            _ => Ok(()),
        }
    }

    fn check_callback(grant: &TokenGrant, callback: Option<&str>) -> Result<(), ApiError> {
        if grant.may_use_callback(callback) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope {
                detail: "a client token may ask only for the callback it names",
            })
        }
    }

    /// May this caller read a request's status?
    pub fn check_read(&self) -> Result<(), ApiError> {
        match self {
            Caller::Client(grant) if !grant.can_read => Err(ApiError::InsufficientScope {
                detail: "this client token may not read payments",
            }),
            _ => Ok(()),
        }
    }
}

/// Whether a bearer value is shaped like a JWT (three base64url parts, a JSON header).
fn looks_like_jwt(value: &str) -> bool {
    value.starts_with("eyJ")
        && value.split('.').count() == 3
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// What the `Authorization` header presented, before a client token's signature is checked.
pub enum Credential<'a, 't> {
    Server(&'a ApiClient),
    /// A client token and the tenants' issuers of its `iss` and algorithm; see [`finish`],
    /// after each one's signature check.
    Token(Box<TokenCandidates<'t>>),
}

/// Reads the `Authorization` header: a server credential, or a client token to verify.
pub fn authenticate<'a, 't>(
    clients: &'a ClientRegistry,
    tokens: &'t TokenAuthority,
    authorization: Option<&'t str>,
) -> Result<Credential<'a, 't>, ApiError> {
    match clients.authenticate(authorization) {
        Ok(client) => Ok(Credential::Server(client)),
        Err(e) => {
            if let Some(token) = bearer_jwt(authorization) {
                if !tokens.is_empty() {
                    return tokens
                        .prepare(token)
                        .map(|p| Credential::Token(Box::new(p)))
                        .map_err(token_error);
                }
            }
            // Any other Bearer value is refused as RFC 6750's `invalid_token` too (its
            // challenge says so); a Basic failure, no credential or another scheme is not.
            let detail = if presents_bearer(authorization) {
                BEARER_REFUSED
            } else {
                e.describe()
            };
            Err(ApiError::Unauthorized { detail })
        }
    }
}

/// Whether the header presents a Bearer credential: the scheme and a value after it (the
/// scheme alone presents none, and RFC 6750 gives that no error code).
fn presents_bearer(authorization: Option<&str>) -> bool {
    authorization
        .and_then(|h| h.trim().split_once(' '))
        .is_some_and(|(scheme, value)| {
            scheme.eq_ignore_ascii_case("bearer") && !value.trim().is_empty()
        })
}

/// The bearer value when it has a JWT's shape.
fn bearer_jwt(authorization: Option<&str>) -> Option<&str> {
    let (scheme, rest) = authorization?.trim().split_once(' ')?;
    let value = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && looks_like_jwt(value)).then_some(value)
}

/// The `401` for a refused token; the reason goes to the log line only.
pub fn token_error(why: TokenError) -> ApiError {
    ApiError::InvalidToken {
        reason: why.log_code(),
    }
}

/// The caller at `now_secs`, once `signature_ok` has said for each of a token's candidate
/// issuers, in the order of [`TokenCandidates::candidates`], whether its key verifies the
/// token's signature.
pub fn finish<'a, 't>(
    credential: Credential<'a, 't>,
    signature_ok: impl FnMut(&PendingToken<'t>) -> bool,
    now_secs: u64,
) -> Result<Caller<'a>, ApiError> {
    match credential {
        Credential::Server(client) => Ok(Caller::Server(client)),
        Credential::Token(candidates) => candidates
            .finish(signature_ok, now_secs)
            .map(Caller::Client)
            .map_err(token_error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::api_keys::CHALLENGE;
    use crate::auth::client_token::MintRequest;
    use crate::auth::tenants::Tenants;

    const NOW: u64 = 1_800_000_000;

    fn setup() -> (ClientRegistry, Tenants) {
        let clients = ClientRegistry::from_json(
            r#"[{"key_id": "k", "secret": "sk_test_aaaaaaaaaaaaaaaa", "tenant": "t"}]"#,
        )
        .unwrap();
        let tenants = Tenants::from_json(Some(
            r#"[{"tenant": "t", "client_tokens": {"mint_secret": "mint-secret-mint-secret-mint-secret!"}}]"#,
        ))
        .unwrap();
        (clients, tenants)
    }

    #[test]
    fn server_secrets_then_tokens() {
        let (clients, tenants) = setup();
        let hmac = |p: &PendingToken<'_>| p.verify_hmac().unwrap_or(false);
        let login = |header: &str, now: u64| {
            let header = header.to_owned();
            authenticate(&clients, &tenants.tokens, Some(&header))
                .and_then(|c| finish(c, hmac, now))
                .map(|caller| {
                    (
                        caller.tenant().to_owned(),
                        caller.owner().map(str::to_owned),
                        caller.into_server().is_ok(),
                    )
                })
        };
        assert_eq!(
            login("Bearer sk_test_aaaaaaaaaaaaaaaa", NOW),
            Ok(("t".to_owned(), None, true))
        );
        let (token, _) = tenants
            .tokens
            .mint("t", &MintRequest::default(), NOW, "id1")
            .unwrap();
        let (tenant, owner, server) = login(&format!("Bearer {token}"), NOW).unwrap();
        assert_eq!(tenant, "t");
        assert!(owner.is_some());
        assert!(!server);
        assert_eq!(
            login(&format!("Bearer {token}"), NOW + 10_000),
            Err(ApiError::InvalidToken {
                reason: "token_expired"
            })
        );
        // Not JWT-shaped: an unknown server secret, answered as before.
        assert!(matches!(
            login("Bearer nope-nope-nope", NOW),
            Err(ApiError::Unauthorized { .. })
        ));
    }

    /// The `WWW-Authenticate` challenge the answer to `header` carries (`None`: accepted).
    fn challenge_for(
        clients: &ClientRegistry,
        tenants: &Tenants,
        header: Option<&str>,
    ) -> Option<String> {
        let hmac = |p: &PendingToken<'_>| p.verify_hmac().unwrap_or(false);
        let refused = authenticate(clients, &tenants.tokens, header)
            .and_then(|c| finish(c, hmac, NOW))
            .err()?;
        assert_eq!(refused.status(), 401, "{header:?}");
        refused
            .headers()
            .into_iter()
            .find(|(name, _)| *name == "www-authenticate")
            .map(|(_, value)| value)
    }

    #[test]
    fn every_refused_bearer_credential_is_invalid_token_and_basic_keeps_its_challenge() {
        let (clients, tenants) = setup();
        let (token, _) = tenants
            .tokens
            .mint("t", &MintRequest::default(), NOW, "id1")
            .unwrap();
        let (input, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{input}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let no_tokens = Tenants::default();
        for (tenants, bearer) in [
            // Not a server secret, and not a JWT either.
            (&tenants, "nope-nope-nope".to_owned()),
            (&tenants, "sk_test_aaaaaaaaaaaaaaa".to_owned()),
            // JWT-shaped but not one: malformed, or a token no tenant's issuer signed.
            (&tenants, "eyJhbGciOiJIUzI1NiJ9.e30.x".to_owned()),
            (&tenants, forged.clone()),
            // No tenant takes client tokens at all.
            (&no_tokens, token.clone()),
            // A token followed by junk.
            (&tenants, format!("{token} x")),
        ] {
            let header = format!("Bearer {bearer}");
            let challenge = challenge_for(&clients, tenants, Some(&header));
            let challenge = challenge.unwrap_or_default();
            assert!(
                challenge.contains(r#"Bearer realm="edgepay", error="invalid_token""#),
                "{bearer:?}: {challenge}"
            );
            assert!(
                challenge.contains(r#"Basic realm="edgepay""#),
                "{bearer:?}: {challenge}"
            );
        }
        // An expired token too, long after it was minted.
        let expired = authenticate(&clients, &tenants.tokens, Some(&format!("Bearer {token}")))
            .and_then(|c| finish(c, |p| p.verify_hmac().unwrap_or(false), NOW + 10_000))
            .unwrap_err();
        assert!(expired
            .headers()
            .iter()
            .any(|(_, v)| v.contains(r#"error="invalid_token""#)));
        // Basic failures, no credentials and other schemes keep the plain challenge.
        use base64::Engine;
        let wrong_basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("k:sk_test_wrong_wrong_wrong")
        );
        for header in [
            None,
            Some(""),
            Some(wrong_basic.as_str()),
            Some("Basic !!!"),
            Some("Bearer"),
            Some("Token sk_test_aaaaaaaaaaaaaaaa"),
        ] {
            assert_eq!(
                challenge_for(&clients, &tenants, header).as_deref(),
                Some(CHALLENGE),
                "{header:?}"
            );
        }
    }
}
