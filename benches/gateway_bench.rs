//! `make bench`: the gateway's figures against a bare Worker on the same runtime (the budgets in docs/contract.md).
//!
//! Starts the release gateway (built with wasm-opt) under `wrangler dev`, a baseline Worker that
//! answers a fixed 200 under a second `wrangler dev` of the same workerd build, the scriptable
//! test backend and callback receiver, all on 127.0.0.1. Prints a markdown table and writes the
//! same figures as JSON (`BENCH_JSON`, default `target/bench/report.json`). Every loop is bounded.
//!
//! Knobs: `BENCH_HELD` (held callers at once, default 3000, a size that passes on the 2-core
//! machine; a comma list runs a sweep, e.g. `BENCH_HELD=3000,4000,5000` to the break point),
//! `BENCH_SAMPLES` (default 200), `BENCH_ONLY` (a comma list of sections to run, for quick
//! comparisons while working: rejection, sync, index, token, wake, callback, cost, load, held; default
//! all; `load` is the open-loop section), `BENCH_COST_PAYMENTS` (payments of each kind the
//! cost section counts, default 50, after `BENCH_COST_WARMUP` uncounted ones that make the
//! lanes' tables, default 400), `BENCH_LOAD_RATES` / `BENCH_LOAD_SECS` (the open-loop
//! rates, default 50,100,200 payments/s, and seconds per rate, default 30),
//! `BENCH_DEVTOOLS=1` (keep `wrangler dev`'s DevTools relay on, as `make dev` has it; default off),
//! and for the held sweep `BENCH_HELD_DIRECT`, `BENCH_HELD_CONNECTS_PER_SEC` and
//! `BENCH_REPOLL_NEW_CONNECTION` (docs/performance.md).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgepay_core::cost::{per_million_payments, Units, LIST_PRICES};
use serde_json::{json, Value};
use support::backend::{deliver_result, deliver_until_answered, item_body, Behavior, TestBackend};
use support::gateway::Gateway;
use support::receiver::{Received, Receiver, Script};
use support::*;
use tokio::sync::Semaphore;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Milliseconds, sorted, with the usual order statistics.
struct Sample(Vec<f64>);

impl Sample {
    fn new(mut values: Vec<f64>) -> Sample {
        values.sort_by(f64::total_cmp);
        Sample(values)
    }

    fn quantile(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.0.len() as f64 - 1.0) * q).round() as usize;
        self.0[rank.min(self.0.len() - 1)]
    }

    fn p50(&self) -> f64 {
        self.quantile(0.5)
    }

    fn p99(&self) -> f64 {
        self.quantile(0.99)
    }

    fn max(&self) -> f64 {
        self.quantile(1.0)
    }

    fn json(&self) -> Value {
        json!({"n": self.0.len(), "p50_ms": self.p50(), "p99_ms": self.p99(), "max_ms": self.max()})
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A plain client with keep-alive, for latency figures (one request at a time).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn timed(req: reqwest::RequestBuilder) -> (u16, f64) {
    let started = Instant::now();
    let resp = req.send().await.expect("answer");
    let status = resp.status().as_u16();
    let _ = resp.bytes().await;
    (status, ms(started.elapsed()))
}

fn auth() -> String {
    basic(TENANT_A_KEY, TENANT_A_SECRET)
}

/// The two floors: a bare JavaScript Worker (the runtime's own cost) and a bare Rust Worker
/// built with the gateway's crates and profile (the cost of any Rust/wasm Worker).
struct Baselines<'a> {
    js: &'a str,
    rust: &'a str,
}

/// One timed request to each floor, on their own connections.
struct Floors {
    client: reqwest::Client,
    js: Vec<f64>,
    rust: Vec<f64>,
}

impl Floors {
    fn new() -> Floors {
        Floors {
            client: client(),
            js: Vec::new(),
            rust: Vec::new(),
        }
    }

    async fn sample(&mut self, b: &Baselines<'_>, keep: bool) {
        let client = self.client.clone();
        self.sample_as(b, keep, |floor| client.get(floor)).await;
    }

    /// As [`Floors::sample`], each floor sent the request `shape` builds for its address: the
    /// method, headers and body of the request the floor stands beside.
    async fn sample_as(
        &mut self,
        b: &Baselines<'_>,
        keep: bool,
        shape: impl Fn(&str) -> reqwest::RequestBuilder,
    ) {
        let js = timed(shape(b.js)).await.1;
        let rust = timed(shape(b.rust)).await.1;
        if keep {
            self.js.push(js);
            self.rust.push(rust);
        }
    }

    /// Both floors' figures (`baseline` is the JS one), each measured figure, and its p50
    /// against each floor.
    fn report(self, measured: &[(&str, &Sample)]) -> Value {
        let (js, rust) = (Sample::new(self.js), Sample::new(self.rust));
        let mut out = serde_json::Map::new();
        out.insert("baseline".into(), js.json());
        out.insert("baseline_js".into(), js.json());
        out.insert("baseline_rust".into(), rust.json());
        out.insert("rust_vs_js_p50".into(), json!(rust.p50() / js.p50()));
        for (name, sample) in measured {
            out.insert((*name).into(), sample.json());
            out.insert(format!("ratio_{name}_p50"), json!(sample.p50() / js.p50()));
            out.insert(
                format!("ratio_{name}_p50_vs_rust"),
                json!(sample.p50() / rust.p50()),
            );
            out.insert(format!("ratio_{name}_p99"), json!(sample.p99() / js.p99()));
        }
        Value::Object(out)
    }
}

