//! End-to-end: a noisy tenant with a slow callback receiver does not hold up the other tenants' payments or callbacks.
//!
//! Three quiet tenants each pay `NOISY_RATE` payments a second (1 in `make test`), with wait
//! and a callback to a receiver that answers at once, for `NOISY_SECS` (20; `make soak`: 60).
//! Then the same again while a fourth tenant pays ten times as often, with its callbacks going
//! to a receiver that holds every request 14 s (just inside the 15 s callback timeout). The
//! run prints the quiet tenants' sync latency and callback delay (from the backend's answer to
//! the callback's arrival), p50 and p99, alone and beside the neighbour, and their ratio.
//!
//! It asserts what must hold whatever the machine's noise: every payment completed, every
//! callback arrived (none lost, the neighbour's included), and no quiet callback waited as long
//! as half the slow receiver's hold, which it would if it had queued behind one of the
//! neighbour's attempts (without `CALLBACK_SLOW_MS`, a batch waits for its slowest attempt).
//! `NOISY_SLOW_MS=60000` runs it without the patience, for comparison: that run fails.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::backend::TestBackend;
use support::gateway::Gateway;
use support::receiver::{Receiver, Script};
use support::*;

const QUIET: [(&str, &str, &str); 3] = [
    ("quiet_1", "sk_test_quiet_1_0123456789", "quiet-1"),
    ("quiet_2", "sk_test_quiet_2_0123456789", "quiet-2"),
    ("quiet_3", "sk_test_quiet_3_0123456789", "quiet-3"),
];
const NOISY: (&str, &str, &str) = ("noisy", "sk_test_noisy_0123456789", "noisy");
/// How much more often the neighbour pays than each quiet tenant.
const NOISY_FACTOR: u64 = 10;
/// The slow receiver holds each request this long, inside the 15 s callback timeout.
const SLOW_HOLD: Duration = Duration::from_secs(14);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The gateway's vars; `slow_ms` overrides `CALLBACK_SLOW_MS` (the production default otherwise).
fn vars(backend_url: &str, slow_ms: Option<&str>) -> Vec<(String, String)> {
    let clients: Vec<_> = QUIET
        .iter()
        .chain(std::iter::once(&NOISY))
        .map(|(key, secret, tenant)| {
            json!({"key_id": key, "secret": secret, "tenant": tenant, "callback_secret": CALLBACK_SECRET})
        })
        .collect();
    let mut vars = vec![
        ("API_CLIENTS", serde_json::Value::from(clients).to_string()),
        ("BACKEND_URL", backend_url.to_owned()),
        ("BACKEND_SECRET", BACKEND_SECRET.to_owned()),
        ("BACKEND_BREAKER_FAILURES", "0".to_owned()),
        ("ALLOW_INSECURE_CALLBACKS", "true".to_owned()),
    ];
    if let Some(ms) = slow_ms {
        vars.push(("CALLBACK_SLOW_MS", ms.to_owned()));
    }
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// One payment the load sent.
struct Sent {
    quiet: bool,
    item: String,
    status: u16,
    latency: Duration,
    /// The transport error, when there was no answer.
    error: Option<String>,
    /// Why it was sent again with its key, each time.
    retried: Vec<String>,
}

/// Sends payments for `secs` seconds, open loop: each quiet tenant `rate` a second and, with
/// `neighbour`, the noisy tenant `rate * NOISY_FACTOR` a second.
async fn load(
    base: &str,
    fast: &Receiver,
    slow: &Receiver,
    rate: u64,
    secs: u64,
    neighbour: bool,
    phase: &str,
) -> Vec<Sent> {
    // Idle connections are dropped before the runtime's own 5 s keep-alive timeout would close
    // them under a request that is just being sent (an `IncompleteMessage` race, not an answer).
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let mut payers: Vec<(&str, &str, bool, u64)> = QUIET
        .iter()
        .map(|(key, secret, _)| (*key, *secret, true, rate))
        .collect();
    if neighbour {
        payers.push((NOISY.0, NOISY.1, false, rate * NOISY_FACTOR));
    }
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (key, secret, quiet, per_sec) in payers {
        let interval = Duration::from_micros(1_000_000 / per_sec.max(1));
        // Each payer starts at its own offset within the first interval.
        let offset = interval.mul_f64(tasks.len() as f64 / 4.0);
        for i in 0..per_sec * secs {
            let at = start + offset + interval * i as u32;
            let item = format!("{phase}-{key}-{i}-{}", uuid::Uuid::new_v4().simple());
            let callback = if quiet {
                fast.url("/quiet/{item}")
            } else {
                slow.url("/slow/{item}")
            };
            let call = make_payment(
                base,
                &item,
                &json!({"account_id": ACCOUNT, "wait": 5, "callback": callback}),
            )
            .header("authorization", &basic(key, secret))
            .header("idempotency-key", &format!("key-{item}"));
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                // As a real client does: a `503` (the gateway interrupted) or no answer at all is
                // tried again with the same key, which finds the payment if it was accepted.
                let mut retried = Vec::new();
                loop {
                    let (status, latency, error) = match call.clone().send_with(&client).await {
                        Ok(r) if r.status == 503 && retried.len() < 3 => {
                            retried.push(format!("503 {}", r.text));
                            continue;
                        }
                        Ok(r) => (r.status, r.elapsed, None),
                        Err(e) if retried.len() < 3 => {
                            retried.push(format!("{e:?}"));
                            continue;
                        }
                        Err(e) => (0, Duration::ZERO, Some(format!("{e:?}"))),
                    };
                    break Sent {
                        quiet,
                        item,
                        status,
                        latency,
                        error,
                        retried,
                    };
                }
            }));
        }
    }
    let mut sent = Vec::with_capacity(tasks.len());
    for task in tasks {
        sent.push(task.await.expect("a payment task"));
    }
    sent
}

