//! One payment request's stored record, its transitions over time, and the views rendered from it.
//!
//! The payment-request Durable Object keeps exactly one `RequestRecord` and
//! changes it only through the methods here, so every rule about submissions,
//! results, expiry and retention is a pure function of (record, now).

use crate::operators::payments_index::{retry_delay_ms, IndexRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use crate::backend::contract::StoredResult;
use crate::backend::contract::{jitter_unit, jittered, BackendReply, DispatchPolicy};
use crate::callback::delivery::{
    AttemptOutcome, CallbackJob, CallbackPolicyTiming, CallbackState, DeliveryStatus, Recorded,
    ReplayRefused,
};
use crate::ids::RequestId;
use crate::payment::new_payment::{Dialect, NewPayment};
use crate::payment::request_state::{Event, RequestState};
use crate::time::rfc3339_millis;

/// Timing rules a record lives by (from config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifetimes {
    /// A request with no result this long after acceptance fails as expired.
    pub result_timeout_ms: u64,
    /// Terminal records are deleted this long after their last change.
    pub retention_ms: u64,
}

/// How soon to retry releasing the item lock after a failed attempt.
pub const LOCK_RELEASE_RETRY_MS: u64 = 5_000;

/// How long the alarm waits to write a new payment's first row in the payments index. The run
/// that applies its first submission's answer writes it sooner, so a payment the backend
/// answers at once is written once, terminal, rather than twice.
pub const FIRST_INDEX_DELAY_MS: u64 = 1_000;

/// Its fields are private: the object reads them through the getters below and changes them
/// only through the transitions, so no rule can be applied by hand at the edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    request_id: RequestId,
    tenant: String,
    dialect: Dialect,
    subject: String,
    #[serde(default)]
    account: Option<String>,
    lock_name: String,
    fields: Map<String, Value>,
    #[serde(default)]
    callback: Option<String>,
    state: RequestState,
    submission_count: u32,
    created_ms: u64,
    last_updated_ms: u64,
    /// When the next submission to the backend is due; `None` once acknowledged or terminal.
    #[serde(default)]
    next_dispatch_ms: Option<u64>,
    expires_ms: u64,
    #[serde(default)]
    result: Option<StoredResult>,
    #[serde(default)]
    failure_reason: Option<String>,
    /// Whether no item lock elsewhere is still to be told of the end: set once a payment of
    /// before lanes has told its lock shard, and from the start for a payment whose lock is
    /// its own row in its lane (freed by the save that makes it terminal).
    #[serde(default)]
    lock_released: bool,
    /// The origin the client called (for absolute links in callbacks).
    #[serde(default)]
    origin: String,
    /// The callback this request owes its client, once terminal (the outbox).
    #[serde(default)]
    callback_delivery: Option<CallbackState>,
    /// The client token principal that made it (see [`NewPayment::owner`]).
    #[serde(default)]
    owner: Option<String>,
    /// The digest of the payments-index row last written (`operators::payments_index`).
    #[serde(default)]
    indexed_digest: Option<u64>,
    /// Index writes (or the row's removal) that failed in a row, and when to try again.
    #[serde(default)]
    index_failures: u32,
    #[serde(default)]
    index_retry_ms: Option<u64>,
}

/// What applying a backend reply did, for logging and for waking callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Completed,
    Acknowledged,
    RetryAt(u64),
    Failed,
    /// The request was already terminal (a late reply); nothing changed.
    Ignored,
}

/// Outcome of a result delivered on the async path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultOutcome {
    Stored,
    /// The same result again: nothing changed, answered as success.
    AlreadyStored,
    /// A different result, or one for a failed request: 409, nothing changed.
    Conflict,
}

impl RequestRecord {
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn state(&self) -> RequestState {
        self.state
    }

    pub fn submission_count(&self) -> u32 {
        self.submission_count
    }

    /// The item lock this request holds until it is terminal.
    pub fn lock_name(&self) -> &str {
        &self.lock_name
    }

    pub fn expires_ms(&self) -> u64 {
        self.expires_ms
    }

    pub fn lock_released(&self) -> bool {
        self.lock_released
    }

    pub fn has_callback(&self) -> bool {
        self.callback.is_some()
    }