/// `400` and `401` against both floors, interleaved on one connection each: floors sent a bare
/// `GET /` (the runtime's least), and fair floors sent the rejected request itself (the same
/// `PATCH`, headers and body; a floor answers it `200` without reading it).
async fn rejection_cost(gateway: &str, floors: &Baselines<'_>, n: usize) -> Value {
    let g = client();
    let bad_at = |base: &str| {
        g.patch(format!("{base}/items/bench-bad/make_payment"))
            .header("authorization", auth())
            .header("content-type", "application/json")
            .body(r#"{"account_id": "not-a-uuid", "wait": "soon"}"#)
    };
    let unauth_at = |base: &str| {
        g.patch(format!("{base}/items/bench-bad/make_payment"))
            .header("content-type", "application/json")
            .body(r#"{"account_id": "0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f"}"#)
    };
    let (bad, unauth) = (|| bad_at(gateway), || unauth_at(gateway));
    // A floor's address ends in `/`; the shapes add their own path.
    let floor_bad = |floor: &str| bad_at(floor.trim_end_matches('/'));
    let floor_unauth = |floor: &str| unauth_at(floor.trim_end_matches('/'));
    let (mut f, mut fair400, mut fair401) = (Floors::new(), Floors::new(), Floors::new());
    for _ in 0..50 {
        f.sample(floors, false).await;
        fair400.sample_as(floors, false, floor_bad).await;
        timed(bad()).await;
        fair401.sample_as(floors, false, floor_unauth).await;
        timed(unauth()).await;
    }
    let (mut r400, mut r401) = (Vec::new(), Vec::new());
    for _ in 0..n {
        f.sample(floors, true).await;
        fair400.sample_as(floors, true, floor_bad).await;
        let (status, t) = timed(bad()).await;
        assert_eq!(status, 400);
        r400.push(t);
        f.sample(floors, true).await;
        fair401.sample_as(floors, true, floor_unauth).await;
        let (status, t) = timed(unauth()).await;
        assert_eq!(status, 401);
        r401.push(t);
    }
    let (r400, r401) = (Sample::new(r400), Sample::new(r401));
    let mut out = f.report(&[("400", &r400), ("401", &r401)]);
    out["fair_400"] = fair400.report(&[("400", &r400)]);
    out["fair_401"] = fair401.report(&[("401", &r401)]);
    out
}

/// A full `200` payment (instant backend) against both floors and the physical floor
/// (`bench/physical-floor/`: the same request, doing only the contract's durable steps) and
/// its parts (the backend hop alone, an object call that writes nothing, one commit), all
/// interleaved.
async fn sync_payment_cost(
    gateway: &str,
    floors: &Baselines<'_>,
    physical: &str,
    n: usize,
) -> Value {
    let g = client();
    let pay_at = |base: &str, item: String| {
        g.patch(format!("{base}/items/{item}/make_payment"))
            .header("authorization", auth())
            .header("content-type", "application/json")
            .body(json!({"account_id": ACCOUNT, "wait": 10}).to_string())
    };
    let pay = |item: String| pay_at(gateway, item);
    let part = |step: &str| g.get(format!("{physical}/parts/{step}?n={}", unique("p")));
    let mut f = Floors::new();
    for _ in 0..20 {
        f.sample(floors, false).await;
        timed(pay(unique("bench-warm"))).await;
        timed(pay_at(physical, unique("bench-warm"))).await;
    }
    let (mut paid, mut floor_paid) = (Vec::new(), Vec::new());
    let (mut hop, mut call, mut commit) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        f.sample(floors, true).await;
        let (status, t) = timed(pay(unique("bench-sync"))).await;
        assert_eq!(status, 200);
        paid.push(t);
        let (status, t) = timed(pay_at(physical, unique("bench-sync"))).await;
        assert_eq!(status, 200, "the physical floor's payment");
        floor_paid.push(t);
        for (step, times) in [
            ("hop", &mut hop),
            ("call", &mut call),
            ("commit", &mut commit),
        ] {
            let (status, t) = timed(part(step)).await;
            assert_eq!(status, 200, "the physical floor's {step}");
            times.push(t);
        }
    }
    let paid = Sample::new(paid);
    let floor_paid = Sample::new(floor_paid);
    let mut out = f.report(&[("payment", &paid)]);
    out["physical_floor"] = floor_paid.json();
    out["ratio_payment_p50_vs_physical"] = json!(paid.p50() / floor_paid.p50());
    out["ratio_payment_p99_vs_physical"] = json!(paid.p99() / floor_paid.p99());
    out["physical_parts"] = json!({
        "backend_hop": Sample::new(hop).json(),
        "object_call_no_write": Sample::new(call).json(),
        "object_call_one_commit": Sample::new(commit).json(),
    });
    out
}

/// The payments index on the hot path: the same sync payment (instant backend) on a gateway
/// that writes its index and on one whose index is off (`PAYMENTS_INDEX_BINDINGS` empty),
/// interleaved. The index row is written after the caller is woken, so
/// the ratio should be the machine's noise.
async fn index_cost(indexed: &str, unindexed: &str, n: usize) -> Value {
    let c = client();
    let pay = |base: &str, item: String| {
        c.patch(format!("{base}/items/{item}/make_payment"))
            .header("authorization", auth())
            .header("content-type", "application/json")
            .body(json!({"account_id": ACCOUNT, "wait": 10}).to_string())
    };
    for _ in 0..20 {
        timed(pay(indexed, unique("bench-warm"))).await;
        timed(pay(unindexed, unique("bench-warm"))).await;
    }
    // Each payment's index write runs after its answer; a pause after every call lets that
    // trailing work end before the next call is timed, so neither gateway's figure carries
    // the other's (they share this machine's two cores).
    let settle = || tokio::time::sleep(std::time::Duration::from_millis(40));
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (status, t) = timed(pay(indexed, unique("bench-index-on"))).await;
        assert_eq!(status, 200);
        on.push(t);
        settle().await;
        let (status, t) = timed(pay(unindexed, unique("bench-index-off"))).await;
        assert_eq!(status, 200);
        off.push(t);
        settle().await;
    }
    let (on, off) = (Sample::new(on), Sample::new(off));
    json!({"index_on": on.json(), "index_off": off.json(),
           "ratio_p50": on.p50() / off.p50(), "ratio_p99": on.p99() / off.p99()})
}

