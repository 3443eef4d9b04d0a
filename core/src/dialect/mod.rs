//! The two API dialects that front the same engine; each owns its request rules and its rendering.

pub mod servicestack;
pub mod zai;