    /// A freshly accepted request, due for its first submission now.
    pub fn accept(
        request_id: RequestId,
        payment: NewPayment,
        origin: String,
        now_ms: u64,
        lifetimes: &Lifetimes,
    ) -> Self {
        let lock_name = payment.lock_name();
        Self {
            request_id,
            tenant: payment.tenant,
            dialect: payment.dialect,
            subject: payment.subject,
            account: payment.account,
            lock_name,
            fields: payment.fields,
            callback: payment.callback,
            owner: payment.owner,
            state: RequestState::Accepted,
            submission_count: 0,
            created_ms: now_ms,
            last_updated_ms: now_ms,
            next_dispatch_ms: Some(now_ms),
            expires_ms: now_ms.saturating_add(lifetimes.result_timeout_ms),
            result: None,
            failure_reason: None,
            lock_released: false,
            origin,
            callback_delivery: None,
            indexed_digest: None,
            index_failures: 0,
            index_retry_ms: None,
        }
    }

    /// Whether `tenant` may see this request; with a client token (`owner`), only its own.
    pub fn visible_to(&self, tenant: &str, owner: Option<&str>) -> bool {
        self.tenant == tenant && owner.is_none_or(|o| self.owner.as_deref() == Some(o))
    }

    pub fn dispatch_due(&self, now_ms: u64) -> bool {
        !self.state.is_terminal() && self.next_dispatch_ms.is_some_and(|due| due <= now_ms)
    }

    /// Marks the start of a submission. The next due time is a safety net: if the runtime dies
    /// mid-submission, the alarm submits again after the timeout plus the first back-off.
    pub fn begin_submission(&mut self, now_ms: u64, policy: &DispatchPolicy) {
        self.submission_count = self.submission_count.saturating_add(1);
        let backoff = policy.retry_delays_ms.first().copied().unwrap_or(0);
        self.next_dispatch_ms = Some(
            now_ms
                .saturating_add(policy.timeout_ms)
                .saturating_add(backoff),
        );
        self.last_updated_ms = now_ms;
    }

    /// The breaker held back this payment's due submission: it is due again at `until_ms` plus a
    /// share of `spread_ms` fixed by the request (so deferred payments do not all come back at
    /// once), and no try is counted.
    pub fn defer_dispatch(&mut self, until_ms: u64, spread_ms: u64) {
        if self.state.is_terminal() || self.next_dispatch_ms.is_none() {
            return;
        }
        let unit = jitter_unit(self.request_id.as_str(), u32::MAX - self.submission_count);
        let offset = (spread_ms as f64 * unit) as u64;
        self.next_dispatch_ms = Some(until_ms.saturating_add(offset));
    }

    /// Applies the answer to a submission made earlier.
    pub fn apply_reply(
        &mut self,
        reply: BackendReply,
        now_ms: u64,
        policy: &DispatchPolicy,
    ) -> Applied {
        if self.state.is_terminal() {
            return Applied::Ignored;
        }
        match reply {
            BackendReply::Answered(result) => {
                self.finish(Event::ResultArrived, Some(result), None, now_ms);
                Applied::Completed
            }
            BackendReply::Acknowledged => {
                if let Ok(next) = self.state.on(Event::BackendAcknowledged) {
                    self.state = next;
                }
                self.next_dispatch_ms = None;
                self.last_updated_ms = now_ms;
                Applied::Acknowledged
            }
            BackendReply::Transient(reason) => match policy.delay_after(self.submission_count) {
                Some(delay) => {
                    let unit = jitter_unit(self.request_id.as_str(), self.submission_count);
                    let due = now_ms.saturating_add(jittered(delay, unit));
                    self.next_dispatch_ms = Some(due);
                    self.last_updated_ms = now_ms;
                    Applied::RetryAt(due)
                }
                None => {
                    let why = format!(
                        "{reason}; gave up after {} submissions",
                        self.submission_count
                    );
                    self.finish(Event::GaveUp, None, Some(why), now_ms);
                    Applied::Failed
                }
            },
        }
    }

