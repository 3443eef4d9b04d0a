//! Property tests for the operators' searches: any query or body is a search or a `400`, never a panic, and cursors and filters survive the round trip.

mod support;

use proptest::prelude::*;

use crate::support::any_json;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::operators::search::{Cursor, Listing, Search, MAX_LIMIT, STATES};

/// A query string as an operator (or a fuzzer) may write one: known and unknown names, any
/// values, percent-encoded or not.
fn query() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("state".to_owned()),
        Just("subject".to_owned()),
        Just("since".to_owned()),
        Just("until".to_owned()),
        Just("limit".to_owned()),
        Just("cursor".to_owned()),
        "[a-z%&=]{0,8}",
    ];
    let value = prop_oneof![".{0,40}", "[0-9]{0,20}", "[%0-9A-Fa-f]{0,12}"];
    prop::collection::vec((name, value), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #[test]
    fn any_query_is_a_search_or_a_400_naming_fields(q in query()) {
        for parsed in [Search::requests(&q), Search::dead_letters(&q)] {
            match parsed {
                Ok(search) => {
                    prop_assert!((1..=MAX_LIMIT).contains(&search.limit));
                    let (sql, params) = search.sql("tenant");
                    prop_assert_eq!(sql.matches('?').count(), params.len());
                }
                Err(ApiError::Validation(errors)) => prop_assert!(!errors.is_empty()),
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }

    #[test]
    fn any_replay_body_is_a_search_or_a_400(body in any_json()) {
        let text = body.to_string();
        match Search::replay(&text) {
            Ok(search) => prop_assert_eq!(search.listing, Listing::DeadLetters),
            Err(ApiError::Validation(errors)) => prop_assert!(!errors.is_empty()),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn cursors_round_trip(ms in 0u64..10_000_000_000_000, id in "[0-9a-f]{32}") {
        let cursor = Cursor { created_ms: ms, request_id: id };
        prop_assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn valid_filters_are_kept(
        state in prop::sample::select(STATES.to_vec()),
        subject in "[A-Za-z0-9._~-]{1,128}",
        limit in 1u32..=MAX_LIMIT,
    ) {
        let q = format!("state={state}&subject={subject}&limit={limit}");
        let search = Search::requests(&q).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(search.state.as_deref(), Some(state));
        prop_assert_eq!(search.subject.as_deref(), Some(subject.as_str()));
        prop_assert_eq!(search.limit, limit);
    }
}
