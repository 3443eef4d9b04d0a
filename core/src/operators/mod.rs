//! What operators see: the payments index in D1, its search and dead-letter filters (the dashboard page itself is in `static/dashboard/`).
//!
//! The payment objects are the truth; the index is a copy written from their transitions off
//! the hot path, and nothing here is read to decide a payment.

pub mod payments_index;
pub mod search;
