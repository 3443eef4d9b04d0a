//! `GET /demo` and its assets: the sandbox web checkout page (the router serves it only in the sandbox).

use worker::{Method, Response};

use super::http_io::{raw_response, set_header};
use crate::domain::api_error::ApiError;
use crate::domain::config::GatewayConfig;
use crate::domain::demo_page::{prefill, render, DemoAsset, SECURITY_HEADERS};

/// Serves the page or one of its assets; `rest` is the path after `/demo`.
pub fn serve(method: &Method, cfg: &GatewayConfig, rest: &[&str]) -> Result<Response, ApiError> {
    let asset = DemoAsset::from_segments(rest).ok_or(ApiError::NotFound {
        detail: "no such route",
    })?;
    if *method != Method::Get {
        return Err(ApiError::MethodNotAllowed { allow: "GET" });
    }
    let body = render(asset, prefill(cfg.sandbox_enabled, &cfg.clients));
    let mut resp = raw_response(200, asset.content_type(), body.into_bytes())?;
    for (name, value) in SECURITY_HEADERS {
        set_header(&mut resp, name, value)?;
    }
    Ok(resp)
}
