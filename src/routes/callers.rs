//! Authenticates the caller of a route (server credential or client token) and applies the tenant's origin rule.

use worker::{Env, Request, Url};

use crate::runtime::env_config::now_ms;
use crate::runtime::http_io::{header, origin, parse_request_id};
use crate::runtime::rate_limits;
use crate::runtime::token_crypto::signature_ok;
use edgepay_core::auth::api_keys::ApiClient;
use edgepay_core::auth::caller::{authenticate, finish, Caller, Credential};
use edgepay_core::config::GatewayConfig;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::cors::{judge_origin, PageOrigin};
use edgepay_core::http::rate_limit::Budget;
use edgepay_core::http::request_log::RequestFacts;
use edgepay_core::ids::RequestId;

/// The caller of a client route (payments, the status link), noted for the log line. A
/// browser's `Origin` must be one its tenant allows (or the gateway's own): `403` otherwise;
/// then the call spends `budget` of its tenant's rate limit (`429`), before anything is touched.
pub async fn client_caller<'a>(
    env: &Env,
    cfg: &'a GatewayConfig,
    req: &Request,
    url: &Url,
    budget: Budget,
    facts: &mut RequestFacts,
) -> Result<Caller<'a>, ApiError> {
    let caller = caller(cfg, req, facts).await?;
    if let Some(page) = header(req, "origin") {
        let judged = judge_origin(&cfg.tenants, Some(caller.tenant()), &page, &origin(url));
        if judged == PageOrigin::Refused {
            return Err(ApiError::OriginNotAllowed);
        }
    }
    rate_limits::spend(env, cfg, caller.tenant(), caller.owner(), budget).await?;
    Ok(caller)
}

/// The server credential of a server route (delivery log, replay, minting): a client token
/// is a `403`; then the call spends `budget` of its tenant's rate limit.
pub async fn server_caller<'a>(
    env: &Env,
    cfg: &'a GatewayConfig,
    req: &Request,
    budget: Budget,
    facts: &mut RequestFacts,
) -> Result<&'a ApiClient, ApiError> {
    let client = caller(cfg, req, facts).await?.into_server()?;
    rate_limits::spend(env, cfg, &client.tenant, None, budget).await?;
    Ok(client)
}

/// The authenticated caller, noted for the log line; a client token's signature is checked
/// here, by each issuer that may have signed it (WebCrypto for the asymmetric algorithms).
async fn caller<'a>(
    cfg: &'a GatewayConfig,
    req: &Request,
    facts: &mut RequestFacts,
) -> Result<Caller<'a>, ApiError> {
    let authorization = header(req, "authorization");
    let credential = authenticate(&cfg.clients, &cfg.tenants.tokens, authorization.as_deref())?;
    // Each tenant's issuer that may have signed the token checks it with its own key (tenants
    // may share an `iss`); the core then picks the one tenant it is for.
    let mut verified = Vec::new();
    if let Credential::Token(token) = &credential {
        for candidate in token.candidates() {
            verified.push(signature_ok(candidate).await);
        }
    }
    let mut verified = verified.into_iter();
    let caller = finish(
        credential,
        |_| verified.next().unwrap_or(false),
        now_ms() / 1000,
    )?;
    facts.tenant(caller.tenant());
    Ok(caller)
}

/// The request id of a `/request/{id}/…` route, noted for the log line. An id of another form
/// is a `404`, like an unknown one.
pub fn request_id(id_raw: &str, facts: &mut RequestFacts) -> Result<RequestId, ApiError> {
    let request_id = parse_request_id(id_raw)?;
    facts.payment(request_id.as_str());
    Ok(request_id)
}
