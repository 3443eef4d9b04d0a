//! The Zai-compatible routes: `PATCH|POST /items/{item}/make_payment`, and the status link shared by both dialects.

use worker::{Env, Request, Response, Url};

use super::callers::{client_caller, request_id};
use super::do_client;
use super::do_protocol::StatusQuery;
use super::env_config::config;
use super::http_io::{header, json_response, origin, raw_response, read_body, set_header};
use super::payment_engine::start_payment;
use super::servicestack_routes;
use crate::domain::api_error::{ApiError, FieldError};
use crate::domain::payment::Dialect;
use crate::domain::payment_state::RequestState;
use crate::domain::request_body::{body_format, parse_fields};
use crate::domain::request_log::RequestFacts;
use crate::domain::request_record::{Links, RequestView, FAILED_STATUS, RETRY_AFTER_SECS};
use crate::domain::servicestack_response::Framing;
use crate::domain::wait::{Preferences, WaitDecision, WaitSecs};
use crate::domain::zai_request::ZaiPayment;

pub async fn make_payment(
    mut req: Request,
    env: &Env,
    url: &Url,
    item_raw: &str,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let caller = client_caller(&cfg, &req, url, facts).await?;
    let tenant = caller.tenant().to_owned();
    let body = read_body(&mut req).await?;
    let format = body_format(header(&req, "content-type").as_deref(), body.is_empty())?;
    let fields = parse_fields(format, &body)?;
    let payment = ZaiPayment::parse(item_raw, &fields, cfg.callback_policy)?;
    caller.check_pay_item(
        payment.item.as_str(),
        payment.callback.as_ref().map(|c| c.as_str()),
    )?;
    if payment.callback.is_some() && cfg.clients.callback_secrets_for_tenant(&tenant).is_empty() {
        // A callback edgepay could not sign would be refused by any Standard Webhooks receiver.
        return Err(ApiError::Validation(vec![FieldError::new(
            "callback",
            "unsigned",
            "this API client has no callback signing secret configured",
        )]));
    }
    let prefs = Preferences::parse(header(&req, "prefer").as_deref());
    let decision = WaitDecision::decide(payment.wait, prefs, WaitSecs::ZERO);
    let origin = origin(url);
    let key = super::http_io::idempotency_key(&req)?;
    let mut new_payment = payment.into_new_payment(&tenant);
    new_payment.owner = caller.owner().map(str::to_owned);
    let view = start_payment(
        env,
        new_payment,
        decision.wait,
        &origin,
        key.as_ref(),
        facts,
    )
    .await?;
    render(&view, &origin, &decision)
}

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
    let caller = client_caller(&cfg, &req, url, facts).await?;
    caller.check_read()?;
    let request_id = request_id(id_raw, facts)?;
    let prefs = Preferences::parse(header(&req, "prefer").as_deref());
    let decision = WaitDecision::decide(query_wait(url)?, prefs, WaitSecs::ZERO);
    let query = StatusQuery {
        tenant: caller.tenant().to_owned(),
        owner: caller.owner().map(str::to_owned),
        wait_ms: decision.wait.millis(),
    };
    let view = do_client::request_status(env, &request_id, &query).await?;
    facts.surface = view.dialect.into();
    // The status link answers in the dialect the payment was made in.
    match view.dialect {
        Dialect::Zai => render(&view, &origin(url), &decision),
        Dialect::ServiceStack => {
            servicestack_routes::render(&Framing::Json, &view, &origin(url), &decision)
        }
    }
}

/// The Zai-dialect answer for a request: the backend's result verbatim, `502` for a failed
/// request, or `202` with the status object.
pub fn render(
    view: &RequestView,
    origin: &str,
    decision: &WaitDecision,
) -> Result<Response, ApiError> {
    let links = Links::new(origin, &view.request_id, view.has_callback);
    let (mut resp, answered_async) = match (&view.result, view.state) {
        (Some(result), _) => {
            let mut resp = raw_response(
                result.status,
                &result.content_type,
                result.body.clone().into_bytes(),
            )?;
            set_header(&mut resp, "content-location", &links.status)?;
            (resp, false)
        }
        (None, RequestState::Failed) => {
            let mut resp = json_response(FAILED_STATUS, &view.status_object(&links))?;
            set_header(&mut resp, "content-location", &links.status)?;
            (resp, false)
        }
        (None, _) => {
            let mut resp = json_response(202, &view.status_object(&links))?;
            set_header(&mut resp, "location", &links.status)?;
            set_header(&mut resp, "retry-after", &RETRY_AFTER_SECS.to_string())?;
            (resp, true)
        }
    };
    if let Some(applied) = decision.preference_applied(answered_async) {
        set_header(&mut resp, "preference-applied", &applied)?;
    }
    Ok(resp)
}
