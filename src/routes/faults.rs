//! Test-only fault injection: panics and object resets on purpose, so tests can measure what a
//! held caller sees. Served only when `FAULT_INJECTION` is true, which no shipped config sets.
//!
//! - `POST /__faults/panic`: the Worker panics while handling this request.
//! - `POST /__faults/panic-object/{id}`: the request's Durable Object panics.
//! - `POST /__faults/reset-object/{id}`: the request's Durable Object is reset by the runtime.

use worker::{Env, Response, State};

use crate::objects::client::call;
use crate::runtime::env_config::config;
use crate::runtime::http_io::{json_response, parse_request_id};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::objects::commands::InjectFault;

fn enabled(env: &Env) -> Result<(), ApiError> {
    if config(env)?.fault_injection {
        Ok(())
    } else {
        Err(ApiError::NotFound {
            detail: "no such route",
        })
    }
}

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
            call(env, &parse_request_id(id)?, &InjectFault::Panic).await?;
        }
        ["reset-object", id] => {
            call(env, &parse_request_id(id)?, &InjectFault::Reset).await?;
        }
        _ => {
            return Err(ApiError::NotFound {
                detail: "no such fault",
            })
        }
    }
    json_response(200, &serde_json::json!({"injected": true}))
}

/// Inside the payment-request object: do `fault` to this object.
pub async fn in_object(state: &State, env: &Env, fault: InjectFault) -> Result<Response, ApiError> {
    enabled(env)?;
    match fault {
        InjectFault::Panic => {
            #[allow(clippy::panic)]
            {
                panic!("fault injection: panic in a payment-request object");
            }
        }
        InjectFault::Reset => {
            // An `Err` from `blockConcurrencyWhile` makes the runtime reset the object,
            // breaking every call in flight to it.
            let _ = state
                .block_concurrency_while(async {
                    Err::<(), _>(worker::Error::RustError("fault injection: reset".into()))
                })
                .await;
            json_response(200, &serde_json::json!({"reset": true}))
        }
    }
}
