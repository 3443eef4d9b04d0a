//! The ServiceStack-compatible `makePayment`: its routes, request rules, rendering and published DTOs.

pub mod batch;
pub mod mobile_types;
pub mod native_types;
pub mod operation;
pub mod request;
pub mod response;
pub mod types;
