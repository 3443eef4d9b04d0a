//! Per-tenant and per-subject rate limits: which budget a call spends, the tier a tenant is on, the bindings that count it, and the keys.
//!
//! Cloudflare's rate limiting binding has one fixed limit and period, so a tier is a set of
//! bindings in `wrangler.toml`: its tenants' payments and status reads
//! (`RATE_LIMIT_<TIER>_PAYMENTS`, `RATE_LIMIT_<TIER>_READS`), and the smaller budgets of one
//! client token's subject (`RATE_LIMIT_<TIER>_SUBJECT_PAYMENTS`, `..._SUBJECT_READS`). A
//! tenant's tier is set in `TENANTS` (`"rate_tier"`); the default is `standard`. Every call is
//! counted against its tenant. A client token's call is first counted against its own subject,
//! on the subject's binding, and a subject over its limit is refused before its tenant's budget
//! is spent: one app install in a retry loop is stopped at its own limit and leaves its
//! tenant's budget to everyone else.

/// The tiers `wrangler.toml` declares bindings for; `unmetered` has none and is never counted
/// (internal tenants, load tests).
pub const TIERS: [&str; 4] = ["standard", "high", "trial", "unmetered"];
pub const DEFAULT_TIER: &str = "standard";
const UNMETERED: &str = "unmetered";

/// The bindings' period (`simple = { period = 60 }` in `wrangler.toml`): how long a refused
/// caller is told to wait.
pub const PERIOD_SECS: u64 = 60;

/// What a call spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Making payments, minting tokens, replaying callbacks: the calls that start work.
    Payments,
    /// The status link and the delivery log, with their own, larger limit, so a client that
    /// polls is not starved by its own payments.
    Reads,
}

impl Budget {
    fn suffix(self) -> &'static str {
        match self {
            Budget::Payments => "PAYMENTS",
            Budget::Reads => "READS",
        }
    }
}

/// Whether `tier` is one `wrangler.toml` knows.
pub fn is_tier(tier: &str) -> bool {
    TIERS.contains(&tier)
}

/// The binding that counts `budget` for `tier`'s tenants; `None` for an unmetered tier.
pub fn binding(tier: &str, budget: Budget) -> Option<String> {
    (tier != UNMETERED).then(|| {
        format!(
            "RATE_LIMIT_{}_{}",
            tier.to_ascii_uppercase(),
            budget.suffix()
        )
    })
}

/// The binding that counts `budget` for one client token's subject on `tier`: its own, smaller
/// limit; `None` for an unmetered tier.
pub fn subject_binding(tier: &str, budget: Budget) -> Option<String> {
    (tier != UNMETERED).then(|| {
        format!(
            "RATE_LIMIT_{}_SUBJECT_{}",
            tier.to_ascii_uppercase(),
            budget.suffix()
        )
    })
}

/// One count a call makes: the binding that counts it and the key it is counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub binding: String,
    pub key: String,
}

/// What one call spends on `tier`, in the order it must be spent: a client token's subject
/// first, on the subject's own binding, then its tenant. The caller stops at the first count
/// refused, so a subject over its limit spends none of its tenant's budget.
pub fn counts(tier: &str, budget: Budget, tenant: &str, token_subject: Option<&str>) -> Vec<Count> {
    let mut counts = Vec::new();
    if let (Some(subject), Some(binding)) = (token_subject, subject_binding(tier, budget)) {
        counts.push(Count {
            binding,
            key: format!("subject:{tenant}/{subject}"),
        });
    }
    if let Some(binding) = binding(tier, budget) {
        counts.push(Count {
            binding,
            key: format!("tenant:{tenant}"),
        });
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tier_and_budget_has_its_binding_and_unmetered_has_none() {
        assert_eq!(
            binding("standard", Budget::Payments).as_deref(),
            Some("RATE_LIMIT_STANDARD_PAYMENTS")
        );
        assert_eq!(
            binding("trial", Budget::Reads).as_deref(),
            Some("RATE_LIMIT_TRIAL_READS")
        );
        assert_eq!(binding("unmetered", Budget::Payments), None);
        assert!(is_tier(DEFAULT_TIER) && !is_tier("gold"));
    }

    fn count(binding: &str, key: &str) -> Count {
        Count {
            binding: binding.to_owned(),
            key: key.to_owned(),
        }
    }

    #[test]
    fn a_tokens_subject_is_counted_first_on_its_own_binding_then_its_tenant() {
        assert_eq!(
            counts("trial", Budget::Payments, "shop", Some("app-user-7")),
            [
                count(
                    "RATE_LIMIT_TRIAL_SUBJECT_PAYMENTS",
                    "subject:shop/app-user-7"
                ),
                count("RATE_LIMIT_TRIAL_PAYMENTS", "tenant:shop"),
            ]
        );
        assert_eq!(
            counts("standard", Budget::Reads, "shop", Some("app-user-7")),
            [
                count(
                    "RATE_LIMIT_STANDARD_SUBJECT_READS",
                    "subject:shop/app-user-7"
                ),
                count("RATE_LIMIT_STANDARD_READS", "tenant:shop"),
            ]
        );
    }

    #[test]
    fn a_server_credential_is_counted_against_its_tenant_only_and_unmetered_never() {
        assert_eq!(
            counts("high", Budget::Payments, "shop", None),
            [count("RATE_LIMIT_HIGH_PAYMENTS", "tenant:shop")]
        );
        assert_eq!(
            counts("unmetered", Budget::Payments, "shop", Some("app-user-7")),
            []
        );
        assert_eq!(subject_binding("unmetered", Budget::Reads), None);
    }
}
