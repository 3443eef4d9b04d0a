//! Property tests for body decoding: content types, the size limit, JSON and form bodies.

mod support;

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;

use crate::support::{any_json, random_case};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_body::{
    body_format, check_size, parse_fields, parse_form, BodyFormat, MAX_BODY_BYTES,
};

proptest! {
    #![proptest_config(crate::support::cases(128))]

    #[test]
    fn any_bytes_decode_or_fail_naming_a_field(body in proptest::collection::vec(any::<u8>(), 0..256), json in any::<bool>()) {
        let format = if json { BodyFormat::Json } else { BodyFormat::Form };
        match parse_fields(Some(format), &body) {
            Ok(_) => {}
            Err(ApiError::Validation(errors)) => {
                prop_assert_eq!(errors.len(), 1);
                let e = &errors[0];
                // JSON errors name the body; a repeated form name is named itself.
                prop_assert!(e.field == "body" || (!json && e.code == "duplicate"), "{:?}", e);
            }
            Err(other) => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn json_objects_round_trip(map in proptest::collection::btree_map(any::<String>(), any_json(), 0..8), pretty in any::<bool>()) {
        let object = Value::Object(map.clone().into_iter().collect());
        let text = if pretty {
            serde_json::to_string_pretty(&object).unwrap_or_default()
        } else {
            object.to_string()
        };
        let parsed = parse_fields(Some(BodyFormat::Json), text.as_bytes());
        // Floats may lose their last bit in text; compare through the same text form.
        let reparsed: Option<BTreeMap<String, Value>> = serde_json::from_str(&text).ok();
        prop_assert_eq!(parsed.ok(), reparsed);
    }

    #[test]
    fn json_that_is_not_an_object_is_refused(value in any_json().prop_filter("not an object", |v| !v.is_object())) {
        let err = parse_fields(Some(BodyFormat::Json), value.to_string().as_bytes());
        let fields: Vec<String> = err.err().map(|e| e.field_errors().iter().map(|f| f.field.clone()).collect()).unwrap_or_default();
        prop_assert_eq!(fields, vec!["body".to_owned()]);
    }

    #[test]
    fn form_pairs_round_trip(pairs in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..8)) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            form.append_pair(k, v);
        }
        let decoded = parse_form(form.finish().as_bytes());
        let expected: Vec<(String, String)> = pairs.into_iter().collect();
        prop_assert_eq!(decoded, Ok(expected));
    }

    #[test]
    fn a_repeated_form_name_is_refused_naming_it(name in "[a-zA-Z_]{1,10}", a in "[a-z0-9]{0,5}", b in "[a-z0-9]{0,5}", middle in "[a-z]{0,3}") {
        let body = format!("{name}={a}&{middle}x={middle}&{name}={b}");
        let err = parse_form(body.as_bytes());
        let named: Vec<(String, &str)> = err.err().map(|e| e.field_errors().iter().map(|f| (f.field.clone(), f.code)).collect()).unwrap_or_default();
        prop_assert_eq!(named, vec![(name, "duplicate")]);
    }

    #[test]
    fn content_type_essence_decides_the_format(
        essence in prop_oneof![
            Just(Some(BodyFormat::Json)).prop_map(|f| ("application/json".to_owned(), f)),
            "[a-z]{1,10}".prop_map(|s| (format!("application/{s}+json"), Some(BodyFormat::Json))),
            Just(("application/x-www-form-urlencoded".to_owned(), Some(BodyFormat::Form))),
            "(text|multipart|image)/[a-z]{1,8}".prop_map(|s| (s, None)),
        ],
        mask in any::<u64>(),
        params in "(; ?[a-z]{1,6}=[a-z0-9\"]{0,6}){0,2}",
        empty in any::<bool>(),
    ) {
        let (essence, format) = essence;
        let header = format!("{}{params}", random_case(&essence, mask));
        match (body_format(Some(&header), empty), format) {
            (Ok(got), Some(want)) => prop_assert_eq!(got, Some(want)),
            (Err(e), None) => prop_assert_eq!(e.status(), 415),
            (got, want) => prop_assert!(false, "{header:?}: {got:?}, wanted {want:?}"),
        }
    }

    #[test]
    fn body_format_never_panics(header in proptest::option::of(any::<String>()), empty in any::<bool>()) {
        if let Err(e) = body_format(header.as_deref(), empty) {
            prop_assert_eq!(e.status(), 415);
        }
    }

    #[test]
    fn the_size_limit_is_exact(len in 0usize..(4 * MAX_BODY_BYTES)) {
        prop_assert_eq!(check_size(len).is_ok(), len <= MAX_BODY_BYTES);
    }
}
