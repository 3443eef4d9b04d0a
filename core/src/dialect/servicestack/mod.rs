//! The ServiceStack-compatible `makePayment`: its routes, request rules, rendering and published DTOs.

pub mod operation;
pub mod request;
pub mod response;
pub mod types;
