//! Reads the gateway configuration from the Worker environment once per isolate, and the clock.

use std::cell::RefCell;
use std::rc::Rc;

use worker::{Date, Env};

use crate::runtime::log;
use edgepay_core::log_line::LogLine;

use edgepay_core::config::GatewayConfig;
use edgepay_core::http::api_error::ApiError;

thread_local! {
    // Vars and secrets are fixed for the life of an isolate, so parse them once.
    static CONFIG: RefCell<Option<Rc<GatewayConfig>>> = const { RefCell::new(None) };
}

fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

/// The parsed configuration; a misconfiguration is logged (by variable name only) and is a 500.
pub fn config(env: &Env) -> Result<Rc<GatewayConfig>, ApiError> {
    if let Some(cached) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(cached);
    }
    match GatewayConfig::from_lookup(|name| lookup(env, name)) {
        Ok(parsed) => {
            let parsed = Rc::new(parsed);
            CONFIG.with(|c| *c.borrow_mut() = Some(parsed.clone()));
            Ok(parsed)
        }
        Err(why) => {
            // `why` names the variable, never its value.
            log::emit(&LogLine::error("configuration error").with("detail", why.to_string()));
            Err(ApiError::Internal)
        }
    }
}

/// Milliseconds since the epoch, from the runtime's clock.
pub fn now_ms() -> u64 {
    Date::now().as_millis()
}
