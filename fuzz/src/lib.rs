//! The gateway's pure domain, compiled from `../src/domain` for the fuzz targets.
//!
//! `edgepay` is a `cdylib` only, which Rust code cannot link against; the domain
//! imports nothing from the rest of the crate, so it builds on its own here.

#[path = "../../src/domain/mod.rs"]
pub mod domain;

/// Splits fuzz input into `n` parts at `\n` (the last part keeps the rest).
pub fn split_input(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |&b| b == b'\n').collect()
}
