//! `GET /request/{uuid}/callbacks` (the delivery log, in pages) and `POST /request/{uuid}/callbacks/replay` (within its limits).

use serde_json::{json, Value};
use worker::{Env, Request, Response, Url};

use crate::objects::client::{call_payment, not_found};
use crate::routes::callers::{request_id, server_caller};
use crate::runtime::env_config::config;
use crate::runtime::http_io::{json_response, origin, raw_response, set_header};
use edgepay_core::callback::delivery::{MAX_REPLAYS_PER_WINDOW, REPLAY_WINDOW_MS};
use edgepay_core::callback::delivery_log::PageQuery;
use edgepay_core::http::api_error::{ApiError, FieldError};
use edgepay_core::http::problem_json;
use edgepay_core::http::rate_limit::Budget;
use edgepay_core::http::request_log::RequestFacts;
use edgepay_core::objects::commands::{ReadCallbackLog, ReplayCallback, ReplayReply};
use edgepay_core::payment::request_record::Links;
use edgepay_core::time::rfc3339_millis;

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
    let page = PageQuery::parse(url.query_pairs()).map_err(ApiError::Validation)?;
    let query = ReadCallbackLog {
        tenant: client.tenant.clone(),
        limit: u32::try_from(page.limit).ok(),
        after: page.after,
    };
    let log = call_payment(env, &id, &query)
        .await?
        .ok_or_else(not_found)?;
    let mut links = Links::of_delivery_log(&origin(url), id.as_str());
    if let (Some(after), Some(map)) = (log.next_after, links.as_object_mut()) {
        let own = map.get("self").and_then(Value::as_str).unwrap_or_default();
        let next = format!("{own}?limit={}&after={after}", page.limit);
        map.insert("next".into(), Value::String(next));
    }
    json_response(
        200,
        &json!({"callbacks": log.entries, "has_more": log.next_after.is_some(), "links": links}),
    )
}

/// A refused replay as problem+json, with its own code (the log line's too), and the
/// `Retry-After` when waiting is the remedy.
fn refused_replay(
    url: &Url,
    facts: &mut RequestFacts,
    status: u16,
    code: &'static str,
    title: &str,
    detail: String,
    retry_after_secs: Option<u64>,
) -> Result<Response, ApiError> {
    facts.error = Some(code);
    let doc = json!({
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": url.path(),
        "code": code,
    });
    let mut resp = raw_response(
        status,
        problem_json::CONTENT_TYPE,
        doc.to_string().into_bytes(),
    )?;
    if let Some(secs) = retry_after_secs {
        set_header(&mut resp, "retry-after", &secs.to_string())?;
    }
    Ok(resp)
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
        ReplayReply::InFlight {
            attempts,
            next_due_ms,
        } => {
            let next = next_due_ms.map_or_else(
                || "an attempt is on its way now".to_owned(),
                |at| format!("its next attempt is due at {}", rfc3339_millis(at)),
            );
            refused_replay(
                url,
                facts,
                409,
                "replay_in_flight",
                "Replay in flight",
                format!(
                    "the previous replay of this callback is still being delivered ({attempts} attempts so far; {next}); \
                     replay again once it has been delivered or has failed, as the delivery log shows"
                ),
                None,
            )
        }
        ReplayReply::TooMany { retry_after_secs } => refused_replay(
            url,
            facts,
            429,
            "replay_rate_limited",
            "Too many replays",
            format!(
                "a payment's callback may be replayed at most {MAX_REPLAYS_PER_WINDOW} times in {} minutes; \
                 the next replay is allowed in {retry_after_secs} s",
                REPLAY_WINDOW_MS / 60_000
            ),
            Some(retry_after_secs),
        ),
    }
}
