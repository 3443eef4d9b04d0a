//! Fuzzes `Idempotency-Key`: accepted keys are exactly the trimmed 1–255 printable ASCII ones.
#![no_main]

use edgepay_core::payment::idempotency::IdempotencyKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let trimmed = raw.trim();
    let valid =
        (1..=255).contains(&trimmed.len()) && trimmed.bytes().all(|b| (0x20..0x7f).contains(&b));
    match IdempotencyKey::parse(raw) {
        Ok(key) => {
            assert!(valid, "{raw:?} accepted");
            assert_eq!(key.as_str(), trimmed);
        }
        Err(e) => {
            assert!(!valid, "{raw:?} refused");
            assert_eq!(e.field, "Idempotency-Key");
        }
    }
});
