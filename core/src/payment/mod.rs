//! The engine's rules: the dialect-neutral payment, its record and state machine, waits, idempotency and the item lock.

pub mod idempotency;
pub mod item_lock;
pub mod lane;
pub mod new_payment;
pub mod request_record;
pub mod request_state;
pub mod wait;
