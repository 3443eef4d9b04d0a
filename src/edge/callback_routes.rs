//! `GET /request/{uuid}/callbacks` (the delivery log) and `POST /request/{uuid}/callbacks/replay`.

use serde_json::json;
use worker::{Env, Request, Response, Url};

use super::callers::{request_id, server_caller};
use super::do_client;
use super::do_protocol::ReplayReply;
use super::env_config::config;
use super::http_io::{json_response, origin, set_header};
use crate::domain::api_error::{ApiError, FieldError};
use crate::domain::request_log::RequestFacts;

fn links(origin: &str, id: &str) -> serde_json::Value {
    json!({
        "self": format!("{origin}/request/{id}/callbacks"),
        "status": format!("{origin}/request/{id}/status"),
        "replay": format!("{origin}/request/{id}/callbacks/replay"),
    })
}

pub async fn log(
    req: Request,
    env: &Env,
    url: &Url,
    id_raw: &str,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let client = server_caller(&cfg, &req, facts).await?;
    let id = request_id(id_raw, facts)?;
    let log = do_client::callback_log(env, &id, &client.tenant).await?;
    json_response(
        200,
        &json!({"callbacks": log.entries, "links": links(&origin(url), &id)}),
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
    let client = server_caller(&cfg, &req, facts).await?;
    let id = request_id(id_raw, facts)?;
    let refused = |message: &str| {
        ApiError::Validation(vec![FieldError::new("request", "not_replayable", message)])
    };
    match do_client::callback_replay(env, &id, &client.tenant).await? {
        ReplayReply::Started => {
            let links = links(&origin(url), &id);
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
