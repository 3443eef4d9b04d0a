//! Callback delivery rules: the retry schedule with jitter and Retry-After, attempt outcomes, and the outbox state.
//!
//! The payment-request object keeps one `CallbackState` per request: the
//! record of what it still owes the client. The queue carries only
//! `{request id, attempt}`; if a message is lost, the object's alarm sends the
//! same attempt again after `confirm_ms`. Receivers dedupe on `webhook-id`,
//! which is stable across attempts and replays.

use serde::{Deserialize, Serialize};

/// The longest `Retry-After` honoured; longer requests are clamped to it.
pub const MAX_RETRY_AFTER_MS: u64 = 6 * 60 * 60 * 1000;

/// How many times the confirm window doubles while one message goes unreported (at most 16×).
pub const MAX_CONFIRM_DOUBLINGS: u32 = 4;

/// How long to wait for the report of a message put on the queue for the `resends`-th time
/// again: `confirm_ms`, doubled for each re-send. A queue that is only slow is not flooded with
/// copies (each copy makes it slower still); a message that was lost is still sent again.
pub fn confirm_window(confirm_ms: u64, resends: u32) -> u64 {
    confirm_ms.saturating_mul(1 << resends.min(MAX_CONFIRM_DOUBLINGS))
}

/// Timing of deliveries (from config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackPolicyTiming {
    /// Delay before attempt n (1-based) of a round; its length is the number of attempts.
    pub schedule_ms: Vec<u64>,
    /// One attempt is abandoned after this long.
    pub timeout_ms: u64,
    /// An enqueued attempt not reported back by then is enqueued again (the outbox).
    pub confirm_ms: u64,
    /// The queue batch waits this long for an attempt; one still unanswered then carries on
    /// outside the batch and marks its receiver slow (`callback::slow_receivers`).
    pub slow_after_ms: u64,
}

impl Default for CallbackPolicyTiming {
    /// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: more than 24 h in all.
    fn default() -> Self {
        Self {
            schedule_ms: vec![
                0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
            ],
            timeout_ms: 15_000,
            confirm_ms: 45_000,
            slow_after_ms: 1_000,
        }
    }
}

/// Applies ±20 % jitter: `unit` is a uniform random number in [0, 1).
pub fn jittered(delay_ms: u64, unit: f64) -> u64 {
    let unit = unit.clamp(0.0, 1.0);
    (delay_ms as f64 * (0.8 + 0.4 * unit)).round() as u64
}

/// The wait before attempt `next_attempt` (1-based, within a round), or `None` when the
/// schedule is used up. A `Retry-After` from the receiver replaces the scheduled delay,
/// clamped to [`MAX_RETRY_AFTER_MS`].
pub fn retry_delay(
    timing: &CallbackPolicyTiming,
    next_attempt: u32,
    unit: f64,
    retry_after_ms: Option<u64>,
) -> Option<u64> {
    let index = usize::try_from(next_attempt.checked_sub(1)?).ok()?;
    let scheduled = *timing.schedule_ms.get(index)?;
    Some(match retry_after_ms {
        Some(asked) => asked.min(MAX_RETRY_AFTER_MS),
        None => jittered(scheduled, unit),
    })
}

/// `Retry-After` as delta-seconds (HTTP dates are not honoured; the schedule applies then).
pub fn parse_retry_after(value: Option<&str>) -> Option<u64> {
    value?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|secs| secs.saturating_mul(1000))
}

/// What one attempt's answer means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered,
    /// 410 Gone: the receiver asks us to stop; also a URL the SSRF policy now refuses.
    Stop,
    /// Anything else; `retry_after_ms` only for 429/503 that sent one.
    Failed { retry_after_ms: Option<u64> },
}

/// Classifies an HTTP answer (`None`: no answer — timeout or network error).
pub fn classify(status: Option<u16>, retry_after: Option<&str>) -> AttemptOutcome {
    match status {
        Some(200..=299) => AttemptOutcome::Delivered,
        Some(410) => AttemptOutcome::Stop,
        Some(429 | 503) => AttemptOutcome::Failed {
            retry_after_ms: parse_retry_after(retry_after),
        },
        _ => AttemptOutcome::Failed {
            retry_after_ms: None,
        },
    }
}

