//! Property tests for identifiers: item ids, account ids and request ids.

mod support;

use proptest::prelude::*;
use uuid::Uuid;

use crate::support::{any_uuid, random_case};
use edgepay_core::ids::{AccountId, ItemId, RequestId};

fn item_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-')
}

proptest! {
    #![proptest_config(crate::support::cases(256))]

    #[test]
    fn an_item_id_is_accepted_exactly_by_its_rule(raw in prop_oneof![any::<String>(), "[A-Za-z0-9._~-]{0,130}", "[A-Za-z0-9._~/ -]{0,10}"]) {
        let valid = (1..=ItemId::MAX_LEN).contains(&raw.len())
            && raw.chars().all(item_char)
            && raw != "."
            && raw != "..";
        match ItemId::parse(&raw) {
            Ok(id) => {
                prop_assert!(valid, "{:?} accepted", raw);
                prop_assert_eq!(id.as_str(), raw.as_str());
                prop_assert_eq!(id.to_string(), raw);
            }
            Err(e) => {
                prop_assert!(!valid, "{:?} refused", raw);
                prop_assert_eq!(e.field.as_str(), "item");
            }
        }
    }

    #[test]
    fn an_account_id_in_any_uuid_form_is_the_same_uuid(u in any_uuid(), form in 0u8..3, mask in any::<u64>()) {
        let text = match form {
            0 => u.hyphenated().to_string(),
            1 => u.simple().to_string(),
            _ => u.braced().to_string(),
        };
        let id = AccountId::parse(&random_case(&text, mask));
        prop_assert_eq!(id.map(|a| a.uuid()), Ok(u));
        prop_assert_eq!(AccountId::parse(&u.to_string()).map(|a| a.to_string()), Ok(u.hyphenated().to_string()));
    }

    #[test]
    fn account_id_errors_name_the_field(raw in any::<String>()) {
        if let Err(e) = AccountId::parse(&raw) {
            prop_assert_eq!(e.field.as_str(), "account_id");
        }
    }

    #[test]
    fn a_request_id_round_trips_and_only_v4_simple_form_is_accepted(bytes in any::<[u8; 16]>(), mask in any::<u64>()) {
        let v4 = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let text = v4.simple().to_string();
        let id = RequestId::parse(&random_case(&text, mask));
        prop_assert_eq!(id.map(|i| i.to_string()), Some(text));
        prop_assert_eq!(RequestId::parse(&v4.hyphenated().to_string()), None);
        let raw = Uuid::from_bytes(bytes);
        prop_assert_eq!(
            RequestId::parse(&raw.simple().to_string()).is_some(),
            raw.get_version_num() == 4
        );
    }

    #[test]
    fn request_id_parse_never_panics(raw in any::<String>()) {
        if let Some(id) = RequestId::parse(&raw) {
            prop_assert_eq!(id.to_string(), raw.to_ascii_lowercase());
        }
    }
}
