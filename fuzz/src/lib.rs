//! What the fuzz targets share beside the core crate (`edgepay-core`): splitting one input into parts.

/// Splits fuzz input into `n` parts at `\n` (the last part keeps the rest).
pub fn split_input(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |&b| b == b'\n').collect()
}