    /// Stores a result delivered on the async path (`POST /internal/requests/{id}/result`).
    pub fn deliver_result(&mut self, result: StoredResult, now_ms: u64) -> ResultOutcome {
        match (&self.state, &self.result) {
            (RequestState::Completed, Some(existing)) if *existing == result => {
                ResultOutcome::AlreadyStored
            }
            (state, _) if state.is_terminal() => ResultOutcome::Conflict,
            _ => {
                self.finish(Event::ResultArrived, Some(result), None, now_ms);
                ResultOutcome::Stored
            }
        }
    }

    /// Fails the request if it is past its deadline without a result. Returns whether it did.
    pub fn expire_if_due(&mut self, now_ms: u64) -> bool {
        if self.state.is_terminal() || now_ms < self.expires_ms {
            return false;
        }
        self.finish(
            Event::GaveUp,
            None,
            Some("expired before the backend answered".to_owned()),
            now_ms,
        );
        true
    }

    fn finish(
        &mut self,
        event: Event,
        result: Option<StoredResult>,
        reason: Option<String>,
        now_ms: u64,
    ) {
        if let Ok(next) = self.state.on(event) {
            self.state = next;
            self.result = result;
            self.failure_reason = reason;
            self.next_dispatch_ms = None;
            self.last_updated_ms = now_ms;
            if self.callback.is_some() {
                self.callback_delivery = Some(CallbackState::new(self.request_id.as_str(), now_ms));
            }
        }
    }

    /// The JSON body of `POST {BACKEND_URL}/payments` (the backend contract, docs/api.md).
    pub fn dispatch_body(&self) -> Value {
        json!({
            "request_id": self.request_id,
            "tenant": self.tenant,
            "dialect": self.dialect.as_str(),
            "subject": self.subject,
            "fields": self.fields,
            "submission_count": self.submission_count,
            "created_at": rfc3339_millis(self.created_ms),
        })
    }

    /// The item lock was released after the request turned terminal; it is not released again.
    pub fn mark_lock_released(&mut self) {
        self.lock_released = true;
    }

    /// This request's item lock is its own row in its lane: the save that makes it terminal
    /// frees it, and no lock elsewhere is ever to be told.
    pub fn with_lock_in_own_row(mut self) -> Self {
        self.lock_released = true;
        self
    }

    /// What attempt `attempt` of the callback must send: the backend's answer verbatim, or, for
    /// a failed request (which has none), its status object with the `502` edgepay mirrors.
    pub fn callback_job(&self, attempt: u32) -> CallbackJob {
        let (Some(delivery), Some(template)) = (&self.callback_delivery, &self.callback) else {
            return CallbackJob::skip("no callback owed");
        };
        if !delivery.expects(attempt) {
            return CallbackJob::skip("this attempt is no longer owed");
        }
        let (body, result_status) = match &self.result {
            Some(result) => (result.body.clone(), result.status),
            None => {
                let links = Links::new(&self.origin, self.request_id.as_str(), true);
                (self.view().status_object(&links).to_string(), FAILED_STATUS)
            }
        };
        CallbackJob::Send {
            request_id: self.request_id.to_string(),
            tenant: self.tenant.clone(),
            delivery_id: delivery.delivery_id.clone(),
            template: template.clone(),
            item: self.subject.clone(),
            account: self.account.clone().unwrap_or_default(),
            body,
            result_status,
        }
    }

    /// Whether a callback is still owed (pending in the outbox).
    pub fn callback_pending(&self) -> bool {
        self.callback_delivery
            .as_ref()
            .is_some_and(|c| c.status == DeliveryStatus::Pending)
    }

    /// Whether the record may be deleted (terminal, lock released, past retention).
    pub fn purgeable(&self, now_ms: u64, lifetimes: &Lifetimes) -> bool {
        self.state.is_terminal()
            && self.lock_released
            && !self.callback_pending()
            && now_ms >= self.last_updated_ms.saturating_add(lifetimes.retention_ms)
    }