/// A client token against HTTP Basic, in one run: a refused credential (`401`: a wrong Basic
/// secret vs a token with a forged signature) and an accepted one (a sync `200` payment),
/// interleaved, so the ratios compare the two checks on the same machine at the same moment.
async fn client_token_cost(gateway: &str, n: usize) -> Value {
    let g = client();
    let minted: Value = g
        .post(format!("{gateway}/client-tokens"))
        .header("authorization", auth())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("mint")
        .json()
        .await
        .expect("token");
    let token = minted["token"].as_str().expect("a minted token").to_owned();
    let forged = match token.rsplit_once('.') {
        Some((input, _)) => format!("{input}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        None => token.clone(),
    };
    let pay = |item: String, authorization: String| {
        g.patch(format!("{gateway}/items/{item}/make_payment"))
            .header("authorization", authorization)
            .header("content-type", "application/json")
            .body(json!({"account_id": ACCOUNT, "wait": 10}).to_string())
    };
    let wrong_basic = basic(TENANT_A_KEY, "not-the-secret-0123456789");
    for _ in 0..30 {
        timed(pay(unique("bench-tw"), wrong_basic.clone())).await;
        timed(pay(unique("bench-tw"), format!("Bearer {forged}"))).await;
        timed(pay(unique("bench-tw"), auth())).await;
        timed(pay(unique("bench-tw"), format!("Bearer {token}"))).await;
    }
    let (mut basic_401, mut token_401, mut basic_200, mut token_200) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let (status, t) = timed(pay(unique("bench-t"), wrong_basic.clone())).await;
        assert_eq!(status, 401);
        basic_401.push(t);
        let (status, t) = timed(pay(unique("bench-t"), format!("Bearer {forged}"))).await;
        assert_eq!(status, 401);
        token_401.push(t);
        let (status, t) = timed(pay(unique("bench-t"), auth())).await;
        assert_eq!(status, 200);
        basic_200.push(t);
        let (status, t) = timed(pay(unique("bench-t"), format!("Bearer {token}"))).await;
        assert_eq!(status, 200);
        token_200.push(t);
    }
    let (b401, t401, b200, t200) = (
        Sample::new(basic_401),
        Sample::new(token_401),
        Sample::new(basic_200),
        Sample::new(token_200),
    );
    json!({
        "basic_401": b401.json(), "token_401": t401.json(),
        "basic_200": b200.json(), "token_200": t200.json(),
        "ratio_401_p50": t401.p50() / b401.p50(), "ratio_200_p50": t200.p50() / b200.p50(),
    })
}

/// Held callers: from the result's own HTTP response to the held caller's response.
async fn wake_up(gateway: &str, backend: &Arc<TestBackend>, n: usize) -> Value {
    let (mut samples, mut from_sent) = (Vec::new(), Vec::new());
    let mut errors = 0usize;
    for _ in 0..n {
        let item = unique("bench-wake");
        backend.script(&item, Behavior::Acknowledge);
        let held = tokio::spawn({
            let call = make_payment(gateway, &item, &json!({"account_id": ACCOUNT, "wait": 30}));
            async move {
                let reply = call.send().await;
                (reply.status, Instant::now())
            }
        });
        let dispatches = backend
            .await_dispatches(&item, 1, Duration::from_secs(20))
            .await;
        let id = dispatches
            .first()
            .map(|d| d.request_id.clone())
            .unwrap_or_default();
        let result_sent = Instant::now();
        let result = deliver_result(gateway, &id, 200, &item_body(&item, "completed", 22500)).await;
        let result_answered = Instant::now();
        let (status, held_answered) = held.await.expect("held caller");
        if result.status != 200 || status != 200 {
            errors += 1;
            continue;
        }
        from_sent.push(ms(held_answered.saturating_duration_since(result_sent)));
        // Signed: the held caller may be answered before the result's own response arrives.
        samples.push(if held_answered >= result_answered {
            ms(held_answered - result_answered)
        } else {
            -ms(result_answered - held_answered)
        });
    }
    json!({
        "samples": Sample::new(samples).json(),
        "from_result_sent": Sample::new(from_sent).json(),
        "errors": errors,
    })
}

/// One async payment whose callback goes to `path` on the receiver: accepted (`202`), its
/// result posted once the backend has the dispatch, then its callback awaited. Returns when
/// the result was posted and what the receiver got at `path`.
async fn pay_with_callback(
    gateway: &str,
    backend: &Arc<TestBackend>,
    receiver: &Arc<Receiver>,
    path: &str,
) -> (Instant, Vec<Received>) {
    let item = unique("bench-cb");
    receiver.script(path, Script::Always(200));
    backend.script(&item, Behavior::Acknowledge);
    let accepted = make_payment(
        gateway,
        &item,
        &json!({"account_id": ACCOUNT, "callback": receiver.url(path)}),
    )
    .send()
    .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let id = accepted.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    backend
        .await_dispatches(&item, 1, Duration::from_secs(20))
        .await;
    let sent = Instant::now();
    deliver_result(gateway, &id, 200, &item_body(&item, "completed", 22500)).await;
    let got = receiver
        .await_requests(path, 1, Duration::from_secs(20))
        .await;
    (sent, got)
}

/// From posting the result to the first callback attempt arriving at the receiver.
async fn first_callback(
    gateway: &str,
    backend: &Arc<TestBackend>,
    receiver: &Arc<Receiver>,
    n: usize,
) -> Value {
    let mut samples = Vec::new();
    for i in 0..n {
        let (sent, got) =
            pay_with_callback(gateway, backend, receiver, &format!("/bench-cb/{i}")).await;
        if let Some(first) = got.first() {
            samples.push(ms(first.at.saturating_duration_since(sent)));
        }
    }
    Sample::new(samples).json()
}