/// How many characters of a receiver's answer body the delivery log quotes.
pub const ANSWER_EXCERPT_CHARS: usize = 200;

/// A log line's `outcome`: edgepay's own words for an attempt (its `detail` is the receiver's
/// answer when there was one, as Zai's log has it, or else already edgepay's words).
pub fn outcome(http_response: Option<u16>, detail: &str) -> String {
    match http_response {
        Some(status) => describe(Some(status), None),
        None => detail.to_owned(),
    }
}

/// A short, log-safe description of an answer.
pub fn describe(status: Option<u16>, error: Option<&str>) -> String {
    match (status, error) {
        (Some(s @ 200..=299), _) => format!("delivered (HTTP {s})"),
        (Some(410), _) => "receiver answered 410 Gone; delivery stopped".to_owned(),
        (Some(s @ 300..=399), _) => format!("HTTP {s}: redirects are not followed"),
        (Some(s), _) => format!("HTTP {s}"),
        (None, Some(e)) => e.to_owned(),
        (None, None) => "no answer".to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Stopped,
    Exhausted,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Stopped => "stopped",
            DeliveryStatus::Exhausted => "exhausted",
        }
    }
}

/// Replays of one payment's callback allowed within [`REPLAY_WINDOW_MS`].
pub const MAX_REPLAYS_PER_WINDOW: usize = 10;

/// The window replays are counted over: an hour.
pub const REPLAY_WINDOW_MS: u64 = 60 * 60 * 1000;

/// Why a replay was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayRefused {
    /// The previous replay's delivery is still pending: `attempts` made so far, and when the
    /// next one is due (`None` while one is on its way).
    InFlight {
        attempts: u32,
        next_due_ms: Option<u64>,
    },
    /// [`MAX_REPLAYS_PER_WINDOW`] replays in the last [`REPLAY_WINDOW_MS`]; the next is allowed
    /// at `retry_at_ms`.
    TooMany { retry_at_ms: u64 },
}

/// The outbox entry of one request's callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackState {
    /// The Standard Webhooks `webhook-id`: the same on every attempt and replay.
    pub delivery_id: String,
    pub status: DeliveryStatus,
    /// Attempts made in all rounds (the attempt number shown in the log).
    pub attempts: u32,
    /// Attempts made before the current round (a replay starts a new round).
    pub round_base: u32,
    /// When the next attempt is due; `None` unless pending.
    pub next_due_ms: Option<u64>,
    /// The attempt number last put on the queue, and when to put it there again if unreported.
    pub enqueued_attempt: Option<u32>,
    pub confirm_by_ms: Option<u64>,
    /// Whether the dead-letter consumer has seen this exhausted delivery.
    #[serde(default)]
    pub dead_lettered: bool,
    /// How many times the message now out (attempt or dead letter) was put on its queue again
    /// unreported; it widens the confirm window.
    #[serde(default)]
    pub resends: u32,
    /// Whether the current round was started by a replay (so, while pending, a replay is in
    /// flight).
    #[serde(default)]
    pub replayed: bool,
    /// When the replays of the last [`REPLAY_WINDOW_MS`] were started, oldest first (at most
    /// [`MAX_REPLAYS_PER_WINDOW`]).
    #[serde(default)]
    pub replays_ms: Vec<u64>,
}

/// What recording an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Delivered,
    Stopped,
    RetryAt(u64),
    Exhausted,
    /// A report for an attempt already recorded, or for a delivery no longer pending.
    Stale,
}

impl CallbackState {
    pub fn new(request_id: &str, now_ms: u64) -> Self {
        Self {
            delivery_id: format!("msg_{request_id}"),
            status: DeliveryStatus::Pending,
            attempts: 0,
            round_base: 0,
            next_due_ms: Some(now_ms),
            enqueued_attempt: None,
            confirm_by_ms: None,
            dead_lettered: false,
            resends: 0,
            replayed: false,
            replays_ms: Vec::new(),
        }
    }

