//! The circuit breaker in front of a down backend: after consecutive failures, submissions stop for a while, and one trial at a time probes recovery.
//!
//! One breaker lives in each isolate (the Worker keeps it in memory beside the payment objects
//! it runs). It never fails a payment: a submission the breaker holds back is deferred, not
//! counted against the payment's tries, and its payment keeps its place until the backend
//! answers or the result deadline passes.

/// When the breaker opens and for how long (`BACKEND_BREAKER_FAILURES`, `BACKEND_BREAKER_OPEN_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive transient failures (5xx, timeouts, network errors) that open it; 0: never.
    pub trip_after: u32,
    /// How long an open breaker holds submissions back before it lets one trial through.
    pub open_ms: u64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            trip_after: 5,
            open_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breaker {
    consecutive_failures: u32,
    open_until_ms: u64,
    /// When the trial now out was let through. A trial whose outcome never comes back (its
    /// object failed mid-submission) stops counting after three cool-downs.
    trial_since_ms: Option<u64>,
}

/// What the breaker says to a payment whose submission is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Submit,
    /// Held back: try again no sooner than this.
    WaitUntil(u64),
}

/// A change worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Opened,
    Closed,
}

impl Breaker {
    pub fn is_open(&self, policy: &BreakerPolicy) -> bool {
        policy.trip_after > 0 && self.consecutive_failures >= policy.trip_after
    }

    /// Whether a due submission may go now. While open, one trial goes after each cool-down.
    pub fn gate(&mut self, now_ms: u64, policy: &BreakerPolicy) -> Gate {
        if !self.is_open(policy) {
            return Gate::Submit;
        }
        if now_ms < self.open_until_ms {
            return Gate::WaitUntil(self.open_until_ms);
        }
        let trial_lost_after = policy.open_ms.saturating_mul(3);
        if let Some(since) = self.trial_since_ms {
            if now_ms < since.saturating_add(trial_lost_after) {
                return Gate::WaitUntil(now_ms.saturating_add(policy.open_ms));
            }
        }
        self.trial_since_ms = Some(now_ms);
        Gate::Submit
    }

    /// How a submission went: `ok` for any answer the backend gave (a result or an
    /// acknowledgement), not for a transient failure.
    pub fn record(&mut self, ok: bool, now_ms: u64, policy: &BreakerPolicy) -> Option<Change> {
        let was_open = self.is_open(policy);
        self.trial_since_ms = None;
        if ok {
            self.consecutive_failures = 0;
            self.open_until_ms = 0;
            return was_open.then_some(Change::Closed);
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.is_open(policy) {
            self.open_until_ms = now_ms.saturating_add(policy.open_ms);
        }
        (!was_open && self.is_open(policy)).then_some(Change::Opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: BreakerPolicy = BreakerPolicy {
        trip_after: 5,
        open_ms: 10_000,
    };
    const TRIP_AFTER: u32 = P.trip_after;
    const OPEN_MS: u64 = P.open_ms;

    #[test]
    fn consecutive_failures_open_it_and_an_answer_closes_it() {
        let mut b = Breaker::default();
        for n in 1..TRIP_AFTER {
            assert_eq!(b.record(false, n.into(), &P), None);
            assert_eq!(b.gate(n.into(), &P), Gate::Submit);
        }
        assert_eq!(b.record(false, 100, &P), Some(Change::Opened));
        assert_eq!(b.gate(101, &P), Gate::WaitUntil(100 + OPEN_MS));
        assert_eq!(b.record(true, 200, &P), Some(Change::Closed));
        assert_eq!(b.gate(201, &P), Gate::Submit);
    }

    #[test]
    fn an_answer_between_failures_resets_the_count() {
        let mut b = Breaker::default();
        for _ in 1..TRIP_AFTER {
            b.record(false, 0, &P);
        }
        b.record(true, 0, &P);
        b.record(false, 0, &P);
        assert!(!b.is_open(&P));
    }

    #[test]
    fn an_open_breaker_lets_one_trial_through_per_cool_down() {
        let mut b = Breaker::default();
        for _ in 0..TRIP_AFTER {
            b.record(false, 0, &P);
        }
        assert_eq!(b.gate(OPEN_MS - 1, &P), Gate::WaitUntil(OPEN_MS));
        // The cool-down is over: one trial, and everyone else waits while it is out.
        assert_eq!(b.gate(OPEN_MS, &P), Gate::Submit);
        assert_eq!(b.gate(OPEN_MS + 1, &P), Gate::WaitUntil(2 * OPEN_MS + 1));
        // The trial failed: closed again for another cool-down.
        assert_eq!(b.record(false, OPEN_MS + 5, &P), None);
        assert_eq!(b.gate(OPEN_MS + 6, &P), Gate::WaitUntil(2 * OPEN_MS + 5));
        assert_eq!(b.gate(2 * OPEN_MS + 5, &P), Gate::Submit);
        assert_eq!(b.record(true, 2 * OPEN_MS + 9, &P), Some(Change::Closed));
    }

    #[test]
    fn a_trial_that_never_reports_back_stops_holding_the_others() {
        let mut b = Breaker::default();
        for _ in 0..TRIP_AFTER {
            b.record(false, 0, &P);
        }
        assert_eq!(b.gate(OPEN_MS, &P), Gate::Submit);
        assert!(matches!(
            b.gate(OPEN_MS + 3 * OPEN_MS - 1, &P),
            Gate::WaitUntil(_)
        ));
        assert_eq!(b.gate(OPEN_MS + 3 * OPEN_MS, &P), Gate::Submit);
    }

    #[test]
    fn a_zero_threshold_never_opens() {
        let off = BreakerPolicy {
            trip_after: 0,
            open_ms: 10_000,
        };
        let mut b = Breaker::default();
        for n in 0..100 {
            assert_eq!(b.record(false, n, &off), None);
            assert_eq!(b.gate(n, &off), Gate::Submit);
        }
    }
}
