//! Callbacks to the caller's URL: templates, SSRF rules, the delivery schedule, the delivery log's bounds and Zai's signature.

pub mod delivery;
pub mod delivery_log;
pub mod slow_receivers;
pub mod ssrf_rules;
pub mod template;
pub mod zai_signature;
