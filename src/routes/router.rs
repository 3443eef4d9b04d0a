//! The edge router: matches method and path, dispatches to the route handlers, renders errors.

use std::time::Duration;

use worker::worker_sys::web_sys;
use worker::{Context, Date, Delay, Env, Method, Request, Response};

use crate::routes::{
    callbacks, client_tokens, dashboard, faults, internal, operators, sandbox, servicestack,
    status, zai,
};
use crate::runtime::env_config::config;
use crate::runtime::http_io::{json_response, origin, problem_response, raw_response, OrInternal};
use crate::runtime::log;
use crate::runtime::static_assets;
use edgepay_core::dialect::servicestack::{
    native_types, operation as servicestack_operation, types as servicestack_types,
};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::cors;
use edgepay_core::http::cors::{judge_origin, PageOrigin};
use edgepay_core::http::request_log::{
    accept_request_id, generated_request_id, request_line, RequestFacts, Surface, REQUEST_ID_HEADER,
};
use edgepay_core::log_line::Level;

fn only(method: &Method, allowed: &[Method], allow: &'static str) -> Result<(), ApiError> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed { allow })
    }
}

/// The request's id: a well-formed incoming `X-Request-Id`, or a fresh one.
pub fn request_id(req: &web_sys::Request) -> String {
    let incoming = req.headers().get(REQUEST_ID_HEADER).ok().flatten();
    accept_request_id(incoming.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| generated_request_id(uuid::Uuid::new_v4()))
}

/// Entry point for every HTTP request to the Worker. Never returns `Err`: every failure is a
/// response. Every response carries `X-Request-Id`; every request leaves one JSON log line,
/// written as soon as the response has gone.
pub async fn handle(
    req: Request,
    env: Env,
    ctx: Context,
    request_id: String,
) -> worker::Result<Response> {
    let started_ms = Date::now().as_millis();
    let path = req.path();
    let method = req.method();
    let mut facts = RequestFacts::default();
    // Only a browser page on another origin sends `Origin` to a client route.
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let cors_methods = cors::client_route_methods(&segments);
    let page_origin = cors_methods
        .and_then(|_| req.headers().get("origin").ok().flatten())
        .map(|page| (page, req.url().map(|u| origin(&u)).unwrap_or_default()));
    let is_preflight = method == Method::Options && cors_methods.is_some();
    let mut resp = if is_preflight {
        facts.route("(preflight)", Surface::Meta);
        preflight(&env, page_origin.as_ref(), cors_methods.unwrap_or_default())?
    } else {
        match route(req, &env, &ctx, &path, &mut facts).await {
            Ok(resp) => resp,
            Err(e) => {
                facts.error = Some(e.log_code());
                problem_response(&e, &path)?
            }
        }
    };
    if let (Some((page, own)), false) = (&page_origin, is_preflight) {
        add_cors_headers(&mut resp, &env, &facts, page, own)?;
    }
    let headers = resp.headers_mut();
    // Browsers must never sniff a JSON (or JSONP) answer into something else.
    headers.set("x-content-type-options", "nosniff")?;
    headers.set(REQUEST_ID_HEADER, &request_id)?;
    let status = resp.status_code();
    let line = request_line(
        &facts,
        &request_id,
        method.as_ref(),
        status,
        started_ms,
        Date::now().as_millis(),
    );
    // A 4xx is the caller's mistake, not the gateway's: only a 5xx goes to the error stream.
    let level = if status >= 500 {
        Level::Error
    } else {
        Level::Info
    };
    // Written just after the answer has gone: printing a line costs as much as the rest of a
    // rejection (docs/performance.md), and the caller need not wait for it.
    ctx.wait_until(async move {
        Delay::from(Duration::ZERO).await;
        log::write(level, &line);
    });
    Ok(resp)
}

/// A browser's preflight for a client route: `204`, with CORS headers when some tenant allows
/// the origin (a preflight has no credentials), without them otherwise.
fn preflight(
    env: &Env,
    page: Option<&(String, String)>,
    methods: &'static str,
) -> worker::Result<Response> {
    let mut resp = Response::empty()?.with_status(204);
    let headers = resp.headers_mut();
    headers.set("allow", &format!("{methods}, OPTIONS"))?;
    if let (Some((page, own)), Ok(cfg)) = (page, config(env)) {
        if let PageOrigin::Allowed(origin) = judge_origin(&cfg.tenants, None, page, own) {
            for (name, value) in cors::preflight_headers(&origin, methods) {
                headers.set(name, &value)?;
            }
        }
    }
    headers.set("vary", "Origin")?;
    Ok(resp)
}

/// CORS headers on a client route's answer to a page on another origin: for the authenticated
/// tenant's own origins (a refused origin gets none), or before authentication (a `401`), for
/// any tenant's.
fn add_cors_headers(
    resp: &mut Response,
    env: &Env,
    facts: &RequestFacts,
    page: &str,
    own_origin: &str,
) -> worker::Result<()> {
    let headers = resp.headers_mut();
    headers.set("vary", "Origin")?;
    let Ok(cfg) = config(env) else {
        return Ok(());
    };
    // The rule behind the `403` (crate::routes::callers): a refused origin gets no CORS headers.
    if let PageOrigin::Allowed(origin) =
        judge_origin(&cfg.tenants, facts.tenant.as_deref(), page, own_origin)
    {
        for (name, value) in cors::response_headers(&origin) {
            headers.set(name, &value)?;
        }
    }
    Ok(())
}

