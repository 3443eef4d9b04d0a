//! edgepay: an asynchronous make-payment gateway that runs as a Cloudflare Worker.
//!
//! Every rule lives in the `edgepay-core` crate (`../core`, no `worker` dependency, tested on
//! the host). This crate is the thin glue to the Workers runtime: `routes` (the router and one
//! file per surface), `objects` (the Durable Objects and the typed client that calls them) and
//! `runtime` (HTTP plumbing, config, logging, outbound fetch, the queue consumer).

// A panic resets the wasm instance and strands every held caller: outside tests, nothing
// may unwrap, expect, panic or index unchecked. `make test` runs clippy with these denied.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::string_slice
    )
)]

pub mod objects;
pub mod routes;
pub mod runtime;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::worker_sys::{self, web_sys};
use worker::{event, js_sys, Context, Env, MessageBatch, Response};

/// The Worker's fetch handler. Written out rather than with `#[event(fetch)]` so that the
/// response promise is guarded: a panic anywhere in the instance answers every in-flight
/// request with `503` instead of stranding it (`crate::runtime::panic_guard`).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker_sys::Context) -> js_sys::Promise {
    let url = req.url();
    let request_id = crate::routes::router::request_id(&req);
    let handler_request_id = request_id.clone();
    crate::runtime::usage::count(|u| u.worker_requests += 1);
    crate::runtime::panic_guard::guard(&url, &request_id, async move {
        let ctx = Context::new(ctx);
        let resp =
            match crate::routes::router::handle(req.into(), env, ctx, handler_request_id).await {
                Ok(resp) => resp,
                // `handle` turns every failure into a response; this is the last resort.
                Err(e) => {
                    runtime::log::emit(
                        &edgepay_core::log_line::LogLine::error("unhandled")
                            .with("detail", e.to_string()),
                    );
                    Response::error("internal error", 500).map_err(JsValue::from)?
                }
            };
        Ok(JsValue::from(web_sys::Response::from(resp)))
    })
}

#[event(queue)]
async fn queue(
    batch: MessageBatch<serde_json::Value>,
    env: Env,
    ctx: Context,
) -> worker::Result<()> {
    crate::runtime::usage::count(|u| u.worker_requests += 1);
    // Never `Err`: every message is acknowledged or retried on its own.
    crate::runtime::callback_consumer::consume(batch, env, &ctx).await;
    Ok(())
}
