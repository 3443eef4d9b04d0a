//! The Durable Objects' commands, named once: each command type carries its object, its path and its reply type.

pub mod commands;
