//! The Zai-compatible `PATCH /items/{item}/make_payment`: request rules and the answer it gets.

pub mod request;
pub mod response;
