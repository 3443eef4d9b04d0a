//! Test-only fault injection: panics and object resets on purpose, so tests can measure what a
//! held caller sees. Served only when `FAULT_INJECTION` is true, which no shipped config sets.
//!
//! - `POST /__faults/panic`: the Worker panics while handling this request.
//! - `POST /__faults/panic-object/{id}`: the Durable Object holding the request (its lane) panics.
//! - `POST /__faults/reset-object/{id}`: that object is reset by the runtime.
//! - `POST /__faults/index-down` / `index-up`: every payments-index write and search in this
//!   isolate fails as if D1 were down, until `index-up`.

use worker::{Env, Response};

use crate::objects::client::call_payment;
use crate::runtime::http_io::{json_response, parse_request_id};
use crate::runtime::payments_index;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::objects::commands::InjectFault;

/// `POST /__faults/{kind}[/{id}]` at the edge (the router serves it only when enabled).
pub async fn inject(env: &Env, segments: &[&str]) -> Result<Response, ApiError> {
    match segments {
        ["panic"] => {
            #[allow(clippy::panic)]
            {
                panic!("fault injection: panic in the Worker");
            }
        }
        ["panic-object", id] => {
            call_payment(env, &parse_request_id(id)?, &InjectFault::Panic).await?;
        }
        ["reset-object", id] => {
            call_payment(env, &parse_request_id(id)?, &InjectFault::Reset).await?;
        }
        ["index-down"] => payments_index::set_fault_down(true),
        ["index-up"] => payments_index::set_fault_down(false),
        _ => {
            return Err(ApiError::NotFound {
                detail: "no such fault",
            })
        }
    }
    json_response(200, &serde_json::json!({"injected": true}))
}
