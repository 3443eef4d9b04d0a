//! Where a payment-request object keeps its payments: a lane's tables, a row per payment keyed by request id, or the one-payment layout of an object from before lanes.
//!
//! A lane (`edgepay_core::payment::lane`) holds many payments, so every table carries the
//! request id, and one alarm serves them all: each payment's next due time is a row in `due`,
//! and the object's alarm is set to the earliest. An object made before lanes holds one payment
//! as a document (`record`) with its own alarm; it keeps that layout until its payment is
//! purged. Which layout an object has is read from its tables once per instance.

use std::cell::Cell;

use serde::Deserialize;
use worker::{SqlStorageValue, State};

use crate::objects::storage::{self, sql, table_exists, DocTable};
use crate::runtime::http_io::OrInternal;
use crate::runtime::log;
use edgepay_core::callback::delivery_log::{entries_to_drop, LogGap, LOG_KEEP_NEWEST};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::ids::RequestId;
use edgepay_core::log_line::LogLine;
use edgepay_core::payment::request_record::RequestRecord;

/// Accepted result deliveries are remembered this long to refuse replays; older ones are stale anyway.
const SEEN_DELIVERY_TTL_MS: u64 = 15 * 60 * 1000;

/// How an object keeps its payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Many payments, keyed by request id (every object made since lanes).
    Lane,
    /// One payment, as the `record` document, with the object's alarm as its own.
    Single,
}

/// The lane's tables. `payments.open` is 1 while the payment is not terminal: the unique
/// index makes "one open payment per lock" a rule of the database too.
const LANE_SCHEMA: [&str; 8] = [
    "CREATE TABLE IF NOT EXISTS payments (request_id TEXT PRIMARY KEY, lock TEXT NOT NULL, \
     open INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS payments_one_open_per_lock ON payments (lock) WHERE open = 1",
    "CREATE TABLE IF NOT EXISTS attempts (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
     request_id TEXT NOT NULL, attempt INTEGER NOT NULL, executed_ms INTEGER NOT NULL, \
     http_response INTEGER, detail TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS attempts_by_request ON attempts (request_id, seq)",
    "CREATE TABLE IF NOT EXISTS deliveries_seen (request_id TEXT NOT NULL, message_id TEXT NOT NULL, \
     seen_ms INTEGER NOT NULL, PRIMARY KEY (request_id, message_id))",
    "CREATE INDEX IF NOT EXISTS deliveries_seen_by_time ON deliveries_seen (seen_ms)",
    "CREATE TABLE IF NOT EXISTS due (request_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS due_by_time ON due (at_ms)",
];

/// What each payment's delivery log has dropped (`callback::delivery_log`), in either layout,
/// keyed by request id. Its own table, created when first needed, so that objects made before
/// it need no change to the tables they have.
const LOG_GAP_SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS attempt_gaps (request_id TEXT PRIMARY KEY, \
     dropped INTEGER NOT NULL, position INTEGER NOT NULL, attempt INTEGER NOT NULL, \
     executed_ms INTEGER NOT NULL)";

/// The one-payment layout's log tables.
const SINGLE_LOG_SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS seen_delivery (message_id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS callback_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, attempt INTEGER NOT NULL, \
     executed_ms INTEGER NOT NULL, http_response INTEGER, detail TEXT NOT NULL)",
];

#[derive(Deserialize)]
struct BodyRow {
    body: String,
}

#[derive(Deserialize)]
struct IdRow {
    request_id: String,
}

#[derive(Deserialize)]
struct CountRow {
    n: f64,
}

#[derive(Deserialize)]
struct MinRow {
    at: Option<f64>,
}

#[derive(Deserialize)]
struct PositionRow {
    seq: f64,
    attempt: f64,
    executed_ms: f64,
}

#[derive(Deserialize)]
struct GapRow {
    dropped: f64,
    position: f64,
    attempt: f64,
    executed_ms: f64,
}

/// One logged callback attempt, as stored.
#[derive(Deserialize)]
pub struct AttemptRow {
    /// Its position in the log (the row's sequence number).
    pub seq: f64,
    pub attempt: f64,
    pub executed_ms: f64,
    pub http_response: Option<f64>,
    pub detail: String,
}

/// An object's payments, in whichever layout it has. Caches only what this instance learnt
/// about its own tables and alarm; the truth is always in storage.
pub struct PaymentStore {
    layout: Cell<Option<Layout>>,
    /// The lane's tables exist (seen or created by this instance).
    lane_ready: Cell<bool>,
    /// The one-payment layout's document.
    record: DocTable,
    /// The one-payment layout's log tables exist.
    single_logs_ready: Cell<bool>,
    /// The delivery logs' gap table exists.
    gaps_ready: Cell<bool>,
    /// The alarm this instance set and has not yet seen fire: a later due time needs no new one.
    alarm_at: Cell<Option<u64>>,
}

