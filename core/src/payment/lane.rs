//! Where a payment lives: one of its tenant's lanes, chosen by its subject and written into its request id, so one object holds its lock, its record and its held callers, and the id alone finds it.
//!
//! A lane is named by three bytes: two from a hash of the tenant and one for the subject's
//! shard (`LANES_PER_TENANT` of them). A new request id starts with those bytes, so the status
//! link, the backend's result post and the callback queue, which know only the id, reach the
//! lane without a lookup. Every payment of a subject lands in the same lane, so the `409` rule
//! is a query in that lane's own storage. Two tenants whose hashes share two bytes share
//! lanes; their records, locks and logs stay apart because each row carries its tenant-scoped
//! lock name and every read checks the tenant.

use crate::fnv::fnv1a;
use crate::ids::RequestId;

/// How many lanes hold one tenant's payments. Fixed for good: a subject must always find its
/// open payment in the same lane, or a second payment could pass the `409` rule.
pub const LANES_PER_TENANT: u64 = 64;

/// A lane: the three bytes that start the request ids of its payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lane([u8; 3]);

impl Lane {
    /// The lane of a payment on `lock_name` (`NewPayment::lock_name`, which starts with the
    /// tenant) by `tenant`.
    pub fn of(tenant: &str, lock_name: &str) -> Self {
        let [t0, t1] = tenant_bytes(tenant);
        let shard = fnv1a(lock_name.bytes()) % LANES_PER_TENANT;
        Self([t0, t1, shard as u8])
    }

    /// A fresh request id in this lane.
    pub fn new_request_id(self) -> RequestId {
        RequestId::generate_with_prefix(self.0)
    }

    /// The name of this lane's object.
    pub fn object_name(self) -> String {
        let [a, b, c] = self.0;
        format!("lanes/{a:02x}{b:02x}{c:02x}")
    }
}

/// The two bytes that start the names of `tenant`'s lanes (and the ids of its payments).
pub fn tenant_bytes(tenant: &str) -> [u8; 2] {
    // Folded, so every byte of the tenant moves both bytes (FNV's top bits barely move with
    // the last byte: "t1" and "t2" would share them).
    let hash = fnv1a(tenant.bytes());
    let [t0, t1, ..] = ((hash ^ (hash >> 32)) as u32).to_le_bytes();
    [t0, t1]
}

/// The tenant bytes of a lane object's name (`lanes/` and six hex digits); `None` for any
/// other name.
pub fn tenant_bytes_of_object(name: &str) -> Option<[u8; 2]> {
    let hex = name.strip_prefix("lanes/")?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |at: usize| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?])
}

/// The name of the lane object that holds `id`'s payment, if `id` was made in a lane. An id
/// from before lanes names some lane too, which simply does not know it (the caller then asks
/// the object named by the id, where such payments live).
pub fn object_of(id: &RequestId) -> String {
    format!("lanes/{}", id.as_str().get(..6).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn an_id_made_in_a_lane_finds_that_lane() {
        let lane = Lane::of("t1", "t1/item/order-1");
        let id = lane.new_request_id();
        assert_eq!(object_of(&id), lane.object_name());
        assert!(lane.object_name().starts_with("lanes/"));
        assert_eq!(lane.object_name().len(), "lanes/".len() + 6);
    }

    #[test]
    fn a_subject_always_lands_in_the_same_lane_and_subjects_spread_over_all_of_them() {
        assert_eq!(
            Lane::of("t1", "t1/item/order-1"),
            Lane::of("t1", "t1/item/order-1")
        );
        let lanes: BTreeSet<Lane> = (0..2_000)
            .map(|i| Lane::of("t1", &format!("t1/item/order-{i}")))
            .collect();
        assert_eq!(lanes.len() as u64, LANES_PER_TENANT);
    }

    #[test]
    fn tenants_get_their_own_lanes() {
        let a = Lane::of("t1", "t1/item/order-1").object_name();
        let b = Lane::of("t2", "t2/item/order-1").object_name();
        assert_ne!(a.get(..10), b.get(..10), "{a} {b}");
    }

    #[test]
    fn a_lane_name_gives_back_its_tenant_bytes_and_no_other_name_does() {
        let lane = Lane::of("tenant-a", "tenant-a/item/order-1");
        assert_eq!(
            tenant_bytes_of_object(&lane.object_name()),
            Some(tenant_bytes("tenant-a"))
        );
        assert_ne!(tenant_bytes("tenant-a"), tenant_bytes("tenant-b"));
        for other in [
            "lanes/",
            "lanes/0b0e3",
            "lanes/0b0e3fa",
            "lanes/0b0e3g",
            "lanes/+b0e3f",
            "tenant-a/locks/01",
            "0b0e3f6e5b8a4c1e9d2f3a4b5c6d7e8f",
        ] {
            assert_eq!(tenant_bytes_of_object(other), None, "{other}");
        }
    }

    #[test]
    fn an_id_from_before_lanes_names_a_lane_that_does_not_hold_it() {
        let old = RequestId::parse("0b0e3f6e5b8a4c1e9d2f3a4b5c6d7e8f");
        assert_eq!(
            old.map(|id| object_of(&id)).as_deref(),
            Some("lanes/0b0e3f")
        );
    }
}