/// Open-loop load: requests started at a fixed rate for `secs` seconds whatever the answers
/// take (a slow answer does not slow the arrivals, as with real callers), against the gateway
/// (sync payments, instant backend) and then the bare JS floor (`GET /`) at the same rate.
async fn open_loop(gateway: &str, floor: &str, rates: &[u64], secs: u64) -> Value {
    let g = client();
    let mut out = Vec::new();
    for &rate in rates {
        let mut row = json!({"rate_per_sec": rate, "secs": secs});
        for target in ["gateway", "floor"] {
            let total = rate * secs;
            let started = Instant::now();
            let mut tasks = Vec::with_capacity(total as usize);
            for i in 0..total {
                let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let req = if target == "gateway" {
                    g.patch(format!(
                        "{gateway}/items/{}/make_payment",
                        unique("bench-load")
                    ))
                    .header("authorization", auth())
                    .header("content-type", "application/json")
                    .body(json!({"account_id": ACCOUNT, "wait": 10}).to_string())
                } else {
                    g.get(floor)
                };
                tasks.push(tokio::spawn(async move {
                    let sent = Instant::now();
                    let outcome = req.send().await;
                    let status = match outcome {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let _ = resp.bytes().await;
                            Some(status)
                        }
                        Err(_) => None,
                    };
                    (status, ms(sent.elapsed()))
                }));
            }
            let (mut times, mut ok, mut other, mut errors) = (Vec::new(), 0u64, 0u64, 0u64);
            for task in tasks {
                match task.await {
                    Ok((Some(200), t)) => {
                        ok += 1;
                        times.push(t);
                    }
                    Ok((Some(_), t)) => {
                        other += 1;
                        times.push(t);
                    }
                    _ => errors += 1,
                }
            }
            let sample = Sample::new(times);
            row[target] = json!({
                "sent": total, "ok_200": ok, "other_status": other, "errors": errors,
                "p50_ms": sample.p50(), "p99_ms": sample.p99(),
                "achieved_per_sec": total as f64 / started.elapsed().as_secs_f64(),
            });
        }
        out.push(row);
    }
    Value::Array(out)
}

/// The open-loop table: per rate, the gateway's sync payments beside the floor.
fn print_load(load: &Value) {
    let Some(rows) = load.as_array() else {
        return;
    };
    println!("\nopen-loop load (sync payments vs the bare JS floor at the same rate):");
    println!("| rate /s | gateway p50 / p99 ms | 200 / other / errors (sent) | floor p50 / p99 ms | floor errors |");
    println!("| ---: | --- | --- | --- | ---: |");
    for r in rows {
        let (gw, fl) = (&r["gateway"], &r["floor"]);
        println!(
            "| {} | {} / {} | {} / {} / {} ({}) | {} / {} | {} |",
            r["rate_per_sec"],
            f(&gw["p50_ms"]),
            f(&gw["p99_ms"]),
            gw["ok_200"],
            gw["other_status"],
            gw["errors"],
            gw["sent"],
            f(&fl["p50_ms"]),
            f(&fl["p99_ms"]),
            fl["errors"]
        );
    }
}

/// The cost table: units per payment and dollars per million payments at list prices, one
/// column per kind of payment, from the counted units.
fn print_cost(cost: &Value) {
    let kinds = [
        ("sync", "sync"),
        ("keyed", "sync, keyed"),
        ("async_callback", "async + 1 callback"),
    ];
    if kinds.iter().all(|(k, _)| cost[k].is_null()) {
        return;
    }
    let mut out = String::from("| unit (list price) |");
    for (_, title) in kinds {
        out.push_str(&format!(" {title}: per payment | $ / million |"));
    }
    out.push_str("\n| --- |");
    out.push_str(&" ---: | ---: |".repeat(kinds.len()));
    let units = cost["sync"]["lines"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, line) in units.iter().enumerate() {
        out.push_str(&format!("\n| {} |", line["unit"].as_str().unwrap_or("?")));
        for (k, _) in kinds {
            let l = &cost[k]["lines"][i];
            let per = l["per_payment"].as_f64().filter(|v| v.is_finite());
            out.push_str(&format!(
                " {} | {:.3} |",
                per.map_or(String::new(), |v| format!("{v:.2}")),
                l["dollars_per_million"].as_f64().unwrap_or(f64::NAN)
            ));
        }
    }
    println!(
        "\ncost per payment, counted ({} payments of each kind):\n{out}",
        cost["sync"]["payments"]
    );
}

/// The gateway's usage counters (`POST /__faults/usage`, served with `FAULT_INJECTION`).
async fn usage(gateway: &str) -> Units {
    let resp = client()
        .post(format!("{gateway}/__faults/usage"))
        .send()
        .await
        .expect("usage answer");
    resp.json().await.expect("usage counters")
}

/// The counters once they stop moving (the index rows and callbacks a payment causes come
/// after its answer, from its lane's alarm and the queue): unchanged for 3 s, at most 60 s.
async fn settled_usage(gateway: &str) -> Units {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = usage(gateway).await;
    let mut still_since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = usage(gateway).await;
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if still_since.elapsed() >= Duration::from_secs(3) {
            break;
        }
    }
    last
}

/// Billed units per payment, counted by the runtime (SQL cursors' `rowsWritten`, D1's
/// `meta.rows_written`, stub calls, alarms, queue messages), for `n` payments of each kind
/// one after the other: sync (instant backend, `200`), sync with an `Idempotency-Key`, and
/// async with one callback (`202`, the result posted, the callback delivered). First,
/// `warmup` sync payments on random items, uncounted, so that the tenant's lanes have their
/// tables (400 leave one of the 64 unmade about one run in nine): a lane's first payment
/// also creates its tables, which a tenant pays once per lane, not per payment.
async fn cost(
    gateway: &str,
    backend: &Arc<TestBackend>,
    receiver: &Arc<Receiver>,
    n: usize,
    warmup: usize,
) -> Value {
    for _ in 0..warmup {
        let item = unique("bench-cost-warmup");
        let paid = make_payment(gateway, &item, &json!({"account_id": ACCOUNT, "wait": 10}))
            .send()
            .await;
        assert_eq!(paid.status, 200, "{}", paid.text);
    }
    let mut kinds = serde_json::Map::new();
    for kind in ["sync", "keyed", "async_callback"] {
        let before = settled_usage(gateway).await;
        for i in 0..n {
            match kind {
                "sync" | "keyed" => {
                    let item = unique("bench-cost");
                    let mut call =
                        make_payment(gateway, &item, &json!({"account_id": ACCOUNT, "wait": 10}));
                    if kind == "keyed" {
                        call = call.header("idempotency-key", &unique("bench-key"));
                    }
                    let paid = call.send().await;
                    assert_eq!(paid.status, 200, "{}", paid.text);
                }
                _ => {
                    let path = format!("/bench-cost/{i}-{}", unique("cb"));
                    let (_, got) = pay_with_callback(gateway, backend, receiver, &path).await;
                    assert_eq!(got.len(), 1, "the callback at {path}");
                }
            }
        }
        // (The counters leave out their own reads, `/__faults/usage`.)
        let units = settled_usage(gateway).await.since(&before);
        let lines = per_million_payments(&units, n as u64, &LIST_PRICES);
        kinds.insert(
            kind.into(),
            json!({"payments": n, "units": units, "per_payment_rows_written": units.rows_written() as f64 / n as f64, "lines": lines}),
        );
    }
    Value::Object(kinds)
}

