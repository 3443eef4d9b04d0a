//! The ServiceStack-compatible (Viviot) `makePayment` request: merged, case-insensitive fields and their rules.
//!
//! ServiceStack binds a request DTO from the query string, then the form
//! body, then the JSON body (later sources win), matching property names
//! case-insensitively. Errors name fields as the DTO spells them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use url::Url;
use uuid::Uuid;

use crate::http::api_error::{ApiError, FieldError};
use crate::payment::new_payment::{Dialect, NewPayment};

/// The DTO's properties, as errors name them.
pub const FIELDS: [&str; 6] = [
    "paymentId",
    "paymentMethod",
    "clientType",
    "storePaymentMethod",
    "returnUrl",
    "version",
];

/// Where the client is paying from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Ios,
    Android,
    Web,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Ios => "IOS",
            ClientType::Android => "Android",
            ClientType::Web => "Web",
        }
    }

    fn parse(value: &Value) -> Option<Self> {
        let text = match value {
            Value::String(s) => s.trim().to_ascii_lowercase(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        match text.as_str() {
            "ios" | "1" => Some(ClientType::Ios),
            "android" | "2" => Some(ClientType::Android),
            "web" | "3" => Some(ClientType::Web),
            _ => None,
        }
    }
}

/// A fully validated makePayment request.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStackPayment {
    pub payment_id: Uuid,
    pub payment_method: Map<String, Value>,
    pub client_type: ClientType,
    pub store_payment_method: Option<bool>,
    pub return_url: Option<String>,
    pub version: Option<i64>,
}

/// Merges sources in order (query, form, JSON body); keys are matched case-insensitively,
/// and a later source overrides an earlier one.
pub fn merge_sources(sources: Vec<Vec<(String, Value)>>) -> BTreeMap<String, Value> {
    let mut merged = BTreeMap::new();
    for source in sources {
        for (key, value) in source {
            merged.insert(key.to_ascii_lowercase(), value);
        }
    }
    merged
}

fn get<'a>(fields: &'a BTreeMap<String, Value>, name: &str) -> Option<&'a Value> {
    fields
        .get(&name.to_ascii_lowercase())
        .filter(|v| !v.is_null())
}

fn invalid(field: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, "invalid", message)
}

fn parse_payment_id(value: Option<&Value>) -> Result<Uuid, FieldError> {
    match value {
        None => Err(FieldError::missing("paymentId")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(FieldError::missing("paymentId")),
        Some(Value::String(s)) => {
            let s = s.trim();
            let well_formed =
                (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())) || s.len() == 36;
            well_formed
                .then(|| Uuid::try_parse(s).ok())
                .flatten()
                .ok_or_else(|| {
                    invalid(
                        "paymentId",
                        "`paymentId` must be a GUID: 32 hex digits, or the dashed form",
                    )
                })
        }
        Some(_) => Err(FieldError::new(
            "paymentId",
            "invalid_type",
            "`paymentId` must be a string GUID",
        )),
    }
}

fn parse_payment_method(value: Option<&Value>) -> Result<Map<String, Value>, FieldError> {
    let not_object = || invalid("paymentMethod", "`paymentMethod` must be a JSON object");
    match value {
        None => Err(FieldError::missing("paymentMethod")),
        Some(Value::Object(map)) => Ok(map.clone()),
        // From the query string or a form, the object arrives as JSON text.
        Some(Value::String(s)) if s.trim().is_empty() => Err(FieldError::missing("paymentMethod")),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(not_object()),
        },
        Some(_) => Err(not_object()),
    }
}

fn parse_bool(field: &str, value: Option<&Value>) -> Result<Option<bool>, FieldError> {
    match value {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(_) => Err(invalid(field, format!("`{field}` must be true or false"))),
    }
}

/// Schemes a browser runs or reads locally rather than navigates to; never a return URL.
pub const REFUSED_RETURN_SCHEMES: [&str; 6] = [
    "javascript",
    "vbscript",
    "data",
    "file",
    "blob",
    "filesystem",
];

fn parse_return_url(value: Option<&Value>) -> Result<Option<String>, FieldError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() > 2048 => Err(FieldError::new(
            "returnUrl",
            "too_long",
            "`returnUrl` must be at most 2048 characters",
        )),
        Some(Value::String(s)) => {
            // Custom app schemes (myapp://done) are fine; it must still be absolute.
            let url = Url::parse(s)
                .map_err(|_| invalid("returnUrl", "`returnUrl` must be an absolute URL"))?;
            if url.cannot_be_a_base() && !s.contains(':') {
                return Err(invalid("returnUrl", "`returnUrl` must be an absolute URL"));
            }
            // The scheme as a browser reads it: the parser lower-cases it and drops the blanks
            // and tabs that `java\tscript:` hides behind.
            if REFUSED_RETURN_SCHEMES.contains(&url.scheme()) {
                return Err(invalid(
                    "returnUrl",
                    format!(
                        "`returnUrl` must not be a `{}:` URL; use https or an app scheme",
                        url.scheme()
                    ),
                ));
            }
            Ok(Some(s.clone()))
        }
        Some(_) => Err(FieldError::new(
            "returnUrl",
            "invalid_type",
            "`returnUrl` must be a string",
        )),
    }
}

