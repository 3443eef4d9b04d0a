//! The ServiceStack-compatible (Viviot) routes: the custom `POST /mobile/payments/makePayment[.json]`
//! and the pre-defined `/api/MakePaymentRequest`, `/json/reply/…` and `/json/oneway/…`.
//!
//! A second front door to the same engine: it merges and validates the DTO,
//! then calls `payment_engine::start_payment` like the Zai route does. It
//! renders every answer, errors included, in ServiceStack's shapes.

use std::collections::BTreeMap;

use serde_json::Value;
use worker::{Env, Method, Request, Response, Url};

use crate::routes::callers::client_caller;
use crate::routes::payment_engine::start_payment;
use crate::runtime::env_config::config;
use crate::runtime::env_config::now_ms;
use crate::runtime::http_io::{answer_response, header, idempotency_key, origin, read_body};
use crate::runtime::rate_limits;
use edgepay_core::dialect::servicestack::batch::{parse_batch, COMPLETED_HEADER};
use edgepay_core::dialect::servicestack::operation::{Endpoint, Operation, ServiceStackCall};
use edgepay_core::dialect::servicestack::request::{merge_sources, ServiceStackPayment};
use edgepay_core::dialect::servicestack::response::{
    answer, error_answer, frame, negotiate, render_view, Framing,
};
use edgepay_core::http::answer::Answer;
use edgepay_core::http::api_error::{ApiError, FieldError};
use edgepay_core::http::rate_limit::Budget;
use edgepay_core::http::request_body::{parse_form, sniffed_body_format, BodyFormat};
use edgepay_core::http::request_log::RequestFacts;
use edgepay_core::payment::request_record::Links;
use edgepay_core::payment::wait::{Preferences, WaitDecision, WaitSecs};

/// The original API is synchronous, so this route holds for the longest wait by default.
const DEFAULT_WAIT: WaitSecs = WaitSecs::capped(WaitSecs::MAX as u64);

