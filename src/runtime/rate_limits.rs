//! Spends a call's rate limits on Cloudflare's rate limiting bindings, after authentication and before any object is touched.
//!
//! The rules (tiers, bindings, keys, and their order: a client token's subject before its
//! tenant) are `edgepay_core::http::rate_limit`. A binding that is missing or fails is skipped
//! with a warning, and the call's other counts are still made: rate limiting protects the
//! gateway, and must never be the reason a payment is refused when the limiter itself is down.

use worker::Env;

use crate::runtime::log;
use edgepay_core::config::GatewayConfig;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::rate_limit::{self, Budget, PERIOD_SECS};
use edgepay_core::log_line::LogLine;

/// `429` when a client token's `subject`, or else `tenant`, has spent `budget`. The counts are
/// made in the core's order and stop at the first refused, so a refused subject spends nothing
/// of its tenant's budget.
pub async fn spend(
    env: &Env,
    cfg: &GatewayConfig,
    tenant: &str,
    subject: Option<&str>,
    budget: Budget,
) -> Result<(), ApiError> {
    let tier = cfg.tenants.rate_tier(tenant);
    for count in rate_limit::counts(tier, budget, tenant, subject) {
        let limiter = match env.rate_limiter(&count.binding) {
            Ok(limiter) => limiter,
            Err(e) => {
                fail_open("rate limiter unavailable", &count.binding, e);
                continue;
            }
        };
        match limiter.limit(count.key).await {
            Ok(outcome) if !outcome.success => {
                return Err(ApiError::RateLimited {
                    retry_after_secs: PERIOD_SECS,
                })
            }
            Ok(_) => {}
            Err(e) => fail_open("rate limiter failed", &count.binding, e),
        }
    }
    Ok(())
}

/// The limiter could not answer: this count is skipped (the call is not refused for it), and
/// the log says why.
fn fail_open(msg: &'static str, binding: &str, e: worker::Error) {
    log::emit(
        &LogLine::warn(msg)
            .with("binding", binding)
            .with("detail", e.to_string()),
    );
}
