//! Identifier newtypes that can only be built by parsing: item ids, account ids, request ids, tenants.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::http::api_error::FieldError;

/// A Zai item id from the path: 1–128 characters of `[A-Za-z0-9._~-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemId(String);

impl ItemId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() {
            return Err(FieldError::missing("item"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                "item",
                "too_long",
                format!("`item` must be at most {} characters", Self::MAX_LEN),
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-');
        if !raw.chars().all(allowed) || raw == "." || raw == ".." {
            return Err(FieldError::new(
                "item",
                "invalid",
                "`item` may only contain A-Z, a-z, 0-9, '.', '_', '~' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a UUID given as a string field, in hyphenated, simple, braced or URN form.
pub fn parse_uuid_field(field: &str, raw: &str) -> Result<Uuid, FieldError> {
    if raw.is_empty() {
        return Err(FieldError::missing(field));
    }
    Uuid::try_parse(raw.trim()).map_err(|_| {
        FieldError::new(
            field,
            "invalid",
            format!("`{field}` must be a UUID, e.g. 0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f"),
        )
    })
}

/// The paying account (bank or card account) of a Zai payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountId(Uuid);

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        parse_uuid_field("account_id", raw).map(Self)
    }

    pub fn uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

/// The id edgepay gives each accepted payment request: a UUID v4, shown as 32 lowercase hex
/// digits. Past the parsing boundary (a path, a stored record, an object command) every request
/// id is one of these, never a bare string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id whose first three bytes are `prefix` (a payment lane, `payment::lane`) and
    /// whose other 98 random bits come from the platform CSPRNG (WebCrypto in the Worker). It
    /// is still a v4 UUID: the version and variant bits are not in the prefix.
    pub fn generate_with_prefix(prefix: [u8; 3]) -> Self {
        let mut bytes = Uuid::new_v4().into_bytes();
        for (byte, fixed) in bytes.iter_mut().zip(prefix) {
            *byte = fixed;
        }
        Self(Uuid::from_bytes(bytes).simple().to_string())
    }

    /// Accepts exactly the form edgepay hands out: 32 hex digits of a v4 UUID.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() != 32 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let uuid = Uuid::try_parse(raw).ok()?;
        (uuid.get_version_num() == 4).then(|| Self(uuid.simple().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| D::Error::custom("not an edgepay request id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids() {
        assert!(ItemId::parse("order-42.a_b~c").is_ok());
        assert!(ItemId::parse(&"a".repeat(128)).is_ok());
        for (raw, code) in [
            ("", "missing"),
            ("a/b", "invalid"),
            ("a b", "invalid"),
            ("é", "invalid"),
            ("..", "invalid"),
            ("%41", "invalid"),
        ] {
            assert_eq!(ItemId::parse(raw).unwrap_err().code, code, "{raw:?}");
        }
        assert_eq!(
            ItemId::parse(&"a".repeat(129)).unwrap_err().code,
            "too_long"
        );
    }

    #[test]
    fn account_ids_accept_uuid_forms_only() {
        assert!(AccountId::parse("0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f").is_ok());
        assert!(AccountId::parse("0b0e3f6e5b8a4c1e9d2f3a4b5c6d7e8f").is_ok());
        let err = AccountId::parse("not-a-uuid").unwrap_err();
        assert_eq!((err.field.as_str(), err.code), ("account_id", "invalid"));
        assert_eq!(AccountId::parse("").unwrap_err().code, "missing");
    }

    #[test]
    fn request_ids_round_trip_in_simple_form() {
        let id = RequestId::generate_with_prefix([0, 1, 2]);
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(RequestId::parse(&text), Some(id.clone()));
        assert_eq!(RequestId::parse(&text.to_uppercase()), Some(id));
        // Hyphenated, wrong length, non-hex and non-v4 forms are refused.
        assert_eq!(
            RequestId::parse("0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f"),
            None
        );
        assert_eq!(RequestId::parse("zz0e3f6e5b8a4c1e9d2f3a4b5c6d7e8f"), None);
        assert_eq!(RequestId::parse("0b0e3f6e5b8a1c1e9d2f3a4b5c6d7e8f"), None);
        assert_eq!(RequestId::parse(""), None);
    }

    #[test]
    fn prefixed_request_ids_keep_the_prefix_and_stay_v4() {
        let a = RequestId::generate_with_prefix([0xab, 0x01, 0x3f]);
        let b = RequestId::generate_with_prefix([0xab, 0x01, 0x3f]);
        assert!(a.as_str().starts_with("ab013f"), "{a}");
        assert_ne!(a, b, "the rest is random");
        assert_eq!(RequestId::parse(a.as_str()), Some(a.clone()));
    }
}