/// Nearest-rank percentile of `values` (sorted here), in milliseconds.
fn percentile(values: &[Duration], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len().saturating_sub(1)))
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// The quiet payments' sync latencies and callback delays in one phase.
struct Quiet {
    latencies: Vec<Duration>,
    callback_delays: Vec<Duration>,
}

/// Waits for every callback of `sent` (quiet at the fast receiver, the neighbour's at the slow
/// one) and measures the quiet ones: from the backend's answer to the callback's arrival.
async fn collect(
    sent: &[Sent],
    backend: &TestBackend,
    fast: &Receiver,
    slow: &Receiver,
    deadline: Duration,
) -> Quiet {
    let answered: HashMap<String, Instant> = backend
        .dispatches()
        .into_iter()
        .map(|d| (d.subject, d.at))
        .collect();
    let mut quiet = Quiet {
        latencies: Vec::new(),
        callback_delays: Vec::new(),
    };
    let started = Instant::now();
    for s in sent {
        assert_eq!(
            s.status, 200,
            "{}: every payment completes ({:?})",
            s.item, s.error
        );
        let (receiver, path) = if s.quiet {
            (fast, format!("/quiet/{}", s.item))
        } else {
            (slow, format!("/slow/{}", s.item))
        };
        let left = deadline.saturating_sub(started.elapsed());
        let got = receiver.await_requests(&path, 1, left).await;
        if s.quiet {
            let dispatched = answered
                .get(&s.item)
                .unwrap_or_else(|| panic!("{}: the backend saw it", s.item));
            let first = got.iter().map(|r| r.at).min().expect("a callback");
            quiet.latencies.push(s.latency);
            quiet
                .callback_delays
                .push(first.saturating_duration_since(*dispatched));
        }
    }
    quiet
}

#[tokio::test]
async fn a_noisy_tenant_with_a_slow_receiver_does_not_hold_up_the_others() {
    let rate = env_u64("NOISY_RATE", 1).max(1);
    let secs = env_u64("NOISY_SECS", 20).max(1);
    let slow_ms = std::env::var("NOISY_SLOW_MS").ok();
    // A local load test runs without wrangler's DevTools relay, as `make dev DEVTOOLS=0` and the
    // bench do (docs/performance.md, "Wrangler's DevTools relay"); `NOISY_DEVTOOLS=1` keeps it.
    // With it on, wrangler 4.164.0 held the quiet payments beside the neighbour at p50 109-269 ms
    // and p99 0.6-3.2 s in four runs, and one run of the suite saw a payment outlast its 5 s
    // `wait` (docs/toolchain.md has the runs with it off).
    if !std::env::var("NOISY_DEVTOOLS").is_ok_and(|v| v == "1") {
        std::env::set_var("VSCODE_INSPECTOR_OPTIONS", "1");
    }
    let backend = TestBackend::start();
    let fast = Receiver::start();
    let slow = Receiver::start_answering(Script::SlowOk(SLOW_HOLD));
    let gateway = Gateway::start("noisy-neighbour", vars(&backend.url(), slow_ms.as_deref()));
    backend.deliver_results_to(&gateway.base);

    let alone = load(&gateway.base, &fast, &slow, rate, secs, false, "alone").await;
    let alone = collect(&alone, &backend, &fast, &slow, Duration::from_secs(60)).await;
    let beside = load(&gateway.base, &fast, &slow, rate, secs, true, "beside").await;
    let noisy_sent = beside.iter().filter(|s| !s.quiet).count();
    let retries: Vec<&String> = beside.iter().flat_map(|s| &s.retried).collect();
    // The neighbour's callbacks take the slow receiver's hold each: allow for that, and more.
    let beside = collect(
        &beside,
        &backend,
        &fast,
        &slow,
        SLOW_HOLD * 4 + Duration::from_secs(60),
    )
    .await;

    let row = |what: &str, a: &[Duration], b: &[Duration]| {
        let (a50, a99, b50, b99) = (
            percentile(a, 50.0),
            percentile(a, 99.0),
            percentile(b, 50.0),
            percentile(b, 99.0),
        );
        println!(
            "| {what} | {a50:.1} / {a99:.1} | {b50:.1} / {b99:.1} | {:.2}× / {:.2}× |",
            b50 / a50,
            b99 / a99
        );
    };
    println!(
        "noisy neighbour: {} quiet tenants at {rate}/s each for {secs} s, alone and beside one at \
         {}/s whose receiver holds {SLOW_HOLD:?}; CALLBACK_SLOW_MS {}",
        QUIET.len(),
        rate * NOISY_FACTOR,
        slow_ms.as_deref().unwrap_or("default (1000)"),
    );
    println!("| quiet tenants, ms | alone p50 / p99 | beside p50 / p99 | ratio p50 / p99 |");
    println!("| --- | --- | --- | --- |");
    row("sync latency", &alone.latencies, &beside.latencies);
    row(
        "callback delay",
        &alone.callback_delays,
        &beside.callback_delays,
    );
    println!(
        "payments: {} quiet alone, {} quiet beside, {noisy_sent} the neighbour's; lost 0 \
         (every callback arrived); sent again with their key beside the neighbour: {} {:?}",
        alone.latencies.len(),
        beside.latencies.len(),
        retries.len(),
        retries.first(),
    );

    let worst = beside
        .callback_delays
        .iter()
        .max()
        .copied()
        .unwrap_or_default();
    assert!(
        worst < SLOW_HOLD / 2,
        "a quiet tenant's callback waited {worst:?}: it queued behind the slow receiver"
    );
}