impl Default for PaymentStore {
    fn default() -> Self {
        Self {
            layout: Cell::new(None),
            lane_ready: Cell::new(false),
            record: DocTable::new("record"),
            single_logs_ready: Cell::new(false),
            gaps_ready: Cell::new(false),
            alarm_at: Cell::new(None),
        }
    }
}

fn parse_record(body: &str) -> Result<RequestRecord, ApiError> {
    serde_json::from_str(body).map_err(|e| {
        log::emit(
            &LogLine::error("corrupt stored payment")
                .with("table", "payments")
                .with("detail", e.to_string()),
        );
        ApiError::Internal
    })
}

fn exec_all(state: &State, statements: &[&str]) -> Result<(), ApiError> {
    for statement in statements {
        sql(state, statement, vec![])?;
    }
    Ok(())
}

impl PaymentStore {
    /// The object's layout: one payment if it has the `record` document of before lanes.
    pub fn layout(&self, state: &State) -> Result<Layout, ApiError> {
        if let Some(layout) = self.layout.get() {
            return Ok(layout);
        }
        let layout = if table_exists(state, "record")? {
            Layout::Single
        } else {
            Layout::Lane
        };
        self.layout.set(Some(layout));
        Ok(layout)
    }

    /// Whether the lane's tables exist; asking creates nothing.
    fn lane_has_tables(&self, state: &State) -> Result<bool, ApiError> {
        if !self.lane_ready.get() && table_exists(state, "payments")? {
            self.lane_ready.set(true);
        }
        Ok(self.lane_ready.get())
    }

    fn ensure_lane_tables(&self, state: &State) -> Result<(), ApiError> {
        if !self.lane_ready.get() {
            exec_all(state, &LANE_SCHEMA)?;
            self.lane_ready.set(true);
        }
        Ok(())
    }

    fn ensure_single_logs(&self, state: &State) -> Result<(), ApiError> {
        if !self.single_logs_ready.get() {
            exec_all(state, &SINGLE_LOG_SCHEMA)?;
            self.single_logs_ready.set(true);
        }
        Ok(())
    }

    fn ensure_gap_table(&self, state: &State) -> Result<(), ApiError> {
        if !self.gaps_ready.get() {
            sql(state, LOG_GAP_SCHEMA, vec![])?;
            self.gaps_ready.set(true);
        }
        Ok(())
    }

    /// The payment `id`, if this object holds it (reading stores nothing).
    pub fn load(&self, state: &State, id: &RequestId) -> Result<Option<RequestRecord>, ApiError> {
        match self.layout(state)? {
            Layout::Single => Ok(self
                .record
                .read::<RequestRecord>(state)?
                .filter(|r| r.request_id() == id)),
            Layout::Lane => {
                if !self.lane_has_tables(state)? {
                    return Ok(None);
                }
                let rows: Vec<BodyRow> = sql(
                    state,
                    "SELECT body FROM payments WHERE request_id = ?",
                    vec![id.as_str().into()],
                )?
                .to_array()
                .or_internal()?;
                rows.first().map(|r| parse_record(&r.body)).transpose()
            }
        }
    }

    /// Whether this object holds payment `id`: a key lookup, nothing parsed.
    pub fn holds(&self, state: &State, id: &RequestId) -> Result<bool, ApiError> {
        match self.layout(state)? {
            Layout::Single => Ok(self.load(state, id)?.is_some()),
            Layout::Lane => {
                if !self.lane_has_tables(state)? {
                    return Ok(false);
                }
                let rows: Vec<CountRow> = sql(
                    state,
                    "SELECT COUNT(*) AS n FROM payments WHERE request_id = ?",
                    vec![id.as_str().into()],
                )?
                .to_array()
                .or_internal()?;
                Ok(rows.first().is_some_and(|r| r.n >= 1.0))
            }
        }
    }

    /// The one payment of an object from before lanes.
    pub fn single_record(&self, state: &State) -> Result<Option<RequestRecord>, ApiError> {
        self.record.read(state)
    }

