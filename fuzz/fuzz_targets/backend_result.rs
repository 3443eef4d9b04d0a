//! Fuzzes what the backend sends: the async result body and its Standard Webhooks signature headers.
#![no_main]

use edgepay_core::backend::contract::{parse_result_delivery, Binding};
use edgepay_core::http::answer::forbids_body;
use edgepay_core::ids::RequestId;
use edgepay_core::signing::{verify, SignedHeaders, SigningSecret};
use edgepay_fuzz::split_input;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// Input: the body; also read as `webhook-id \n webhook-timestamp \n webhook-signature \n body`.
fuzz_target!(|data: &[u8]| {
    let Some(path_id) = RequestId::parse("0123456789ab4def8123456789abcdef") else {
        return;
    };
    for binding in [Binding::Required, Binding::MayBeAbsent] {
        match parse_result_delivery(data, &path_id, binding) {
            Ok(r) => {
                assert!((200..=599).contains(&r.status) && r.status != 202);
                assert!(!(300..=399).contains(&r.status));
                if forbids_body(r.status) {
                    assert!(r.body.is_empty());
                } else {
                    assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_ok());
                }
            }
            Err(e) => assert_eq!(e.status(), 400),
        }
    }
    let parts = split_input(data, 4);
    let text = |i: usize| {
        parts
            .get(i)
            .map(|p| String::from_utf8_lossy(p).into_owned())
    };
    let (id, ts, sig) = (text(0), text(1), text(2));
    let body = parts.get(3).copied().unwrap_or_default();
    let Ok(secret) = SigningSecret::parse(SECRET) else {
        return;
    };
    let headers = SignedHeaders {
        id: id.as_deref(),
        timestamp: ts.as_deref(),
        signature: sig.as_deref(),
    };
    // A forged signature would need the key; random input must never verify.
    assert!(verify(&[secret], headers, body, 1_700_000_000, 300).is_err());
});
