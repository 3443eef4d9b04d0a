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

use worker::{event, Context, Env, MessageBatch, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    edge::router::handle(req, env, ctx).await
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
