//! Property tests for the object an `Idempotency-Key` lives in: one per (tenant, owner, key), and the names of before for plain parts.

mod support;

use proptest::prelude::*;

use edgepay_core::payment::idempotency::{key_object_name, IdempotencyKey};

/// Strings made mostly of the characters that separate or escape the name's parts, so that
/// shifting a separator from one part to the next, or writing an escape by hand, is common.
fn adversarial(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(vec!['/', '%', '\u{1f}', '2', 'F', '5', '1', 'a', ' ']),
        len,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A key as the header gives it: printable ASCII, mostly `/`, `%` and hex digits.
fn adversarial_key() -> impl Strategy<Value = IdempotencyKey> {
    adversarial(1..=8).prop_filter_map("a valid key", |raw| {
        let printable: String = raw.chars().filter(|c| *c != '\u{1f}').collect();
        IdempotencyKey::parse(&format!("k{printable}k")).ok()
    })
}

/// An owner as a client token's principal is (`iss`, U+001F, `sub`), or any string at all.
fn adversarial_owner() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        (adversarial(0..=6), adversarial(0..=6)).prop_map(|(iss, sub)| {
            let sub: String = sub.chars().filter(|c| *c != '\u{1f}').collect();
            Some(format!("{iss}\u{1f}{sub}"))
        }),
        adversarial(0..=8).prop_map(Some),
    ]
}

/// Undoes the percent-encoding of `%`, `/` and U+001F; `None` for anything else after a `%`.
fn unescape(part: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = part;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "25" => '%',
            "2F" => '/',
            "1F" => '\u{1f}',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// The (tenant, owner, key) an object name was made from: the name's grammar, written out.
/// `tenant` escaped, `/`, then for a token `iss` escaped (its `/` kept), U+001F, `sub` escaped
/// (`%` alone for an owner without U+001F), `/`; then the key as given.
fn decode(name: &str) -> Option<(String, Option<String>, String)> {
    let (tenant, rest) = name.split_once('/')?;
    let tenant = unescape(tenant)?;
    let Some((iss, after)) = rest.split_once('\u{1f}') else {
        return Some((tenant, None, rest.to_owned()));
    };
    let (sub, key) = after.split_once('/')?;
    let iss = unescape(iss)?;
    let owner = if sub == "%" {
        iss
    } else {
        format!("{iss}\u{1f}{}", unescape(sub)?)
    };
    Some((tenant, Some(owner), key.to_owned()))
}

proptest! {
    #![proptest_config(crate::support::cases(512))]

    #[test]
    fn every_name_decodes_to_the_one_scope_and_key_it_was_made_from(
        tenant in adversarial(0..=6),
        owner in adversarial_owner(),
        key in adversarial_key(),
    ) {
        let name = key_object_name(&tenant, owner.as_deref(), &key);
        prop_assert_eq!(
            decode(&name),
            Some((tenant.clone(), owner.clone(), key.as_str().to_owned())),
            "{:?}", name
        );
    }

    #[test]
    fn a_separator_moved_between_parts_always_names_another_object(
        tenant in adversarial(0..=4),
        iss in adversarial(0..=4),
        left in "[a%/]{0,3}",
        right in "[a%/]{0,3}",
    ) {
        // The same characters, cut between the subject and the key at each place.
        let joined = format!("{left}/{right}");
        let mut names = std::collections::BTreeSet::new();
        for cut in 0..=joined.len() {
            let (sub, key) = joined.split_at(cut);
            let Ok(key) = IdempotencyKey::parse(key) else { continue };
            let owner = format!("{iss}\u{1f}{sub}");
            prop_assert!(
                names.insert(key_object_name(&tenant, Some(&owner), &key)),
                "{:?} / {:?} / {:?} shares its object", tenant, owner, key
            );
        }
    }

    #[test]
    fn plain_parts_keep_the_object_names_of_before(
        tenant in "[A-Za-z0-9_-]{1,64}",
        iss in "[ -$&-~]{0,40}",
        sub in "[ -$&-.0-~]{1,40}",
        key in "[!-~][ -~]{0,40}[!-~]",
        server in any::<bool>(),
    ) {
        let key = IdempotencyKey::parse(&key).expect("printable");
        let (owner, before) = if server {
            (None, format!("{tenant}/{}", key.as_str()))
        } else {
            let owner = format!("{iss}\u{1f}{sub}");
            let before = format!("{tenant}/{owner}/{}", key.as_str());
            (Some(owner), before)
        };
        prop_assert_eq!(key_object_name(&tenant, owner.as_deref(), &key), before);
    }
}
