//! The gateway's fixed files (the OpenAPI document, the dashboard's page, script and style), read from Workers Static Assets instead of being compiled into the wasm.
//!
//! `wrangler.toml` uploads `static/` as the Worker's assets with `run_worker_first`, so every
//! request still reaches the router, which adds its own headers (request id, CSP, caching);
//! only the bytes come from the assets. They are not part of the script, so they do not count
//! against the upload budget.

use worker::Env;

use crate::runtime::http_io::OrInternal;
use crate::runtime::log;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::log_line::LogLine;

/// The assets binding (`[assets] binding` in `wrangler.toml`).
pub const BINDING: &str = "ASSETS";

/// The file at `path` under `static/`. A missing one is a deployment fault: logged, and a `500`.
pub async fn read(env: &Env, path: &str) -> Result<Vec<u8>, ApiError> {
    let assets = env.assets(BINDING).or_internal()?;
    // The host is never resolved: the assets binding serves by path alone.
    let mut resp = assets
        .fetch(format!("https://assets.invalid/{path}"), None)
        .await
        .or_internal()?;
    if resp.status_code() != 200 {
        log::emit(
            &LogLine::error("static asset missing")
                .with("path", path)
                .with("status", resp.status_code()),
        );
        return Err(ApiError::Internal);
    }
    resp.bytes().await.or_internal()
}
