//! The Worker's routes: the router, one file per surface (each dialect, callbacks, tokens, operators and their dashboard, the backend's result, the sandbox), and what they share.

pub mod callbacks;
pub mod callers;
pub mod client_tokens;
pub mod dashboard;
pub mod faults;
pub mod internal;
pub mod operators;
pub mod payment_engine;
pub mod router;
pub mod sandbox;
pub mod servicestack;
pub mod status;
pub mod zai;
