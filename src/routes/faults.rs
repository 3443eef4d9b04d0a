//! Test-only fault injection: panics and object resets on purpose, so tests can measure what a
//! held caller sees. Served only when `FAULT_INJECTION` is true, which no shipped config sets.
//!
//! - `POST /__faults/panic`: the Worker panics while handling this request.
//! - `POST /__faults/panic-object/{id}`: the Durable Object holding the request (its lane) panics.
//! - `POST /__faults/reset-object/{id}`: that object is reset by the runtime.
//! - `POST /__faults/index-down` / `index-up`: every payments-index write and search in this
//!   isolate fails as if D1 were down, until `index-up`.
//! - `POST /__faults/usage`: the billed units this isolate has counted (`runtime::usage`).
//! - `POST /__faults/legacy-payment/{id}/{tenant}/{item}`: a Zai payment on `item` as an upgrade
//!   finds one accepted before lanes: alone in the object named by `id`, in the one-payment
//!   layout, holding its item in its tenant's lock shard, due for its first submission.

use worker::{Env, Response};

use crate::objects::client::{call, call_existing, call_payment};
use crate::runtime::http_io::{json_response, parse_request_id};
use crate::runtime::{payments_index, usage};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::objects::commands::{AcquireLock, InjectFault, SeedLegacyPayment};
use edgepay_core::payment::item_lock;
use edgepay_core::payment::new_payment::{Dialect, NewPayment};

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
        ["legacy-payment", id, tenant, item] => {
            let request_id = parse_request_id(id)?;
            let payment = NewPayment {
                tenant: (*tenant).to_owned(),
                dialect: Dialect::Zai,
                subject: (*item).to_owned(),
                account: None,
                fields: serde_json::Map::new(),
                callback: None,
                owner: None,
            };
            let lock = payment.lock_name();
            let shard = item_lock::shard_object(&payment.tenant, &lock);
            let acquire = AcquireLock {
                lock,
                request_id: request_id.clone(),
            };
            if !call_existing(env, &shard, &acquire).await?.acquired {
                return Err(ApiError::ResultConflict {
                    detail: "the item is locked by another payment",
                });
            }
            let seed = SeedLegacyPayment {
                request_id: request_id.clone(),
                payment,
            };
            call(env, request_id.as_str(), &seed).await?;
        }
        ["usage"] => {
            // Reading the counters is not a payment's request: this one is not counted.
            usage::count(|u| u.worker_requests = u.worker_requests.saturating_sub(1));
            let units = serde_json::to_value(usage::snapshot()).map_err(|_| ApiError::Internal)?;
            return json_response(200, &units);
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
