//! `GET /request/{uuid}/status`: the status link, long-pollable, answered in the dialect its payment was made in.

use worker::{Env, Request, Response, Url};

use crate::objects::client::{call_payment, not_found};
use crate::routes::callers::{client_caller, request_id};
use crate::runtime::env_config::config;
use crate::runtime::http_io::{answer_response, header, origin};
use edgepay_core::dialect::servicestack::response::Framing;
use edgepay_core::dialect::{servicestack, zai};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::rate_limit::Budget;
use edgepay_core::http::request_log::RequestFacts;
use edgepay_core::objects::commands::ReadStatus;
use edgepay_core::payment::new_payment::Dialect;
use edgepay_core::payment::wait::{Preferences, WaitDecision, WaitSecs};

/// `?wait=N` on the status link; absent is `None`, invalid is a 400 naming `wait`.
fn query_wait(url: &Url) -> Result<Option<WaitSecs>, ApiError> {
    url.query_pairs()
        .find(|(k, _)| k == "wait")
        .map(|(_, v)| WaitSecs::parse_str("wait", &v))
        .transpose()
        .map_err(|e| ApiError::Validation(vec![e]))
}

pub async fn status(
    req: Request,
    env: &Env,
    url: &Url,
    id_raw: &str,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let caller = client_caller(env, &cfg, &req, url, Budget::Reads, facts).await?;
    caller.check_read()?;
    let request_id = request_id(id_raw, facts)?;
    let prefs = Preferences::parse(header(&req, "prefer").as_deref());
    let decision = WaitDecision::decide(query_wait(url)?, prefs, WaitSecs::ZERO);
    let query = ReadStatus {
        tenant: caller.tenant().to_owned(),
        owner: caller.owner().map(str::to_owned),
        wait_ms: decision.wait.millis(),
    };
    let view = call_payment(env, &request_id, &query)
        .await?
        .ok_or_else(not_found)?;
    facts.surface = view.dialect.into();
    let origin = origin(url);
    answer_response(match view.dialect {
        Dialect::Zai => zai::response::answer(&view, &origin, &decision),
        Dialect::ServiceStack => {
            servicestack::response::answer(&Framing::Json, &view, &origin, &decision)
        }
    })
}
