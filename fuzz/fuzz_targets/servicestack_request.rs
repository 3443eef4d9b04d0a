//! Fuzzes the ServiceStack makePayment request: query, form and JSON merged, then validated; and framing.
#![no_main]

use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_body::{parse_fields, parse_form, BodyFormat};
use edgepay_core::dialect::servicestack::request::{merge_sources, ServiceStackPayment, FIELDS};
use edgepay_core::dialect::servicestack::response::{negotiate, sanitize_jsonp};
use edgepay_fuzz::split_input;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

// Input: `query \n form \n json \n accept \n jsonp callback`.
fuzz_target!(|data: &[u8]| {
    let parts = split_input(data, 5);
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let as_values = |pairs: Vec<(String, String)>| -> Vec<(String, Value)> {
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    };
    let Ok(query) = parse_form(part(0)) else {
        return;
    };
    let Ok(form) = parse_form(part(1)) else {
        return;
    };
    let Ok(json) = parse_fields(Some(BodyFormat::Json), part(2)) else {
        return;
    };
    let merged = merge_sources(vec![
        as_values(query),
        as_values(form),
        json.into_iter().collect(),
    ]);
    match ServiceStackPayment::parse(&merged) {
        Ok(p) => {
            let new = p.into_new_payment("tenant");
            assert_eq!(new.subject.len(), 36);
        }
        Err(ApiError::Validation(errors)) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(FIELDS.contains(&e.field.as_str()), "{e:?}");
            }
        }
        Err(other) => panic!("not a validation error: {other:?}"),
    }
    let accept = String::from_utf8_lossy(part(3));
    let callback = String::from_utf8_lossy(part(4));
    let _ = negotiate(None, None, Some(&accept), Some(&callback));
    if let Some(clean) = sanitize_jsonp(&callback) {
        assert!(clean
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'));
    }
});
