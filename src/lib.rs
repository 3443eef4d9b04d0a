//! edgepay: an asynchronous make-payment gateway that runs as a Cloudflare Worker.
//!
//! `domain` holds the pure rules (no `worker::` imports); `edge` is the thin
//! glue to the Workers runtime: router, Durable Objects and outbound fetch.

pub mod domain;
