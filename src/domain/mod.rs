//! The pure payment domain: parsing, rules and state, with no `worker::` imports, tested on the host.
//!
//! Everything here is deterministic given its inputs (time is passed in as
//! milliseconds since the epoch), so it can be unit-tested with plain
//! `cargo test`. The edge layer (`crate::edge`) is the only code that talks to
//! the Workers runtime.

pub mod api_error;
pub mod auth;
pub mod backend_contract;
pub mod callback_delivery;
pub mod callback_template;
pub mod caller;
pub mod client_token;
pub mod config;
pub mod cors;
pub mod idempotency;
pub mod ids;
pub mod payment;
pub mod payment_state;
pub mod problem_json;
pub mod request_body;
pub mod request_log;
pub mod request_record;
pub mod sandbox_scenarios;
pub mod servicestack_operation;
pub mod servicestack_request;
pub mod servicestack_response;
pub mod servicestack_types;
pub mod signing;
pub mod ssrf_rules;
pub mod tenants;
pub mod time;
pub mod wait;
pub mod zai_request;
pub mod zai_webhook_signature;

// Property tests of the parsers, one file per parser area (`make fuzz` fuzzes the same parsers).
#[cfg(test)]
mod auth_properties;
#[cfg(test)]
mod backend_contract_properties;
#[cfg(test)]
mod callback_template_properties;
#[cfg(test)]
mod client_token_properties;
#[cfg(test)]
mod idempotency_properties;
#[cfg(test)]
mod ids_properties;
#[cfg(test)]
mod property_strategies;
#[cfg(test)]
mod request_body_properties;
#[cfg(test)]
mod servicestack_request_properties;
#[cfg(test)]
mod ssrf_rules_properties;
#[cfg(test)]
mod wait_properties;
#[cfg(test)]
mod zai_request_properties;
