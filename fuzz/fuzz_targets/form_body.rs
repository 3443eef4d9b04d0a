//! Fuzzes the strict form-body parser against a plain reference decoder (the first repeated name, bad UTF-8), and its round trip.
#![no_main]

use std::collections::HashSet;

use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_body::{parse_fields, parse_form, BodyFormat};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode;
use serde_json::Value;

/// What the parser must answer, another way: decode each pair in order, and name the first name
/// already in a hash set of the earlier ones (the parser keeps a sorted set). `Err(None)`: bad
/// UTF-8; `Err(Some(name))`: a repeated name.
fn reference(body: &[u8]) -> Result<Vec<(String, String)>, Option<String>> {
    let decode = |part: &[u8]| -> Result<String, Option<String>> {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let bytes: Vec<u8> = percent_decode(&spaced).collect();
        String::from_utf8(bytes).map_err(|_| None)
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for part in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match part.iter().position(|&b| b == b'=') {
            Some(at) => (&part[..at], &part[at + 1..]),
            None => (part, &[][..]),
        };
        let (name, value) = (decode(name)?, decode(value)?);
        if !seen.insert(name.clone()) {
            return Err(Some(name));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

// Input: the form body.
fuzz_target!(|data: &[u8]| {
    let parsed = parse_form(data);
    match (&parsed, reference(data)) {
        (Ok(pairs), Ok(expected)) => {
            assert_eq!(*pairs, expected);
            // Encoded again as a browser would, the pairs decode to themselves.
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in pairs {
                form.append_pair(name, value);
            }
            assert_eq!(parse_form(form.finish().as_bytes()).as_ref(), Ok(pairs));
        }
        (Err(ApiError::Validation(errors)), Err(expected)) => {
            let named: Vec<(&str, &str)> =
                errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
            match &expected {
                None => assert_eq!(named, [("body", "malformed")]),
                Some(name) => assert_eq!(named, [(name.as_str(), "duplicate")]),
            }
        }
        (got, expected) => panic!("{got:?}, the reference: {expected:?}"),
    }
    // As fields, the same pairs with text values (or the same error).
    let fields = parse_fields(Some(BodyFormat::Form), data);
    match (fields, parsed) {
        (Ok(fields), Ok(pairs)) => {
            assert_eq!(fields.len(), pairs.len());
            for (name, value) in pairs {
                assert_eq!(fields.get(&name), Some(&Value::String(value)));
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("{a:?} as fields, {b:?} as pairs"),
    }
});
