//! edgepay's pure core: every rule of the gateway, with no Workers runtime, tested on the host.
//!
//! Nothing here reads a clock, a socket or a binding: time comes in as milliseconds since the
//! epoch, randomness as arguments, and the Worker crate (`edgepay`, in `../src`) is the only
//! code that talks to the runtime. This crate does not depend on `worker`, so the compiler keeps
//! that line. The folders are the capabilities:
//!
//! - `http`: the one error type, problem+json, bodies, CORS and the request log line;
//! - `auth`: server credentials, client tokens, tenants, and what a caller may do;
//! - `payment`: the dialect-neutral payment, its stored record and state machine, waits,
//!   idempotency and the item lock's rule;
//! - `backend`: the contract with the payment backend;
//! - `callback`: templates, SSRF rules, the delivery schedule and Zai's signature;
//! - `dialect`: the Zai and ServiceStack front doors, each its request rules and rendering;
//! - `objects`: the typed commands the Worker sends its Durable Objects;
//! - `operators`: the payments index in D1 and operators' searches of it.

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

pub mod auth;
pub mod backend;
pub mod callback;
pub mod config;
pub mod cost;
pub mod dialect;
pub mod fnv;
pub mod http;
pub mod ids;
pub mod log_line;
pub mod objects;
pub mod operators;
pub mod payment;
pub mod sandbox;
pub mod signing;
pub mod time;
