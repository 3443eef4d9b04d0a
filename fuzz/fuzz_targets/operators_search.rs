//! Fuzzes the operators' search parsers (`GET /requests`, the dead-letter list, the bulk replay's body) and the query they build.
#![no_main]

use edgepay_core::http::api_error::ApiError;
use edgepay_core::operators::search::Search;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for parsed in [
        Search::requests(&text),
        Search::dead_letters(&text),
        Search::replay(&text),
    ] {
        match parsed {
            Ok(search) => {
                // Every value is bound: the statement has exactly one placeholder per parameter.
                let (sql, params) = search.sql("tenant-a");
                assert_eq!(sql.matches('?').count(), params.len());
            }
            Err(ApiError::Validation(errors)) => assert!(!errors.is_empty()),
            Err(other) => panic!("a search refused as {other:?}"),
        }
    }
});
