//! The engine entry shared by every dialect: take the item lock, create the request object, hold the caller.

use worker::Env;

use super::do_client;
use super::do_protocol::CreateCommand;
use crate::domain::api_error::ApiError;
use crate::domain::ids::RequestId;
use crate::domain::payment::NewPayment;
use crate::domain::request_record::{Links, RequestView};
use crate::domain::wait::WaitSecs;

/// Starts a validated payment and returns its view after holding up to `wait`.
/// `origin` is used for the in-flight link of a `409`.
pub async fn start_payment(
    env: &Env,
    payment: NewPayment,
    wait: WaitSecs,
    origin: &str,
) -> Result<RequestView, ApiError> {
    let request_id = RequestId::generate().to_string();
    let lock_name = payment.lock_name();
    let lock = do_client::acquire_lock(env, &lock_name, &request_id).await?;
    if !lock.acquired {
        let status_link = Links::new(origin, &lock.holder, false).status;
        return Err(ApiError::InFlight {
            request_id: lock.holder,
            status_link,
        });
    }
    let cmd = CreateCommand {
        request_id,
        payment,
        wait_ms: wait.millis(),
        origin: origin.to_owned(),
    };
    match do_client::create_payment(env, &cmd).await {
        Ok(view) => Ok(view),
        Err(e) => {
            // The object may have stored the request before the call broke (say, reset while the
            // caller was held). Only a request that provably does not exist gives the lock back;
            // otherwise it stays in flight and the item lock heals itself later.
            if let Ok(probe) = do_client::probe(env, &cmd.request_id).await {
                if !probe.exists {
                    let _ = do_client::release_lock(env, &lock_name, &cmd.request_id).await;
                }
            }
            Err(e)
        }
    }
}
