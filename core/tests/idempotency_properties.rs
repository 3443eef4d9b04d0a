//! Property tests for `Idempotency-Key`: the charset and length rule, fingerprints and claims.

mod support;

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::support::any_json;
use edgepay_core::payment::idempotency::{
    fingerprint, Claim, IdempotencyKey, KeyRecord, ANSWER_GRACE_MS, HEADER,
};
use edgepay_core::payment::new_payment::{Dialect, NewPayment};

fn printable_ascii(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(0x20u8..0x7f, len)
        .prop_map(|b| b.into_iter().map(char::from).collect())
}

proptest! {
    #![proptest_config(crate::support::cases(128))]

    #[test]
    fn a_key_is_accepted_exactly_when_trimmed_it_is_1_to_255_printable_ascii(raw in any::<String>()) {
        let trimmed = raw.trim();
        let valid = (1..=IdempotencyKey::MAX_LEN).contains(&trimmed.len())
            && trimmed.bytes().all(|b| (0x20..0x7f).contains(&b));
        match IdempotencyKey::parse(&raw) {
            Ok(key) => {
                prop_assert!(valid, "{:?} accepted", raw);
                prop_assert_eq!(key.as_str(), trimmed);
            }
            Err(e) => {
                prop_assert!(!valid, "{:?} refused", raw);
                prop_assert_eq!(e.field.as_str(), HEADER);
            }
        }
    }

    #[test]
    fn printable_keys_round_trip(key in printable_ascii(0..=253), pad in "[ \t]{0,3}") {
        let key = format!("x{key}x");
        let padded = format!("{pad}{key}{pad}");
        prop_assert_eq!(IdempotencyKey::parse(&padded).map(|k| k.as_str().to_owned()), Ok(key));
    }

    #[test]
    fn one_character_outside_the_charset_is_always_refused(
        key in printable_ascii(0..=100),
        // The neighbours of the printable range half of the time: DEL, US, NUL, Latin-1.
        bad in prop_oneof![
            proptest::sample::select(vec!['\x7f', '\x1f', '\0', '\u{80}', '\u{a0}', 'é']),
            any::<char>().prop_filter("not printable ASCII", |c| !(' '..='~').contains(c) && !c.is_whitespace()),
        ],
        at in any::<prop::sample::Index>(),
    ) {
        let cut = at.index(key.len() + 1);
        let raw = format!("x{}{bad}{}x", &key[..cut], &key[cut..]);
        let err = IdempotencyKey::parse(&raw);
        prop_assert!(err.is_err(), "{:?} accepted", raw);
        if let Err(e) = err {
            prop_assert_eq!(e.field.as_str(), HEADER);
        }
    }

    #[test]
    fn keys_over_255_characters_are_always_refused(key in prop_oneof![printable_ascii(254..=256), printable_ascii(257..=600)]) {
        // 256 to 258 characters half of the time: the boundary is where an off-by-one hides.
        let key = format!("x{key}x");
        prop_assert_eq!(IdempotencyKey::parse(&key).map_err(|e| e.code), Err("invalid_length"));
    }

    #[test]
    fn fingerprints_ignore_field_order_and_see_every_change(
        fields in proptest::collection::btree_map("[a-z]{1,6}", any_json(), 1..6),
        changed in any_json(),
        which in any::<prop::sample::Index>(),
    ) {
        let forward: Map<String, Value> = fields.clone().into_iter().collect();
        let backward: Map<String, Value> = fields.into_iter().rev().collect();
        prop_assert_eq!(fingerprint(&payment(forward.clone())), fingerprint(&payment(backward)));

        let name = forward.keys().nth(which.index(forward.len())).cloned().unwrap_or_default();
        let mut other = forward.clone();
        if other.get(&name) != Some(&changed) {
            other.insert(name, changed);
            prop_assert_ne!(fingerprint(&payment(forward)), fingerprint(&payment(other)));
        }
    }

    #[test]
    fn a_claim_finds_its_own_request_and_only_its_own(
        fp in "[0-9a-f]{64}",
        other in "[0-9a-f]{64}",
        created in 0u64..(1 << 50),
        hold in 0u64..=30_000,
        later in 0u64..100_000,
    ) {
        let record = KeyRecord::first_use(fp.clone(), "r1".into(), created, hold);
        let now = created + later;
        prop_assert_eq!(record.claim(&fp, now), Claim::Existing {
            request_id: "r1".into(),
            answering: later < hold + ANSWER_GRACE_MS,
        });
        if other != fp {
            prop_assert_eq!(record.claim(&other, now), Claim::Mismatch);
        }
    }
}

/// A Zai payment for tenant `t`, item `order-1`, with `fields` (a JSON object).
fn payment(fields: serde_json::Map<String, serde_json::Value>) -> NewPayment {
    NewPayment {
        tenant: "t".into(),
        dialect: Dialect::Zai,
        subject: "order-1".into(),
        account: None,
        fields,
        callback: None,
        owner: None,
    }
}
