//! Per-tenant rate limits: which budget a call spends, the tier a tenant is on, the binding that counts it, and the keys.
//!
//! Cloudflare's rate limiting binding has one fixed limit and period, so a tier is a pair of
//! bindings in `wrangler.toml` (one for payments, one for status reads), named
//! `RATE_LIMIT_<TIER>_PAYMENTS` and `RATE_LIMIT_<TIER>_READS`. A tenant's tier is set in
//! `TENANTS` (`"rate_tier"`); the default is `standard`. Every call is counted against its
//! tenant; a client token's call is also counted against its own subject, so one app install in
//! a retry loop is stopped before it spends its tenant's budget.

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

/// The binding that counts `budget` for `tier`; `None` for an unmetered tier.
pub fn binding(tier: &str, budget: Budget) -> Option<String> {
    (tier != UNMETERED).then(|| {
        format!(
            "RATE_LIMIT_{}_{}",
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

/// What one call spends on `tier`, in order: its tenant, and a client token's subject.
pub fn counts(tier: &str, budget: Budget, tenant: &str, token_subject: Option<&str>) -> Vec<Count> {
    let Some(binding) = binding(tier, budget) else {
        return Vec::new();
    };
    let mut counts = vec![Count {
        binding: binding.clone(),
        key: format!("tenant:{tenant}"),
    }];
    if let Some(subject) = token_subject {
        counts.push(Count {
            binding,
            key: format!("subject:{tenant}/{subject}"),
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
}