    pub fn save(&self, state: &State, record: &RequestRecord) -> Result<(), ApiError> {
        match self.layout(state)? {
            Layout::Single => self.record.write(state, record),
            Layout::Lane => {
                self.ensure_lane_tables(state)?;
                let body = serde_json::to_string(record).map_err(|_| ApiError::Internal)?;
                let open = i64::from(!record.state().is_terminal());
                // An upsert, not `INSERT OR REPLACE`: a replace deletes the row and its index
                // entry and writes both again, each billed as a row written; an update writes
                // the row, and the index only when `open` changes. (A payment's lock never
                // changes; a replace would also silently drop another open payment holding the
                // same lock, where this fails loudly.)
                sql(
                    state,
                    "INSERT INTO payments (request_id, lock, open, body) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (request_id) DO UPDATE SET open = excluded.open, body = excluded.body",
                    vec![
                        record.request_id().as_str().into(),
                        record.lock_name().into(),
                        open.into(),
                        body.into(),
                    ],
                )?;
                Ok(())
            }
        }
    }

    /// Test-only: makes this empty object one of before lanes, holding `record` in the
    /// one-payment layout. An object that holds anything already is left alone (`Err`).
    pub fn seed_single(&self, state: &State, record: &RequestRecord) -> Result<(), ApiError> {
        if table_exists(state, "payments")? || table_exists(state, "record")? {
            return Err(ApiError::Internal);
        }
        self.record.write(state, record)?;
        self.layout.set(Some(Layout::Single));
        Ok(())
    }

    /// The lane's payment that holds `lock` (is not terminal), if any.
    pub fn open_holder(&self, state: &State, lock: &str) -> Result<Option<String>, ApiError> {
        if self.layout(state)? != Layout::Lane || !self.lane_has_tables(state)? {
            return Ok(None);
        }
        let rows: Vec<IdRow> = sql(
            state,
            "SELECT request_id FROM payments WHERE lock = ? AND open = 1",
            vec![lock.into()],
        )?
        .to_array()
        .or_internal()?;
        Ok(rows.into_iter().next().map(|r| r.request_id))
    }

    /// Notes a result delivery `message_id` for `id`; `false` if it was seen already (a replay).
    pub fn remember_delivery(
        &self,
        state: &State,
        id: &RequestId,
        message_id: &str,
        now: u64,
    ) -> Result<bool, ApiError> {
        let cutoff = now.saturating_sub(SEEN_DELIVERY_TTL_MS) as i64;
        let now = now as i64;
        let (prune, count, insert, keys): (_, _, _, Vec<SqlStorageValue>) = match self
            .layout(state)?
        {
            Layout::Single => {
                self.ensure_single_logs(state)?;
                (
                    "DELETE FROM seen_delivery WHERE seen_ms < ?",
                    "SELECT COUNT(*) AS n FROM seen_delivery WHERE message_id = ?",
                    "INSERT INTO seen_delivery (message_id, seen_ms) VALUES (?, ?)",
                    vec![message_id.into()],
                )
            }
            Layout::Lane => {
                self.ensure_lane_tables(state)?;
                (
                        "DELETE FROM deliveries_seen WHERE seen_ms < ?",
                        "SELECT COUNT(*) AS n FROM deliveries_seen WHERE request_id = ? AND message_id = ?",
                        "INSERT INTO deliveries_seen (request_id, message_id, seen_ms) VALUES (?, ?, ?)",
                        vec![id.as_str().into(), message_id.into()],
                    )
            }
        };
        sql(state, prune, vec![cutoff.into()])?;
        let seen: Vec<CountRow> = sql(state, count, keys.clone())?.to_array().or_internal()?;
        if seen.first().is_some_and(|r| r.n >= 1.0) {
            return Ok(false);
        }
        let mut values = keys;
        values.push(now.into());
        sql(state, insert, values)?;
        Ok(true)
    }

    /// Appends one callback attempt to `id`'s delivery log.
    pub fn log_attempt(
        &self,
        state: &State,
        id: &RequestId,
        attempt: u32,
        executed_ms: u64,
        http_response: Option<u16>,
        detail: &str,
    ) -> Result<(), ApiError> {
        let status: SqlStorageValue =
            http_response.map_or(SqlStorageValue::Null, |s| i64::from(s).into());
        let mut values: Vec<SqlStorageValue> = vec![
            i64::from(attempt).into(),
            (executed_ms as i64).into(),
            status,
            detail.into(),
        ];
        let insert = match self.layout(state)? {
            Layout::Single => {
                self.ensure_single_logs(state)?;
                "INSERT INTO callback_log (attempt, executed_ms, http_response, detail) VALUES (?, ?, ?, ?)"
            }
            Layout::Lane => {
                self.ensure_lane_tables(state)?;
                values.push(id.as_str().into());
                "INSERT INTO attempts (attempt, executed_ms, http_response, detail, request_id) VALUES (?, ?, ?, ?, ?)"
            }
        };
        sql(state, insert, values)?;
        self.bound_log(state, id)
    }

