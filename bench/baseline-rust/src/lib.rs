//! The benchmark's Rust floor: a fixed 200 from a `worker` crate Worker, no parsing, no storage.

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Response::ok("ok")
}