    /// The attempt number to put on the queue now, if one is due and not already out
    /// (or out but unconfirmed past its deadline: the queue may have lost it).
    pub fn attempt_to_enqueue(&self, now_ms: u64) -> Option<u32> {
        if self.status != DeliveryStatus::Pending || self.next_due_ms.is_none_or(|due| due > now_ms)
        {
            return None;
        }
        let next = self.attempts + 1;
        let unconfirmed =
            self.enqueued_attempt == Some(next) && self.confirm_by_ms.is_some_and(|by| by > now_ms);
        (!unconfirmed).then_some(next)
    }

    pub fn mark_enqueued(&mut self, attempt: u32, now_ms: u64, timing: &CallbackPolicyTiming) {
        let again = self.enqueued_attempt == Some(attempt);
        self.resends = if again {
            self.resends.saturating_add(1)
        } else {
            0
        };
        self.enqueued_attempt = Some(attempt);
        self.confirm_by_ms =
            Some(now_ms.saturating_add(confirm_window(timing.confirm_ms, self.resends)));
    }

    /// Whether `attempt` is the one the outbox is waiting for.
    pub fn expects(&self, attempt: u32) -> bool {
        self.status == DeliveryStatus::Pending && attempt == self.attempts + 1
    }

    /// Records attempt `attempt`'s outcome and decides what comes next.
    pub fn record(
        &mut self,
        attempt: u32,
        outcome: &AttemptOutcome,
        now_ms: u64,
        timing: &CallbackPolicyTiming,
        unit: f64,
    ) -> Recorded {
        if !self.expects(attempt) {
            return Recorded::Stale;
        }
        self.attempts = attempt;
        self.enqueued_attempt = None;
        self.confirm_by_ms = None;
        self.resends = 0;
        let decided = match outcome {
            AttemptOutcome::Delivered => {
                self.status = DeliveryStatus::Delivered;
                Recorded::Delivered
            }
            AttemptOutcome::Stop => {
                self.status = DeliveryStatus::Stopped;
                Recorded::Stopped
            }
            AttemptOutcome::Failed { retry_after_ms } => {
                let next_in_round = attempt - self.round_base + 1;
                match retry_delay(timing, next_in_round, unit, *retry_after_ms) {
                    Some(delay) => {
                        let due = now_ms.saturating_add(delay);
                        self.next_due_ms = Some(due);
                        return Recorded::RetryAt(due);
                    }
                    None => {
                        self.status = DeliveryStatus::Exhausted;
                        Recorded::Exhausted
                    }
                }
            }
        };
        self.next_due_ms = None;
        decided
    }

    /// Whether the exhausted delivery must be (re)sent to the dead-letter queue now: it is an
    /// outbox entry too, until the dead-letter consumer confirms it.
    pub fn dead_letter_due(&self, now_ms: u64) -> bool {
        self.status == DeliveryStatus::Exhausted
            && !self.dead_lettered
            && self.confirm_by_ms.is_none_or(|by| by <= now_ms)
    }

    pub fn mark_dead_letter_sent(&mut self, now_ms: u64, timing: &CallbackPolicyTiming) {
        // Exhaustion cleared the confirm deadline, so one is set only when sent before.
        let again = self.confirm_by_ms.is_some();
        self.resends = if again {
            self.resends.saturating_add(1)
        } else {
            0
        };
        self.confirm_by_ms =
            Some(now_ms.saturating_add(confirm_window(timing.confirm_ms, self.resends)));
    }

    /// The dead-letter consumer saw the message. Returns whether this is the first time
    /// (so exhaustion is logged exactly once).
    pub fn confirm_dead_lettered(&mut self) -> bool {
        if self.status != DeliveryStatus::Exhausted || self.dead_lettered {
            return false;
        }
        self.dead_lettered = true;
        self.confirm_by_ms = None;
        true
    }

