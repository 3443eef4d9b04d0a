//! `GET /dashboard`: the operators' page (HTML, CSS and JS in `static/dashboard/`), with headers that let it load nothing but itself.
//!
//! The page asks for a server credential and keeps it in memory only; it calls the operator
//! APIs on this origin (`routes::operators`), so it needs no CORS.

use worker::{Env, Response};

use crate::runtime::http_io::{raw_response, set_header};
use crate::runtime::static_assets;
use edgepay_core::http::api_error::ApiError;

/// Only this origin's own script, style and API; never framed, never cached.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page or one of its assets: `""` (the page), `dashboard.js` or `dashboard.css`.
pub async fn asset(env: &Env, name: &str) -> Result<Response, ApiError> {
    let (content_type, file) = match name {
        "" => ("text/html; charset=utf-8", "dashboard/dashboard.html"),
        "dashboard.js" => ("text/javascript; charset=utf-8", "dashboard/dashboard.js"),
        "dashboard.css" => ("text/css; charset=utf-8", "dashboard/dashboard.css"),
        _ => {
            return Err(ApiError::NotFound {
                detail: "no such dashboard asset",
            })
        }
    };
    let body = static_assets::read(env, file).await?;
    let mut resp = raw_response(200, content_type, body)?;
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        set_header(&mut resp, name, value)?;
    }
    Ok(resp)
}
