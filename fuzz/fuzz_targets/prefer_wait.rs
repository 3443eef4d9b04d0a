//! Fuzzes the hold time: `wait` as text and as JSON, and the `Prefer` header.
#![no_main]

use edgepay_core::payment::wait::{Preferences, WaitDecision, WaitSecs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(w) = WaitSecs::parse_str("wait", &text) {
        assert!(w.secs() <= WaitSecs::MAX);
        assert!(text.bytes().all(|b| b.is_ascii_digit()));
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(w) = WaitSecs::parse_json("wait", &value) {
            assert!(w.secs() <= WaitSecs::MAX);
        }
    }
    let prefs = Preferences::parse(Some(&text));
    let decision = WaitDecision::decide(None, prefs, WaitSecs::capped(30));
    assert!(decision.wait.secs() <= WaitSecs::MAX);
    let _ = decision.preference_applied(true);
});