    /// Starts a new round now (replay), keeping the `webhook-id`, unless the previous replay's
    /// round is still pending or the window's replays are spent. A replay while the first
    /// delivery is still being retried starts it over now. A refused replay changes nothing and
    /// is not counted.
    pub fn replay(&mut self, now_ms: u64) -> Result<(), ReplayRefused> {
        if self.replayed && self.status == DeliveryStatus::Pending {
            return Err(ReplayRefused::InFlight {
                attempts: self.attempts,
                next_due_ms: self.next_due_ms.filter(|_| self.enqueued_attempt.is_none()),
            });
        }
        self.replays_ms
            .retain(|at| at.saturating_add(REPLAY_WINDOW_MS) > now_ms);
        if self.replays_ms.len() >= MAX_REPLAYS_PER_WINDOW {
            let oldest = self.replays_ms.first().copied().unwrap_or(now_ms);
            return Err(ReplayRefused::TooMany {
                retry_at_ms: oldest.saturating_add(REPLAY_WINDOW_MS),
            });
        }
        self.replays_ms.push(now_ms);
        self.replayed = true;
        self.status = DeliveryStatus::Pending;
        self.round_base = self.attempts;
        self.next_due_ms = Some(now_ms);
        self.enqueued_attempt = None;
        self.confirm_by_ms = None;
        self.dead_lettered = false;
        self.resends = 0;
        Ok(())
    }

    /// When the owning object's alarm must fire for this delivery, if at all.
    pub fn next_alarm_ms(&self) -> Option<u64> {
        if self.status == DeliveryStatus::Exhausted && !self.dead_lettered {
            return self.confirm_by_ms;
        }
        if self.status != DeliveryStatus::Pending {
            return None;
        }
        match (self.enqueued_attempt, self.confirm_by_ms) {
            (Some(_), Some(by)) => Some(by),
            _ => self.next_due_ms,
        }
    }
}

/// A queue message: ids only, versioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackMessage {
    pub v: u32,
    pub request_id: String,
    pub attempt: u32,
}

impl CallbackMessage {
    pub const VERSION: u32 = 1;
}

/// Everything the queue consumer needs to make one callback attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallbackJob {
    Send {
        request_id: String,
        tenant: String,
        delivery_id: String,
        template: String,
        item: String,
        account: String,
        /// The body verbatim, and the status edgepay mirrors in `edgepay-result-status`.
        body: String,
        result_status: u16,
    },
    /// Nothing to send (already delivered, replaced by a newer attempt, or unknown).
    Skip { reason: String },
}

impl CallbackJob {
    pub fn skip(reason: &str) -> Self {
        CallbackJob::Skip {
            reason: reason.to_owned(),
        }
    }
}

