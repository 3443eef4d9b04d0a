//! The engine entry shared by every dialect: honour the Idempotency-Key, then create the payment in its lane, which takes the item lock and holds the caller in the same call.

use worker::{Env, Request};

use crate::objects::client::{call, call_existing, call_payment, not_found};
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::http_io::idempotency_key;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_log::{RequestFacts, Transition};
use edgepay_core::ids::RequestId;
use edgepay_core::objects::commands::{
    AcquireLock, ClaimKey, CreatePayment, Created, ProbeHolder, ReadStatus, ReleaseLock, SettleKey,
};
use edgepay_core::payment::idempotency::{fingerprint, key_object_name, Claim, IdempotencyKey};
use edgepay_core::payment::item_lock;
use edgepay_core::payment::lane::{self, Lane};
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
    let new_id = Lane::of(&payment.tenant, &payment.lock_name()).new_request_id();
    let Some(key) = key else {
        let view = create(env, payment, wait, origin, new_id).await?;
        return Ok((view, true));
    };
    // A client token's keys are its own: they never find a server's or another token's payment.
    let key_object = key_object_name(&payment.tenant, payment.owner.as_deref(), key);
    let cmd = ClaimKey {
        fingerprint: fingerprint(&payment),
        request_id: new_id,
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
            // Every id a key names was one of ours: anything else is a corrupt key record.
            let id = RequestId::parse(&request_id).ok_or(ApiError::Internal)?;
            if call_payment(env, &id, &ProbeHolder {})
                .await?
                .is_some_and(|probe| probe.exists)
            {
                // The same answer as the first time: that request's current outcome.
                let query = ReadStatus {
                    tenant: payment.tenant.clone(),
                    owner: payment.owner.clone(),
                    wait_ms: wait.millis(),
                };
                let view = call_payment(env, &id, &query)
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
    if lane::object_of(&request_id) != Lane::of(&payment.tenant, &payment.lock_name()).object_name()
        && !old_locks_asked(env)?
    {
        // Claimed before lanes, its first call cut short before the payment was stored: the
        // lane its id names is not its subject's, so it could not see another payment on the
        // subject, and the old locks no longer guard it. Refused rather than risk a second
        // payment; a new key starts afresh.
        return Err(ApiError::IdempotencyMismatch);
    }
    let outcome = create(env, payment, wait, origin, request_id.clone()).await;
    // Answered (or failed): a retry with this key may now see the request's outcome. If this
    // call fails, the lease simply runs out.
    let settle = SettleKey {
        request_id: request_id.clone(),
    };
    let _ = call(env, &key_object, &settle).await;
    outcome.map(|view| (view, true))
}

/// Whether new payments still take their subject's lock of before lanes (the upgrade window).
fn old_locks_asked(env: &Env) -> Result<bool, ApiError> {
    let window = config(env)?.legacy_item_locks_until_ms;
    Ok(window.is_some_and(|until| now_ms() < until))
}

/// Creates the payment in the lane its id names, which refuses it (`409`) while another payment
/// on its subject is in flight, and holds the caller. During the upgrade window
/// (`LEGACY_ITEM_LOCKS_UNTIL`) the subject's lock of before lanes is taken first and given back
/// after, so a payment accepted before the upgrade still keeps its item.
///
/// An id a key claimed before lanes (its first call cut short) names a lane by chance, not its
/// subject's; the old lock guards that payment's subject during the window (`start` refuses
/// such an id after it).
async fn create(
    env: &Env,
    payment: NewPayment,
    wait: WaitSecs,
    origin: &str,
    request_id: RequestId,
) -> Result<RequestView, ApiError> {
    let old_lock = old_locks_asked(env)?.then(|| {
        let lock = payment.lock_name();
        (item_lock::shard_object(&payment.tenant, &lock), lock)
    });
    if let Some((shard, lock)) = &old_lock {
        let acquire = AcquireLock {
            lock: lock.clone(),
            request_id: request_id.clone(),
        };
        let taken = call_existing(env, shard, &acquire).await?;
        if !taken.acquired {
            return Err(in_flight(origin, taken.holder));
        }
    }
    let cmd = CreatePayment {
        request_id,
        payment,
        wait_ms: wait.millis(),
        origin: origin.to_owned(),
    };
    let created = call_payment(env, &cmd.request_id, &cmd).await;
    if let Some((shard, lock)) = old_lock {
        // The lane holds the subject from here on (or refused it); a release that fails leaves
        // a holder the old lock heals by asking the lane.
        let release = ReleaseLock {
            lock,
            request_id: cmd.request_id.clone(),
        };
        let _ = call(env, &shard, &release).await;
    }
    match created?.ok_or(ApiError::Internal)? {
        Created::Payment(view) => Ok(view),
        Created::InFlight { holder } => Err(in_flight(origin, holder)),
    }
}