/// Ramps to `n` concurrent held callers (status long-polls of accepted payments on distinct
/// items), then releases them all by posting their results.
/// How long the held-callers figure may spend posting results, all of them together.
const RELEASE_DEADLINE: Duration = Duration::from_secs(300);

async fn held_at_once(gateway: &str, backend: &Arc<TestBackend>, n: usize) -> Value {
    // 1. Accept n payments without holding (bounded concurrency).
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(32));
    let mut accepts = Vec::with_capacity(n);
    for i in 0..n {
        let item = format!("bench-held-{i}-{}", unique("h"));
        backend.script(&item, Behavior::Acknowledge);
        let (gate, gateway) = (gate.clone(), gateway.to_owned());
        accepts.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let reply = make_payment(&gateway, &item, &json!({"account_id": ACCOUNT}))
                .header("prefer", "respond-async")
                .send()
                .await;
            (reply.status == 202)
                .then(|| {
                    reply.json["request_id"]
                        .as_str()
                        .map(|id| (item, id.to_owned()))
                })
                .flatten()
        }));
    }
    let mut accepted = Vec::with_capacity(n);
    for task in accepts {
        if let Ok(Some(pair)) = task.await {
            accepted.push(pair);
        }
    }
    let accept_secs = started.elapsed().as_secs_f64();

    // 2. Hold every one of them on its status link, each on its own connection. A caller whose
    // hold ends polls again on the connection it has, kept alive as an HTTP/1.1 client keeps it
    // (`BENCH_REPOLL_NEW_CONNECTION=1`: on a new one each time, the method of earlier runs).
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(90));
    if std::env::var("BENCH_REPOLL_NEW_CONNECTION").is_ok_and(|v| v == "1") {
        client = client.pool_max_idle_per_host(0);
    }
    let client = client.build().expect("client");
    let in_flight = Arc::new(AtomicUsize::new(0));
    // All at once by default; `BENCH_HELD_CONNECTS_PER_SEC` paces the callers' arrival.
    let per_sec = env_usize("BENCH_HELD_CONNECTS_PER_SEC", 0);
    let overflows_before = listen_overflows();
    let ramp = Instant::now();
    let mut holders = Vec::with_capacity(accepted.len());
    for (i, (item, id)) in accepted.iter().enumerate() {
        if per_sec > 0 {
            let due = Duration::from_secs_f64(i as f64 / per_sec as f64);
            tokio::time::sleep(due.saturating_sub(ramp.elapsed())).await;
        }
        let (client, url, in_flight) = (
            client.clone(),
            format!("{gateway}/request/{id}/status?wait=30"),
            in_flight.clone(),
        );
        let expected = item_body(item, "completed", 22500);
        in_flight.fetch_add(1, Ordering::SeqCst);
        holders.push(tokio::spawn(async move {
            // A long-polling client polls again when its hold ends before the result
            // (posting thousands of results takes longer than one 30 s hold); bounded.
            let mut answer = Err("never answered".to_owned());
            let mut polls = 0u32;
            while polls < 10 {
                polls += 1;
                let outcome = client
                    .get(&url)
                    .header("authorization", auth())
                    .send()
                    .await;
                answer = match outcome {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body: Value = resp.json().await.unwrap_or(Value::Null);
                        Ok((status, body == expected))
                    }
                    Err(e) => Err(e.to_string()),
                };
                if !matches!(answer, Ok((202, _))) {
                    break;
                }
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            (answer, Instant::now(), polls)
        }));
    }
    // Let the long-polls reach their objects; bounded, well inside the 30 s hold.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let held = in_flight.load(Ordering::SeqCst);
    let ramp_secs = ramp.elapsed().as_secs_f64();

    // 3. Release: post every result (bounded concurrency), retried on 5xx like a backend.
    let release_started = Instant::now();
    let gate = Arc::new(Semaphore::new(64));
    let mut posts = Vec::with_capacity(accepted.len());
    for (item, id) in accepted.clone() {
        let (gate, gateway) = (gate.clone(), gateway.to_owned());
        posts.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            // Bounded as a whole, not only per result: with the runtime gone (it can run out of
            // open files), each post would otherwise retry for its full deadline, in turn.
            if release_started.elapsed() > RELEASE_DEADLINE {
                return None;
            }
            let body = item_body(&item, "completed", 22500);
            let delivery = deliver_until_answered(&gateway, &id, 200, &body).await;
            Some((delivery.status.unwrap_or(0), delivery.tries, Instant::now()))
        }));
    }
    let mut first_result: Option<Instant> = None;
    let mut last_result: Option<Instant> = None;
    let (mut results_failed, mut result_retries) = (0usize, 0u32);
    let mut result_failures: std::collections::BTreeMap<u16, usize> = Default::default();
    for post in posts {
        match post.await.ok().flatten() {
            Some((200, tries, at)) => {
                result_retries += tries - 1;
                first_result = Some(first_result.map_or(at, |f| f.min(at)));
                last_result = Some(last_result.map_or(at, |l| l.max(at)));
            }
            Some((status, tries, _)) => {
                result_retries += tries - 1;
                results_failed += 1;
                *result_failures.entry(status).or_default() += 1;
            }
            None => results_failed += 1,
        }
    }
    let (mut released, mut wrong, mut errored, mut lost) = (0usize, 0usize, 0usize, 0usize);
    let mut last_release: Option<Instant> = None;
    let mut error_examples = Vec::new();
    let mut repolls = 0u32;
    for holder in holders {
        let outcome = holder.await;
        if let Ok((_, _, polls)) = &outcome {
            repolls += polls.saturating_sub(1);
        }
        match outcome {
            Ok((Ok((200, true)), at, _)) => {
                released += 1;
                last_release = Some(last_release.map_or(at, |l| l.max(at)));
            }
            Ok((Ok((status, _)), _, _)) => {
                wrong += 1;
                if error_examples.len() < 3 {
                    error_examples.push(format!("HTTP {status}"));
                }
            }
            Ok((Err(e), _, _)) => {
                errored += 1;
                if error_examples.len() < 3 {
                    error_examples.push(e);
                }
            }
            Err(_) => lost += 1,
        }
    }
    let span = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
        (Some(a), Some(b)) => ms(b.saturating_duration_since(a)),
        _ => f64::NAN,
    };
    json!({
        "target": n,
        "accepted": accepted.len(),
        "accept_secs": accept_secs,
        "held_at_release": held,
        "ramp_secs": ramp_secs,
        "released_correctly": released,
        "answered_otherwise": wrong,
        "errored": errored,
        "lost": lost,
        "repolls": repolls,
        "results_failed": results_failed,
        "results_failed_by_status": result_failures,
        "result_retries": result_retries,
        "first_to_last_result_ms": span(first_result, last_result),
        "first_result_to_last_release_ms": span(first_result, last_release),
        "release_wall_ms": ms(release_started.elapsed()),
        "connects_per_sec": per_sec,
        "listen_overflows": listen_overflows().zip(overflows_before).map(|(a, b)| a.saturating_sub(b)),
        "error_examples": error_examples,
    })
}