/// "Add ServiceStack Reference": the operation's DTOs for the official tooling
/// (`npx @servicestack/cli swift-ref <base url>` and friends), each language rendered from its
/// template in the static assets with the DTO options the tooling sends back
/// (`servicestack::native_types`); `metadata` is ServiceStack's JSON description, made the same
/// way.
async fn servicestack_reference(
    env: &Env,
    url: &worker::Url,
    language: &str,
) -> Result<Response, ApiError> {
    let base = origin(url);
    if !native_types::TEMPLATE_LANGUAGES.contains(&language) {
        return Err(ApiError::NotFound {
            detail: "DTOs are served as /types/{typescript,csharp,swift,kotlin,java,dart,python,metadata}",
        });
    }
    let template = static_assets::read(env, &format!("types/{language}.txt")).await?;
    let template = String::from_utf8(template).map_err(|_| ApiError::Internal)?;
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let date = servicestack_types::header_date(Date::now().as_millis());
    let file = native_types::render(&template, &base, &date, &query)?;
    let content_type = if language == "metadata" {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    raw_response(200, content_type, file.into_bytes())
}

async fn route(
    req: Request,
    env: &Env,
    ctx: &Context,
    path: &str,
    facts: &mut RequestFacts,
) -> Result<Response, ApiError> {
    let url = req.url().or_internal()?;
    let method = req.method();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // The ServiceStack dialect (its custom route, `/api/…` and `/json/…`) renders its own
    // errors, in its own shape.
    if let Some(call) = servicestack_operation::classify(&segments) {
        facts.route(call.endpoint.template(), Surface::ServiceStack);
        return servicestack::make_payment(req, env, &url, &call, facts)
            .await
            .or_internal();
    }
    match segments.as_slice() {
        ["healthz"] => {
            facts.route("/healthz", Surface::Meta);
            only(&method, &[Method::Get], "GET")?;
            let cfg = config(env)?;
            json_response(
                200,
                &serde_json::json!({"status": "ok", "sandbox": cfg.sandbox_enabled}),
            )
        }
        ["openapi.json"] => {
            facts.route("/openapi.json", Surface::Meta);
            only(&method, &[Method::Get], "GET")?;
            // The OpenAPI 3.1 description of every public route (`static/openapi.json`).
            let document = static_assets::read(env, "openapi.json").await?;
            raw_response(200, "application/json", document)
        }
        ["types", language] => {
            facts.route("/types/{language}", Surface::Meta);
            only(&method, &[Method::Get], "GET")?;
            servicestack_reference(env, &url, language).await
        }
        ["items", item, "make_payment"] => {
            facts.route("/items/{item}/make_payment", Surface::Zai);
            only(&method, &[Method::Patch, Method::Post], "PATCH, POST")?;
            zai::make_payment(req, env, &url, item, facts).await
        }
        ["request", id, "status"] => {
            facts.route("/request/{id}/status", Surface::Zai);
            only(&method, &[Method::Get], "GET")?;
            status::status(req, env, &url, id, facts).await
        }
        ["request", id, "callbacks"] => {
            facts.route("/request/{id}/callbacks", Surface::Zai);
            only(&method, &[Method::Get], "GET")?;
            callbacks::log(req, env, &url, id, facts).await
        }
        ["request", id, "callbacks", "replay"] => {
            facts.route("/request/{id}/callbacks/replay", Surface::Zai);
            only(&method, &[Method::Post], "POST")?;
            callbacks::replay(req, env, &url, id, facts).await
        }
        ["requests"] => {
            facts.route("/requests", Surface::Operators);
            only(&method, &[Method::Get], "GET")?;
            operators::requests(req, env, &url, facts).await
        }
        ["callbacks", "dead-letters"] => {
            facts.route("/callbacks/dead-letters", Surface::Operators);
            only(&method, &[Method::Get], "GET")?;
            operators::dead_letters(req, env, &url, facts).await
        }
        ["callbacks", "dead-letters", "replay"] => {
            facts.route("/callbacks/dead-letters/replay", Surface::Operators);
            only(&method, &[Method::Post], "POST")?;
            operators::replay_dead_letters(req, env, &url, facts).await
        }
        ["dashboard"] => {
            facts.route("/dashboard", Surface::Operators);
            only(&method, &[Method::Get], "GET")?;
            dashboard::asset(env, "").await
        }
        ["dashboard", asset] => {
            facts.route("/dashboard/{asset}", Surface::Operators);
            only(&method, &[Method::Get], "GET")?;
            dashboard::asset(env, asset).await
        }
        ["client-tokens"] => {
            facts.route("/client-tokens", Surface::Meta);
            only(&method, &[Method::Post], "POST")?;
            client_tokens::mint(req, env, facts).await
        }
        ["internal", "requests", id, "result"] => {
            facts.route("/internal/requests/{id}/result", Surface::Internal);
            only(&method, &[Method::Post], "POST")?;
            internal::backend_result(req, env, id, facts).await
        }
        ["__faults", fault @ ..] if config(env)?.fault_injection => {
            facts.route("/__faults/{fault}", Surface::Meta);
            only(&method, &[Method::Post], "POST")?;
            faults::inject(env, fault).await
        }
        ["sandbox", "payments"] if config(env)?.sandbox_enabled => {
            facts.route("/sandbox/payments", Surface::Sandbox);
            only(&method, &[Method::Post], "POST")?;
            sandbox::payments(req, env, ctx, &url).await
        }
        _ => Err(ApiError::NotFound {
            detail: "no such route",
        }),
    }
}