    /// Keeps `id`'s delivery log to its first entry and its newest `LOG_KEEP_NEWEST`: the
    /// entries between are deleted and counted in its gap row, which the log shows in their
    /// place. Called after each entry, so at most one is deleted at a time once it is full.
    fn bound_log(&self, state: &State, id: &RequestId) -> Result<(), ApiError> {
        let (count, positions, delete, keys): (_, _, _, Vec<SqlStorageValue>) = match self
            .layout(state)?
        {
            Layout::Single => (
                "SELECT COUNT(*) AS n FROM callback_log",
                "SELECT seq, attempt, executed_ms FROM callback_log ORDER BY seq",
                "DELETE FROM callback_log WHERE seq >= ? AND seq <= ?",
                vec![],
            ),
            Layout::Lane => (
                "SELECT COUNT(*) AS n FROM attempts WHERE request_id = ?",
                "SELECT seq, attempt, executed_ms FROM attempts WHERE request_id = ? ORDER BY seq",
                "DELETE FROM attempts WHERE seq >= ? AND seq <= ? AND request_id = ?",
                vec![id.as_str().into()],
            ),
        };
        let stored: Vec<CountRow> = sql(state, count, keys.clone())?.to_array().or_internal()?;
        if stored
            .first()
            .is_none_or(|r| r.n <= (LOG_KEEP_NEWEST + 1) as f64)
        {
            return Ok(());
        }
        let rows: Vec<PositionRow> = sql(state, positions, keys.clone())?
            .to_array()
            .or_internal()?;
        let seqs: Vec<u64> = rows.iter().map(|r| r.seq as u64).collect();
        let drop = entries_to_drop(&seqs);
        let (Some(&first), Some(&last)) = (drop.first(), drop.last()) else {
            return Ok(());
        };
        let Some(newest) = rows.iter().find(|r| r.seq as u64 == last) else {
            return Ok(());
        };
        let gap = LogGap::widened(
            self.log_gap(state, id)?,
            drop.len() as u64,
            last,
            newest.attempt as u32,
            newest.executed_ms as u64,
        );
        let mut values: Vec<SqlStorageValue> = vec![(first as i64).into(), (last as i64).into()];
        values.extend(keys);
        sql(state, delete, values)?;
        self.ensure_gap_table(state)?;
        sql(
            state,
            "INSERT OR REPLACE INTO attempt_gaps (request_id, dropped, position, attempt, executed_ms) \
             VALUES (?, ?, ?, ?, ?)",
            vec![
                id.as_str().into(),
                (gap.dropped as i64).into(),
                (gap.position as i64).into(),
                i64::from(gap.attempt).into(),
                (gap.executed_ms as i64).into(),
            ],
        )?;
        Ok(())
    }

    /// What `id`'s delivery log has dropped, if anything.
    pub fn log_gap(&self, state: &State, id: &RequestId) -> Result<Option<LogGap>, ApiError> {
        if !self.gaps_ready.get() && !table_exists(state, "attempt_gaps")? {
            return Ok(None);
        }
        self.gaps_ready.set(true);
        let rows: Vec<GapRow> = sql(
            state,
            "SELECT dropped, position, attempt, executed_ms FROM attempt_gaps WHERE request_id = ?",
            vec![id.as_str().into()],
        )?
        .to_array()
        .or_internal()?;
        Ok(rows.first().map(|r| LogGap {
            dropped: r.dropped as u64,
            position: r.position as u64,
            attempt: r.attempt as u32,
            executed_ms: r.executed_ms as u64,
        }))
    }

    /// Up to `limit` of `id`'s logged attempts after position `after`, oldest first.
    pub fn attempts(
        &self,
        state: &State,
        id: &RequestId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AttemptRow>, ApiError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cursor = match self.layout(state)? {
            Layout::Single => {
                self.ensure_single_logs(state)?;
                sql(
                    state,
                    "SELECT seq, attempt, executed_ms, http_response, detail FROM callback_log \
                     WHERE seq > ? ORDER BY seq LIMIT ?",
                    vec![after.into(), limit.into()],
                )?
            }
            Layout::Lane => {
                if !self.lane_has_tables(state)? {
                    return Ok(Vec::new());
                }
                sql(
                    state,
                    "SELECT seq, attempt, executed_ms, http_response, detail FROM attempts \
                     WHERE request_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                    vec![id.as_str().into(), after.into(), limit.into()],
                )?
            }
        };
        cursor.to_array().or_internal()
    }

