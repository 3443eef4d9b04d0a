//! Request bodies as field maps: content-type negotiation, the 64 KiB limit, JSON and form decoding.

use std::collections::{BTreeMap, BTreeSet};

use percent_encoding::percent_decode;
use serde_json::Value;

use crate::http::api_error::{ApiError, FieldError};

/// Largest body any route reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Form,
}

/// Picks the decoder from `Content-Type`. A missing type is accepted only for an empty body.
pub fn body_format(
    content_type: Option<&str>,
    body_is_empty: bool,
) -> Result<Option<BodyFormat>, ApiError> {
    let essence = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|ct| !ct.is_empty());
    match essence.as_deref() {
        None if body_is_empty => Ok(None),
        None => Err(ApiError::UnsupportedMediaType {
            detail: "send the body as application/json or application/x-www-form-urlencoded".to_owned(),
        }),
        Some("application/json") => Ok(Some(BodyFormat::Json)),
        Some(ct) if ct.starts_with("application/") && ct.ends_with("+json") => Ok(Some(BodyFormat::Json)),
        Some("application/x-www-form-urlencoded") => Ok(Some(BodyFormat::Form)),
        Some(other) => Err(ApiError::UnsupportedMediaType {
            detail: format!("`{other}` is not supported; send application/json or application/x-www-form-urlencoded"),
        }),
    }
}

/// For the ServiceStack routes: a body that starts like JSON (`{` or `[` after blanks) is JSON
/// whatever `Content-Type` says, as ServiceStack reads it (`JsonApiClient` sends JSON as
/// `text/plain`). Any other body is decoded by its `Content-Type`, as [`body_format`] does.
pub fn sniffed_body_format(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Option<BodyFormat>, ApiError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => Ok(Some(BodyFormat::Json)),
        _ => body_format(content_type, body.is_empty()),
    }
}

/// Refuses bodies over the limit, by declared `Content-Length` (before reading) or actual size.
pub fn check_size(len: usize) -> Result<(), ApiError> {
    if len > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        });
    }
    Ok(())
}

fn body_error(message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError::new("body", "malformed", message)])
}

/// A name given twice is ambiguous in either body format, so it is refused, naming it.
fn duplicate_error(name: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(
        name,
        "duplicate",
        format!("`{name}` is given more than once"),
    )])
}

/// A JSON body's top-level object, remembering the first member name given twice (plain
/// `serde_json::Value` would keep the last one silently).
struct TopLevelObject {
    fields: BTreeMap<String, Value>,
    duplicate: Option<String>,
}

impl<'de> serde::Deserialize<'de> for TopLevelObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = TopLevelObject;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TopLevelObject, A::Error> {
                let mut object = TopLevelObject {
                    fields: BTreeMap::new(),
                    duplicate: None,
                };
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    if object.fields.contains_key(&name) && object.duplicate.is_none() {
                        object.duplicate = Some(name.clone());
                    }
                    object.fields.insert(name, value);
                }
                Ok(object)
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// The first top-level member name given twice in a JSON object text, if any (for JWT claims,
/// which must be as unambiguous as a body); an error when the text is not a JSON object.
pub fn json_object_duplicate(text: &str) -> Result<Option<String>, serde_json::Error> {
    serde_json::from_str::<TopLevelObject>(text).map(|o| o.duplicate)
}

/// Decodes a body into top-level fields. Form values become JSON strings.
pub fn parse_fields(
    format: Option<BodyFormat>,
    body: &[u8],
) -> Result<BTreeMap<String, Value>, ApiError> {
    match format {
        None => Ok(BTreeMap::new()),
        Some(BodyFormat::Json) => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(BTreeMap::new());
            }
            let text =
                std::str::from_utf8(body).map_err(|_| body_error("the body is not valid UTF-8"))?;
            match serde_json::from_str::<TopLevelObject>(text) {
                Ok(TopLevelObject {
                    duplicate: Some(name),
                    ..
                }) => Err(duplicate_error(&name)),
                Ok(object) => Ok(object.fields),
                Err(e) if e.is_data() => Err(body_error("the JSON body must be an object")),
                Err(e) => Err(body_error(format!(
                    "the body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ))),
            }
        }
        Some(BodyFormat::Form) => parse_form(body).map(|pairs| {
            // Duplicates were refused in parse_form, so collecting loses nothing.
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        }),
    }
}

/// `application/x-www-form-urlencoded` pairs, strictly: bad UTF-8 and repeated names are errors.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    parse_form_keyed(body, str::to_owned)
}

