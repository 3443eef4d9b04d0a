//! The Zai-compatible `make_payment` request: field rules from the path and body, all errors at once.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::callback::ssrf_rules::CallbackPolicy;
use crate::callback::template::CallbackTemplate;
use crate::http::api_error::{ApiError, FieldError};
use crate::http::request_body::optional_string;
use crate::ids::{AccountId, ItemId};
use crate::payment::new_payment::{Dialect, NewPayment};
use crate::payment::wait::WaitSecs;

/// A fully validated Zai make-payment request.
#[derive(Debug, Clone, PartialEq)]
pub struct ZaiPayment {
    pub item: ItemId,
    pub account_id: AccountId,
    pub device_id: Option<String>,
    pub ip_address: Option<IpAddr>,
    /// `None`: not given in the body (the `Prefer` header or the default decides).
    pub wait: Option<WaitSecs>,
    pub callback: Option<CallbackTemplate>,
}

const MAX_DEVICE_ID: usize = 255;

fn parse_device_id(raw: &str) -> Result<String, FieldError> {
    let len = raw.chars().count();
    if !(1..=MAX_DEVICE_ID).contains(&len) {
        return Err(FieldError::new(
            "device_id",
            "invalid_length",
            format!("`device_id` must be 1 to {MAX_DEVICE_ID} characters"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(FieldError::new(
            "device_id",
            "invalid",
            "`device_id` must contain printable characters only",
        ));
    }
    Ok(raw.to_owned())
}

fn parse_ip(raw: &str) -> Result<IpAddr, FieldError> {
    raw.parse().map_err(|_| {
        FieldError::new(
            "ip_address",
            "invalid",
            "`ip_address` must be a valid IPv4 or IPv6 address",
        )
    })
}

/// Collects a field's result, keeping every error so the response names them all.
fn take<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

impl ZaiPayment {
    /// Validates the path item and body fields. Unknown fields are ignored.
    pub fn parse(
        item_raw: &str,
        fields: &BTreeMap<String, Value>,
        policy: CallbackPolicy,
    ) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let item = take(&mut errors, ItemId::parse(item_raw));

        let account_id = match optional_string(fields, "account_id") {
            Ok(Some(raw)) => take(&mut errors, AccountId::parse(raw)),
            Ok(None) => take(&mut errors, Err(FieldError::missing("account_id"))),
            Err(e) => take(&mut errors, Err(e)),
        };
        let device_id =
            optional_string(fields, "device_id").and_then(|v| v.map(parse_device_id).transpose());
        let device_id = take(&mut errors, device_id).flatten();
        let ip_address =
            optional_string(fields, "ip_address").and_then(|v| v.map(parse_ip).transpose());
        let ip_address = take(&mut errors, ip_address).flatten();
        let wait = match fields.get("wait") {
            None | Some(Value::Null) => None,
            Some(value) => take(&mut errors, WaitSecs::parse_json("wait", value)),
        };
        let callback = optional_string(fields, "callback").and_then(|v| {
            v.map(|raw| CallbackTemplate::parse("callback", raw, policy))
                .transpose()
        });
        let callback = take(&mut errors, callback).flatten();

        match (item, account_id) {
            (Some(item), Some(account_id)) if errors.is_empty() => Ok(Self {
                item,
                account_id,
                device_id,
                ip_address,
                wait,
                callback,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }

    /// The dialect-neutral payment the engine stores and dispatches.
    pub fn into_new_payment(self, tenant: &str) -> NewPayment {
        let mut fields = Map::new();
        fields.insert("item_id".into(), Value::String(self.item.to_string()));
        fields.insert(
            "account_id".into(),
            Value::String(self.account_id.to_string()),
        );
        if let Some(device_id) = &self.device_id {
            fields.insert("device_id".into(), Value::String(device_id.clone()));
        }
        if let Some(ip) = self.ip_address {
            fields.insert("ip_address".into(), Value::String(ip.to_string()));
        }
        NewPayment {
            tenant: tenant.to_owned(),
            dialect: Dialect::Zai,
            subject: self.item.to_string(),
            account: Some(self.account_id.to_string()),
            fields,
            callback: self.callback.map(|c| c.as_str().to_owned()),
            owner: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f";

    fn fields(v: Value) -> BTreeMap<String, Value> {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => unreachable!(),
        }
    }

    fn errors_of(item: &str, body: Value) -> Vec<(String, &'static str)> {
        match ZaiPayment::parse(item, &fields(body), CallbackPolicy::PRODUCTION) {
            Ok(p) => panic!("expected errors, got {p:?}"),
            Err(e) => e
                .field_errors()
                .iter()
                .map(|f| (f.field.clone(), f.code))
                .collect(),
        }
    }

    #[test]
    fn full_valid_request() {
        let body = json!({
            "account_id": ACCOUNT,
            "device_id": "iPhone 15 / abc",
            "ip_address": "2001:db8::1",
            "wait": "12",
            "callback": "https%3A%2F%2Fshop.example.com%2Fcb%2F%7Bitem%7D",
            "unknown": {"ignored": true}
        });
        let p = ZaiPayment::parse("order-1", &fields(body), CallbackPolicy::PRODUCTION).unwrap();
        assert_eq!(p.item.as_str(), "order-1");
        assert_eq!(p.wait.map(WaitSecs::secs), Some(12));
        assert_eq!(
            p.callback.as_ref().map(|c| c.as_str()),
            Some("https://shop.example.com/cb/{item}")
        );
        let new = p.into_new_payment("t");
        assert_eq!(new.subject, "order-1");
        assert_eq!(new.fields.get("account_id"), Some(&json!(ACCOUNT)));
        assert_eq!(new.fields.get("ip_address"), Some(&json!("2001:db8::1")));
        assert!(!new.fields.contains_key("unknown"));
    }

    #[test]
    fn minimal_request() {
        let p = ZaiPayment::parse(
            "x",
            &fields(json!({"account_id": ACCOUNT})),
            CallbackPolicy::PRODUCTION,
        )
        .unwrap();
        assert_eq!(
            (p.wait, p.device_id, p.ip_address, p.callback),
            (None, None, None, None)
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        type Case<'a> = (&'a str, Value, Vec<(&'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            ("ok", json!({}), vec![("account_id", "missing")]),
            (
                "ok",
                json!({"account_id": ""}),
                vec![("account_id", "missing")],
            ),
            (
                "ok",
                json!({"account_id": "nope"}),
                vec![("account_id", "invalid")],
            ),
            (
                "ok",
                json!({"account_id": 42}),
                vec![("account_id", "invalid_type")],
            ),
            (
                "bad/item",
                json!({"account_id": ACCOUNT}),
                vec![("item", "invalid")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "device_id": ""}),
                vec![("device_id", "invalid_length")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "device_id": "x".repeat(256)}),
                vec![("device_id", "invalid_length")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "device_id": "a\u{0007}b"}),
                vec![("device_id", "invalid")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "ip_address": "300.1.1.1"}),
                vec![("ip_address", "invalid")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "ip_address": 1}),
                vec![("ip_address", "invalid_type")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "wait": -1}),
                vec![("wait", "invalid")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "wait": "soon"}),
                vec![("wait", "invalid")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "callback": "https://a.example.com/{x}"}),
                vec![("callback", "invalid")],
            ),
            (
                "ok",
                json!({"account_id": ACCOUNT, "callback": "http://a.example.com/"}),
                vec![("callback", "invalid")],
            ),
            (
                "",
                json!({"account_id": "x", "device_id": "", "ip_address": "x", "wait": "x", "callback": "x"}),
                vec![
                    ("item", "missing"),
                    ("account_id", "invalid"),
                    ("device_id", "invalid_length"),
                    ("ip_address", "invalid"),
                    ("wait", "invalid"),
                    ("callback", "invalid"),
                ],
            ),
        ];
        for (item, body, expected) in cases {
            let got = errors_of(item, body.clone());
            let expected: Vec<(String, &str)> = expected
                .into_iter()
                .map(|(f, c)| (f.to_owned(), c))
                .collect();
            assert_eq!(got, expected, "{item:?} {body}");
        }
    }
}
