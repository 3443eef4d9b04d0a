//! `POST /internal/requests/{uuid}/result`: the backend's asynchronous results, signature-checked.

use worker::{Env, Request, Response};

use crate::objects::client::{call_payment, not_found};
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::http_io::{json_response, parse_request_id, read_body_up_to, verify_signed};
use edgepay_core::backend::contract::{parse_result_delivery, Binding, MAX_RESULT_DELIVERY_BYTES};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_log::{RequestFacts, Transition};
use edgepay_core::objects::commands::{DeliverResult, ResultReply};
use edgepay_core::payment::request_state::RequestState;

pub async fn backend_result(
    mut req: Request,
    env: &Env,
    id_raw: &str,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let body = read_body_up_to(&mut req, MAX_RESULT_DELIVERY_BYTES).await?;
    let now = now_ms();
    // Authenticate before revealing anything about the request id.
    let message_id = verify_signed(&req, &body, &cfg.backend_secrets, now)?;
    let request_id = parse_request_id(id_raw)?;
    facts.payment(request_id.as_str());
    let binding = match cfg.legacy_unbound_results_until_ms {
        Some(until) if now < until => Binding::MayBeAbsent,
        _ => Binding::Required,
    };
    let result = parse_result_delivery(&body, &request_id, binding)?;
    let cmd = DeliverResult { message_id, result };
    match call_payment(env, &request_id, &cmd)
        .await?
        .ok_or_else(not_found)?
    {
        ResultReply::Stored { from } => {
            facts.transition = Some(Transition {
                from: Some(from),
                to: RequestState::Completed,
            });
            json_response(200, &serde_json::json!({"result": "stored"}))
        }
        ResultReply::AlreadyStored => {
            json_response(200, &serde_json::json!({"result": "already_stored"}))
        }
        ResultReply::Replayed => Err(ApiError::ResultConflict {
            detail: "this delivery (webhook-id) was already received; replays are refused",
        }),
        ResultReply::Conflict => Err(ApiError::ResultConflict {
            detail: "the request is already terminal with a different result",
        }),
        ResultReply::NotFound => Err(ApiError::NotFound {
            detail: "no request with this id",
        }),
    }
}
