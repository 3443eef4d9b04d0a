//! The payments index: one row per request, written from its payment object after each change, never read to decide anything.
//!
//! A row is a pure function of the record ([`IndexRow`]), and its digest says whether the
//! index already has it: the object writes until the row it last wrote is the row it has now.
//! A failed write is tried again from the object's alarm, later each time ([`retry_delay_ms`]);
//! a held caller never waits for one, and D1 being down fails no payment.
//!
//! **Sharding.** One D1 database has one primary and runs its queries one at a time. The index
//! bindings are a list (`PAYMENTS_INDEX_BINDINGS`); a tenant's rows live in the database
//! [`shard_for`] picks by a hash of the tenant, so every operator query (always one tenant's)
//! reads one database. Adding a database moves tenants, whose rows are then written anew as
//! their payments change; see docs/operating.md.

use serde::{Deserialize, Serialize};

use crate::fnv::fnv1a;

/// One request as the index holds it (the `payments` table, `migrations/0001_payments_index.sql`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRow {
    pub request_id: String,
    pub tenant: String,
    pub dialect: String,
    pub subject: String,
    /// `accepted`, `submitted`, `completed` or `failed`.
    pub state: String,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// The backend's status once there is a result.
    pub result_status: Option<u16>,
    pub submission_count: u32,
    /// `none` (no callback asked), `waiting` (not terminal yet), `pending`, `delivered`,
    /// `stopped` or `exhausted`.
    pub callback_state: String,
    pub callback_attempts: u32,
}

/// A value bound to a statement (the Worker turns it into the runtime's).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Null,
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_owned())
    }
}

impl From<u64> for SqlValue {
    fn from(n: u64) -> Self {
        SqlValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// The columns, in the order of [`UPSERT_SQL`]'s parameters and of every `SELECT`.
pub const COLUMNS: &str = "request_id, tenant, dialect, subject, state, created_ms, updated_ms, \
     result_status, submission_count, callback_state, callback_attempts";

/// Insert or update one row. An older copy never overwrites a newer one.
pub const UPSERT_SQL: &str = "INSERT INTO payments (request_id, tenant, dialect, subject, state, \
     created_ms, updated_ms, result_status, submission_count, callback_state, callback_attempts) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
     ON CONFLICT (request_id) DO UPDATE SET state = excluded.state, \
     updated_ms = excluded.updated_ms, result_status = excluded.result_status, \
     submission_count = excluded.submission_count, callback_state = excluded.callback_state, \
     callback_attempts = excluded.callback_attempts \
     WHERE excluded.updated_ms >= payments.updated_ms";

/// Removes a request's row when its object is deleted (retention).
pub const DELETE_SQL: &str = "DELETE FROM payments WHERE request_id = ?1";

impl IndexRow {
    /// The parameters of [`UPSERT_SQL`].
    pub fn upsert_params(&self) -> Vec<SqlValue> {
        vec![
            self.request_id.as_str().into(),
            self.tenant.as_str().into(),
            self.dialect.as_str().into(),
            self.subject.as_str().into(),
            self.state.as_str().into(),
            self.created_ms.into(),
            self.updated_ms.into(),
            self.result_status
                .map_or(SqlValue::Null, |s| SqlValue::Int(i64::from(s))),
            u64::from(self.submission_count).into(),
            self.callback_state.as_str().into(),
            u64::from(self.callback_attempts).into(),
        ]
    }

    /// A fingerprint of the row (FNV-1a over its JSON): the record keeps the one last written.
    pub fn digest(&self) -> u64 {
        fnv1a(serde_json::to_string(self).unwrap_or_default().into_bytes())
    }
}

/// The wait before the next try after `failures` failed index writes in a row: 5 s, doubling,
/// at most 5 minutes.
pub fn retry_delay_ms(failures: u32) -> u64 {
    5_000u64
        .saturating_mul(1u64 << failures.saturating_sub(1).min(10))
        .min(300_000)
}

/// The index binding that holds `tenant`'s rows: FNV-1a of the tenant modulo the list's length.
pub fn shard_for<'a>(tenant: &str, bindings: &'a [String]) -> Option<&'a str> {
    let hash = fnv1a(tenant.bytes());
    let len = u64::try_from(bindings.len()).ok().filter(|n| *n > 0)?;
    let index = usize::try_from(hash % len).ok()?;
    bindings.get(index).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> IndexRow {
        IndexRow {
            request_id: "0".repeat(32),
            tenant: "t".into(),
            dialect: "zai".into(),
            subject: "item-1".into(),
            state: "accepted".into(),
            created_ms: 1,
            updated_ms: 1,
            result_status: None,
            submission_count: 0,
            callback_state: "waiting".into(),
            callback_attempts: 0,
        }
    }

    #[test]
    fn params_follow_the_columns() {
        let params = row().upsert_params();
        assert_eq!(params.len(), COLUMNS.split(',').count());
        assert_eq!(params.len(), UPSERT_SQL.matches('?').count());
        assert_eq!(params[7], SqlValue::Null);
        let mut done = row();
        done.result_status = Some(422);
        assert_eq!(done.upsert_params()[7], SqlValue::Int(422));
    }

    #[test]
    fn the_digest_changes_with_any_field() {
        let a = row();
        assert_eq!(a.digest(), row().digest());
        let mut b = row();
        b.callback_attempts = 1;
        assert_ne!(a.digest(), b.digest());
        let mut c = row();
        c.state = "completed".into();
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn retries_back_off_to_five_minutes() {
        assert_eq!(retry_delay_ms(1), 5_000);
        assert_eq!(retry_delay_ms(2), 10_000);
        assert_eq!(retry_delay_ms(3), 20_000);
        assert_eq!(retry_delay_ms(7), 300_000);
        assert_eq!(retry_delay_ms(u32::MAX), 300_000);
    }

    #[test]
    fn a_tenant_always_lands_on_the_same_shard() {
        let one = vec!["PAYMENTS_INDEX".to_owned()];
        assert_eq!(shard_for("t", &one), Some("PAYMENTS_INDEX"));
        assert_eq!(shard_for("t", &[]), None);
        let three: Vec<String> = (0..3).map(|i| format!("INDEX_{i}")).collect();
        let picked: std::collections::HashSet<_> = (0..50)
            .map(|i| shard_for(&format!("tenant-{i}"), &three))
            .collect();
        assert_eq!(picked.len(), 3, "tenants spread over every shard");
        assert_eq!(shard_for("tenant-7", &three), shard_for("tenant-7", &three));
    }
}
