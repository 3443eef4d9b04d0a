//! The ServiceStack-compatible (Viviot) routes: the custom `POST /mobile/payments/makePayment[.json]`
//! and the pre-defined `/api/MakePaymentRequest`, `/json/reply/…` and `/json/oneway/…`.
//!
//! A second front door to the same engine: it merges and validates the DTO,
//! then calls `payment_engine::start_payment` like the Zai route does. It
//! renders every answer, errors included, in ServiceStack's shapes.

use serde_json::Value;
use worker::{Env, Method, Request, Response, Url};

use super::callers::client_caller;
use super::env_config::config;
use super::http_io::{add_error_headers, header, origin, raw_response, read_body, set_header};
use super::payment_engine::start_payment;
use crate::domain::api_error::ApiError;
use crate::domain::request_body::{parse_form, sniffed_body_format, BodyFormat};
use crate::domain::request_log::RequestFacts;
use crate::domain::request_record::{Links, RequestView, RETRY_AFTER_SECS};
use crate::domain::servicestack_operation::{Endpoint, Operation, ServiceStackCall};
use crate::domain::servicestack_request::{merge_sources, ServiceStackPayment};
use crate::domain::servicestack_response::{error_body, negotiate, render_view, Framing};
use crate::domain::wait::{Preferences, WaitDecision, WaitSecs};

/// The original API is synchronous, so this route holds for the longest wait by default.
const DEFAULT_WAIT: WaitSecs = WaitSecs::capped(WaitSecs::MAX as u64);

/// Query parameters that steer the response rather than fill the DTO.
const CONTROL_PARAMS: [&str; 2] = ["format", "callback"];

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// Frames `body` as JSON or JSONP. Under JSONP every answer is HTTP 200, as ServiceStack does.
pub fn framed(framing: &Framing, status: u16, body: &Value) -> Result<Response, ApiError> {
    match framing {
        Framing::Json => raw_response(
            status,
            "application/json; charset=utf-8",
            body.to_string().into_bytes(),
        ),
        Framing::Jsonp(name) => raw_response(
            200,
            "application/javascript; charset=utf-8",
            format!("{name}({body})").into_bytes(),
        ),
    }
}

/// A ServiceStack-shaped error; never fails (a plain 500 as a last resort).
pub fn error_response(framing: &Framing, error: &ApiError) -> worker::Result<Response> {
    let build = || -> Result<Response, ApiError> {
        let mut resp = framed(framing, error.status(), &error_body(error))?;
        add_error_headers(&mut resp, error)?;
        Ok(resp)
    };
    build().or_else(|_| Response::error("internal error", 500))
}

/// Renders a request's view in this dialect (also used by the status link for its requests).
pub fn render(
    framing: &Framing,
    view: &RequestView,
    origin: &str,
    decision: &WaitDecision,
) -> Result<Response, ApiError> {
    let links = Links::new(origin, &view.request_id, view.has_callback);
    let (status, body) = render_view(view, &links.status);
    let mut resp = framed(framing, status, &body)?;
    let pending = view.result.is_none() && !view.state.is_terminal();
    if pending {
        set_header(&mut resp, "location", &links.status)?;
        set_header(&mut resp, "retry-after", &RETRY_AFTER_SECS.to_string())?;
    } else {
        set_header(&mut resp, "content-location", &links.status)?;
    }
    if let Some(applied) = decision.preference_applied(pending) {
        set_header(&mut resp, "preference-applied", &applied)?;
    }
    Ok(resp)
}

/// Entry point for every route of the dialect; `call` says which route and operation.
pub async fn make_payment(
    req: Request,
    env: &Env,
    url: &Url,
    call: &ServiceStackCall,
    facts: &mut RequestFacts,
) -> worker::Result<Response> {
    let framing = negotiate(
        call.suffix.as_deref(),
        query_param(url, "format").as_deref(),
        header(&req, "accept").as_deref(),
        query_param(url, "callback").as_deref(),
    );
    let framing = match framing {
        Ok(framing) => framing,
        Err(e) => {
            facts.error = Some(e.log_code());
            return error_response(&Framing::Json, &e);
        }
    };
    match handle(req, env, url, call, &framing, facts).await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            facts.error = Some(e.log_code());
            error_response(&framing, &e)
        }
    }
}

async fn handle(
    mut req: Request,
    env: &Env,
    url: &Url,
    call: &ServiceStackCall,
    framing: &Framing,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    // As in ServiceStack, an operation that does not exist is refused before anything else.
    match &call.operation {
        Operation::MakePayment => {}
        Operation::Batch => return Err(ApiError::BatchNotSupported),
        Operation::Unknown => return Err(ApiError::UnknownOperation),
    }
    if req.method() != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let cfg = config(env)?;
    let caller = client_caller(&cfg, &req, url, facts).await?;
    let tenant = caller.tenant().to_owned();
    let body = read_body(&mut req).await?;
    let format = sniffed_body_format(header(&req, "content-type").as_deref(), &body)?;

    let query: Vec<(String, Value)> = url
        .query_pairs()
        .filter(|(k, _)| !CONTROL_PARAMS.iter().any(|c| k.eq_ignore_ascii_case(c)))
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let (form, json) = match format {
        Some(BodyFormat::Form) => (
            parse_form(&body)?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
            Vec::new(),
        ),
        Some(BodyFormat::Json) => (
            Vec::new(),
            crate::domain::request_body::parse_fields(format, &body)?
                .into_iter()
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let payment = ServiceStackPayment::parse(&merge_sources(vec![query, form, json]))?;
    caller.check_pay_payment_id(&payment.payment_id)?;

    let decision = if call.endpoint == Endpoint::JsonOneWay {
        // One-way: accepted, and answered without waiting for the backend.
        WaitDecision::decide(None, Preferences::default(), WaitSecs::ZERO)
    } else {
        let prefs = Preferences::parse(header(&req, "prefer").as_deref());
        WaitDecision::decide(None, prefs, DEFAULT_WAIT)
    };
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
    render(framing, &view, &origin, &decision)
}
