//! Property tests for the ServiceStack `makePayment` request: merging, case-insensitive names, round trips.

mod support;

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::support::{any_json, any_uuid, field_map, random_case};
use edgepay_core::dialect::servicestack::request::{
    merge_sources, ClientType, ServiceStackPayment, FIELDS, REFUSED_RETURN_SCHEMES,
};
use edgepay_core::dialect::servicestack::response::sanitize_jsonp;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_body::{parse_fields, parse_form, BodyFormat};

#[derive(Debug, Clone)]
struct Dto {
    payment_id: Uuid,
    /// Dashed or 32 digits, any case.
    payment_id_text: String,
    payment_method: Map<String, Value>,
    client_type: ClientType,
    /// How the client type is spelled: a name in any case, or its number.
    client_type_text: String,
    store: Option<bool>,
    return_url: Option<String>,
    version: Option<i64>,
}

fn client_type() -> impl Strategy<Value = (ClientType, String)> {
    (
        prop_oneof![
            Just((ClientType::Ios, "ios", "1")),
            Just((ClientType::Android, "android", "2")),
            Just((ClientType::Web, "web", "3")),
        ],
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|((t, name, number), by_name, mask)| {
            let text = if by_name {
                random_case(name, mask)
            } else {
                number.to_owned()
            };
            (t, text)
        })
}

fn payment_method() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("[a-z]{1,8}", any_json(), 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn dto() -> impl Strategy<Value = Dto> {
    (
        (any_uuid(), any::<bool>(), any::<u64>()),
        payment_method(),
        client_type(),
        proptest::option::of(any::<bool>()),
        proptest::option::of("(https|myapp)://[a-z]{1,10}(/[a-z0-9]{0,6}){0,3}"),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(
            |(
                (id, dashed, mask),
                payment_method,
                (client_type, ct_text),
                store,
                return_url,
                version,
            )| {
                let text = if dashed {
                    id.hyphenated().to_string()
                } else {
                    id.simple().to_string()
                };
                Dto {
                    payment_id: id,
                    payment_id_text: random_case(&text, mask),
                    payment_method,
                    client_type,
                    client_type_text: ct_text,
                    store,
                    return_url,
                    version,
                }
            },
        )
}

impl Dto {
    /// The DTO as (name, value) pairs; `as_text` gives every value as a string, as a query
    /// string or form would, and names are spelled in random case.
    fn pairs(&self, as_text: bool, name_case: u64) -> Vec<(String, Value)> {
        let text = |v: Value| match v {
            Value::String(s) if as_text => Value::String(s),
            other if as_text => Value::String(other.to_string()),
            other => other,
        };
        let mut pairs = vec![
            ("paymentId", json!(self.payment_id_text)),
            ("paymentMethod", Value::Object(self.payment_method.clone())),
            ("clientType", json!(self.client_type_text)),
        ];
        if let Some(s) = self.store {
            pairs.push(("storePaymentMethod", json!(s)));
        }
        if let Some(u) = &self.return_url {
            pairs.push(("returnUrl", json!(u)));
        }
        if let Some(v) = self.version {
            pairs.push(("version", json!(v)));
        }
        pairs
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| (random_case(k, name_case.rotate_left(i as u32 * 7)), text(v)))
            .collect()
    }

    fn assert_parsed(&self, p: &ServiceStackPayment) -> Result<(), TestCaseError> {
        prop_assert_eq!(p.payment_id, self.payment_id);
        prop_assert_eq!(&p.payment_method, &self.payment_method);
        prop_assert_eq!(p.client_type, self.client_type);
        prop_assert_eq!(p.store_payment_method, self.store);
        prop_assert_eq!(&p.return_url, &self.return_url);
        prop_assert_eq!(p.version, self.version);
        Ok(())
    }
}

fn string_pairs(pairs: &[(String, Value)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k.clone(), s.clone()),
            other => (k.clone(), other.to_string()),
        })
        .collect()
}

