//! What a payment costs on Cloudflare: the billed units the gateway counts as it runs (`Units`) and Cloudflare's list prices (`LIST_PRICES`), giving dollars per million payments.
//!
//! The units are counted by the runtime, not estimated: rows written come from the SQL
//! cursor's `rowsWritten` and D1's `meta.rows_written`. Only usage above the Workers Paid
//! plan's monthly allowance is billed; the figures here are the marginal price, as if the
//! allowance were spent. Duration (GB-s) and CPU time are left out: they depend on where the
//! object runs and are not countable locally.

use serde::{Deserialize, Serialize};

/// Billed units, summed over whatever was counted (one isolate, one run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Units {
    /// Requests to the Worker (HTTP requests and queue-consumer invocations).
    pub worker_requests: u64,
    /// Requests to Durable Objects (each stub `fetch`) and alarm invocations.
    pub object_requests: u64,
    /// Rows written to Durable Objects' SQLite, from the cursors' `rowsWritten`.
    pub object_rows_written: u64,
    /// Rows written to D1 (the payments index), from `meta.rows_written`.
    pub index_rows_written: u64,
    /// Rows read from D1, from `meta.rows_read`.
    pub index_rows_read: u64,
    /// Messages sent to a queue.
    pub queue_sends: u64,
    /// Messages a queue delivered to the consumer (every delivery, retries included).
    pub queue_deliveries: u64,
    /// Messages the consumer acknowledged (deleted from the queue).
    pub queue_acks: u64,
}

impl Units {
    /// `self - before`, field by field (saturating: a counter never goes back).
    pub fn since(&self, before: &Units) -> Units {
        Units {
            worker_requests: self.worker_requests.saturating_sub(before.worker_requests),
            object_requests: self.object_requests.saturating_sub(before.object_requests),
            object_rows_written: self
                .object_rows_written
                .saturating_sub(before.object_rows_written),
            index_rows_written: self
                .index_rows_written
                .saturating_sub(before.index_rows_written),
            index_rows_read: self.index_rows_read.saturating_sub(before.index_rows_read),
            queue_sends: self.queue_sends.saturating_sub(before.queue_sends),
            queue_deliveries: self
                .queue_deliveries
                .saturating_sub(before.queue_deliveries),
            queue_acks: self.queue_acks.saturating_sub(before.queue_acks),
        }
    }

    /// Queue operations as Queues bills them: a write, a read and a delete per message of
    /// up to 64 KB (every message here is far smaller).
    pub fn queue_operations(&self) -> u64 {
        self.queue_sends + self.queue_deliveries + self.queue_acks
    }

    /// Rows written in all (objects and index).
    pub fn rows_written(&self) -> u64 {
        self.object_rows_written + self.index_rows_written
    }
}

/// Dollars per million units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub worker_request: f64,
    pub object_request: f64,
    pub object_row_written: f64,
    pub index_row_written: f64,
    pub index_row_read: f64,
    pub queue_operation: f64,
}

/// Cloudflare's list prices on the Workers Paid plan, read on 2026-12-06 from the pricing
/// pages of Workers, Durable Objects, D1 and Queues (docs/performance.md, "What a payment
/// costs").
pub const LIST_PRICES: Prices = Prices {
    worker_request: 0.30,
    object_request: 0.15,
    object_row_written: 1.00,
    index_row_written: 1.00,
    index_row_read: 0.001,
    queue_operation: 0.40,
};

/// One line of a cost breakdown: what, units per payment, dollars per million payments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub unit: &'static str,
    pub per_payment: f64,
    pub dollars_per_million: f64,
}

/// `units` counted over `payments` payments, priced: one line per kind of unit, then the
/// total (`unit` "total").
pub fn per_million_payments(units: &Units, payments: u64, prices: &Prices) -> Vec<CostLine> {
    let n = payments.max(1) as f64;
    let mut lines: Vec<CostLine> = [
        (
            "Worker requests",
            units.worker_requests,
            prices.worker_request,
        ),
        (
            "Durable Object requests",
            units.object_requests,
            prices.object_request,
        ),
        (
            "Durable Object rows written",
            units.object_rows_written,
            prices.object_row_written,
        ),
        (
            "D1 rows written",
            units.index_rows_written,
            prices.index_row_written,
        ),
        ("D1 rows read", units.index_rows_read, prices.index_row_read),
        (
            "Queue operations",
            units.queue_operations(),
            prices.queue_operation,
        ),
    ]
    .into_iter()
    .map(|(unit, count, price)| {
        let per_payment = count as f64 / n;
        CostLine {
            unit,
            per_payment,
            // Units per payment × $ per million units = $ per million payments.
            dollars_per_million: per_payment * price,
        }
    })
    .collect();
    let total = lines.iter().map(|l| l.dollars_per_million).sum();
    lines.push(CostLine {
        unit: "total",
        per_payment: f64::NAN,
        dollars_per_million: total,
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_is_priced_per_unit_and_in_total() {
        let units = Units {
            worker_requests: 100,
            object_requests: 300,
            object_rows_written: 1_000,
            index_rows_written: 500,
            index_rows_read: 0,
            queue_sends: 100,
            queue_deliveries: 100,
            queue_acks: 100,
        };
        let lines = per_million_payments(&units, 100, &LIST_PRICES);
        let line = |unit: &str| lines.iter().find(|l| l.unit == unit).unwrap().clone();
        assert_eq!(line("Worker requests").dollars_per_million, 0.30);
        assert!((line("Durable Object requests").dollars_per_million - 0.45).abs() < 1e-9);
        assert_eq!(line("Durable Object rows written").per_payment, 10.0);
        assert_eq!(
            line("Durable Object rows written").dollars_per_million,
            10.0
        );
        assert_eq!(line("D1 rows written").dollars_per_million, 5.0);
        assert!((line("Queue operations").dollars_per_million - 1.2).abs() < 1e-9);
        assert!((line("total").dollars_per_million - 16.95).abs() < 1e-9);
        assert_eq!(units.rows_written(), 1_500);
    }

    #[test]
    fn counts_are_taken_as_differences_and_never_go_negative() {
        let before = Units {
            object_rows_written: 10,
            queue_acks: 3,
            ..Units::default()
        };
        let after = Units {
            object_rows_written: 25,
            queue_acks: 2,
            ..Units::default()
        };
        let d = after.since(&before);
        assert_eq!(d.object_rows_written, 15);
        assert_eq!(d.queue_acks, 0);
        // No payments counted: priced per one, not divided by zero.
        let lines = per_million_payments(&d, 0, &LIST_PRICES);
        assert_eq!(lines.last().unwrap().dollars_per_million, 15.0);
    }
}