    /// When the object's alarm should next fire.
    pub fn next_alarm_ms(&self, now_ms: u64, lifetimes: &Lifetimes) -> u64 {
        let index = self.index_due().then(|| match self.index_retry_ms {
            Some(retry) => retry,
            None if self.indexed_digest.is_none() && !self.state.is_terminal() => {
                now_ms.max(self.created_ms.saturating_add(FIRST_INDEX_DELAY_MS))
            }
            None => now_ms,
        });
        if !self.state.is_terminal() {
            let due = self
                .next_dispatch_ms
                .map_or(self.expires_ms, |due| due.min(self.expires_ms));
            return index.map_or(due, |i| i.min(due));
        }
        // A removal from the index that failed holds the deletion back until its retry.
        let retention = self.last_updated_ms.saturating_add(lifetimes.retention_ms);
        let retention = self.index_retry_ms.map_or(retention, |r| retention.max(r));
        let callback = self
            .callback_delivery
            .as_ref()
            .and_then(CallbackState::next_alarm_ms);
        let lock = (!self.lock_released).then(|| now_ms.saturating_add(LOCK_RELEASE_RETRY_MS));
        [callback, lock, index]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(retention)
    }

    /// This request as the payments index holds it.
    pub fn index_row(&self) -> IndexRow {
        let callback_state = match (&self.callback, &self.callback_delivery) {
            (None, _) => "none",
            (Some(_), None) => "waiting",
            (Some(_), Some(delivery)) => delivery.status.as_str(),
        };
        IndexRow {
            request_id: self.request_id.to_string(),
            tenant: self.tenant.clone(),
            dialect: self.dialect.as_str().to_owned(),
            subject: self.subject.clone(),
            state: self.state.as_str().to_owned(),
            created_ms: self.created_ms,
            updated_ms: self.last_updated_ms,
            result_status: self.result.as_ref().map(|r| r.status),
            submission_count: self.submission_count,
            callback_state: callback_state.to_owned(),
            callback_attempts: self.callback_delivery.as_ref().map_or(0, |d| d.attempts),
        }
    }

    /// Whether the index lacks this record's current row.
    pub fn index_due(&self) -> bool {
        self.indexed_digest != Some(self.index_row().digest())
    }

    /// The index now holds the row with `digest` (or the index is off).
    pub fn index_written(&mut self, digest: u64) {
        self.indexed_digest = Some(digest);
        self.index_failures = 0;
        self.index_retry_ms = None;
    }

    /// The index no longer has the row (it was removed for a deletion that did not happen):
    /// the row is due again.
    pub fn index_removed(&mut self) {
        self.indexed_digest = None;
    }

    /// An index write or removal failed: try again later each time (`retry_delay_ms`).
    pub fn index_failed(&mut self, now_ms: u64) {
        self.index_failures = self.index_failures.saturating_add(1);
        self.index_retry_ms = Some(now_ms.saturating_add(retry_delay_ms(self.index_failures)));
    }

    pub fn view(&self) -> RequestView {
        RequestView {
            request_id: self.request_id.to_string(),
            dialect: self.dialect,
            state: self.state,
            submission_count: self.submission_count,
            last_updated_ms: self.last_updated_ms,
            has_callback: self.callback.is_some(),
            result: self.result.clone(),
            failure_reason: self.failure_reason.clone(),
        }
    }
}

/// What the payment-request object tells the edge: enough to render any dialect's answer.
/// Which queue a callback message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackQueue {
    Attempts,
    DeadLetters,
}

/// What asking for a replay of the callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    Started,
    NotTerminal,
    NoCallback,
    /// The replay limits refused it (`callback::delivery`); nothing changed.
    Refused(ReplayRefused),
}

impl RequestRecord {
    /// The callback message now due, if any, marked sent in the record (the outbox) before it
    /// is sent: an attempt whose time has come, or an exhausted delivery's dead letter. If the
    /// send is lost, the confirm deadline makes it due again.
    pub fn take_due_callback(
        &mut self,
        now_ms: u64,
        timing: &CallbackPolicyTiming,
    ) -> Option<(CallbackQueue, u32)> {
        let delivery = self.callback_delivery.as_mut()?;
        if let Some(attempt) = delivery.attempt_to_enqueue(now_ms) {
            delivery.mark_enqueued(attempt, now_ms, timing);
            Some((CallbackQueue::Attempts, attempt))
        } else if delivery.dead_letter_due(now_ms) {
            delivery.mark_dead_letter_sent(now_ms, timing);
            Some((CallbackQueue::DeadLetters, delivery.attempts))
        } else {
            None
        }
    }

