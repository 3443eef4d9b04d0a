//! Per-tenant settings from the `TENANTS` secret: the browser origins a tenant allows, its client-token issuers, its rate-limit tier and where its objects are placed.
//!
//! `[{"tenant", "allowed_origins": [...], "client_tokens": {"mint_secret", "max_lifetime_secs",
//! "issuers": [...]}, "rate_tier", "location_hint"}]`; every part is optional, and a tenant
//! that is not listed allows no origin and no client token, and has no location hint. Errors
//! name the entry, never a secret.

use serde::Deserialize;
use url::Url;

use crate::auth::client_token::{IssuerConfig, TokenAuthority, DEFAULT_MAX_LIFETIME_SECS};
use crate::http::rate_limit::{self, DEFAULT_TIER};
use crate::objects::placement::Placements;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantConfig {
    tenant: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    client_tokens: Option<ClientTokensConfig>,
    /// The rate-limit tier (`http::rate_limit::TIERS`); `standard` when absent.
    #[serde(default)]
    rate_tier: Option<String>,
    /// The region its lanes and other objects are created in (`objects::placement`).
    #[serde(default)]
    location_hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientTokensConfig {
    /// edgepay's own HS256 key for `POST /client-tokens`, at least 32 bytes.
    #[serde(default)]
    mint_secret: Option<String>,
    /// The cap on a minted token's lifetime (and the default for issuers).
    #[serde(default)]
    max_lifetime_secs: Option<u64>,
    #[serde(default)]
    issuers: Vec<IssuerConfig>,
}

/// A browser origin as browsers send it: `scheme://host[:port]`, lower case, no path.
pub fn normalize_origin(raw: &str) -> Option<String> {
    let url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// The allowed origins and the rate-limit tier of one tenant.
#[derive(Debug, Clone)]
struct TenantOrigins {
    tenant: String,
    origins: Vec<String>,
    rate_tier: String,
}

/// Every tenant's settings.
#[derive(Debug, Clone, Default)]
pub struct Tenants {
    origins: Vec<TenantOrigins>,
    pub tokens: TokenAuthority,
    pub placements: Placements,
}

impl Tenants {
    /// Parses `TENANTS`; absent or empty means no CORS and no client tokens.
    pub fn from_json(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Self::default());
        };
        let configs: Vec<TenantConfig> = serde_json::from_str(raw).map_err(|e| {
            format!(
                "TENANTS is not a valid tenant list (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let mut origins = Vec::new();
        let mut issuers = Vec::new();
        let mut minters = Vec::new();
        let mut placements = Placements::default();
        for (i, c) in configs.into_iter().enumerate() {
            if origins.iter().any(|o: &TenantOrigins| o.tenant == c.tenant) {
                return Err(format!("TENANTS[{i}]: tenant {} is listed twice", c.tenant));
            }
            let mut allowed = Vec::new();
            for (j, raw) in c.allowed_origins.iter().enumerate() {
                let origin = normalize_origin(raw).ok_or_else(|| {
                    format!("TENANTS[{i}].allowed_origins[{j}] must be an origin like https://shop.example.com (no *, no path)")
                })?;
                allowed.push(origin);
            }
            if let Some(tokens) = c.client_tokens {
                let cap = tokens
                    .max_lifetime_secs
                    .unwrap_or(DEFAULT_MAX_LIFETIME_SECS);
                if cap == 0 || cap > 24 * 3600 {
                    return Err(format!(
                        "TENANTS[{i}].client_tokens.max_lifetime_secs must be 1 to 86400"
                    ));
                }
                if let Some(secret) = tokens.mint_secret {
                    minters.push(
                        TokenAuthority::minter(&c.tenant, &secret, cap)
                            .map_err(|e| format!("TENANTS[{i}].client_tokens: {e}"))?,
                    );
                    issuers.push(
                        TokenAuthority::minted_issuer_for(&c.tenant, &secret, cap)
                            .map_err(|e| format!("TENANTS[{i}].client_tokens: {e}"))?,
                    );
                }
                for (j, issuer) in tokens.issuers.into_iter().enumerate() {
                    let issuer = issuer
                        .build(&c.tenant)
                        .map_err(|e| format!("TENANTS[{i}].client_tokens.issuers[{j}]: {e}"))?;
                    issuers.push(issuer);
                }
            }
            let rate_tier = c.rate_tier.unwrap_or_else(|| DEFAULT_TIER.to_owned());
            if !rate_limit::is_tier(&rate_tier) {
                return Err(format!(
                    "TENANTS[{i}].rate_tier must be one of {}",
                    rate_limit::TIERS.join(", ")
                ));
            }
            if let Some(hint) = &c.location_hint {
                placements
                    .add(&c.tenant, hint)
                    .map_err(|e| format!("TENANTS[{i}].{e}"))?;
            }
            origins.push(TenantOrigins {
                tenant: c.tenant,
                origins: allowed,
                rate_tier,
            });
        }
        Ok(Self {
            origins,
            tokens: TokenAuthority::new(issuers, minters),
            placements,
        })
    }

    /// Whether `tenant` allows pages on `origin` (already normalized) to call it.
    pub fn allows(&self, tenant: &str, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|t| t.tenant == tenant && t.origins.iter().any(|o| o == origin))
    }

    /// The tenant's rate-limit tier (`standard` for a tenant not listed).
    pub fn rate_tier(&self, tenant: &str) -> &str {
        self.origins
            .iter()
            .find(|t| t.tenant == tenant)
            .map_or(DEFAULT_TIER, |t| t.rate_tier.as_str())
    }

    /// Whether any tenant allows `origin`: the answer to a preflight, which has no credentials.
    pub fn any_allows(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|t| t.origins.iter().any(|o| o == origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_per_tenant_and_normalized() {
        let t = Tenants::from_json(Some(
            r#"[{"tenant": "a", "allowed_origins": ["https://Shop.Example.com", "http://127.0.0.1:8788/"]},
                {"tenant": "b", "allowed_origins": ["https://b.example"]}]"#,
        ))
        .unwrap();
        assert!(t.allows("a", "https://shop.example.com"));
        assert!(t.allows("a", "http://127.0.0.1:8788"));
        assert!(!t.allows("a", "https://b.example"));
        assert!(t.any_allows("https://b.example"));
        assert!(!t.any_allows("https://evil.example"));
        assert!(!t.allows("c", "https://b.example"));
        assert_eq!(t.rate_tier("a"), "standard");
    }

    #[test]
    fn a_tenant_may_be_on_another_rate_tier() {
        let t = Tenants::from_json(Some(r#"[{"tenant": "a", "rate_tier": "trial"}]"#)).unwrap();
        assert_eq!(t.rate_tier("a"), "trial");
        assert_eq!(t.rate_tier("unlisted"), "standard");
    }

    #[test]
    fn a_tenant_may_ask_where_its_objects_live() {
        let t = Tenants::from_json(Some(
            r#"[{"tenant": "a", "location_hint": "apac"}, {"tenant": "b"}]"#,
        ))
        .unwrap();
        assert_eq!(t.placements.hint_for_object("a/locks/01"), Some("apac"));
        assert_eq!(t.placements.hint_for_object("b/locks/01"), None);
    }

    #[test]
    fn bad_entries_name_themselves() {
        for (raw, needle) in [
            (
                r#"[{"tenant": "a", "allowed_origins": ["*"]}]"#,
                "allowed_origins[0]",
            ),
            (
                r#"[{"tenant": "a", "allowed_origins": ["https://x.example/path"]}]"#,
                "allowed_origins[0]",
            ),
            (r#"[{"tenant": "a"}, {"tenant": "a"}]"#, "listed twice"),
            (
                r#"[{"tenant": "a", "rate_tier": "gold"}]"#,
                "TENANTS[0].rate_tier",
            ),
            (
                r#"[{"tenant": "a", "client_tokens": {"mint_secret": "short"}}]"#,
                "TENANTS[0].client_tokens",
            ),
            (
                r#"[{"tenant": "a", "client_tokens": {"issuers": [{"iss": "x", "alg": "HS256", "secret": "tiny"}]}}]"#,
                "issuers[0]",
            ),
            (
                r#"[{"tenant": "a", "location_hint": "mars"}]"#,
                "TENANTS[0].location_hint must be one of",
            ),
            (
                r#"[{"tenant": "a", "colour": "blue"}]"#,
                "TENANTS is not a valid",
            ),
        ] {
            let err = Tenants::from_json(Some(raw)).unwrap_err();
            assert!(err.contains(needle), "{raw}: {err}");
            assert!(!err.contains("short") && !err.contains("tiny"), "{err}");
        }
        assert!(Tenants::from_json(None).unwrap().tokens.is_empty());
        assert_eq!(normalize_origin("null"), None);
        assert_eq!(normalize_origin("file:///x"), None);
    }
}
