//! The Zai-compatible route: `PATCH|POST /items/{item}/make_payment`.

use worker::{Env, Request, Response, Url};

use crate::routes::callers::client_caller;
use crate::routes::payment_engine::start_payment;
use crate::runtime::env_config::config;
use crate::runtime::http_io::{answer_response, header, origin, read_body};
use edgepay_core::dialect::zai::request::ZaiPayment;
use edgepay_core::dialect::zai::response::answer;
use edgepay_core::http::api_error::{ApiError, FieldError};
use edgepay_core::http::rate_limit::Budget;
use edgepay_core::http::request_body::{body_format, parse_fields};
use edgepay_core::http::request_log::RequestFacts;
use edgepay_core::payment::wait::{Preferences, WaitDecision, WaitSecs};

pub async fn make_payment(
    mut req: Request,
    env: &Env,
    url: &Url,
    item_raw: &str,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let caller = client_caller(env, &cfg, &req, url, Budget::Payments, facts).await?;
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
    let payment = payment.into_new_payment(&tenant).owned_by(caller.owner());
    let view = start_payment(env, &req, payment, decision.wait, &origin, facts).await?;
    answer_response(answer(&view, &origin, &decision))
}
