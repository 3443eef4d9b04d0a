//! Where a tenant's objects are created: the Durable Objects location hint its `TENANTS` entry asks for, found from an object's name alone, so every stub of one object asks the same.
//!
//! A location hint only matters when an object is first created: Cloudflare then starts it
//! near the hinted region instead of near the first caller, and it never moves after. So the
//! hint must be the same whoever touches an object first, whether a caller of the tenant, a
//! status poll, the backend's result post or the callback queue, which know only a request
//! id. It is therefore a function of the object's name, never of the caller: a lane's name
//! carries its tenant's two bytes (`payment::lane`), and the other per-tenant objects (the
//! idempotency keys and the item locks of before lanes) start with the tenant's name.

use crate::payment::lane;

/// The location hints Cloudflare accepts for a Durable Object (`locationHint`).
pub const LOCATION_HINTS: &[&str] = &[
    "wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me",
];

/// One tenant's hint.
#[derive(Debug, Clone)]
struct TenantHint {
    tenant: String,
    lane_bytes: [u8; 2],
    hint: String,
}

/// The location hints of the tenants that ask for one.
#[derive(Debug, Clone, Default)]
pub struct Placements {
    hints: Vec<TenantHint>,
}

impl Placements {
    /// Adds `tenant`'s hint. Refused when the hint is not one of [`LOCATION_HINTS`], or when a
    /// tenant added before shares this tenant's lanes (the same two bytes, one chance in 65,536
    /// per pair) and asks for another region: their shared lanes could only be in one.
    pub fn add(&mut self, tenant: &str, hint: &str) -> Result<(), String> {
        if !LOCATION_HINTS.contains(&hint) {
            return Err(format!(
                "location_hint must be one of {}",
                LOCATION_HINTS.join(", ")
            ));
        }
        let lane_bytes = lane::tenant_bytes(tenant);
        if let Some(other) = self
            .hints
            .iter()
            .find(|t| t.lane_bytes == lane_bytes && t.hint != hint)
        {
            return Err(format!(
                "location_hint {hint} differs from that of tenant {}, whose lanes this tenant shares; give both the same hint",
                other.tenant
            ));
        }
        self.hints.push(TenantHint {
            tenant: tenant.to_owned(),
            lane_bytes,
            hint: hint.to_owned(),
        });
        Ok(())
    }

    /// The hint for the object named `name`: its lane's tenant's for a lane, its tenant's for
    /// an object named `tenant/…`, none for any other name (a payment's own object from before
    /// lanes, which exists already) or a tenant without a hint.
    pub fn hint_for_object(&self, name: &str) -> Option<&str> {
        let found = match lane::tenant_bytes_of_object(name) {
            Some(bytes) => self.hints.iter().find(|t| t.lane_bytes == bytes),
            None => {
                let (tenant, _) = name.split_once('/')?;
                self.hints.iter().find(|t| t.tenant == tenant)
            }
        };
        found.map(|t| t.hint.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::idempotency::{key_object_name, IdempotencyKey};
    use crate::payment::item_lock::shard_object;
    use crate::payment::lane::{object_of, Lane};

    fn placements() -> Placements {
        let mut p = Placements::default();
        p.add("tenant-syd", "oc").unwrap();
        p.add("tenant-fra", "weur").unwrap();
        p
    }

    #[test]
    fn every_object_of_a_tenant_gets_its_hint_from_its_name_alone() {
        let p = placements();
        let lane = Lane::of("tenant-syd", "tenant-syd/item/order-1");
        let key = IdempotencyKey::parse("order-1-attempt").unwrap();
        for name in [
            lane.object_name(),
            // What a status poll, a result post or the callback queue asks, knowing the id only.
            object_of(&lane.new_request_id()),
            key_object_name("tenant-syd", None, &key),
            key_object_name("tenant-syd", Some("https://idp.example\u{1f}user-1"), &key),
            shard_object("tenant-syd", "tenant-syd/item/order-1"),
        ] {
            assert_eq!(p.hint_for_object(&name), Some("oc"), "{name}");
        }
        let fra = Lane::of("tenant-fra", "tenant-fra/item/x").object_name();
        assert_eq!(p.hint_for_object(&fra), Some("weur"));
    }

    #[test]
    fn objects_of_tenants_without_a_hint_and_old_payment_objects_get_none() {
        let p = placements();
        let other = Lane::of("tenant-any", "tenant-any/item/order-1");
        assert_eq!(p.hint_for_object(&other.object_name()), None);
        assert_eq!(p.hint_for_object("tenant-any/locks/03"), None);
        assert_eq!(p.hint_for_object("0b0e3f6e5b8a4c1e9d2f3a4b5c6d7e8f"), None);
        // A tenant whose name starts like a hinted one's is not that tenant.
        assert_eq!(p.hint_for_object("tenant-sydney/locks/03"), None);
        assert_eq!(
            Placements::default().hint_for_object(&other.object_name()),
            None
        );
    }

    #[test]
    fn an_unknown_region_is_refused_by_name() {
        let err = Placements::default().add("t", "eu-west").unwrap_err();
        assert!(err.contains("location_hint must be one of wnam"), "{err}");
    }

    #[test]
    fn tenants_sharing_lanes_must_share_a_region() {
        // Find two tenant names whose lanes share their first two bytes.
        let mut seen = std::collections::HashMap::new();
        let (a, b) = (0..1_000_000)
            .map(|i| format!("t{i}"))
            .find_map(|name| {
                let bytes = lane::tenant_bytes(&name);
                seen.insert(bytes, name.clone()).map(|first| (first, name))
            })
            .unwrap();
        let mut p = Placements::default();
        p.add(&a, "oc").unwrap();
        let err = p.add(&b, "weur").unwrap_err();
        assert!(err.contains(&format!("tenant {a}")), "{err}");
        p.add(&b, "oc").unwrap();
        assert_eq!(
            p.hint_for_object(&Lane::of(&b, "x").object_name()),
            Some("oc")
        );
    }
}
