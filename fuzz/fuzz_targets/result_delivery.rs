//! Fuzzes the backend's async result post: any bytes for any request id, and well-formed posts naming the right or another request.
#![no_main]

use edgepay_core::backend::contract::{
    is_result_status, parse_result_delivery, Binding, StoredResult, MAX_RESULT_BYTES,
};
use edgepay_core::http::answer::forbids_body;
use edgepay_core::ids::RequestId;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The request id in the path, from the input's first 32 bytes (each byte's low four bits a hex
/// digit; the version and variant digits of a v4 UUID fixed), and the rest of the input.
fn path_id(data: &[u8]) -> Option<(RequestId, &[u8])> {
    let (head, rest) = data.split_at_checked(32)?;
    let mut digits: Vec<u8> = head.iter().map(|b| HEX[usize::from(b & 0x0f)]).collect();
    digits[12] = b'4';
    digits[16] = HEX[8 + usize::from(head[16] & 0x03)];
    let id = RequestId::parse(std::str::from_utf8(&digits).ok()?)?;
    Some((id, rest))
}

/// Another valid request id: `id` with one hex digit (not the version digit) changed.
fn other_id(id: &RequestId) -> RequestId {
    let mut digits = id.as_str().as_bytes().to_vec();
    digits[0] = if digits[0] == b'0' { b'1' } else { b'0' };
    let text = String::from_utf8(digits).unwrap_or_default();
    RequestId::parse(&text).unwrap_or_else(|| panic!("{text} is a request id"))
}

/// What every accepted result satisfies.
fn check_accepted(r: &StoredResult) {
    assert!(is_result_status(r.status), "{}", r.status);
    assert_eq!(r.content_type, "application/json");
    assert!(r.body.len() <= MAX_RESULT_BYTES);
    if forbids_body(r.status) {
        assert!(r.body.is_empty());
    } else {
        assert!(serde_json::from_str::<Value>(&r.body).is_ok(), "{}", r.body);
    }
}

/// Any bytes: a `400` naming a field of the post, or a result whose `request_id` is the path's
/// (or absent, only when the binding may be).
fn any_bytes(bytes: &[u8], id: &RequestId) {
    let required = parse_result_delivery(bytes, id, Binding::Required);
    let lenient = parse_result_delivery(bytes, id, Binding::MayBeAbsent);
    for outcome in [&required, &lenient] {
        match outcome {
            Ok(r) => check_accepted(r),
            Err(e) => {
                assert_eq!(e.status(), 400);
                for f in e.field_errors() {
                    assert!(
                        ["body", "request_id", "status"].contains(&f.field.as_str()),
                        "{f:?}"
                    );
                }
            }
        }
    }
    if let Ok(r) = &required {
        // What the strict binding accepts, the lenient one accepts alike.
        assert_eq!(lenient.as_ref().ok(), Some(r));
    }
    if lenient.is_ok() {
        let named = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v.get("request_id").cloned())
            .unwrap_or(Value::Null);
        match named {
            Value::Null => assert!(required.is_err(), "request_id is required"),
            Value::String(s) => assert_eq!(RequestId::parse(&s).as_ref(), Some(id)),
            other => panic!("accepted a request_id of {other}"),
        }
    }
}

/// A well-formed post with the status and body taken from the input: accepted exactly when it
/// names the path's request and the status and body are a result's; never for another request.
fn well_formed(rest: &[u8], id: &RequestId) {
    let status = rest
        .get(..2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) % 700)
        .unwrap_or(200);
    let text = String::from_utf8_lossy(rest.get(2..).unwrap_or_default()).into_owned();
    let body = if rest.first().is_some_and(|b| b & 0x80 != 0) {
        Value::Null
    } else {
        serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
    };
    let post = |named: &RequestId| {
        json!({"request_id": named.as_str(), "status": status, "body": body})
            .to_string()
            .into_bytes()
    };
    let stolen = post(&other_id(id));
    for binding in [Binding::Required, Binding::MayBeAbsent] {
        let refused = parse_result_delivery(&stolen, id, binding);
        let named: Vec<&str> = refused
            .as_ref()
            .err()
            .map(|e| e.field_errors().iter().map(|f| f.field.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(named, ["request_id"], "another request's result was taken");
    }
    let stored = body.to_string();
    let expected_ok = is_result_status(status)
        && if forbids_body(status) {
            body.is_null()
        } else {
            stored.len() <= MAX_RESULT_BYTES
        };
    match parse_result_delivery(&post(id), id, Binding::Required) {
        Ok(r) => {
            assert!(expected_ok, "accepted status {status} with {stored}");
            check_accepted(&r);
            assert_eq!(r.status, status);
            if !forbids_body(status) {
                assert_eq!(r.body, stored);
            }
        }
        Err(e) => assert!(!expected_ok, "refused status {status} with {stored}: {e:?}"),
    }
}

// Input: 32 bytes that make the path's request id, then the post (also the status and body of
// a well-formed one). Shorter inputs are a post to a fixed request id.
fuzz_target!(|data: &[u8]| {
    let (id, rest) = match path_id(data) {
        Some(split) => split,
        None => match RequestId::parse("0123456789ab4def8123456789abcdef") {
            Some(id) => (id, data),
            None => return,
        },
    };
    any_bytes(rest, &id);
    any_bytes(data, &id);
    well_formed(rest, &id);
});
