//! The engine entry shared by every dialect: honour the Idempotency-Key, take the item lock,
//! create the request object, hold the caller.

use worker::{Env, Request};

use crate::objects::client::{call, call_existing, not_found};
use crate::runtime::http_io::idempotency_key;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_log::{RequestFacts, Transition};
use edgepay_core::ids::RequestId;
use edgepay_core::objects::commands::{
    AcquireLock, ClaimKey, CreatePayment, ProbeHolder, ReadStatus, ReleaseLock, SettleKey,
};
use edgepay_core::payment::idempotency::{fingerprint, Claim, IdempotencyKey};
use edgepay_core::payment::item_lock;
use edgepay_core::payment::new_payment::NewPayment;
use edgepay_core::payment::request_record::{Links, RequestView};
use edgepay_core::payment::wait::WaitSecs;

fn in_flight(origin: &str, request_id: String) -> ApiError {
    let status_link = Links::new(origin, &request_id, false).status;
    ApiError::InFlight {
        request_id,
        status_link,
    }
}

/// Starts a validated payment and returns its view after holding up to `wait`.
/// `origin` is used for the in-flight link of a `409`. With an `Idempotency-Key`, a repeat of
/// the first request finds that request instead of starting another: `409` while the first
/// call is still answering, then that request's current outcome (held up to `wait` too).
/// The payment and the state change this call made, if any, are noted in `facts`.
pub async fn start_payment(
    env: &Env,
    req: &Request,
    payment: NewPayment,
    wait: WaitSecs,
    origin: &str,
    facts: &mut RequestFacts,
) -> Result<RequestView, ApiError> {
    let key = idempotency_key(req)?;
    let (view, created) = start(env, payment, wait, origin, key.as_ref()).await?;
    facts.payment(&view.request_id);
    if created {
        facts.transition = Some(Transition {
            from: None,
            to: view.state,
        });
    }
    Ok(view)
}

/// The view, and whether this call created the request (not found it by its key).
async fn start(
    env: &Env,
    payment: NewPayment,
    wait: WaitSecs,
    origin: &str,
    key: Option<&IdempotencyKey>,
) -> Result<(RequestView, bool), ApiError> {
    let Some(key) = key else {
        let view = create(env, payment, wait, origin, RequestId::generate()).await?;
        return Ok((view, true));
    };
    // A client token's keys are its own: they never find a server's or another token's payment.
    let key_scope = match &payment.owner {
        Some(owner) => format!("{}/{owner}", payment.tenant),
        None => payment.tenant.clone(),
    };
    let key_object = key.object_name(&key_scope);
    let cmd = ClaimKey {
        fingerprint: fingerprint(&payment),
        request_id: RequestId::generate(),
        hold_ms: wait.millis(),
    };
    let claimed = match call_existing(env, &key_object, &cmd).await? {
        Claim::New { request_id } => request_id,
        Claim::Mismatch => return Err(ApiError::IdempotencyMismatch),
        Claim::Existing {
            request_id,
            answering: true,
        } => return Err(in_flight(origin, request_id)),
        Claim::Existing {
            request_id,
            answering: false,
        } => {
            if call_existing(env, &request_id, &ProbeHolder {})
                .await?
                .exists
            {
                // The same answer as the first time: that request's current outcome.
                let query = ReadStatus {
                    tenant: payment.tenant.clone(),
                    owner: payment.owner.clone(),
                    wait_ms: wait.millis(),
                };
                let view = call(env, &request_id, &query)
                    .await?
                    .ok_or_else(not_found)?;
                return Ok((view, false));
            }
            // The first call was cut short before its request was stored: finish it now,
            // under the request id the key already names.
            request_id
        }
    };
    // Every id a key names was one of ours: anything else is a corrupt key record.
    let request_id = RequestId::parse(&claimed).ok_or(ApiError::Internal)?;
    let outcome = create(env, payment, wait, origin, request_id.clone()).await;
    // Answered (or failed): a retry with this key may now see the request's outcome. If this
    // call fails, the lease simply runs out.
    let settle = SettleKey {
        request_id: request_id.clone(),
    };
    let _ = call(env, &key_object, &settle).await;
    outcome.map(|view| (view, true))
}

/// Takes the item lock, creates the request object and holds the caller.
async fn create(
    env: &Env,
    payment: NewPayment,
    wait: WaitSecs,
    origin: &str,
    request_id: RequestId,
) -> Result<RequestView, ApiError> {
    let lock_name = payment.lock_name();
    let lock_object = item_lock::shard_object(&payment.tenant, &lock_name);
    let acquire = AcquireLock {
        lock: lock_name.clone(),
        request_id: request_id.clone(),
    };
    let lock = call_existing(env, &lock_object, &acquire).await?;
    if !lock.acquired {
        return Err(in_flight(origin, lock.holder));
    }
    let cmd = CreatePayment {
        request_id,
        payment,
        wait_ms: wait.millis(),
        origin: origin.to_owned(),
    };
    match call_existing(env, cmd.request_id.as_str(), &cmd).await {
        Ok(view) => Ok(view),
        Err(e) => {
            // The object may have stored the request before the call broke (say, reset while the
            // caller was held). Only a request that provably does not exist gives the lock back;
            // otherwise it stays in flight and the item lock heals itself later.
            if let Ok(probe) = call_existing(env, cmd.request_id.as_str(), &ProbeHolder {}).await {
                if !probe.exists {
                    let release = ReleaseLock {
                        lock: lock_name,
                        request_id: cmd.request_id.clone(),
                    };
                    let _ = call(env, &lock_object, &release).await;
                }
            }
            Err(e)
        }
    }
}
