//! The internal payment backend, as edgepay sees it.

pub mod contract;
