//! Glue to the Workers runtime that is neither a route nor an object: HTTP plumbing, config, logging, outbound fetch, bounded reads of peer bodies, the queue consumer, the payments index in D1, WebCrypto, the panic guard and the usage counters.

pub mod backend_client;
pub mod bounded_body;
pub mod callback_consumer;
pub mod env_config;
pub mod http_io;
pub mod log;
pub mod panic_guard;
pub mod payments_index;
pub mod rate_limits;
pub mod static_assets;
pub mod token_crypto;
pub mod usage;
