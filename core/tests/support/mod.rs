//! Shared proptest generators for the core's property tests.

// Each property-test binary uses a different part of this kit.
#![allow(dead_code)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

/// `cases` cases per property; a failing case is saved beside its test file
/// (`<file>.regressions`) and re-run first from then on.
pub fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    }
}

/// Any JSON value, nested a little.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[0-9]{0,25}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A field map whose names are mostly the given ones (so the parser's rules are reached)
/// and whose values are anything at all.
pub fn field_map(names: &'static [&'static str]) -> impl Strategy<Value = BTreeMap<String, Value>> {
    let name = prop_oneof![
        4 => proptest::sample::select(names).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    proptest::collection::btree_map(name, any_json(), 0..8)
}

/// Any UUID, from random bits (any version and variant).
pub fn any_uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

/// A printable, non-empty string without control characters (spaces allowed).
pub fn printable(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        any::<char>().prop_filter("printable", |c| !c.is_control()),
        1..=max,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

/// Flips the ASCII case of each letter at random (the same seed gives the same result).
pub fn random_case(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// `https://<public host>/<path with placeholders>[?query]`.
pub fn callback_template() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        // `.` and `..` are dot segments, which a template may not have.
        "[A-Za-z0-9._~-]{1,8}".prop_filter("not a dot segment", |s| s != "." && s != ".."),
        Just("{item}".to_owned()),
        Just("{account}".to_owned()),
        Just("{uuid}".to_owned()),
    ];
    (
        // One hyphen at most: `xn--` would start an (invalid) punycode label.
        "[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,4})?",
        prop_oneof![Just("example.com"), Just("shop.example.net"), Just("io")],
        proptest::option::of(1024u16..65535),
        proptest::collection::vec(segment, 0..5),
        proptest::option::of(prop_oneof![
            Just("req={uuid}".to_owned()),
            "[a-z]{1,5}=[a-z0-9]{0,5}",
        ]),
    )
        .prop_map(|(label, domain, port, path, query)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("https://{label}.{domain}{port}/{}{query}", path.join("/"))
        })
}