/// Query parameters that steer the response rather than fill the DTO.
const CONTROL_PARAMS: [&str; 2] = ["format", "callback"];

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// A ServiceStack-shaped error; never fails (a plain 500 as a last resort).
pub fn error_response(framing: &Framing, error: &ApiError) -> worker::Result<Response> {
    answer_response(error_answer(framing, error))
        .or_else(|_| Response::error("internal error", 500))
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

/// One payment, or a batch (`MakePaymentRequest[]`, as `sendAll` sends it) run through the
/// same steps: each element is its own payment, run in turn with the single call's rules (its
/// own `409`, client-token scope and rate-limit unit), all sharing one wait, so a batch never
/// holds longer than one call would. The first answer of a batch that is an error stops it
/// (`edgepay_core::dialect::servicestack::batch`).
async fn handle(
    mut req: Request,
    env: &Env,
    url: &Url,
    call: &ServiceStackCall,
    framing: &Framing,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    // As in ServiceStack, an operation that does not exist is refused before anything else.
    let batch = match &call.operation {
        Operation::MakePayment => false,
        Operation::Batch => true,
        Operation::Unknown => return Err(ApiError::UnknownOperation),
    };
    if req.method() != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let cfg = config(env)?;
    let caller = client_caller(env, &cfg, &req, url, Budget::Payments, facts).await?;
    let tenant = caller.tenant().to_owned();
    let body = read_body(&mut req).await?;
    let payments = if batch {
        if idempotency_key(&req)?.is_some() {
            return Err(ApiError::Validation(vec![FieldError::new(
                "Idempotency-Key",
                "invalid",
                "a batch carries no Idempotency-Key: send a keyed payment as its own call",
            )]));
        }
        if sniffed_body_format(header(&req, "content-type").as_deref(), &body)?
            != Some(BodyFormat::Json)
        {
            return Err(ApiError::Validation(vec![FieldError::new(
                "body",
                "malformed",
                "a batch is a JSON array of MakePaymentRequest objects",
            )]));
        }
        let payments = parse_batch(&body)?;
        refuse_repeated_payment_ids(&payments)?;
        payments
    } else {
        vec![single_fields(&req, url, &body)?]
    };
    let decision = if call.endpoint == Endpoint::JsonOneWay {
        // One-way: accepted, and answered without waiting for the backend.
        WaitDecision::decide(None, Preferences::default(), WaitSecs::ZERO)
    } else {
        let prefs = Preferences::parse(header(&req, "prefer").as_deref());
        WaitDecision::decide(None, prefs, DEFAULT_WAIT)
    };
    let origin = origin(url);
    let ends_at = now_ms().saturating_add(decision.wait.millis());
    let mut answers = Vec::with_capacity(payments.len());
    for (done, fields) in payments.iter().enumerate() {
        let ran = async {
            if done > 0 {
                rate_limits::spend(env, &cfg, &tenant, caller.owner(), Budget::Payments).await?;
            }
            let payment = ServiceStackPayment::parse(fields)?;
            caller.check_pay_payment_id(&payment.payment_id)?;
            // The first payment gets the whole wait; each later one what is left of it.
            let left = if done == 0 {
                decision.wait
            } else {
                WaitSecs::capped(ends_at.saturating_sub(now_ms()) / 1000)
            };
            let payment = payment.into_new_payment(&tenant).owned_by(caller.owner());
            start_payment(env, &req, payment, left, &origin, facts).await
        }
        .await;
        if !batch {
            return answer_response(answer(framing, &ran?, &origin, &decision));
        }
        let stopped = match ran {
            Ok(view) => {
                let links = Links::new(&origin, &view.request_id, view.has_callback);
                match render_view(&view, &links.status) {
                    (status, body) if status < 400 => {
                        answers.push(body);
                        continue;
                    }
                    // A refused or failed payment stops the batch with its own answer and
                    // headers (its status link), as a single call would get them.
                    _ => answer(framing, &view, &origin, &decision),
                }
            }
            Err(e) => {
                facts.error = Some(e.log_code());
                error_answer(framing, &e)
            }
        };
        return answer_response(with_completed(stopped, done));
    }
    let all = frame(framing, 200, &Value::Array(answers));
    answer_response(with_completed(all, payments.len()))
}

/// A single request's fields: its query string, form and JSON body merged, as ServiceStack
/// binds a DTO.
fn single_fields(
    req: &Request,
    url: &Url,
    body: &[u8],
) -> Result<BTreeMap<String, Value>, ApiError> {
    let format = sniffed_body_format(header(req, "content-type").as_deref(), body)?;
    let query: Vec<(String, Value)> = url
        .query_pairs()
        .filter(|(k, _)| !CONTROL_PARAMS.iter().any(|c| k.eq_ignore_ascii_case(c)))
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let (form, json) = match format {
        Some(BodyFormat::Form) => (
            parse_form(body)?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
            Vec::new(),
        ),
        Some(BodyFormat::Json) => (
            Vec::new(),
            edgepay_core::http::request_body::parse_fields(format, body)?
                .into_iter()
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(merge_sources(vec![query, form, json]))
}

/// Two elements of one batch paying the same `paymentId` are a client's mistake: the second
/// would pay again once the first is done. Refused whole, naming the repeat. The elements are
/// parsed here and again in their turn: keeping the parsed DTOs for the loop instead
/// measured +523 B gzipped, which the upload budget cannot spare, for a saving of at most 25
/// small parses per batch.
fn refuse_repeated_payment_ids(payments: &[BTreeMap<String, Value>]) -> Result<(), ApiError> {
    let mut seen = Vec::with_capacity(payments.len());
    for (i, fields) in payments.iter().enumerate() {
        let Ok(payment) = ServiceStackPayment::parse(fields) else {
            continue;
        };
        if seen.contains(&payment.payment_id) {
            return Err(ApiError::Validation(vec![FieldError::new(
                &format!("[{i}].paymentId"),
                "invalid",
                "the same paymentId appears earlier in this batch",
            )]));
        }
        seen.push(payment.payment_id);
    }
    Ok(())
}

fn with_completed(mut answer: Answer, completed: usize) -> Answer {
    answer
        .headers
        .push((COMPLETED_HEADER, completed.to_string()));
    answer
}
