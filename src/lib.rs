//! edgepay: an asynchronous make-payment gateway that runs as a Cloudflare Worker.
//!
//! `domain` holds the pure rules (no `worker::` imports, tested on the host);
//! `edge` is the thin glue to the Workers runtime: router, Durable Objects and
//! outbound fetch.

pub mod domain;
pub mod edge;

use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    edge::router::handle(req, env, ctx).await
}
