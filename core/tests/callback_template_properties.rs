//! Property tests for callback templates: decoding once, placeholders, rendering and the policy.

mod support;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;
use url::Url;

use crate::support::callback_template;
use edgepay_core::callback::ssrf_rules::CallbackPolicy;
use edgepay_core::callback::template::{CallbackTemplate, CallbackVars};

const PROD: CallbackPolicy = CallbackPolicy::PRODUCTION;
const DEV: CallbackPolicy = CallbackPolicy {
    allow_insecure: true,
};

fn placeholder_name() -> impl Strategy<Value = String> {
    "[A-Za-z_]{0,10}".prop_filter("unknown", |n| {
        !["item", "account", "uuid"].contains(&n.as_str())
    })
}

proptest! {
    #![proptest_config(crate::support::cases(256))]

    #[test]
    fn never_panics_and_errors_name_the_field(raw in any::<String>(), insecure in any::<bool>()) {
        let policy = CallbackPolicy { allow_insecure: insecure };
        if let Err(e) = CallbackTemplate::parse("callback", &raw, policy) {
            prop_assert_eq!(e.field.as_str(), "callback");
            prop_assert!(e.message.starts_with("`callback`"), "{:?}", e);
            prop_assert!(["invalid", "too_long"].contains(&e.code), "{:?}", e);
        }
    }

    #[test]
    fn url_shaped_text_never_panics(raw in "(https?|ftp)://[a-z0-9.:@\\[\\]{}%/?#=-]{0,40}") {
        if let Ok(t) = CallbackTemplate::parse("callback", &raw, DEV) {
            // Whatever was accepted renders under the policy it was accepted by.
            let vars = CallbackVars { item: "i", account: "a", uuid: "u" };
            prop_assert!(t.render(&vars, DEV).is_ok(), "{}", raw);
        }
    }

    #[test]
    fn valid_templates_are_kept_and_their_encoded_form_decodes_to_them(template in callback_template()) {
        let plain = CallbackTemplate::parse("callback", &template, PROD);
        prop_assert_eq!(plain.as_ref().map(|t| t.as_str()), Ok(template.as_str()));
        let encoded = utf8_percent_encode(&template, NON_ALPHANUMERIC).to_string();
        let decoded = CallbackTemplate::parse("callback", &encoded, PROD);
        prop_assert_eq!(decoded, plain);
    }

    #[test]
    fn unknown_placeholders_are_always_refused(template in callback_template(), name in placeholder_name(), at in any::<prop::sample::Index>()) {
        // Insert `{name}` at a character boundary in the path or query.
        let path_start = template.find("://").map_or(0, |i| i + 3);
        let path_start = template[path_start..].find('/').map_or(template.len(), |i| path_start + i + 1);
        let tail = &template[path_start..];
        let cut = path_start + tail.char_indices().map(|(i, _)| i).chain([tail.len()]).nth(at.index(tail.len() + 1)).unwrap_or(0);
        let bad = format!("{}{{{name}}}{}", &template[..cut], &template[cut..]);
        let err = CallbackTemplate::parse("callback", &bad, DEV);
        prop_assert!(err.is_err(), "{} accepted", bad);
        if let Err(e) = err {
            prop_assert_eq!(e.field.as_str(), "callback");
            // Inserted next to another placeholder's brace, it can also be an unbalanced brace.
            prop_assert!(e.message.contains("placeholder") || e.message.contains("matching"), "{:?}", e);
        }
    }

    #[test]
    fn placeholders_in_the_host_are_always_refused(
        label in "[a-z]{0,6}",
        name in prop_oneof![Just("item"), Just("account"), Just("uuid")],
        path in "[a-z/]{0,8}",
    ) {
        let raw = format!("https://{label}{{{name}}}.example.com/{path}");
        prop_assert!(CallbackTemplate::parse("callback", &raw, PROD).is_err(), "{}", raw);
    }

    #[test]
    fn rendering_any_values_keeps_the_origin_and_encodes_them(
        template in callback_template(),
        // Item ids are never `.` or `..` (ItemId refuses them), which would be dot segments.
        item in any::<String>().prop_filter("an item id", |s| s != "." && s != ".."),
        account in any::<String>(),
        uuid in any::<String>(),
    ) {
        let t = CallbackTemplate::parse("callback", &template, PROD);
        prop_assert!(t.is_ok());
        let Ok(t) = t else { return Ok(()) };
        let url = t.render(&CallbackVars { item: &item, account: &account, uuid: &uuid }, PROD);
        prop_assert!(url.is_ok(), "{:?}", url);
        let Ok(url) = url else { return Ok(()) };
        prop_assert_eq!(Ok(url.origin()), Url::parse(&template).map(|u| u.origin()));
        if template.contains("{item}") {
            // Unreserved characters stay as they are; everything else is escaped.
            let enc = utf8_percent_encode(&item, NON_ALPHANUMERIC)
                .to_string()
                .replace("%2D", "-")
                .replace("%2E", ".")
                .replace("%5F", "_")
                .replace("%7E", "~");
            prop_assert!(url.as_str().contains(&enc), "{} lacks {}", url, enc);
        }
    }
}
