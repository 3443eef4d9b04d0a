//! Test-only fault injection: panics and object resets on purpose, so tests can measure what a
//! held caller sees. Served only when `FAULT_INJECTION` is true, which no shipped config sets.
//!
//! - `POST /__faults/panic`: the Worker panics while handling this request.
//! - `POST /__faults/panic-object/{id}`: the request's Durable Object panics.
//! - `POST /__faults/reset-object/{id}`: the request's Durable Object is reset by the runtime.

use serde::{Deserialize, Serialize};
use worker::{Env, Response, State};

use super::do_client;
use super::env_config::config;
use super::http_io::{json_response, parse_request_id};
use crate::domain::api_error::ApiError;

/// What the object is asked to do to itself.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectFault {
    Panic,
    Reset,
}

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
            do_client::inject_fault(env, &parse_request_id(id)?, ObjectFault::Panic).await?;
        }
        ["reset-object", id] => {
            do_client::inject_fault(env, &parse_request_id(id)?, ObjectFault::Reset).await?;
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
pub async fn in_object(state: &State, env: &Env, fault: ObjectFault) -> Result<Response, ApiError> {
    enabled(env)?;
    match fault {
        ObjectFault::Panic => {
            #[allow(clippy::panic)]
            {
                panic!("fault injection: panic in a payment-request object");
            }
        }
        ObjectFault::Reset => {
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
