//! Shared proptest generators for the parser property tests (test builds only).

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
