//! Fuzzes body decoding: the content-type header, JSON bodies and strict form bodies.
#![no_main]

use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_body::{body_format, parse_fields, BodyFormat};
use edgepay_fuzz::split_input;
use libfuzzer_sys::fuzz_target;

// Input: `content-type \n body`; the body is also decoded in both formats directly.
fuzz_target!(|data: &[u8]| {
    let parts = split_input(data, 2);
    let content_type = parts
        .first()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let body = parts.get(1).copied().unwrap_or_default();
    if let Err(e) = body_format(content_type.as_deref(), body.is_empty()) {
        assert_eq!(e.status(), 415);
    }
    for format in [BodyFormat::Json, BodyFormat::Form] {
        match parse_fields(Some(format), data) {
            Ok(_) => {}
            Err(ApiError::Validation(errors)) => {
                assert_eq!(errors.len(), 1);
                assert!(errors
                    .iter()
                    .all(|e| e.field == "body" || e.code == "duplicate"));
            }
            Err(other) => panic!("{other:?}"),
        }
    }
});