    /// `id` is next due at `at_ms` (its next submission, callback deadline, expiry or purge).
    pub async fn set_due(&self, state: &State, id: &RequestId, at_ms: u64) -> Result<(), ApiError> {
        match self.layout(state)? {
            Layout::Single => storage::set_alarm_at(state, at_ms).await,
            Layout::Lane => {
                self.ensure_lane_tables(state)?;
                sql(
                    state,
                    // An upsert, as `save`: fewer rows written than a replace.
                    "INSERT INTO due (request_id, at_ms) VALUES (?, ?) \
                     ON CONFLICT (request_id) DO UPDATE SET at_ms = excluded.at_ms",
                    vec![id.as_str().into(), (at_ms as i64).into()],
                )?;
                self.arm(state).await
            }
        }
    }

    /// The lane's earliest due time, if any payment is due at all.
    fn earliest_due(&self, state: &State) -> Result<Option<u64>, ApiError> {
        if !self.lane_has_tables(state)? {
            return Ok(None);
        }
        let rows: Vec<MinRow> = sql(state, "SELECT MIN(at_ms) AS at FROM due", vec![])?
            .to_array()
            .or_internal()?;
        Ok(rows.first().and_then(|r| r.at).map(|at| at.max(0.0) as u64))
    }

    /// Sets the lane's alarm to its earliest due time, unless an alarm this instance set will
    /// fire no later (it then finds nothing due, and arms again).
    pub async fn arm(&self, state: &State) -> Result<(), ApiError> {
        let Some(earliest) = self.earliest_due(state)? else {
            return Ok(());
        };
        if self.alarm_at.get().is_some_and(|set| set <= earliest) {
            return Ok(());
        }
        storage::set_alarm_at(state, earliest).await?;
        self.alarm_at.set(Some(earliest));
        Ok(())
    }

    /// The end of an alarm run: the alarm is set afresh to the earliest due time, and never at
    /// or before `now`. The runtime deletes the alarm when the handler returns unless it was
    /// set to a new time meanwhile, and an `arm` during the run may have set it to the very
    /// time that fired, which would then be deleted with every payment still due.
    pub async fn rearm_after_alarm(&self, state: &State, now: u64) -> Result<(), ApiError> {
        self.alarm_at.set(None);
        let Some(earliest) = self.earliest_due(state)? else {
            return Ok(());
        };
        let at = earliest.max(now.saturating_add(1));
        storage::set_alarm_at(state, at).await?;
        self.alarm_at.set(Some(at));
        Ok(())
    }

    /// The alarm fired: none is set until the next `arm`.
    pub fn alarm_fired(&self) {
        self.alarm_at.set(None);
    }

    /// Up to `limit` of the lane's payments due by `now`, earliest first.
    pub fn due_now(&self, state: &State, now: u64, limit: u32) -> Result<Vec<String>, ApiError> {
        if !self.lane_has_tables(state)? {
            return Ok(Vec::new());
        }
        let rows: Vec<IdRow> = sql(
            state,
            "SELECT request_id FROM due WHERE at_ms <= ? ORDER BY at_ms LIMIT ?",
            vec![(now as i64).into(), i64::from(limit).into()],
        )?
        .to_array()
        .or_internal()?;
        Ok(rows.into_iter().map(|r| r.request_id).collect())
    }

    /// Deletes payment `id` and everything kept for it.
    pub async fn purge(&self, state: &State, id: &RequestId) -> Result<(), ApiError> {
        match self.layout(state)? {
            Layout::Single => {
                state.storage().delete_alarm().await.or_internal()?;
                state.storage().delete_all().await.or_internal()?;
                self.record.forget();
                self.single_logs_ready.set(false);
                self.gaps_ready.set(false);
                self.layout.set(None);
                Ok(())
            }
            Layout::Lane => {
                self.drop_rows(state, id)?;
                self.arm(state).await
            }
        }
    }

    /// Deletes every row of `id` in the lane (a due row whose payment is gone included).
    pub fn drop_rows(&self, state: &State, id: &RequestId) -> Result<(), ApiError> {
        self.drop_rows_of(state, id.as_str())
    }

    /// As `drop_rows`, for a stored id that is not a request id (corrupt: it could never run).
    pub fn drop_rows_of(&self, state: &State, raw_id: &str) -> Result<(), ApiError> {
        if !self.lane_has_tables(state)? {
            return Ok(());
        }
        self.ensure_gap_table(state)?;
        for table in [
            "payments",
            "attempts",
            "attempt_gaps",
            "deliveries_seen",
            "due",
        ] {
            sql(
                state,
                &format!("DELETE FROM {table} WHERE request_id = ?"),
                vec![raw_id.into()],
            )?;
        }
        Ok(())
    }
}
