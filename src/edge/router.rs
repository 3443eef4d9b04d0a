//! The edge router: matches method and path, dispatches to the route handlers, renders errors.

use worker::{Context, Env, Method, Request, Response};

use super::env_config::config;
use super::http_io::{json_response, problem_response};
use super::{
    callback_routes, demo_routes, fault_routes, internal_routes, sandbox_backend,
    servicestack_routes, zai_routes,
};
use crate::domain::api_error::ApiError;

fn only(method: &Method, allowed: &[Method], allow: &'static str) -> Result<(), ApiError> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed { allow })
    }
}

/// Entry point for every HTTP request to the Worker. Never returns `Err`: every failure is a response.
pub async fn handle(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    let mut resp = match route(req, &env, &ctx, &path).await {
        Ok(resp) => resp,
        Err(e) => problem_response(&e, &path)?,
    };
    // Browsers must never sniff a JSON (or JSONP) answer into something else.
    resp.headers_mut()
        .set("x-content-type-options", "nosniff")?;
    Ok(resp)
}

/// `makePayment` → `Some(None)`, `makePayment.json` → `Some(Some("json"))`; other names → `None`.
fn servicestack_suffix(name: &str) -> Option<Option<&str>> {
    let (stem, suffix) = match name.split_once('.') {
        Some((stem, suffix)) => (stem, Some(suffix)),
        None => (name, None),
    };
    stem.eq_ignore_ascii_case("makePayment").then_some(suffix)
}

async fn route(req: Request, env: &Env, ctx: &Context, path: &str) -> Result<Response, ApiError> {
    let url = req.url()?;
    let method = req.method();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz"] => {
            only(&method, &[Method::Get], "GET")?;
            let cfg = config(env)?;
            json_response(
                200,
                &serde_json::json!({"status": "ok", "sandbox": cfg.sandbox_enabled}),
            )
        }
        ["items", item, "make_payment"] => {
            only(&method, &[Method::Patch, Method::Post], "PATCH, POST")?;
            zai_routes::make_payment(req, env, &url, item).await
        }
        ["request", id, "status"] => {
            only(&method, &[Method::Get], "GET")?;
            zai_routes::status(req, env, &url, id).await
        }
        ["request", id, "callbacks"] => {
            only(&method, &[Method::Get], "GET")?;
            callback_routes::log(req, env, &url, id).await
        }
        ["request", id, "callbacks", "replay"] => {
            only(&method, &[Method::Post], "POST")?;
            callback_routes::replay(req, env, &url, id).await
        }
        ["internal", "requests", id, "result"] => {
            only(&method, &[Method::Post], "POST")?;
            internal_routes::backend_result(req, env, id).await
        }
        ["mobile", "payments", name] => match servicestack_suffix(name) {
            // The ServiceStack dialect renders its own errors, in its own shape.
            Some(suffix) => Ok(servicestack_routes::make_payment(req, env, &url, suffix).await?),
            None => Err(ApiError::NotFound {
                detail: "no such route",
            }),
        },
        ["__faults", fault @ ..] if config(env)?.fault_injection => {
            only(&method, &[Method::Post], "POST")?;
            fault_routes::inject(env, fault).await
        }
        ["sandbox", "payments"] if config(env)?.sandbox_enabled => {
            only(&method, &[Method::Post], "POST")?;
            sandbox_backend::payments(req, env, ctx, &url).await
        }
        ["demo", rest @ ..] if config(env)?.sandbox_enabled => {
            let cfg = config(env)?;
            demo_routes::serve(&method, &cfg, rest)
        }
        _ => Err(ApiError::NotFound {
            detail: "no such route",
        }),
    }
}
