//! Fuzzes callback templates: parsing under both policies, then rendering what was accepted.
#![no_main]

use edgepay_core::callback::template::{CallbackTemplate, CallbackVars};
use edgepay_core::callback::ssrf_rules::CallbackPolicy;
use edgepay_fuzz::split_input;
use libfuzzer_sys::fuzz_target;

// Input: `template \n value substituted at delivery`.
fuzz_target!(|data: &[u8]| {
    let parts = split_input(data, 2);
    let template = String::from_utf8_lossy(parts.first().copied().unwrap_or_default());
    let value = String::from_utf8_lossy(parts.get(1).copied().unwrap_or_default());
    for allow_insecure in [false, true] {
        let policy = CallbackPolicy { allow_insecure };
        match CallbackTemplate::parse("callback", &template, policy) {
            Ok(t) => {
                // `.` and `..` are never item ids (ItemId refuses them).
                let item = if value == "." || value == ".." {
                    "x"
                } else {
                    &value
                };
                let vars = CallbackVars {
                    item,
                    account: &value,
                    uuid: &value,
                };
                let url = t.render(&vars, policy);
                assert!(url.is_ok(), "{template:?} accepted but {url:?} at delivery");
            }
            Err(e) => assert_eq!(e.field, "callback"),
        }
    }
});
