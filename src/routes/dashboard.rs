//! `GET /dashboard`: the operators' page (HTML, CSS and JS compiled into the Worker), with headers that let it load nothing but itself.
//!
//! The page asks for a server credential and keeps it in memory only; it calls the operator
//! APIs on this origin (`routes::operators`), so it needs no CORS.

use worker::Response;

use crate::runtime::http_io::{raw_response, set_header};
use edgepay_core::http::api_error::ApiError;

const PAGE: &str = include_str!("../dashboard/dashboard.html");
const SCRIPT: &str = include_str!("../dashboard/dashboard.js");
const STYLE: &str = include_str!("../dashboard/dashboard.css");

/// Only this origin's own script, style and API; never framed, never cached.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page or one of its assets: `""` (the page), `dashboard.js` or `dashboard.css`.
pub fn asset(name: &str) -> Result<Response, ApiError> {
    let (content_type, body) = match name {
        "" => ("text/html; charset=utf-8", PAGE),
        "dashboard.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "dashboard.css" => ("text/css; charset=utf-8", STYLE),
        _ => {
            return Err(ApiError::NotFound {
                detail: "no such dashboard asset",
            })
        }
    };
    let mut resp = raw_response(200, content_type, body.as_bytes().to_vec())?;
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
