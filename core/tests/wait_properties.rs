//! Property tests for `wait` (body, query) and the RFC 7240 `Prefer` header.

mod support;

use proptest::prelude::*;
use serde_json::json;

use crate::support::any_json;
use edgepay_core::payment::wait::{Preferences, WaitDecision, WaitSecs};

/// What the contract says a whole number of seconds becomes: itself, capped at 30.
fn expected(secs: u64) -> u32 {
    secs.min(u64::from(WaitSecs::MAX)) as u32
}

/// Seconds around the cap half of the time, any `u64` otherwise.
fn seconds() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..100, any::<u64>()]
}

/// One `Prefer` entry that is neither `wait` nor `respond-async`, in any spelling.
fn other_preference() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("return=minimal".to_owned()),
        Just("handling=lenient".to_owned()),
        "[a-z]{1,8}(=[a-z0-9]{0,6})?",
        // Near misses that must not count as `respond-async` or `wait`.
        Just("respond-async=1".to_owned()),
        Just("respond-asynchronously".to_owned()),
        Just("waits=7".to_owned()),
        Just("wait=-1".to_owned()),
        Just("wait=1.5".to_owned()),
    ]
}

fn spaces() -> impl Strategy<Value = String> {
    "[ \t]{0,2}"
}

/// `wait=N` as a client may write it: any case, optional quotes, spaces and parameters.
fn wait_preference(n: u64) -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("wait"), Just("WAIT"), Just("Wait")],
        any::<bool>(),
        spaces(),
        spaces(),
        proptest::option::of("[a-z]{1,5}=[a-z0-9]{1,5}"),
    )
        .prop_map(move |(name, quoted, s1, s2, param)| {
            let value = if quoted {
                format!("\"{n}\"")
            } else {
                n.to_string()
            };
            let param = param.map(|p| format!(";{p}")).unwrap_or_default();
            format!("{s1}{name}{s2}={s2}{value}{param}{s1}")
        })
}

proptest! {
    #![proptest_config(crate::support::cases(256))]

    #[test]
    fn parse_str_never_panics_and_accepts_exactly_digit_strings(raw in any::<String>()) {
        let all_digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        match WaitSecs::parse_str("wait", &raw) {
            Ok(w) => {
                prop_assert!(all_digits, "accepted {raw:?}");
                prop_assert!(w.secs() <= WaitSecs::MAX);
            }
            Err(e) => {
                prop_assert!(!all_digits, "refused {raw:?}");
                prop_assert_eq!((e.field.as_str(), e.code), ("wait", "invalid"));
            }
        }
    }

    #[test]
    fn whole_numbers_are_kept_up_to_30_and_capped_above(n in seconds(), zeros in 0usize..3) {
        let text = format!("{}{n}", "0".repeat(zeros));
        prop_assert_eq!(WaitSecs::parse_str("wait", &text).map(WaitSecs::secs), Ok(expected(n)));
        prop_assert_eq!(WaitSecs::parse_json("wait", &json!(n)).map(WaitSecs::secs), Ok(expected(n)));
        prop_assert_eq!(WaitSecs::parse_json("wait", &json!(text)).map(WaitSecs::secs), Ok(expected(n)));
    }

    #[test]
    fn negative_numbers_are_always_refused(n in i64::MIN..0) {
        for value in [json!(n), json!(n.to_string()), json!(n as f64)] {
            let err = WaitSecs::parse_json("wait", &value);
            prop_assert!(err.is_err(), "{value} accepted");
        }
    }

    #[test]
    fn fractional_numbers_are_always_refused(whole in 0u32..1000, frac in 1u32..1000) {
        let f = f64::from(whole) + f64::from(frac) / 1000.0;
        prop_assert!(WaitSecs::parse_json("wait", &json!(f)).is_err(), "{f}");
        prop_assert!(WaitSecs::parse_json("wait", &json!(f.to_string())).is_err(), "{f}");
    }

    #[test]
    fn parse_json_never_panics_and_stays_within_the_cap(value in any_json()) {
        if let Ok(w) = WaitSecs::parse_json("wait", &value) {
            prop_assert!(w.secs() <= WaitSecs::MAX, "{value}");
        }
    }

    #[test]
    fn prefer_never_panics_on_any_header(header in any::<String>()) {
        let prefs = Preferences::parse(Some(&header));
        if let Some(w) = prefs.wait {
            prop_assert!(w.secs() <= WaitSecs::MAX);
        }
    }

    #[test]
    fn prefer_finds_the_first_wait_among_other_preferences(
        before in proptest::collection::vec(other_preference(), 0..3),
        after in proptest::collection::vec(other_preference(), 0..3),
        (n, first) in seconds().prop_flat_map(|n| (Just(n), wait_preference(n))),
        second in seconds().prop_flat_map(wait_preference),
        respond_async in proptest::option::of(prop_oneof![
            Just("respond-async"), Just("Respond-Async"), Just(" RESPOND-ASYNC ; x=y")
        ]),
    ) {
        let mut parts = before;
        parts.push(first);
        parts.extend(after);
        parts.push(second);
        parts.extend(respond_async.map(str::to_owned));
        let header = parts.join(",");
        let prefs = Preferences::parse(Some(&header));
        prop_assert_eq!(prefs.wait.map(WaitSecs::secs), Some(expected(n)), "{}", header);
        prop_assert_eq!(prefs.respond_async, respond_async.is_some(), "{}", header);
    }

    #[test]
    fn explicit_wait_always_beats_prefer(
        explicit in proptest::option::of(seconds()),
        header in proptest::option::of(seconds()),
        respond_async in any::<bool>(),
        default in 0u64..=30,
    ) {
        let prefs = Preferences {
            respond_async,
            wait: header.map(WaitSecs::capped),
        };
        let d = WaitDecision::decide(explicit.map(WaitSecs::capped), prefs, WaitSecs::capped(default));
        let want = match (explicit, header) {
            (Some(e), _) => expected(e),
            (None, Some(h)) => expected(h),
            (None, None) if respond_async => 0,
            (None, None) => expected(default),
        };
        prop_assert_eq!(d.wait.secs(), want);
        prop_assert_eq!(d.applied_wait, explicit.is_none() && header.is_some());
        let applied = d.preference_applied(true).unwrap_or_default();
        prop_assert_eq!(applied.contains("respond-async"), respond_async);
        prop_assert_eq!(applied.contains(&format!("wait={want}")), d.applied_wait);
    }
}
