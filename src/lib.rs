//! edgepay: an asynchronous make-payment gateway that runs as a Cloudflare Worker.
//!
//! `domain` holds the pure rules (no `worker::` imports, tested on the host);
//! `edge` is the thin glue to the Workers runtime: router, Durable Objects and
//! outbound fetch.

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

pub mod domain;
pub mod edge;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::worker_sys::{self, web_sys};
use worker::{console_error, event, js_sys, Context, Env, MessageBatch, Response};

/// The Worker's fetch handler. Written out rather than with `#[event(fetch)]` so that the
/// response promise is guarded: a panic anywhere in the instance answers every in-flight
/// request with `503` instead of stranding it (`edge::panic_guard`).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker_sys::Context) -> js_sys::Promise {
    let url = req.url();
    let request_id = edge::router::request_id(&req);
    let handler_request_id = request_id.clone();
    edge::panic_guard::guard(&url, &request_id, async move {
        let ctx = Context::new(ctx);
        let resp = match edge::router::handle(req.into(), env, ctx, handler_request_id).await {
            Ok(resp) => resp,
            // `handle` turns every failure into a response; this is the last resort.
            Err(e) => {
                console_error!(
                    "{}",
                    serde_json::json!({"level": "error", "msg": "unhandled", "detail": e.to_string()})
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
    _ctx: Context,
) -> worker::Result<()> {
    // Never `Err`: every message is acknowledged or retried on its own.
    edge::callback_consumer::consume(batch, env).await;
    Ok(())
}
