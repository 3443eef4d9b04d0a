//! Property tests for the Zai `make_payment` request: never panics, round-trips, names every bad field.

mod support;

use std::collections::BTreeMap;
use std::net::IpAddr;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::callback_template;
use crate::support::{any_uuid, field_map, printable, random_case};
use edgepay_core::callback::ssrf_rules::CallbackPolicy;
use edgepay_core::dialect::zai::request::ZaiPayment;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_body::{body_format, parse_fields};
use edgepay_core::payment::wait::WaitSecs;

const FIELDS: [&str; 5] = ["account_id", "device_id", "ip_address", "wait", "callback"];
const NAMED: [&str; 6] = [
    "item",
    "account_id",
    "device_id",
    "ip_address",
    "wait",
    "callback",
];

/// A valid request, as the values a client means to send.
#[derive(Debug, Clone)]
struct Request {
    item: String,
    account: Uuid,
    /// How the account id is spelled on the wire (hyphenated, simple, braced, URN; any case).
    account_text: String,
    device_id: Option<String>,
    ip: Option<IpAddr>,
    wait: Option<u64>,
    callback: Option<String>,
}

pub(crate) fn item_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{1,128}".prop_filter("not a dot segment", |s| s != "." && s != "..")
}

fn uuid_text(u: Uuid, form: u8, case_mask: u64) -> String {
    let text = match form % 4 {
        0 => u.hyphenated().to_string(),
        1 => u.simple().to_string(),
        2 => u.braced().to_string(),
        _ => u.urn().to_string(),
    };
    if form % 4 == 3 {
        // The `urn:uuid:` prefix is matched case-sensitively; only the hex digits vary.
        format!(
            "urn:uuid:{}",
            random_case(&u.hyphenated().to_string(), case_mask)
        )
    } else {
        random_case(&text, case_mask)
    }
}

fn valid_request() -> impl Strategy<Value = Request> {
    (
        item_id(),
        any_uuid(),
        any::<u8>(),
        any::<u64>(),
        proptest::option::of(printable(255)),
        proptest::option::of(any::<IpAddr>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(callback_template()),
    )
        .prop_map(
            |(item, account, form, mask, device_id, ip, wait, callback)| Request {
                account_text: uuid_text(account, form, mask),
                item,
                account,
                device_id,
                ip,
                wait,
                callback,
            },
        )
}

impl Request {
    /// The request as a JSON body; `wait_as_text` sends the number as a string.
    fn json_body(&self, wait_as_text: bool, encode_callback: bool) -> Vec<u8> {
        let mut body = json!({ "account_id": self.account_text });
        if let Some(d) = &self.device_id {
            body["device_id"] = json!(d);
        }
        if let Some(ip) = self.ip {
            body["ip_address"] = json!(ip.to_string());
        }
        if let Some(w) = self.wait {
            body["wait"] = if wait_as_text {
                json!(w.to_string())
            } else {
                json!(w)
            };
        }
        if let Some(cb) = &self.callback {
            body["callback"] = json!(if encode_callback {
                utf8_percent_encode(cb, NON_ALPHANUMERIC).to_string()
            } else {
                cb.clone()
            });
        }
        body.to_string().into_bytes()
    }

    fn form_body(&self) -> Vec<u8> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("account_id", &self.account_text);
        if let Some(d) = &self.device_id {
            form.append_pair("device_id", d);
        }
        if let Some(ip) = self.ip {
            form.append_pair("ip_address", &ip.to_string());
        }
        if let Some(w) = self.wait {
            form.append_pair("wait", &w.to_string());
        }
        if let Some(cb) = &self.callback {
            form.append_pair("callback", cb);
        }
        form.finish().into_bytes()
    }

    fn assert_parsed(&self, p: &ZaiPayment) -> Result<(), TestCaseError> {
        prop_assert_eq!(p.item.as_str(), self.item.as_str());
        prop_assert_eq!(p.account_id.uuid(), self.account);
        prop_assert_eq!(&p.device_id, &self.device_id);
        prop_assert_eq!(p.ip_address, self.ip);
        prop_assert_eq!(
            p.wait.map(WaitSecs::secs),
            self.wait.map(|w| w.min(30) as u32)
        );
        prop_assert_eq!(
            p.callback.as_ref().map(|c| c.as_str()),
            self.callback.as_deref()
        );
        Ok(())
    }
}

/// Content type, body bytes → validated request, the way the route reads it.
fn parse_wire(item: &str, content_type: &str, body: &[u8]) -> Result<ZaiPayment, ApiError> {
    let format = body_format(Some(content_type), body.is_empty())?;
    let fields = parse_fields(format, body)?;
    ZaiPayment::parse(item, &fields, CallbackPolicy::PRODUCTION)
}