/// The machine's count of connections dropped because a listening socket's queue was full
/// (`TcpExtListenOverflows`, Linux), to tell a burst of connects from the gateway failing.
fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let at = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// `BENCH_HELD_DIRECT=1`: the held sweep talks to the gateway's own workerd instead of going
/// through `wrangler dev`'s proxy, a second workerd in front of it. Its address is the last
/// `userWorkerUrl` wrangler logged (at debug level).
fn direct_base(log: &str) -> Option<String> {
    let key = r#""userWorkerUrl":{"protocol":"http:","hostname":"127.0.0.1","port":""#;
    let at = log.rfind(key)? + key.len();
    let port: String = log[at..].chars().take_while(char::is_ascii_digit).collect();
    (!port.is_empty()).then(|| format!("http://127.0.0.1:{port}"))
}

fn gzipped_size(path: &str) -> Option<u64> {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("gzip -9 -c '{path}' | wc -c"))
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn wasm_sizes() -> Value {
    let size = |var: &str| {
        std::env::var(var).ok().map(|path| {
            let raw = std::fs::metadata(&path).map(|m| m.len()).ok();
            json!({"path": path, "raw_bytes": raw, "gzip_bytes": gzipped_size(&path)})
        })
    };
    json!({"with_wasm_opt": size("BENCH_WASM_OPT"), "without_wasm_opt": size("BENCH_WASM_NOOPT")})
}

fn row(table: &mut String, figure: &str, measured: String, goal: &str) {
    table.push_str(&format!("| {figure} | {measured} | {goal} |\n"));
}

fn f(v: &Value) -> String {
    v.as_f64().map_or("n/a".to_owned(), |x| format!("{x:.2}"))
}

/// Whether `BENCH_ONLY` (unset: every section) names `section`.
fn wanted(section: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.split(',').any(|s| s.trim() == section))
}

/// Whether `wrangler dev`'s DevTools relay stays on for every runtime the bench starts
/// (`BENCH_DEVTOOLS=1`). Off by default: wrangler then attaches no inspector to the Worker, so
/// it no longer copies each console line and each subrequest of the gateway, as DevTools
/// events, through its proxy process to its own Node process and debug log file. Wrangler
/// skips that relay when `VSCODE_INSPECTOR_OPTIONS` is set (a VS Code debug terminal sets it).
/// The floors run the same way; docs/performance.md, "Wrangler's DevTools relay".
fn devtools_relay() -> bool {
    let on = std::env::var("BENCH_DEVTOOLS").is_ok_and(|v| v == "1");
    if on {
        std::env::remove_var("VSCODE_INSPECTOR_OPTIONS");
    } else {
        std::env::set_var("VSCODE_INSPECTOR_OPTIONS", "1");
    }
    on
}

