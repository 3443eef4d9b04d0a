//! Operators' routes over the payments index: `GET /requests`, `GET /callbacks/dead-letters` and `POST /callbacks/dead-letters/replay`, for a tenant's server credential only.
//!
//! They read the index (`runtime::payments_index`), which may lag the objects by a moment; a
//! replay is decided by each request's own object, as a single replay is.

use futures_util::future::join_all;
use serde_json::json;
use worker::{Env, Request, Response, Url};

use crate::objects::client::call_payment;
use crate::routes::callers::server_caller;
use crate::runtime::env_config::config;
use crate::runtime::http_io::{header, json_response, origin, read_body};
use crate::runtime::payments_index;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::rate_limit::Budget;
use edgepay_core::http::request_body::body_format;
use edgepay_core::http::request_log::RequestFacts;
use edgepay_core::ids::RequestId;
use edgepay_core::objects::commands::{ReplayCallback, ReplayReply};
use edgepay_core::operators::search::{page_body, without_cursor, Search};

/// One page of a listing: `Search` parses the query, the index answers, links stay on `path`.
async fn listing(
    req: Request,
    env: &Env,
    url: &Url,
    path: &str,
    parse: fn(&str) -> Result<Search, ApiError>,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let client = server_caller(env, &cfg, &req, Budget::Reads, facts).await?;
    let query = url.query().unwrap_or_default();
    let search = parse(query)?;
    let rows = payments_index::search(env, &cfg, &client.tenant, &search).await?;
    let (rows, next) = search.page(rows);
    let base = origin(url);
    let filters = without_cursor(query);
    let next_base = if filters.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{filters}")
    };
    json_response(200, &page_body(&rows, next.as_ref(), &base, &next_base))
}

/// `GET /requests`: the tenant's requests, newest first, filtered by state, subject and time.
pub async fn requests(
    req: Request,
    env: &Env,
    url: &Url,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    listing(req, env, url, "/requests", Search::requests, facts).await
}

/// `GET /callbacks/dead-letters`: requests whose callback is exhausted or stopped.
pub async fn dead_letters(
    req: Request,
    env: &Env,
    url: &Url,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    listing(
        req,
        env,
        url,
        "/callbacks/dead-letters",
        Search::dead_letters,
        facts,
    )
    .await
}

/// `POST /callbacks/dead-letters/replay`: replays up to 100 dead-lettered deliveries (newest
/// first, `since`/`until`/`cursor` as the list) through each request's own replay, and answers
/// how many it started, with the cursor to continue.
pub async fn replay_dead_letters(
    mut req: Request,
    env: &Env,
    url: &Url,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let client = server_caller(env, &cfg, &req, Budget::Payments, facts).await?;
    let body = read_body(&mut req).await?;
    body_format(header(&req, "content-type").as_deref(), body.is_empty())?;
    let search = Search::replay(&String::from_utf8_lossy(&body))?;
    let rows = payments_index::search(env, &cfg, &client.tenant, &search).await?;
    let (rows, next) = search.page(rows);
    let replays = rows.iter().map(|row| {
        let replay = ReplayCallback {
            tenant: client.tenant.clone(),
        };
        async move {
            match RequestId::parse(&row.request_id) {
                Some(id) => call_payment(env, &id, &replay).await,
                // An index row is never the truth; one with a foreign id is skipped.
                None => Ok(None),
            }
        }
    });
    let outcomes = join_all(replays).await;
    let started = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Some(ReplayReply::Started))))
        .count();
    let base = origin(url);
    json_response(
        202,
        &json!({
            "started": started,
            "skipped": outcomes.len() - started,
            "has_more": next.is_some(),
            "next_cursor": next.map(|c| c.encode()),
            "links": {"dead_letters": format!("{base}/callbacks/dead-letters")},
        }),
    )
}
