//! Fuzzes the Zai make-payment request: path item, content type and body, as the route reads them.
#![no_main]

use edgepay_core::http::api_error::ApiError;
use edgepay_core::payment::idempotency::fingerprint;
use edgepay_core::http::request_body::{body_format, check_size, parse_fields};
use edgepay_core::callback::ssrf_rules::CallbackPolicy;
use edgepay_core::dialect::zai::request::ZaiPayment;
use edgepay_fuzz::split_input;
use libfuzzer_sys::fuzz_target;

const NAMED: [&str; 7] = [
    "item",
    "account_id",
    "device_id",
    "ip_address",
    "wait",
    "callback",
    "body",
];

// Input: `item \n content-type \n body`.
fuzz_target!(|data: &[u8]| {
    let parts = split_input(data, 3);
    let text = |i: usize| {
        parts
            .get(i)
            .map(|p| String::from_utf8_lossy(p).into_owned())
    };
    let item = text(0).unwrap_or_default();
    let content_type = text(1);
    let body = parts.get(2).copied().unwrap_or_default();
    if check_size(body.len()).is_err() {
        return;
    }
    let Ok(format) = body_format(content_type.as_deref(), body.is_empty()) else {
        return;
    };
    let fields = match parse_fields(format, body) {
        Ok(fields) => fields,
        Err(e) => {
            assert_eq!(e.status(), 400);
            return;
        }
    };
    for allow_insecure in [false, true] {
        match ZaiPayment::parse(&item, &fields, CallbackPolicy { allow_insecure }) {
            Ok(p) => {
                assert_eq!(p.item.as_str(), item);
                assert!(p.wait.is_none_or(|w| w.secs() <= 30));
                let new = p.into_new_payment("tenant");
                assert_eq!(fingerprint(&new).len(), 64);
            }
            Err(ApiError::Validation(errors)) => {
                assert!(!errors.is_empty());
                for e in &errors {
                    assert!(NAMED.contains(&e.field.as_str()), "{e:?}");
                }
            }
            Err(other) => panic!("not a validation error: {other:?}"),
        }
    }
});
