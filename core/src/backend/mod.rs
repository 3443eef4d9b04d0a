//! The internal payment backend, as edgepay sees it.

pub mod breaker;
pub mod contract;
