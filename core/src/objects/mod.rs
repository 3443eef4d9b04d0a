//! The Durable Objects' commands, named once (each command type carries its object, its path and its reply type), and where a tenant's objects are placed.

pub mod commands;
pub mod placement;