/// [`parse_form`], finding repeated names through `key(name)` (the name itself; the tests
/// count its comparisons). The names seen so far are a sorted set, so a body of n pairs takes
/// about n·log n comparisons, however its names are chosen (a hash set with the fixed keys of
/// a wasm isolate could be made to collide).
fn parse_form_keyed<K: Ord>(
    body: &[u8],
    key: impl Fn(&str) -> K,
) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |part: &[u8]| -> Result<String, ApiError> {
        let plus_as_space: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_decode(&plus_as_space)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| body_error("the form body is not valid UTF-8 once decoded"))
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen: BTreeSet<K> = BTreeSet::new();
    for part in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let mut halves = part.splitn(2, |&b| b == b'=');
        let (name, value) = (
            halves.next().unwrap_or_default(),
            halves.next().unwrap_or_default(),
        );
        let name = decode(name)?;
        let value = decode(value)?;
        if !seen.insert(key(&name)) {
            return Err(duplicate_error(&name));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Reads an optional string field; any other JSON type is an error naming the field.
pub fn optional_string<'a>(
    fields: &'a BTreeMap<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, FieldError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(FieldError::new(
            name,
            "invalid_type",
            format!("`{name}` must be a string"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    #[test]
    fn json_is_sniffed_whatever_the_content_type() {
        for ct in [
            Some("text/plain;charset=UTF-8"),
            None,
            Some("application/octet-stream"),
        ] {
            assert_eq!(
                sniffed_body_format(ct, b"  {\"paymentId\":1}"),
                Ok(Some(BodyFormat::Json)),
                "{ct:?}"
            );
        }
        assert_eq!(
            sniffed_body_format(None, b"[1]"),
            Ok(Some(BodyFormat::Json))
        );
        assert_eq!(
            sniffed_body_format(Some("application/x-www-form-urlencoded"), b"a=1"),
            Ok(Some(BodyFormat::Form))
        );
        assert_eq!(sniffed_body_format(None, b""), Ok(None));
        assert_eq!(
            sniffed_body_format(Some("text/plain"), b"hello")
                .unwrap_err()
                .status(),
            415
        );
    }

    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            body_format(Some("application/json; charset=utf-8"), false),
            Ok(Some(BodyFormat::Json))
        );
        assert_eq!(
            body_format(Some("Application/JSON"), false),
            Ok(Some(BodyFormat::Json))
        );
        assert_eq!(
            body_format(Some("application/merge-patch+json"), false),
            Ok(Some(BodyFormat::Json))
        );
        assert_eq!(
            body_format(Some("application/x-www-form-urlencoded"), false),
            Ok(Some(BodyFormat::Form))
        );
        assert_eq!(body_format(None, true), Ok(None));
        for ct in [
            None,
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
            Some("application/xml"),
        ] {
            assert_eq!(body_format(ct, false).unwrap_err().status(), 415, "{ct:?}");
        }
    }

    #[test]
    fn size_limit() {
        assert!(check_size(MAX_BODY_BYTES).is_ok());
        assert_eq!(check_size(MAX_BODY_BYTES + 1).unwrap_err().status(), 413);
    }

    #[test]
    fn json_bodies() {
        let f = parse_fields(Some(BodyFormat::Json), br#"{"a": 1, "b": "x"}"#).unwrap();
        assert_eq!(f.len(), 2);
        assert!(parse_fields(Some(BodyFormat::Json), b"  ")
            .unwrap()
            .is_empty());
        for bad in [&b"[1]"[..], b"{", b"\"x\"", b"{\"a\": \xff}"] {
            let err = parse_fields(Some(BodyFormat::Json), bad).unwrap_err();
            assert_eq!(err.field_errors()[0].field, "body", "{bad:?}");
        }
        let not_object = parse_fields(Some(BodyFormat::Json), b"[1]").unwrap_err();
        assert!(not_object.field_errors()[0].message.contains("object"));
        let syntax = parse_fields(Some(BodyFormat::Json), b"{\"a\" 1}").unwrap_err();
        assert!(syntax.field_errors()[0]
            .message
            .contains("line 1, column 6"));
        // A nested object may repeat names of the top level; only the top level is fields.
        let nested = parse_fields(Some(BodyFormat::Json), br#"{"a": {"a": 1}, "b": 2}"#).unwrap();
        assert_eq!(nested.len(), 2);
    }

    #[test]
    fn a_json_name_given_twice_is_refused_naming_it() {
        let err = parse_fields(
            Some(BodyFormat::Json),
            br#"{"account_id": "a", "wait": 1, "account_id": "b"}"#,
        )
        .unwrap_err();
        let field = &err.field_errors()[0];
        assert_eq!(
            (field.field.as_str(), field.code),
            ("account_id", "duplicate")
        );
    }

    #[test]
    fn form_bodies() {
        let f = parse_fields(Some(BodyFormat::Form), b"a=1&b=x+y%21&c").unwrap();
        assert_eq!(f.get("b"), Some(&Value::String("x y!".into())));
        assert_eq!(f.get("c"), Some(&Value::String(String::new())));
        let dup = parse_fields(Some(BodyFormat::Form), b"a=1&a=2").unwrap_err();
        assert_eq!(dup.field_errors()[0].code, "duplicate");
        let bad = parse_fields(Some(BodyFormat::Form), b"a=%ff").unwrap_err();
        assert_eq!(bad.field_errors()[0].field, "body");
    }

    /// A form name whose every comparison is counted.
    struct Counted<'c> {
        name: String,
        comparisons: &'c Cell<usize>,
    }

    impl PartialEq for Counted<'_> {
        fn eq(&self, other: &Self) -> bool {
            self.comparisons.set(self.comparisons.get() + 1);
            self.name == other.name
        }
    }

    impl Eq for Counted<'_> {}

    impl PartialOrd for Counted<'_> {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }

    impl Ord for Counted<'_> {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.comparisons.set(self.comparisons.get() + 1);
            self.name.cmp(&other.name)
        }
    }

    /// A form body of `n` distinct short pairs (`0=1&1=1&…`, names in hex), and how many name
    /// comparisons decoding it takes.
    fn comparisons_for(n: usize) -> (usize, usize) {
        let body: Vec<u8> = (0..n)
            .map(|i| format!("{i:x}=1"))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes();
        let comparisons = Cell::new(0);
        let pairs = parse_form_keyed(&body, |name| Counted {
            name: name.to_owned(),
            comparisons: &comparisons,
        })
        .unwrap();
        assert_eq!(pairs.len(), n);
        (body.len(), comparisons.get())
    }

    #[test]
    fn a_large_form_body_takes_a_near_linear_number_of_name_comparisons() {
        let (size, at_n) = comparisons_for(8_000);
        assert!(
            (48 * 1024..=MAX_BODY_BYTES).contains(&size),
            "a body near the limit: {size} bytes"
        );
        let (_, at_half) = comparisons_for(4_000);
        // Every name after the first is compared at least once: the counter sees the check.
        assert!(at_half >= 4_000 - 1, "{at_half} comparisons");
        // A scan of the names seen so far takes n²/2 (32 million for 8,000 pairs) and doubles
        // twice over from n/2 to n; a sorted set takes about n·log n.
        assert!(at_n <= 64 * 8_000, "{at_n} comparisons for 8,000 pairs");
        assert!(
            at_n * 2 < at_half * 5,
            "{at_half} comparisons for 4,000 pairs, {at_n} for 8,000: not near-linear"
        );
    }
}
