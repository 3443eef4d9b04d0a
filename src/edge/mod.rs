//! The edge layer: thin glue between the Workers runtime and the pure domain.
//!
//! Nothing here decides a business rule; it reads requests, calls the domain,
//! talks to Durable Objects and the backend, and writes responses.

pub mod backend_client;
pub mod callback_consumer;
pub mod callback_routes;
pub mod callers;
pub mod client_token_routes;
pub mod do_client;
pub mod do_protocol;
pub mod durable_storage;
pub mod env_config;
pub mod fault_routes;
pub mod http_io;
pub mod idempotency_do;
pub mod internal_routes;
pub mod item_lock_do;
pub mod panic_guard;
pub mod payment_engine;
pub mod payment_request_do;
pub mod router;
pub mod sandbox_backend;
pub mod servicestack_routes;
pub mod token_crypto;
pub mod zai_routes;
