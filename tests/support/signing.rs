//! Standard Webhooks signing for tests, written independently of the crate under test.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub fn sign(secret: &str, msg_id: &str, timestamp: u64, body: &str) -> String {
    sign_bytes(secret, msg_id, timestamp, body.as_bytes())
}

/// As `sign`, over a body that need not be UTF-8.
pub fn sign_bytes(secret: &str, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
    let key = B64
        .decode(secret.trim_start_matches("whsec_"))
        .expect("test secret is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