    /// Records how attempt `attempt` went; `None` when no callback is owed.
    pub fn record_callback(
        &mut self,
        attempt: u32,
        outcome: &AttemptOutcome,
        now_ms: u64,
        timing: &CallbackPolicyTiming,
        jitter_unit: f64,
    ) -> Option<Recorded> {
        let delivery = self.callback_delivery.as_mut()?;
        Some(delivery.record(attempt, outcome, now_ms, timing, jitter_unit))
    }

    /// The dead-letter consumer saw this request's message. Returns the attempts made when this
    /// confirms the exhaustion (once); a message dead-lettered while its delivery is still
    /// pending confirms nothing, and the outbox sends that attempt again.
    pub fn confirm_dead_lettered(&mut self) -> Option<u32> {
        let delivery = self.callback_delivery.as_mut()?;
        delivery
            .confirm_dead_lettered()
            .then_some(delivery.attempts)
    }

    /// Delivers the stored result to the callback again, from the first attempt.
    pub fn replay_callback(&mut self, now_ms: u64) -> Replay {
        match self.callback_delivery.as_mut() {
            Some(delivery) => match delivery.replay(now_ms) {
                Ok(()) => Replay::Started,
                Err(refused) => Replay::Refused(refused),
            },
            None if self.callback.is_none() => Replay::NoCallback,
            None => Replay::NotTerminal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestView {
    pub request_id: String,
    pub dialect: Dialect,
    pub state: RequestState,
    pub submission_count: u32,
    pub last_updated_ms: u64,
    pub has_callback: bool,
    #[serde(default)]
    pub result: Option<StoredResult>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// Absolute links for one request, on the origin the client called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub status: String,
    pub callbacks: Option<String>,
}

impl Links {
    pub fn new(origin: &str, request_id: &str, has_callback: bool) -> Self {
        let origin = origin.trim_end_matches('/');
        Self {
            status: format!("{origin}/request/{request_id}/status"),
            callbacks: has_callback.then(|| format!("{origin}/request/{request_id}/callbacks")),
        }
    }

    /// The links of a delivery log: itself, the request's status link, and its replay.
    pub fn of_delivery_log(origin: &str, request_id: &str) -> Value {
        let links = Self::new(origin, request_id, true);
        let log = links.callbacks.unwrap_or_default();
        json!({"self": log, "status": links.status, "replay": format!("{log}/replay")})
    }
}

/// HTTP status for a failed request: the backend never gave a usable answer.
pub const FAILED_STATUS: u16 = 502;

impl RequestView {
    /// No answer yet: the caller is pointed at the status link to come back.
    pub fn is_pending(&self) -> bool {
        self.result.is_none() && !self.state.is_terminal()
    }

    pub fn message(&self) -> String {
        match self.state {
            // Zai's own texts, which its clients compare, paired with `submission_count` as in
            // Zai's examples: "awaiting submission" only while nothing was submitted, and
            // "awaiting response" once a submission was sent (in flight, acknowledged, or
            // failed and waiting for its retry).
            RequestState::Accepted if self.submission_count == 0 => {
                "request awaiting submission".to_owned()
            }
            RequestState::Accepted | RequestState::Submitted => {
                "request awaiting response".to_owned()
            }
            RequestState::Completed => "The payment backend has answered.".to_owned(),
            RequestState::Failed => format!(
                "The payment did not complete: {}.",
                self.failure_reason
                    .as_deref()
                    .unwrap_or("the backend did not answer")
            ),
        }
    }

    /// The status object of a `202` (and of a failed request).
    pub fn status_object(&self, links: &Links) -> Value {
        let mut link_map = Map::new();
        link_map.insert("status".into(), Value::String(links.status.clone()));
        if let Some(callbacks) = &links.callbacks {
            link_map.insert("callbacks".into(), Value::String(callbacks.clone()));
        }
        json!({
            "request_id": self.request_id,
            "state": self.state.as_str(),
            "last_updated": rfc3339_millis(self.last_updated_ms),
            "submission_count": self.submission_count,
            "message": self.message(),
            "links": Value::Object(link_map),
        })
    }
}

/// Seconds a client should wait before polling again.
pub const RETRY_AFTER_SECS: u32 = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::contract::classify_reply;

    const LIFE: Lifetimes = Lifetimes {
        result_timeout_ms: 60_000,
        retention_ms: 7 * 86_400_000,
    };

    fn record() -> RequestRecord {
        let payment = NewPayment {
            tenant: "t".into(),
            dialect: Dialect::Zai,
            subject: "order-1".into(),
            account: Some("acc".into()),
            fields: Map::new(),
            callback: Some("https://a.example.com/{item}".into()),
            owner: None,
        };
        RequestRecord::accept(
            RequestId::parse("0123456789ab4def8123456789abcdef").unwrap(),
            payment,
            "https://g".into(),
            1_000,
            &LIFE,
        )
    }

    /// A submission timeout longer than the first index delay.
    fn long_policy() -> DispatchPolicy {
        DispatchPolicy {
            timeout_ms: 10_000,
            ..policy()
        }
    }

    fn policy() -> DispatchPolicy {
        DispatchPolicy {
            timeout_ms: 100,
            retry_delays_ms: vec![10, 20],
            breaker: Default::default(),
        }
    }

    #[test]
    fn sync_answer_completes() {
        let mut r = record();
        assert!(r.dispatch_due(1_000));
        r.begin_submission(1_000, &policy());
        assert_eq!((r.submission_count, r.next_dispatch_ms), (1, Some(1_110)));
        let applied = r.apply_reply(
            classify_reply(422, None, Ok("{\"items\":{}}".into())),
            1_050,
            &policy(),
        );
        assert_eq!(applied, Applied::Completed);
        assert_eq!(r.state, RequestState::Completed);
        assert_eq!(r.result.as_ref().map(|x| x.status), Some(422));
        assert_eq!(r.next_dispatch_ms, None);
        assert!(!r.dispatch_due(u64::MAX));
    }

    #[test]
    fn transient_failures_retry_then_fail() {
        let mut r = record();
        let p = policy();
        // The schedule's 10 ms and 20 ms, each within ±20 %.
        r.begin_submission(1_000, &p);
        let Applied::RetryAt(first) =
            r.apply_reply(BackendReply::Transient("500".into()), 1_001, &p)
        else {
            panic!("a retry")
        };
        assert!((1_009..=1_013).contains(&first), "{first}");
        r.begin_submission(first, &p);
        let Applied::RetryAt(second) =
            r.apply_reply(BackendReply::Transient("500".into()), first + 1, &p)
        else {
            panic!("a retry")
        };
        assert!((first + 17..=first + 25).contains(&second), "{second}");
        r.begin_submission(second, &p);
        assert_eq!(
            r.apply_reply(BackendReply::Transient("timeout".into()), second + 1, &p),
            Applied::Failed
        );
        assert_eq!(r.state, RequestState::Failed);
        assert_eq!(r.submission_count, 3);
        assert!(r
            .failure_reason
            .as_deref()
            .unwrap_or_default()
            .contains("3 submissions"));
    }

    #[test]
    fn acknowledged_waits_for_async_result_and_rejects_a_different_one() {
        let mut r = record();
        r.begin_submission(1_000, &policy());
        assert_eq!(
            r.apply_reply(BackendReply::Acknowledged, 1_001, &policy()),
            Applied::Acknowledged
        );
        assert_eq!(
            (r.state, r.next_dispatch_ms),
            (RequestState::Submitted, None)
        );
        indexed(&mut r);
        assert_eq!(r.next_alarm_ms(1_001, &LIFE), r.expires_ms);
        let result = StoredResult {
            status: 200,
            content_type: "application/json".into(),
            body: "{}".into(),
        };
        assert_eq!(
            r.deliver_result(result.clone(), 2_000),
            ResultOutcome::Stored
        );
        assert_eq!(
            r.deliver_result(result.clone(), 2_001),
            ResultOutcome::AlreadyStored
        );
        let other = StoredResult {
            status: 422,
            ..result
        };
        assert_eq!(r.deliver_result(other, 2_002), ResultOutcome::Conflict);
        assert_eq!(r.result.as_ref().map(|x| x.status), Some(200));
        assert_eq!(r.last_updated_ms, 2_000);
        // A late synchronous answer for a completed request changes nothing.
        assert_eq!(
            r.apply_reply(BackendReply::Acknowledged, 3_000, &policy()),
            Applied::Ignored
        );
    }

    #[test]
    fn result_may_overtake_the_acknowledgement() {
        let mut r = record();
        r.begin_submission(1_000, &policy());
        let result = StoredResult {
            status: 200,
            content_type: "application/json".into(),
            body: "{}".into(),
        };
        assert_eq!(r.deliver_result(result, 1_005), ResultOutcome::Stored);
        assert_eq!(
            r.apply_reply(BackendReply::Acknowledged, 1_010, &policy()),
            Applied::Ignored
        );
        assert_eq!(r.state, RequestState::Completed);
    }

    /// The index has the record's current row.
    fn indexed(r: &mut RequestRecord) {
        let digest = r.index_row().digest();
        r.index_written(digest);
    }

    #[test]
    fn every_change_is_owed_to_the_index_and_a_failed_write_waits_its_turn() {
        let mut r = record();
        assert_eq!(r.index_row().callback_state, "waiting");
        r.callback = None;
        assert!(r.index_due(), "a new record is not in the index yet");
        assert_eq!(r.index_row().state, "accepted");
        assert_eq!(r.index_row().callback_state, "none");
        indexed(&mut r);
        assert!(!r.index_due());
        r.begin_submission(1_000, &policy());
        r.apply_reply(BackendReply::Acknowledged, 1_001, &policy());
        assert!(r.index_due(), "a transition makes the row due again");
        // Due now, before the expiry the alarm would otherwise wait for.
        assert_eq!(r.next_alarm_ms(1_001, &LIFE), 1_001);
        r.index_failed(1_001);
        r.index_failed(6_001);
        assert_eq!(r.next_alarm_ms(6_001, &LIFE), 6_001 + 10_000);
        indexed(&mut r);
        assert_eq!(r.next_alarm_ms(6_001, &LIFE), r.expires_ms);

        // A terminal record whose removal from the index failed is kept until the retry.
        r.expire_if_due(r.expires_ms);
        r.lock_released = true;
        indexed(&mut r);
        let retention = r.last_updated_ms + LIFE.retention_ms;
        assert_eq!(r.next_alarm_ms(retention, &LIFE), retention);
        r.index_failed(retention);
        assert_eq!(r.next_alarm_ms(retention, &LIFE), retention + 5_000);
        indexed(&mut r);
        r.index_removed();
        assert!(
            r.index_due(),
            "a row removed for a deletion that did not happen is due again"
        );
        assert_eq!(r.index_row().state, "failed");
        assert_eq!(r.index_row().callback_state, "none");
    }

    #[test]
    fn a_new_payment_is_indexed_after_a_delay_or_at_once_when_it_ends_first() {
        let mut r = record();
        r.callback = None;
        r.begin_submission(1_000, &long_policy());
        assert_eq!(r.next_alarm_ms(1_000, &LIFE), 1_000 + FIRST_INDEX_DELAY_MS);
        assert_eq!(
            r.next_alarm_ms(1_000 + FIRST_INDEX_DELAY_MS + 7, &LIFE),
            1_000 + FIRST_INDEX_DELAY_MS + 7,
            "once the delay is over the row is due now"
        );
        r.apply_reply(
            classify_reply(200, None, Ok("{}".into())),
            1_005,
            &long_policy(),
        );
        r.lock_released = true;
        assert_eq!(r.next_alarm_ms(1_005, &LIFE), 1_005, "a terminal row: now");

        let mut r = record();
        r.callback = None;
        r.begin_submission(1_000, &long_policy());
        indexed(&mut r);
        r.apply_reply(BackendReply::Acknowledged, 1_001, &long_policy());
        assert_eq!(
            r.next_alarm_ms(1_001, &LIFE),
            1_001,
            "a row the index has seen is updated at once"
        );
    }

    #[test]
    fn a_payment_whose_lock_is_its_row_has_nothing_to_release() {
        let mut r = record().with_lock_in_own_row();
        r.callback = None;
        r.begin_submission(1_000, &policy());
        r.apply_reply(classify_reply(200, None, Ok("{}".into())), 1_010, &policy());
        indexed(&mut r);
        assert_eq!(
            r.next_alarm_ms(1_010, &LIFE),
            1_010 + LIFE.retention_ms,
            "no lock release to retry: next is the purge"
        );
        assert!(r.purgeable(1_010 + LIFE.retention_ms, &LIFE));
        assert!(
            !record().lock_released(),
            "a lock shard's payment still owes a release"
        );
    }

    #[test]
    fn expiry_and_retention() {
        let mut r = record();
        r.callback = None;
        r.begin_submission(1_000, &policy());
        r.apply_reply(BackendReply::Acknowledged, 1_001, &policy());
        assert!(!r.expire_if_due(60_999));
        assert!(r.expire_if_due(61_000));
        assert_eq!(r.state, RequestState::Failed);
        let late = StoredResult {
            status: 200,
            content_type: "application/json".into(),
            body: "{}".into(),
        };
        assert_eq!(r.deliver_result(late, 61_001), ResultOutcome::Conflict);
        indexed(&mut r);
        // Lock not yet released: the alarm retries the release soon.
        assert_eq!(
            r.next_alarm_ms(61_000, &LIFE),
            61_000 + LOCK_RELEASE_RETRY_MS
        );
        assert!(!r.purgeable(u64::MAX, &LIFE));
        r.lock_released = true;
        assert_eq!(r.next_alarm_ms(61_000, &LIFE), 61_000 + LIFE.retention_ms);
        assert!(!r.purgeable(61_000 + LIFE.retention_ms - 1, &LIFE));
        assert!(r.purgeable(61_000 + LIFE.retention_ms, &LIFE));
    }

    #[test]
    fn a_terminal_request_with_a_callback_owes_a_delivery() {
        let mut r = record();
        r.begin_submission(1_000, &policy());
        r.apply_reply(classify_reply(200, None, Ok("{}".into())), 1_010, &policy());
        let owed = r.callback_delivery.clone().expect("a callback is owed");
        assert_eq!(
            (owed.delivery_id.as_str(), owed.next_due_ms),
            ("msg_0123456789ab4def8123456789abcdef", Some(1_010))
        );
        assert!(r.callback_pending());
        r.lock_released = true;
        assert_eq!(
            r.next_alarm_ms(1_010, &LIFE),
            1_010,
            "the alarm sends it now"
        );
        assert!(
            !r.purgeable(u64::MAX, &LIFE),
            "never purged while a delivery is owed"
        );

        let mut silent = record();
        silent.callback = None;
        silent.begin_submission(1_000, &policy());
        silent.apply_reply(classify_reply(200, None, Ok("{}".into())), 1_010, &policy());
        assert!(silent.callback_delivery.is_none());
    }

    #[test]
    fn status_object_shape() {
        let r = record();
        let links = Links::new("http://127.0.0.1:8787/", r.request_id.as_str(), true);
        let v = r.view().status_object(&links);
        assert_eq!(v["request_id"], "0123456789ab4def8123456789abcdef");
        assert_eq!(v["state"], "accepted");
        assert_eq!(v["submission_count"], 0);
        assert_eq!(v["message"], "request awaiting submission");
        assert_eq!(v["last_updated"], "1970-01-01T00:00:01.000Z");
        assert_eq!(
            v["links"]["status"],
            "http://127.0.0.1:8787/request/0123456789ab4def8123456789abcdef/status"
        );
        assert_eq!(
            v["links"]["callbacks"],
            "http://127.0.0.1:8787/request/0123456789ab4def8123456789abcdef/callbacks"
        );
        let mut submitted = r.clone();
        submitted.begin_submission(2_000, &policy());
        submitted.apply_reply(classify_reply(202, None, Ok(Vec::new())), 2_010, &policy());
        assert_eq!(submitted.state, RequestState::Submitted);
        assert_eq!(
            submitted.view().status_object(&links)["message"],
            "request awaiting response"
        );
        let mut in_flight = r.clone();
        in_flight.begin_submission(2_000, &policy());
        let v = in_flight.view().status_object(&links);
        assert_eq!(
            (
                v["state"].as_str(),
                v["submission_count"].as_u64(),
                v["message"].as_str()
            ),
            (Some("accepted"), Some(1), Some("request awaiting response")),
            "a submission in flight is awaiting its response, as in Zai's examples"
        );
        let no_cb = Links::new("https://pay.example.com", "r1", false);
        assert!(r.view().status_object(&no_cb)["links"]
            .get("callbacks")
            .is_none());
    }
}
