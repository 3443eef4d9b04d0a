//! `POST /client-tokens`: a tenant's server mints a short-lived client token for one app or page.

use serde_json::json;
use worker::{Env, Request, Response};

use crate::routes::callers::server_caller;
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::http_io::{header, json_response, read_body, set_header};
use edgepay_core::auth::client_token::MintRequest;
use edgepay_core::http::api_error::{ApiError, FieldError};
use edgepay_core::http::rate_limit::Budget;
use edgepay_core::http::request_body::body_format;
use edgepay_core::http::request_log::RequestFacts;
use edgepay_core::time::rfc3339_millis;

pub async fn mint(
    mut req: Request,
    env: &Env,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let client = server_caller(env, &cfg, &req, Budget::Payments, facts).await?;
    let body = read_body(&mut req).await?;
    body_format(header(&req, "content-type").as_deref(), body.is_empty())?;
    let request: MintRequest = if body.iter().all(u8::is_ascii_whitespace) {
        MintRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::Validation(vec![FieldError::new(
                "body",
                "malformed",
                format!("the body must be a JSON object of the mint fields: {e}"),
            )])
        })?
    };
    let now_secs = now_ms() / 1000;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (token, expires_at) = cfg
        .tenants
        .tokens
        .mint(&client.tenant, &request, now_secs, &id)
        .map_err(|e| ApiError::Validation(vec![FieldError::new(e.field, "invalid", e.message)]))?;
    let mut resp = json_response(
        201,
        &json!({
            "token": token,
            "token_type": "Bearer",
            "expires_at": rfc3339_millis(expires_at.saturating_mul(1000)),
            "expires_in": expires_at.saturating_sub(now_secs),
        }),
    )?;
    // A credential: never cached.
    set_header(&mut resp, "cache-control", "no-store")?;
    Ok(resp)
}