proptest! {
    #![proptest_config(crate::support::cases(128))]

    #[test]
    fn never_panics_and_every_error_names_a_dto_field(sources in proptest::collection::vec(field_map(&FIELDS), 0..4)) {
        let sources = sources.into_iter().map(|m| m.into_iter().collect()).collect();
        match ServiceStackPayment::parse(&merge_sources(sources)) {
            Ok(_) => {}
            Err(ApiError::Validation(errors)) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(FIELDS.contains(&e.field.as_str()), "unknown field {:?}", e.field);
                    let named = format!("`{}`", e.field);
                    prop_assert!(e.message.contains(&named), "{:?}", e);
                }
            }
            Err(other) => prop_assert!(false, "not a validation error: {:?}", other),
        }
    }

    #[test]
    fn a_valid_json_body_round_trips(dto in dto(), name_case in any::<u64>()) {
        let body: Map<String, Value> = dto.pairs(false, name_case).into_iter().collect();
        let fields = parse_fields(Some(BodyFormat::Json), Value::Object(body).to_string().as_bytes());
        prop_assert!(fields.is_ok(), "{:?}", fields);
        let fields: Vec<(String, Value)> = fields.unwrap_or_default().into_iter().collect();
        let parsed = ServiceStackPayment::parse(&merge_sources(vec![fields]));
        prop_assert!(parsed.is_ok(), "{:?} refused: {:?}", dto, parsed);
        if let Ok(p) = parsed {
            dto.assert_parsed(&p)?;
            let new = p.into_new_payment("t");
            prop_assert_eq!(new.subject, dto.payment_id.hyphenated().to_string());
            prop_assert_eq!(new.fields.get("client_type"), Some(&json!(dto.client_type.as_str())));
        }
    }

    #[test]
    fn a_valid_query_or_form_round_trips(dto in dto(), name_case in any::<u64>()) {
        // Query string and form carry text only; the same encoding serves both.
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in string_pairs(&dto.pairs(true, name_case)) {
            form.append_pair(&k, &v);
        }
        let decoded = parse_form(form.finish().as_bytes());
        prop_assert!(decoded.is_ok(), "{:?}", decoded);
        let pairs = decoded.unwrap_or_default().into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let parsed = ServiceStackPayment::parse(&merge_sources(vec![pairs]));
        prop_assert!(parsed.is_ok(), "{:?} refused: {:?}", dto, parsed);
        if let Ok(p) = parsed {
            dto.assert_parsed(&p)?;
        }
    }

    #[test]
    fn a_later_source_wins_whatever_the_case(
        (early, late) in (dto(), dto()),
        case_a in any::<u64>(),
        case_b in any::<u64>(),
    ) {
        let merged = merge_sources(vec![early.pairs(true, case_a), late.pairs(false, case_b)]);
        let parsed = ServiceStackPayment::parse(&merged);
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
        if let Ok(p) = parsed {
            prop_assert_eq!(p.payment_id, late.payment_id);
            prop_assert_eq!(p.client_type, late.client_type);
            prop_assert_eq!(p.payment_method, late.payment_method.clone());
            // Optional fields the later source leaves out come from the earlier one.
            prop_assert_eq!(p.version, late.version.or(early.version));
        }
    }

    #[test]
    fn a_guid_in_any_other_shape_is_refused(text in "[0-9a-f]{0,31}|[0-9a-f]{33,40}|\\{[0-9a-f-]{36}\\}|[g-z]{32}") {
        let fields: BTreeMap<String, Value> = merge_sources(vec![vec![
            ("paymentId".into(), json!(text)),
            ("paymentMethod".into(), json!({})),
            ("clientType".into(), json!("web")),
        ]]);
        let names: Vec<String> = ServiceStackPayment::parse(&fields)
            .err()
            .map(|e| e.field_errors().iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        prop_assert_eq!(names, vec!["paymentId".to_owned()]);
    }

    #[test]
    fn a_return_url_that_a_browser_would_run_or_read_locally_is_refused(
        scheme in proptest::sample::select(REFUSED_RETURN_SCHEMES.to_vec()),
        mask in any::<u64>(),
        blanks in "[ \t\n]{0,2}",
        tab_at in 0usize..12,
        rest in "[ -~]{0,30}",
    ) {
        // Spelled as an attacker might: any case, leading blanks, a tab inside the scheme.
        let mut spelled = random_case(scheme, mask);
        if tab_at < spelled.len() {
            spelled.insert(tab_at, '\t');
        }
        let url = format!("{blanks}{spelled}:{rest}");
        let fields = merge_sources(vec![vec![
            ("paymentId".into(), json!(Uuid::nil().to_string())),
            ("paymentMethod".into(), json!({})),
            ("clientType".into(), json!("web")),
            ("returnUrl".into(), json!(url)),
        ]]);
        let named: Vec<(String, &str)> = ServiceStackPayment::parse(&fields)
            .err()
            .map(|e| e.field_errors().iter().map(|f| (f.field.clone(), f.code)).collect())
            .unwrap_or_default();
        prop_assert_eq!(named, vec![("returnUrl".to_owned(), "invalid")], "{:?}", url);
    }

    #[test]
    fn a_return_url_with_any_other_scheme_is_kept_as_given(
        url in "[a-z][a-z0-9+.-]{0,12}://[a-z]{1,10}(/[a-z0-9]{0,6}){0,3}"
            .prop_filter("a refused scheme", |u| {
                !REFUSED_RETURN_SCHEMES.iter().any(|s| u.starts_with(&format!("{s}:")))
            }),
    ) {
        let fields = merge_sources(vec![vec![
            ("paymentId".into(), json!(Uuid::nil().to_string())),
            ("paymentMethod".into(), json!({})),
            ("clientType".into(), json!("web")),
            ("returnUrl".into(), json!(url)),
        ]]);
        let parsed = ServiceStackPayment::parse(&fields);
        prop_assert!(parsed.is_ok(), "{:?} refused: {:?}", url, parsed);
        prop_assert_eq!(parsed.ok().and_then(|p| p.return_url), Some(url));
    }

    #[test]
    fn jsonp_names_keep_only_safe_characters(name in any::<String>()) {
        if let Some(clean) = sanitize_jsonp(&name) {
            prop_assert!(!clean.is_empty());
            prop_assert!(clean.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_'), "{}", clean);
        } else {
            prop_assert!(!name.chars().any(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_'));
        }
    }
}
