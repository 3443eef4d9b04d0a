//! A validated payment in dialect-neutral form: what every front door hands to the engine.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which API dialect accepted the payment; responses are rendered in the same dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Zai,
    ServiceStack,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Zai => "zai",
            Dialect::ServiceStack => "service_stack",
        }
    }

    /// What the 409 rule locks: Zai items, ServiceStack payment ids.
    pub fn subject_kind(self) -> &'static str {
        match self {
            Dialect::Zai => "item",
            Dialect::ServiceStack => "payment",
        }
    }
}

/// A payment that passed validation. Nothing is stored before one of these exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewPayment {
    pub tenant: String,
    pub dialect: Dialect,
    /// The item id (Zai) or payment id (ServiceStack): at most one in flight per tenant.
    pub subject: String,
    /// The paying account, for the `{account}` callback placeholder.
    #[serde(default)]
    pub account: Option<String>,
    /// Every validated field, as sent to the backend.
    pub fields: Map<String, Value>,
    /// The decoded callback template, if the client gave one.
    #[serde(default)]
    pub callback: Option<String>,
    /// The client token's principal that made it; `None` for a server credential. Only that
    /// principal can read it with a client token.
    #[serde(default)]
    pub owner: Option<String>,
}

impl NewPayment {
    /// The same payment, made by a client token's principal (`None`: by a server credential).
    pub fn owned_by(mut self, owner: Option<&str>) -> Self {
        self.owner = owner.map(str::to_owned);
        self
    }

    /// The name of this subject's item lock, which serialises its payments: the key of its open
    /// row in its lane (and of its lock in the old shards during the upgrade window).
    pub fn lock_name(&self) -> String {
        format!(
            "{}/{}/{}",
            self.tenant,
            self.dialect.subject_kind(),
            self.subject
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_separate_tenants_and_dialects() {
        let p = NewPayment {
            tenant: "t1".into(),
            dialect: Dialect::Zai,
            subject: "order-1".into(),
            account: None,
            fields: Map::new(),
            callback: None,
            owner: None,
        };
        let mut other_tenant = p.clone();
        other_tenant.tenant = "t2".into();
        let mut other_dialect = p.clone();
        other_dialect.dialect = Dialect::ServiceStack;
        assert_eq!(p.lock_name(), "t1/item/order-1");
        assert_ne!(p.lock_name(), other_tenant.lock_name());
        assert_ne!(p.lock_name(), other_dialect.lock_name());
    }
}