fn as_fields(v: Value) -> BTreeMap<String, Value> {
    match v {
        Value::Object(m) => m.into_iter().collect(),
        _ => BTreeMap::new(),
    }
}

/// One field made invalid, and the field the error must name.
fn one_bad_field() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        "[g-z]{1,20}".prop_map(|s| ("account_id", json!(s))),
        any::<i64>().prop_map(|n| ("account_id", json!(n))),
        Just(("device_id", json!(""))),
        "[a-z]{0,5}[\\x00-\\x1f][a-z]{0,5}".prop_map(|s| ("device_id", json!(s))),
        Just(("device_id", json!("x".repeat(256)))),
        "[g-z]{1,12}".prop_map(|s| ("ip_address", json!(s))),
        (256u32..1000).prop_map(|n| ("ip_address", json!(format!("{n}.0.0.1")))),
        (i64::MIN..0).prop_map(|n| ("wait", json!(n))),
        "[a-z]{1,6}".prop_map(|s| ("wait", json!(s))),
        any::<bool>().prop_map(|b| ("wait", json!(b))),
        "[a-z]{1,8}"
            .prop_filter("unknown", |n| !["item", "account", "uuid"]
                .contains(&n.as_str()))
            .prop_map(|n| ("callback", json!(format!("https://a.example.com/{{{n}}}")))),
        Just(("callback", json!("http://a.example.com/"))),
        Just(("callback", json!("https://10.0.0.1/"))),
    ]
}

proptest! {
    #![proptest_config(crate::support::cases(128))]

    #[test]
    fn never_panics_and_every_error_names_a_known_field(
        item in any::<String>(),
        fields in field_map(&FIELDS),
        insecure in any::<bool>(),
    ) {
        let policy = CallbackPolicy { allow_insecure: insecure };
        match ZaiPayment::parse(&item, &fields, policy) {
            Ok(p) => prop_assert_eq!(p.item.as_str(), item.as_str()),
            Err(ApiError::Validation(errors)) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(NAMED.contains(&e.field.as_str()), "unknown field {:?}", e.field);
                    let named = format!("`{}`", e.field);
                    prop_assert!(e.message.contains(&named), "{:?}", e);
                }
                let mut names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                names.dedup();
                prop_assert_eq!(names.len(), errors.len(), "a field is named twice");
            }
            Err(other) => prop_assert!(false, "not a validation error: {:?}", other),
        }
    }

    #[test]
    fn a_valid_json_request_round_trips(
        req in valid_request(),
        wait_as_text in any::<bool>(),
        encode_callback in any::<bool>(),
    ) {
        let body = req.json_body(wait_as_text, encode_callback);
        let parsed = parse_wire(&req.item, "application/json; charset=utf-8", &body);
        prop_assert!(parsed.is_ok(), "{:?} refused: {:?}", req, parsed);
        if let Ok(p) = parsed {
            req.assert_parsed(&p)?;
            let new = p.into_new_payment("t");
            prop_assert_eq!(new.subject, req.item.clone());
            prop_assert_eq!(new.fields.get("account_id"), Some(&json!(req.account.hyphenated().to_string())));
            prop_assert_eq!(new.callback, req.callback.clone());
        }
    }

    #[test]
    fn a_valid_form_request_round_trips(req in valid_request()) {
        let parsed = parse_wire(&req.item, "application/x-www-form-urlencoded", &req.form_body());
        prop_assert!(parsed.is_ok(), "{:?} refused: {:?}", req, parsed);
        if let Ok(p) = parsed {
            req.assert_parsed(&p)?;
        }
    }

    #[test]
    fn one_bad_field_is_the_only_field_named((field, bad) in one_bad_field(), req in valid_request()) {
        let mut fields = as_fields(serde_json::from_slice(&req.json_body(false, false)).unwrap_or_default());
        fields.insert(field.to_owned(), bad.clone());
        let errors = match ZaiPayment::parse(&req.item, &fields, CallbackPolicy::PRODUCTION) {
            Err(e) => e.field_errors().iter().map(|e| e.field.clone()).collect::<Vec<_>>(),
            Ok(p) => return Err(TestCaseError::fail(format!("{field}={bad} accepted: {p:?}"))),
        };
        prop_assert_eq!(errors, vec![field.to_owned()]);
    }

    #[test]
    fn a_bad_item_is_named(item in "[A-Za-z0-9]{0,4}[/ %?#é][A-Za-z0-9]{0,4}", req in valid_request()) {
        let fields = as_fields(serde_json::from_slice(&req.json_body(false, false)).unwrap_or_default());
        let err = ZaiPayment::parse(&item, &fields, CallbackPolicy::PRODUCTION);
        let names: Vec<String> = err.err().map(|e| e.field_errors().iter().map(|f| f.field.clone()).collect()).unwrap_or_default();
        prop_assert_eq!(names, vec!["item".to_owned()]);
    }
}
