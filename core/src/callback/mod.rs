//! Callbacks to the caller's URL: templates, SSRF rules, the delivery schedule and Zai's signature.

pub mod delivery;
pub mod slow_receivers;
pub mod ssrf_rules;
pub mod template;
pub mod zai_signature;