fn parse_version(value: Option<&Value>) -> Result<Option<i64>, FieldError> {
    let bad = || invalid("version", "`version` must be a whole number");
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn take<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

impl ServiceStackPayment {
    pub fn parse(fields: &BTreeMap<String, Value>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let payment_id = take(&mut errors, parse_payment_id(get(fields, "paymentId")));
        let payment_method = take(
            &mut errors,
            parse_payment_method(get(fields, "paymentMethod")),
        );
        let client_type = match get(fields, "clientType") {
            None => take(&mut errors, Err(FieldError::missing("clientType"))),
            Some(v) => take(
                &mut errors,
                ClientType::parse(v).ok_or_else(|| {
                    invalid(
                        "clientType",
                        "`clientType` must be IOS, Android or Web (or 1, 2, 3)",
                    )
                }),
            ),
        };
        let store = take(
            &mut errors,
            parse_bool("storePaymentMethod", get(fields, "storePaymentMethod")),
        )
        .flatten();
        let return_url = take(&mut errors, parse_return_url(get(fields, "returnUrl"))).flatten();
        let version = take(&mut errors, parse_version(get(fields, "version"))).flatten();
        match (payment_id, payment_method, client_type) {
            (Some(payment_id), Some(payment_method), Some(client_type)) if errors.is_empty() => {
                Ok(Self {
                    payment_id,
                    payment_method,
                    client_type,
                    store_payment_method: store,
                    return_url,
                    version,
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }

    /// The dialect-neutral payment; every field travels to the backend.
    pub fn into_new_payment(self, tenant: &str) -> NewPayment {
        let subject = self.payment_id.hyphenated().to_string();
        let mut fields = Map::new();
        fields.insert("payment_id".into(), Value::String(subject.clone()));
        fields.insert("payment_method".into(), Value::Object(self.payment_method));
        fields.insert(
            "client_type".into(),
            Value::String(self.client_type.as_str().to_owned()),
        );
        if let Some(store) = self.store_payment_method {
            fields.insert("store_payment_method".into(), Value::Bool(store));
        }
        if let Some(url) = self.return_url {
            fields.insert("return_url".into(), Value::String(url));
        }
        if let Some(version) = self.version {
            fields.insert("version".into(), Value::from(version));
        }
        NewPayment {
            tenant: tenant.to_owned(),
            dialect: Dialect::ServiceStack,
            subject,
            account: None,
            fields,
            callback: None,
            owner: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GUID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

    fn source(v: Value) -> Vec<(String, Value)> {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => unreachable!(),
        }
    }

    fn parse(sources: Vec<Value>) -> Result<ServiceStackPayment, ApiError> {
        ServiceStackPayment::parse(&merge_sources(sources.into_iter().map(source).collect()))
    }

    fn fields_in_error(sources: Vec<Value>) -> Vec<(String, &'static str)> {
        parse(sources)
            .unwrap_err()
            .field_errors()
            .iter()
            .map(|e| (e.field.clone(), e.code))
            .collect()
    }

    #[test]
    fn names_match_case_insensitively_and_later_sources_win() {
        let p = parse(vec![
            json!({"PaymentId": "00000000-0000-4000-8000-000000000000", "clienttype": "web"}),
            json!({"paymentid": GUID, "PAYMENTMETHOD": {"type": "card", "token": "tok_1"}, "ClientType": "IOS"}),
        ])
        .unwrap();
        assert_eq!(p.payment_id.to_string(), GUID);
        assert_eq!(p.client_type, ClientType::Ios);
        assert_eq!(p.payment_method.get("token"), Some(&json!("tok_1")));
    }

    #[test]
    fn both_guid_forms_and_every_client_type_form() {
        for id in [
            GUID,
            "3F2504E04F8941D39A0C0305E82C3301",
            "3f2504e04f8941d39a0c0305e82c3301",
        ] {
            let p = parse(vec![
                json!({"paymentId": id, "paymentMethod": {}, "clientType": 1}),
            ])
            .unwrap();
            assert_eq!(p.payment_id.to_string(), GUID, "{id}");
        }
        let forms = [
            (json!("IOS"), ClientType::Ios),
            (json!("ios"), ClientType::Ios),
            (json!(1), ClientType::Ios),
            (json!("1"), ClientType::Ios),
            (json!("Android"), ClientType::Android),
            (json!("ANDROID"), ClientType::Android),
            (json!(2), ClientType::Android),
            (json!("web"), ClientType::Web),
            (json!("3"), ClientType::Web),
        ];
        for (form, expected) in forms {
            let p = parse(vec![
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": form.clone()}),
            ])
            .unwrap();
            assert_eq!(p.client_type, expected, "{form}");
        }
    }

    #[test]
    fn query_string_values_are_text() {
        let p = parse(vec![json!({
            "paymentId": GUID,
            "paymentMethod": "{\"type\":\"card\",\"nested\":{\"a\":1}}",
            "clientType": "2",
            "storePaymentMethod": "TRUE",
            "version": "3",
            "returnUrl": "myapp://payments/done?x=1"
        })])
        .unwrap();
        assert_eq!(p.store_payment_method, Some(true));
        assert_eq!(p.version, Some(3));
        assert_eq!(p.return_url.as_deref(), Some("myapp://payments/done?x=1"));
        assert!(p.payment_method.get("nested").is_some_and(Value::is_object));
        let new = p.into_new_payment("t");
        assert_eq!(new.subject, GUID);
        assert_eq!(new.fields.get("client_type"), Some(&json!("Android")));
        assert_eq!(
            new.fields.get("return_url"),
            Some(&json!("myapp://payments/done?x=1"))
        );
        assert_eq!(new.callback, None, "returnUrl is not a callback");
    }

    #[test]
    fn return_urls_that_would_run_script_or_read_local_data_are_refused() {
        let with = |url: &str| {
            parse(vec![
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": "web", "returnUrl": url}),
            ])
        };
        for bad in [
            "javascript:alert(document.cookie)",
            "JavaScript://%0aalert(1)",
            " \tjava\tscript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "blob:https://shop.example.com/0b2c",
            "filesystem:https://shop.example.com/temporary/x",
        ] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.status(), 400, "{bad:?}");
            let named: Vec<(&str, &str)> = err
                .field_errors()
                .iter()
                .map(|e| (e.field.as_str(), e.code))
                .collect();
            assert_eq!(named, [("returnUrl", "invalid")], "{bad:?}");
            assert!(
                err.field_errors()[0].message.contains("`returnUrl`"),
                "{bad:?}"
            );
        }
        for good in [
            "myapp://done",
            "myapp:done",
            "com.example.shop://payments/done?x=1",
            "https://shop.example.com/return",
            "http://localhost:3000/return",
            "javascriptapp://done",
        ] {
            assert_eq!(
                with(good).unwrap().return_url.as_deref(),
                Some(good),
                "{good:?}"
            );
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        type Case = (Value, Vec<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                json!({}),
                vec![
                    ("clientType", "missing"),
                    ("paymentId", "missing"),
                    ("paymentMethod", "missing"),
                ],
            ),
            (
                json!({"paymentId": "123", "paymentMethod": {}, "clientType": "web"}),
                vec![("paymentId", "invalid")],
            ),
            (
                json!({"paymentId": "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}", "paymentMethod": {}, "clientType": "web"}),
                vec![("paymentId", "invalid")],
            ),
            (
                json!({"paymentId": 7, "paymentMethod": {}, "clientType": "web"}),
                vec![("paymentId", "invalid_type")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": "card", "clientType": "web"}),
                vec![("paymentMethod", "invalid")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": [1], "clientType": "web"}),
                vec![("paymentMethod", "invalid")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": "windows"}),
                vec![("clientType", "invalid")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": 4}),
                vec![("clientType", "invalid")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": "web", "storePaymentMethod": "yes"}),
                vec![("storePaymentMethod", "invalid")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": "web", "storePaymentMethod": 1}),
                vec![("storePaymentMethod", "invalid")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": "web", "returnUrl": "/relative"}),
                vec![("returnUrl", "invalid")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": "web", "version": "1.5"}),
                vec![("version", "invalid")],
            ),
            (
                json!({"paymentId": GUID, "paymentMethod": {}, "clientType": "web", "version": true}),
                vec![("version", "invalid")],
            ),
        ];
        for (body, expected) in cases {
            let mut got = fields_in_error(vec![body.clone()]);
            got.sort();
            let expected: Vec<(String, &str)> = expected
                .into_iter()
                .map(|(f, c)| (f.to_owned(), c))
                .collect();
            assert_eq!(got, expected, "{body}");
        }
    }
}
