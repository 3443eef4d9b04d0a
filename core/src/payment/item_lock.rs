//! The item lock of before lanes: where each lock lived (a tenant's shard) and when a holder that no longer needs it is replaced. New payments keep their lock in their lane (`payment::lane`); these rules serve only the upgrade window (`LEGACY_ITEM_LOCKS_UNTIL`).
//!
//! A tenant's locks were spread over `LOCK_SHARDS` objects, each holding the locks of many
//! subjects. The holder is released by its own request when that turns terminal. A holder
//! whose request was never created (the edge failed between acquiring and creating), or whose
//! release was lost, is healed on the next conflict: the lock asks the holder's request how it
//! stands and decides here.

use serde::{Deserialize, Serialize};

use crate::fnv::fnv1a;

/// How many lock objects hold one tenant's item locks. Fixed for good: a subject must always
/// find its lock in the same object, or a second payment could pass a held lock.
pub const LOCK_SHARDS: u64 = 64;

/// The object holding the lock named `lock_name` (`NewPayment::lock_name`, which starts with
/// the tenant): one of the tenant's shards. Until this release each lock was its own object,
/// named `lock_name` itself; `/locks/` never occurs in such a name, so the two never meet.
pub fn shard_object(tenant: &str, lock_name: &str) -> String {
    let shard = fnv1a(lock_name.bytes()) % LOCK_SHARDS;
    format!("{tenant}/locks/{shard:02}")
}

/// How long a holder with no stored request keeps the lock: covers the edge's create call.
pub const UNCREATED_HOLDER_GRACE_MS: u64 = 60_000;

/// The lock's one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub request_id: String,
    pub acquired_ms: u64,
}

/// How the holder's request stands, as it answers a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderProbe {
    pub exists: bool,
    pub terminal: bool,
}

/// What an acquire by `request_id` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// Free, or already held by this request: it holds the lock.
    Granted,
    /// Held by another request, which must be probed before the caller gets a `409`.
    ProbeHolder(Holder),
}

pub fn acquire(current: Option<&Holder>, request_id: &str) -> Acquire {
    match current {
        Some(holder) if holder.request_id != request_id => Acquire::ProbeHolder(holder.clone()),
        _ => Acquire::Granted,
    }
}

/// Whether the holder no longer needs the lock: its request is terminal, or it was never created
/// and the grace for creating it has passed. A probe that failed (`None`) keeps the holder.
pub fn holder_is_stale(holder: &Holder, probe: Option<HolderProbe>, now_ms: u64) -> bool {
    match probe {
        Some(p) if p.terminal => true,
        Some(p) if !p.exists => {
            now_ms.saturating_sub(holder.acquired_ms) > UNCREATED_HOLDER_GRACE_MS
        }
        _ => false,
    }
}

/// Whether a release by `request_id` frees the lock (only its holder can release it).
pub fn releases(current: Option<&Holder>, request_id: &str) -> bool {
    current.is_some_and(|h| h.request_id == request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(acquired_ms: u64) -> Holder {
        Holder {
            request_id: "a".into(),
            acquired_ms,
        }
    }

    #[test]
    fn a_free_lock_or_its_own_holder_is_granted_another_is_probed() {
        assert_eq!(acquire(None, "b"), Acquire::Granted);
        assert_eq!(acquire(Some(&holder(0)), "a"), Acquire::Granted);
        assert_eq!(
            acquire(Some(&holder(0)), "b"),
            Acquire::ProbeHolder(holder(0))
        );
    }

    #[test]
    fn a_terminal_holder_is_stale_a_live_one_or_an_unanswered_probe_is_not() {
        let live = HolderProbe {
            exists: true,
            terminal: false,
        };
        let done = HolderProbe {
            exists: true,
            terminal: true,
        };
        assert!(holder_is_stale(&holder(0), Some(done), 1));
        assert!(!holder_is_stale(&holder(0), Some(live), u64::MAX));
        assert!(!holder_is_stale(&holder(0), None, u64::MAX));
    }

    #[test]
    fn a_never_created_holder_keeps_the_lock_for_its_grace_only() {
        let missing = HolderProbe {
            exists: false,
            terminal: false,
        };
        let grace = UNCREATED_HOLDER_GRACE_MS;
        assert!(!holder_is_stale(
            &holder(1_000),
            Some(missing),
            1_000 + grace
        ));
        assert!(holder_is_stale(
            &holder(1_000),
            Some(missing),
            1_001 + grace
        ));
    }

    #[test]
    fn a_lock_always_lives_in_the_same_shard_of_its_tenant() {
        let a = shard_object("t1", "t1/item/order-1");
        assert_eq!(a, shard_object("t1", "t1/item/order-1"));
        assert!(a.starts_with("t1/locks/"));
        // Another tenant's lock on a subject of the same name is in another tenant's object.
        assert!(shard_object("t2", "t2/item/order-1").starts_with("t2/locks/"));
        // Subjects spread over every shard, and over nothing else.
        let shards: std::collections::BTreeSet<String> = (0..2_000)
            .map(|i| shard_object("t1", &format!("t1/item/order-{i}")))
            .collect();
        assert_eq!(shards.len() as u64, LOCK_SHARDS);
    }

    #[test]
    fn only_the_holder_releases() {
        assert!(releases(Some(&holder(0)), "a"));
        assert!(!releases(Some(&holder(0)), "b"));
        assert!(!releases(None, "a"));
    }
}