fn main() {
    let samples = env_usize("BENCH_SAMPLES", 200);
    let devtools = devtools_relay();
    // One size (3,000 by default: it passes here, so `make bench` completes), or a sweep
    // (`BENCH_HELD=3000,4000,5000`) to find where holding breaks (5,000 here: the proxy's
    // workerd runs out of open files, docs/performance.md "Held callers").
    let held_targets: Vec<usize> = std::env::var("BENCH_HELD")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![3_000]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(async {
        let backend = TestBackend::start();
        let receiver = Receiver::start();
        // Tenant A mints client tokens, for the token-vs-Basic figures. It is on the `high` rate
        // tier: every call still spends its limit (the check is part of the cost measured), but
        // thousands of held callers fit in one period.
        let tenants = json!([{"tenant": "tenant-a", "rate_tier": "high",
            "client_tokens": {"mint_secret": "bench-mint-secret-0123456789abcdef0123"}}])
        .to_string();
        let vars = gateway_vars(
            &backend.url(),
            // FAULT_INJECTION serves the usage counters the cost section reads.
            &[
                ("ALLOW_INSECURE_CALLBACKS", "true"),
                ("TENANTS", &tenants),
                ("FAULT_INJECTION", "true"),
            ],
        );
        let gateway = Gateway::start("bench", vars.clone());
        let mut unindexed_vars = vars;
        unindexed_vars.push(("PAYMENTS_INDEX_BINDINGS".to_owned(), String::new()));
        let unindexed = wanted("index").then(|| Gateway::start("bench-unindexed", unindexed_vars));
        let baseline =
            Gateway::start_with_config("bench-baseline", "bench/baseline/wrangler.toml", vec![]);
        let baseline_rust = Gateway::start_with_config(
            "bench-baseline-rust",
            "bench/baseline-rust/wrangler.toml",
            vec![],
        );
        let physical = Gateway::start_with_config(
            "bench-physical-floor",
            "bench/physical-floor/wrangler.toml",
            vec![("BACKEND_URL".to_owned(), backend.url())],
        );
        let (js_url, rust_url) = (
            format!("{}/", baseline.base),
            format!("{}/", baseline_rust.base),
        );
        let floors = Baselines {
            js: &js_url,
            rust: &rust_url,
        };
        let g = gateway.base.clone();
        let mut rejection = Value::Null;
        if wanted("rejection") {
            eprintln!("rejection cost…");
            rejection = rejection_cost(&g, &floors, samples.max(200)).await;
        }
        let mut sync = Value::Null;
        if wanted("sync") {
            eprintln!("sync payment cost…");
            sync = sync_payment_cost(&g, &floors, &physical.base, samples).await;
        }
        let mut index = Value::Null;
        if let Some(unindexed) = unindexed {
            eprintln!("payments index on vs off…");
            index = index_cost(&g, &unindexed.base, samples).await;
            unindexed.kill();
        }
        let mut token = Value::Null;
        if wanted("token") {
            eprintln!("client token vs Basic…");
            token = client_token_cost(&g, samples).await;
        }
        let mut wake = Value::Null;
        if wanted("wake") {
            eprintln!("wake-up…");
            wake = wake_up(&g, &backend, samples).await;
        }
        let mut callback = Value::Null;
        if wanted("callback") {
            eprintln!("first callback attempt…");
            callback = first_callback(&g, &backend, &receiver, 50).await;
        }
        let mut cost_units = Value::Null;
        if wanted("cost") {
            eprintln!("cost per payment…");
            cost_units = cost(
                &g,
                &backend,
                &receiver,
                env_usize("BENCH_COST_PAYMENTS", 50),
                env_usize("BENCH_COST_WARMUP", 400),
            )
            .await;
        }
        let mut load = Value::Null;
        if wanted("load") {
            let rates: Vec<u64> = std::env::var("BENCH_LOAD_RATES")
                .unwrap_or_else(|_| "50,100,200".to_owned())
                .split(',')
                .filter_map(|r| r.trim().parse().ok())
                .filter(|&r| r > 0)
                .collect();
            let secs = env_usize("BENCH_LOAD_SECS", 30) as u64;
            eprintln!("open-loop load at {rates:?} payments/s for {secs} s each…");
            load = open_loop(&g, &js_url, &rates, secs).await;
        }
        let mut held = Vec::new();
        let direct = std::env::var("BENCH_HELD_DIRECT").is_ok_and(|v| v == "1");
        if direct {
            // Wrangler logs the gateway's own address only at debug level.
            std::env::set_var("WRANGLER_LOG", "debug");
        }
        for &target in held_targets.iter().filter(|_| wanted("held")) {
            // Each size on a fresh runtime (the same stored state): the objects of the sizes
            // before stay in the runtime's memory a while, and a size would carry them too
            // (docs/performance.md, "Held callers").
            gateway.restart();
            let base = if direct {
                match direct_base(&gateway.log()) {
                    Some(base) => base,
                    None => {
                        // wrangler 4.164.0 no longer logs its user Worker's address.
                        eprintln!("BENCH_HELD_DIRECT=1: the gateway's own address is not in wrangler's debug log (this wrangler does not print it); run without it");
                        std::process::exit(2);
                    }
                }
            } else {
                g.clone()
            };
            eprintln!("{target} held callers at once (via {base})…");
            let mut size = held_at_once(&base, &backend, target).await;
            size["via"] = json!(if direct {
                "the gateway's own workerd"
            } else {
                "wrangler dev's proxy"
            });
            held.push(size);
        }
        json!({
            "devtools_relay": devtools,
            "devtools_events_relayed": gateway.devtools_events_relayed(),
            "rejection_cost": rejection,
            "cost": cost_units,
            "open_loop": load,
            "sync_payment_cost": sync,
            "client_token_cost": token,
            "index_cost": index,
            "wake_up": wake,
            "first_callback_attempt": callback,
            "held_callers": held,
            "wasm": wasm_sizes(),
        })
    });

    let mut table = String::from("| figure | measured | goal |\n| --- | --- | --- |\n");
    row(
        &mut table,
        "wrangler dev's DevTools relay",
        format!(
            "{} ({} DevTools events relayed from the gateway)",
            if devtools {
                "on (BENCH_DEVTOOLS=1)"
            } else {
                "off"
            },
            report["devtools_events_relayed"]
        ),
        "",
    );
    let w = &report["wake_up"]["samples"];
    row(
        &mut table,
        "wake-up (result response → held caller response)",
        format!(
            "p50 {} ms, p99 {} ms, max {} ms (n={}, errors {})",
            f(&w["p50_ms"]),
            f(&w["p99_ms"]),
            f(&w["max_ms"]),
            w["n"],
            report["wake_up"]["errors"]
        ),
        "p99 ≤ 2 ms",
    );
    let r = &report["rejection_cost"];
    row(
        &mut table,
        "rejection cost (p50 vs the bare JS / bare Rust Worker)",
        format!(
            "400: {}× / {}× ({} ms), 401: {}× / {}× ({} ms); floors {} ms (JS), {} ms (Rust: {}× JS)",
            f(&r["ratio_400_p50"]),
            f(&r["ratio_400_p50_vs_rust"]),
            f(&r["400"]["p50_ms"]),
            f(&r["ratio_401_p50"]),
            f(&r["ratio_401_p50_vs_rust"]),
            f(&r["401"]["p50_ms"]),
            f(&r["baseline_js"]["p50_ms"]),
            f(&r["baseline_rust"]["p50_ms"]),
            f(&r["rust_vs_js_p50"])
        ),
        "≤ 1.2× JS, ≤ 1.1× Rust",
    );
    row(
        &mut table,
        "rejection cost vs floors sent the same request (p50, JS / Rust)",
        format!(
            "400: {}× / {}× (floors {} / {} ms), 401: {}× / {}× (floors {} / {} ms)",
            f(&r["fair_400"]["ratio_400_p50"]),
            f(&r["fair_400"]["ratio_400_p50_vs_rust"]),
            f(&r["fair_400"]["baseline_js"]["p50_ms"]),
            f(&r["fair_400"]["baseline_rust"]["p50_ms"]),
            f(&r["fair_401"]["ratio_401_p50"]),
            f(&r["fair_401"]["ratio_401_p50_vs_rust"]),
            f(&r["fair_401"]["baseline_js"]["p50_ms"]),
            f(&r["fair_401"]["baseline_rust"]["p50_ms"]),
        ),
        "≤ 1.1× Rust",
    );
    let s = &report["sync_payment_cost"];
    row(
        &mut table,
        "sync payment cost (vs the bare JS / bare Rust Worker)",
        format!(
            "p50 {}× / {}× ({} ms vs {} ms / {} ms); p99 {}× JS ({} ms)",
            f(&s["ratio_payment_p50"]),
            f(&s["ratio_payment_p50_vs_rust"]),
            f(&s["payment"]["p50_ms"]),
            f(&s["baseline_js"]["p50_ms"]),
            f(&s["baseline_rust"]["p50_ms"]),
            f(&s["ratio_payment_p99"]),
            f(&s["payment"]["p99_ms"])
        ),
        "p50 ≤ 3×, p99 ≤ 5×",
    );
    let parts = &s["physical_parts"];
    row(
        &mut table,
        "sync payment vs the physical floor (the same request; commit, backend POST, commit, answer)",
        format!(
            "p50 {}× ({} ms vs {} ms), p99 {}×; the floor's parts, p50: backend hop {} ms, object call without a write {} ms, object call with one commit {} ms",
            f(&s["ratio_payment_p50_vs_physical"]),
            f(&s["payment"]["p50_ms"]),
            f(&s["physical_floor"]["p50_ms"]),
            f(&s["ratio_payment_p99_vs_physical"]),
            f(&parts["backend_hop"]["p50_ms"]),
            f(&parts["object_call_no_write"]["p50_ms"]),
            f(&parts["object_call_one_commit"]["p50_ms"]),
        ),
        "p50 ≤ 1.25×",
    );
    let i = &report["index_cost"];
    row(
        &mut table,
        "payments index on vs off (sync payment, same run)",
        format!(
            "p50 {}× ({} ms vs {} ms), p99 {}× ({} ms vs {} ms)",
            f(&i["ratio_p50"]),
            f(&i["index_on"]["p50_ms"]),
            f(&i["index_off"]["p50_ms"]),
            f(&i["ratio_p99"]),
            f(&i["index_on"]["p99_ms"]),
            f(&i["index_off"]["p99_ms"])
        ),
        "no difference beyond noise",
    );
    let t = &report["client_token_cost"];
    row(
        &mut table,
        "client token vs HTTP Basic (p50, same run)",
        format!(
            "refused 401: {}× ({} ms vs {} ms); paid 200: {}× ({} ms vs {} ms)",
            f(&t["ratio_401_p50"]),
            f(&t["token_401"]["p50_ms"]),
            f(&t["basic_401"]["p50_ms"]),
            f(&t["ratio_200_p50"]),
            f(&t["token_200"]["p50_ms"]),
            f(&t["basic_200"]["p50_ms"])
        ),
        "measured",
    );
    for h in report["held_callers"].as_array().into_iter().flatten() {
        row(&mut table, "held callers at once", format!("via {}, {} connects/s (0: at once): target {}, accepted {}, held {}, released correctly {}, otherwise {}, errored {}, lost {} (re-polls {}); result posts failed {} after {} retries; results first→last {} ms, last release {} ms after first result; listen-queue overflows {}", h["via"].as_str().unwrap_or("?"), h["connects_per_sec"], h["target"], h["accepted"], h["held_at_release"], h["released_correctly"], h["answered_otherwise"], h["errored"], h["lost"], h["repolls"], h["results_failed"], h["result_retries"], f(&h["first_to_last_result_ms"]), f(&h["first_result_to_last_release_ms"]), h["listen_overflows"]), "5,000 with 0 lost");
    }
    let c = &report["first_callback_attempt"];
    row(
        &mut table,
        "first callback attempt (result sent → receiver)",
        format!(
            "p50 {} ms, p99 {} ms, max {} ms (n={})",
            f(&c["p50_ms"]),
            f(&c["p99_ms"]),
            f(&c["max_ms"]),
            c["n"]
        ),
        "≤ 1 s",
    );
    let wasm = &report["wasm"];
    row(
        &mut table,
        "wasm size (gzip -9)",
        format!(
            "{} B with wasm-opt, {} B without",
            wasm["with_wasm_opt"]["gzip_bytes"], wasm["without_wasm_opt"]["gzip_bytes"]
        ),
        "≤ 450 KB",
    );
    println!("{table}");
    print_cost(&report["cost"]);
    print_load(&report["open_loop"]);

    let path =
        std::env::var("BENCH_JSON").unwrap_or_else(|_| "target/bench/report.json".to_owned());
    if let Some(dir) = std::path::Path::new(&path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    ) {
        Ok(()) => println!("JSON: {path}"),
        Err(e) => eprintln!("could not write {path}: {e}"),
    }
}
