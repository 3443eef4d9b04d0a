//! `GET /request/{uuid}/callbacks` (the delivery log) and `POST /request/{uuid}/callbacks/replay`.

use serde_json::json;
use worker::{Env, Request, Response, Url};

use crate::objects::client::{call_payment, not_found};
use crate::routes::callers::{request_id, server_caller};
use crate::runtime::env_config::config;
use crate::runtime::http_io::{json_response, origin, set_header};
use edgepay_core::http::api_error::{ApiError, FieldError};
use edgepay_core::http::rate_limit::Budget;
use edgepay_core::http::request_log::RequestFacts;
use edgepay_core::objects::commands::{ReadCallbackLog, ReplayCallback, ReplayReply};
use edgepay_core::payment::request_record::Links;

pub async fn log(
    req: Request,
    env: &Env,
    url: &Url,
    id_raw: &str,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let client = server_caller(env, &cfg, &req, Budget::Reads, facts).await?;
    let id = request_id(id_raw, facts)?;
    let query = ReadCallbackLog {
        tenant: client.tenant.clone(),
    };
    let log = call_payment(env, &id, &query)
        .await?
        .ok_or_else(not_found)?;
    json_response(
        200,
        &json!({"callbacks": log.entries, "links": Links::of_delivery_log(&origin(url), id.as_str())}),
    )
}

pub async fn replay(
    req: Request,
    env: &Env,
    url: &Url,
    id_raw: &str,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let client = server_caller(env, &cfg, &req, Budget::Payments, facts).await?;
    let id = request_id(id_raw, facts)?;
    let refused = |message: &str| {
        ApiError::Validation(vec![FieldError::new("request", "not_replayable", message)])
    };
    let replay = ReplayCallback {
        tenant: client.tenant.clone(),
    };
    match call_payment(env, &id, &replay)
        .await?
        .ok_or_else(not_found)?
    {
        ReplayReply::Started => {
            let links = Links::of_delivery_log(&origin(url), id.as_str());
            let mut resp = json_response(
                202,
                &json!({"request_id": id, "message": "the stored result is being delivered again", "links": links}),
            )?;
            set_header(
                &mut resp,
                "location",
                links
                    .get("self")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default(),
            )?;
            Ok(resp)
        }
        ReplayReply::NoCallback => Err(refused("this request has no callback URL")),
        ReplayReply::NotTerminal => Err(ApiError::ResultConflict {
            detail: "this request has no result to deliver yet",
        }),
    }
}
