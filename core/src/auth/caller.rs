//! Who is calling: a server credential (an API client) or a client token, and what each may do.
//!
//! A `Bearer` value is first compared with every server secret (in constant
//! time); only when none matches and it has a JWT's shape is it verified as a
//! client token. Server credentials may do everything for their tenant; a
//! client token only what its grant says (see `client_token`).

use crate::auth::api_keys::{ApiClient, ClientRegistry};
use crate::auth::client_token::{PendingToken, TokenAuthority, TokenError, TokenGrant};
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
    /// A client token of a known issuer and algorithm; see [`finish`], after the signature check.
    Token(Box<PendingToken<'t>>),
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
            Err(ApiError::Unauthorized {
                detail: e.describe(),
            })
        }
    }
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

/// The caller, once a token's signature check (`signature_ok`) is known, at `now_secs`.
pub fn finish<'a>(
    credential: Credential<'a, '_>,
    signature_ok: impl FnOnce(&PendingToken<'_>) -> bool,
    now_secs: u64,
) -> Result<Caller<'a>, ApiError> {
    match credential {
        Credential::Server(client) => Ok(Caller::Server(client)),
        Credential::Token(pending) => {
            let ok = signature_ok(&pending);
            pending
                .finish(ok, now_secs)
                .map(Caller::Client)
                .map_err(token_error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
