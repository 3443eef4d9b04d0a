//! End-to-end: payments accepted while the backend is down complete when it recovers, with no storm against it.
//!
//! `N` payments (`OUTAGE_N`, 50 in `make test`, 300 in `make outage`) arrive while the test
//! backend answers `503` to everything for `OUTAGE_SECS` (60 / 600). Then it recovers. The run
//! counts: none failed, none lost, every callback delivered, no payment submitted more often
//! than its schedule allows; and prints the peak submission rate the down backend saw.
//! `make test` runs the default schedule scaled by `OUTAGE_SCALE` (10: 0.5 s … 48 s, still
//! outlasting its 60 s outage at its earliest); `make outage` runs the production schedule.
//! `OUTAGE_BREAKER_FAILURES=0` runs it without the circuit breaker, for comparison.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::backend::TestBackend;
use support::gateway::Gateway;
use support::receiver::Receiver;
use support::*;

/// The production default (`DispatchPolicy::default`, `DISPATCH_RETRY_DELAYS_MS` in wrangler.toml).
const DEFAULT_DELAYS_MS: [u64; 8] = [
    5_000, 15_000, 30_000, 60_000, 120_000, 240_000, 480_000, 480_000,
];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
async fn payments_accepted_during_an_outage_all_complete_once_it_ends() {
    let n = env_u64("OUTAGE_N", 50) as usize;
    let outage = Duration::from_secs(env_u64("OUTAGE_SECS", 60));
    let scale = env_u64("OUTAGE_SCALE", 10).max(1);
    let delays: Vec<u64> = DEFAULT_DELAYS_MS.iter().map(|d| d / scale).collect();
    let max_submissions = delays.len() + 1;
    let earliest_span: u64 = delays.iter().map(|d| d * 8 / 10).sum();
    assert!(
        Duration::from_millis(earliest_span) > outage,
        "the schedule ({delays:?}) must outlast the outage"
    );
    let dispatch_timeout = (10_000 / scale).max(1_000);
    println!("outage run: N = {n}, outage {outage:?}, schedule {delays:?} ms");

    let backend = TestBackend::start();
    let receiver = Receiver::start();
    let delays_var = delays
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let timeout_var = dispatch_timeout.to_string();
    let breaker_var = env_u64("OUTAGE_BREAKER_FAILURES", 5).to_string();
    let vars = gateway_vars(
        &backend.url(),
        &[
            ("ALLOW_INSECURE_CALLBACKS", "true"),
            ("DISPATCH_RETRY_DELAYS_MS", &delays_var),
            ("DISPATCH_TIMEOUT_MS", &timeout_var),
            ("CALLBACK_RETRY_SCHEDULE_MS", "0,500,1000,2000"),
            // The breaker at its production setting (`BreakerPolicy::default`), unless
            // `OUTAGE_BREAKER_FAILURES=0` asks for a run without it, to compare.
            ("BACKEND_BREAKER_FAILURES", &breaker_var),
            ("BACKEND_BREAKER_OPEN_MS", "10000"),
        ],
    );
    let gateway = Gateway::start("outage", vars);
    backend.deliver_results_to(&gateway.base);

    // The outage starts; every payment arrives during it and is accepted (202).
    backend.set_down(Some(503));
    let started = Instant::now();
    let callback = receiver.url("/outage/{item}");
    let items: Vec<String> = (0..n).map(|_| unique("outage")).collect();
    let calls = items
        .iter()
        .map(|item| {
            make_payment(
                &gateway.base,
                item,
                &json!({"account_id": ACCOUNT, "callback": callback}),
            )
            .header("prefer", "wait=0")
        })
        .collect();
    let accepted = send_all(calls, 16).await;
    for (item, reply) in items.iter().zip(&accepted) {
        assert_eq!(reply.status, 202, "{item}: {}", reply.text);
    }
    let links: Vec<String> = accepted
        .iter()
        .map(|r| r.header("location").expect("a status link").to_owned())
        .collect();

    // The outage lasts its planned time, then the backend recovers.
    if let Some(rest) = outage.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    backend.set_down(None);
    let recovered = Instant::now();
    let during: Vec<Instant> = backend
        .dispatches()
        .iter()
        .map(|d| d.at)
        .filter(|at| *at < recovered)
        .collect();

    // Every payment completes: long-polled until terminal, within what is left of its schedule.
    let deadline = Duration::from_millis(delays.iter().sum::<u64>() * 12 / 10) + outage;
    let mut failed = 0;
    for link in &links {
        let end = eventually(&format!("{link} to finish"), deadline, || async {
            let reply = Call::new("GET", link.clone())
                .header("prefer", "wait=10")
                .send()
                .await;
            (reply.status != 202).then_some(reply)
        })
        .await;
        if end.status != 200 {
            failed += 1;
            println!("not completed: {link}: {} {}", end.status, end.text);
        }
    }
    let finished = recovered.elapsed();

    // Every callback arrives (at least once).
    let mut delivered = 0;
    for item in &items {
        let got = receiver
            .await_requests(&format!("/outage/{item}"), 1, Duration::from_secs(60))
            .await;
        delivered += usize::from(!got.is_empty());
    }

    // Submissions per payment, and the load the down backend saw.
    let mut per_payment: HashMap<String, usize> = HashMap::new();
    for d in backend.dispatches() {
        *per_payment.entry(d.subject).or_default() += 1;
    }
    let most = per_payment.values().copied().max().unwrap_or_default();
    let total_during = during.len();
    let mut peak = 0;
    for (i, at) in during.iter().enumerate() {
        let in_window = during[i..]
            .iter()
            .take_while(|later| later.duration_since(*at) < Duration::from_secs(1))
            .count();
        peak = peak.max(in_window);
    }
    println!(
        "outage run: {n} payments, {failed} failed, {} lost, {delivered} callbacks delivered; \
         {total_during} submissions during the {outage:?} outage ({:.2}/payment), peak {peak}/s; \
         at most {most} submissions for one payment (bound {max_submissions}); \
         all finished {finished:.1?} after recovery",
        n - per_payment.len().min(n),
        total_during as f64 / n as f64,
    );
    assert_eq!(failed, 0, "no payment may fail because of the outage");
    assert_eq!(per_payment.len(), n, "every payment reached the backend");
    assert_eq!(delivered, n, "every callback was delivered");
    assert!(
        most <= max_submissions,
        "a payment was submitted {most} times; the schedule allows {max_submissions}"
    );
}