/// One line of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLogEntry {
    pub executed_utc: String,
    /// The receiver's HTTP status, or `null` when there was no answer.
    pub http_response: Option<u16>,
    /// The receiver's answer body (bounded, sanitised; empty if it sent none), or edgepay's
    /// words when there was no answer (a timeout, a refused connection, the exhaustion line).
    pub detail: String,
    /// edgepay's own words for the attempt: `delivered (HTTP 200)`, `HTTP 500`, a timeout…
    #[serde(default)]
    pub outcome: String,
    pub attempt: u32,
    /// Only on the line that stands for entries the log no longer keeps
    /// (`callback::delivery_log`): how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short() -> CallbackPolicyTiming {
        CallbackPolicyTiming {
            schedule_ms: vec![0, 100, 1_000],
            timeout_ms: 50,
            confirm_ms: 500,
            slow_after_ms: 20,
        }
    }

    #[test]
    fn default_schedule_spans_more_than_a_day() {
        let t = CallbackPolicyTiming::default();
        assert_eq!(t.schedule_ms.len(), 8);
        assert!(t.schedule_ms.iter().sum::<u64>() > 24 * 3_600_000);
        assert_eq!(t.timeout_ms, 15_000);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for (delay, unit, expected) in [
            (1_000, 0.0, 800),
            (1_000, 0.5, 1_000),
            (1_000, 0.999_999, 1_200),
            (0, 0.7, 0),
            (5_000, 0.25, 4_500),
        ] {
            assert_eq!(jittered(delay, unit), expected, "{delay} {unit}");
        }
        for i in 0..=100 {
            let d = jittered(300_000, f64::from(i) / 100.0);
            assert!((240_000..=360_000).contains(&d), "{d}");
        }
    }

    #[test]
    fn retry_delay_table() {
        let t = CallbackPolicyTiming::default();
        let cases = [
            (1, 0.5, None, Some(0)),
            (2, 0.5, None, Some(5_000)),
            (3, 0.0, None, Some(240_000)),
            (8, 1.0, None, Some(43_200_000)),
            (9, 0.5, None, None),
            (0, 0.5, None, None),
            (2, 0.5, Some(120_000), Some(120_000)),
            (2, 0.5, Some(u64::MAX), Some(MAX_RETRY_AFTER_MS)),
            (9, 0.5, Some(1_000), None),
        ];
        for (attempt, unit, retry_after, expected) in cases {
            assert_eq!(
                retry_delay(&t, attempt, unit, retry_after),
                expected,
                "{attempt} {unit} {retry_after:?}"
            );
        }
    }

    #[test]
    fn outcomes() {
        assert_eq!(classify(Some(200), None), AttemptOutcome::Delivered);
        assert_eq!(classify(Some(204), None), AttemptOutcome::Delivered);
        assert_eq!(classify(Some(410), None), AttemptOutcome::Stop);
        assert_eq!(
            classify(Some(302), None),
            AttemptOutcome::Failed {
                retry_after_ms: None
            }
        );
        assert_eq!(
            classify(Some(500), Some("30")),
            AttemptOutcome::Failed {
                retry_after_ms: None
            }
        );
        assert_eq!(
            classify(Some(503), Some("30")),
            AttemptOutcome::Failed {
                retry_after_ms: Some(30_000)
            }
        );
        assert_eq!(
            classify(Some(429), Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            AttemptOutcome::Failed {
                retry_after_ms: None
            }
        );
        assert_eq!(
            classify(None, None),
            AttemptOutcome::Failed {
                retry_after_ms: None
            }
        );
        assert!(describe(Some(301), None).contains("not followed"));
    }

    #[test]
    fn a_delivery_fails_twice_then_succeeds() {
        let t = short();
        let mut s = CallbackState::new("r1", 1_000);
        assert_eq!(s.delivery_id, "msg_r1");
        assert_eq!(s.attempt_to_enqueue(1_000), Some(1));
        s.mark_enqueued(1, 1_000, &t);
        assert_eq!(
            s.attempt_to_enqueue(1_100),
            None,
            "already out, not yet overdue"
        );
        assert_eq!(s.next_alarm_ms(), Some(1_500));
        let failed = AttemptOutcome::Failed {
            retry_after_ms: None,
        };
        assert_eq!(
            s.record(1, &failed, 1_200, &t, 0.5),
            Recorded::RetryAt(1_300)
        );
        assert_eq!(s.attempt_to_enqueue(1_299), None);
        assert_eq!(s.attempt_to_enqueue(1_300), Some(2));
        s.mark_enqueued(2, 1_300, &t);
        assert_eq!(
            s.record(2, &failed, 1_400, &t, 0.5),
            Recorded::RetryAt(2_400)
        );
        assert_eq!(
            s.record(3, &AttemptOutcome::Delivered, 2_500, &t, 0.5),
            Recorded::Delivered
        );
        assert_eq!(
            (s.status, s.attempts, s.next_alarm_ms()),
            (DeliveryStatus::Delivered, 3, None)
        );
        // A duplicate report of attempt 3 changes nothing.
        assert_eq!(s.record(3, &failed, 2_600, &t, 0.5), Recorded::Stale);
    }

    #[test]
    fn a_lost_message_is_enqueued_again_after_the_confirm_deadline() {
        let t = short();
        let mut s = CallbackState::new("r1", 0);
        s.mark_enqueued(1, 0, &t);
        assert_eq!(s.attempt_to_enqueue(499), None);
        assert_eq!(s.attempt_to_enqueue(500), Some(1));
    }

    #[test]
    fn an_unreported_message_is_sent_again_at_doubling_intervals_up_to_sixteen_times() {
        let t = short();
        let mut s = CallbackState::new("r1", 0);
        let mut now = 0;
        let mut gaps = Vec::new();
        s.mark_enqueued(1, now, &t);
        for _ in 0..6 {
            let due = s
                .next_alarm_ms()
                .expect("an alarm for the unconfirmed message");
            assert_eq!(s.attempt_to_enqueue(due - 1), None);
            assert_eq!(s.attempt_to_enqueue(due), Some(1), "the same attempt again");
            gaps.push(due - now);
            now = due;
            s.mark_enqueued(1, now, &t);
        }
        assert_eq!(gaps, [500, 1_000, 2_000, 4_000, 8_000, 8_000]);
        // Its report ends the backoff: the next attempt starts at the plain window.
        let failed = AttemptOutcome::Failed {
            retry_after_ms: None,
        };
        let Recorded::RetryAt(due) = s.record(1, &failed, now, &t, 0.5) else {
            panic!("attempt 2 is scheduled");
        };
        s.mark_enqueued(2, due, &t);
        assert_eq!(s.next_alarm_ms(), Some(due + 500));
    }

    #[test]
    fn an_unconfirmed_dead_letter_is_sent_again_at_doubling_intervals() {
        let t = short();
        let failed = AttemptOutcome::Failed {
            retry_after_ms: None,
        };
        let mut s = CallbackState::new("r1", 0);
        for attempt in 1..=3 {
            s.record(attempt, &failed, 0, &t, 0.5);
        }
        assert!(s.dead_letter_due(0));
        s.mark_dead_letter_sent(0, &t);
        assert_eq!(s.next_alarm_ms(), Some(500));
        s.mark_dead_letter_sent(500, &t);
        assert_eq!(s.next_alarm_ms(), Some(1_500));
        assert!(s.confirm_dead_lettered());
        assert_eq!(s.next_alarm_ms(), None);
    }

    #[test]
    fn confirm_windows() {
        for (resends, expected) in [(0, 45_000), (1, 90_000), (4, 720_000), (9, 720_000)] {
            assert_eq!(confirm_window(45_000, resends), expected, "{resends}");
        }
        assert_eq!(confirm_window(u64::MAX, 3), u64::MAX);
    }

    #[test]
    fn exhaustion_stop_and_replay() {
        let t = short();
        let failed = AttemptOutcome::Failed {
            retry_after_ms: None,
        };
        let mut s = CallbackState::new("r1", 0);
        assert!(matches!(
            s.record(1, &failed, 0, &t, 0.5),
            Recorded::RetryAt(_)
        ));
        assert!(matches!(
            s.record(2, &failed, 0, &t, 0.5),
            Recorded::RetryAt(_)
        ));
        assert_eq!(s.record(3, &failed, 0, &t, 0.5), Recorded::Exhausted);
        assert_eq!(
            (s.status, s.next_alarm_ms()),
            (DeliveryStatus::Exhausted, None)
        );
        assert_eq!(s.replay(10_000), Ok(()));
        assert_eq!(
            s.attempt_to_enqueue(10_000),
            Some(4),
            "attempt numbers continue across rounds"
        );
        assert!(
            matches!(
                s.record(4, &failed, 10_000, &t, 0.5),
                Recorded::RetryAt(10_100)
            ),
            "the new round starts the schedule over"
        );
        assert_eq!(
            s.record(5, &AttemptOutcome::Stop, 10_200, &t, 0.5),
            Recorded::Stopped
        );
        assert_eq!(s.delivery_id, "msg_r1", "the webhook-id survives replays");
        assert_eq!(s.attempt_to_enqueue(u64::MAX), None);
    }

    fn delivered_once() -> CallbackState {
        let t = short();
        let mut s = CallbackState::new("r1", 0);
        s.record(1, &AttemptOutcome::Delivered, 0, &t, 0.5);
        s
    }

    #[test]
    fn a_replay_while_the_previous_replay_is_pending_is_refused() {
        let t = short();
        let failed = AttemptOutcome::Failed {
            retry_after_ms: None,
        };
        // While the first delivery is still being retried, a replay starts it over now.
        let mut s = CallbackState::new("r1", 0);
        s.record(1, &failed, 0, &t, 0.5);
        assert_eq!(s.replay(10), Ok(()));
        assert_eq!(s.attempt_to_enqueue(10), Some(2));
        s.mark_enqueued(2, 10, &t);
        // That replay is now in flight: another is refused, and changes nothing.
        let before = s.clone();
        assert_eq!(
            s.replay(20),
            Err(ReplayRefused::InFlight {
                attempts: 1,
                next_due_ms: None
            })
        );
        assert_eq!(s, before);
        assert!(matches!(
            s.record(2, &failed, 30, &t, 0.5),
            Recorded::RetryAt(130)
        ));
        assert_eq!(
            s.replay(40),
            Err(ReplayRefused::InFlight {
                attempts: 2,
                next_due_ms: Some(130)
            })
        );
        // Once it has ended (delivered, stopped or exhausted), a replay may start.
        s.record(3, &AttemptOutcome::Delivered, 200, &t, 0.5);
        assert_eq!(s.replay(300), Ok(()));
        assert_eq!(s.replays_ms, vec![10, 300]);
    }

    #[test]
    fn at_most_ten_replays_an_hour() {
        let mut s = delivered_once();
        for i in 0..MAX_REPLAYS_PER_WINDOW as u64 {
            let now = 1_000 + i * 60_000;
            assert_eq!(s.replay(now), Ok(()), "replay {i}");
            s.record(
                s.attempts + 1,
                &AttemptOutcome::Delivered,
                now,
                &short(),
                0.5,
            );
        }
        let before = s.clone();
        assert_eq!(
            s.replay(1_000 + 10 * 60_000),
            Err(ReplayRefused::TooMany {
                retry_at_ms: 1_000 + REPLAY_WINDOW_MS
            })
        );
        assert_eq!(s, before, "a refused replay is not counted");
        assert!(s.replay(1_000 + REPLAY_WINDOW_MS - 1).is_err());
        // The oldest has left the window: one more is allowed, and the window slides on.
        assert_eq!(s.replay(1_000 + REPLAY_WINDOW_MS), Ok(()));
        assert_eq!(s.replays_ms.len(), MAX_REPLAYS_PER_WINDOW);
        assert_eq!(s.replays_ms.first(), Some(&61_000));
    }

    #[test]
    fn a_state_stored_before_replay_limits_reads_as_never_replayed() {
        let mut json = serde_json::to_value(delivered_once()).unwrap_or_default();
        if let Some(fields) = json.as_object_mut() {
            fields.remove("replayed");
            fields.remove("replays_ms");
        }
        let s: CallbackState =
            serde_json::from_value(json).unwrap_or_else(|_| CallbackState::new("x", 9));
        assert_eq!(s, delivered_once());
    }

    #[test]
    fn an_answered_attempts_outcome_comes_from_its_status_and_an_unanswered_ones_from_its_detail() {
        assert_eq!(outcome(Some(200), "{\"ok\":true}"), "delivered (HTTP 200)");
        assert_eq!(outcome(Some(500), "database is down"), "HTTP 500");
        assert!(outcome(Some(410), "bye").starts_with("receiver answered 410 Gone"));
        assert_eq!(
            outcome(None, "timed out after 15000 ms"),
            "timed out after 15000 ms"
        );
    }
}
