//! Who is calling and what they may do: server credentials, client tokens and per-tenant settings.

pub mod api_keys;
pub mod caller;
pub mod client_token;
pub mod tenants;
