//! The Durable Objects (thin shells over the core's rules), their storage helpers, and the one typed client that calls them.

pub mod client;
pub mod idempotency_key;
pub mod item_lock;
pub mod payment_request;
pub mod payment_store;
pub mod serve;
pub mod storage;
