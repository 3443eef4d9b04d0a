//! The fault run: N payments through a failing backend, a failing callback receiver and a SIGKILL
//! of the runtime mid-run; no accepted request is lost.
//!
//! `FAULT_RUN_N` sets N (default 100; `make soak` runs 1,000) and `FAULT_RUN_SEED` replays a run:
//! the seed picks each payment's dialect, wait, backend outcome and receiver, which submissions
//! the backend fails and which deliveries the receiver fails. Only the moment of the kill is left
//! to the clock. The counts are printed as a table (`--nocapture` shows them).

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::backend::{Behavior, TestBackend};
use support::gateway::Gateway;
use support::receiver::{Receiver, Script};
use support::*;

/// Share of backend submissions answered 500, and of callback deliveries the receiver fails.
const BACKEND_FAIL_PERMILLE: u64 = 200;
const RECEIVER_FAIL_PERMILLE: u64 = 300;

/// The shortened schedule (wrangler.toml names); the receiver holds a "timeout" past the
/// callback timeout.
const DISPATCH_RETRY_DELAYS_MS: &str = "200,300,400,500";
const DISPATCH_TRIES: u32 = 5;
const CALLBACK_RETRY_SCHEDULE_MS: &str = "0,300,600,900";
const CALLBACK_TIMEOUT_MS: u64 = 1_000;
const RECEIVER_HOLD: Duration = Duration::from_millis(2_000);
/// Long enough for an asynchronous result to outlast the restart, short enough to see expiries.
const RESULT_TIMEOUT: Duration = Duration::from_secs(40);

/// Calls in flight at once while paying, and while polling for the end state.
const PAYING_AT_ONCE: usize = 16;
const POLLING_AT_ONCE: usize = 64;
/// How long one payment may take to be accepted (the kill, a leased `Idempotency-Key`), and to
/// reach its end state and its callback's end once accepted. The callback's bound covers a
/// queue backlog: the local queue runs one batch of ten at a time, and a message lost with the
/// kill is sent again only after its confirm window, which doubles while the queue is slow.
const ACCEPT_DEADLINE: Duration = Duration::from_secs(120);
const SETTLE_DEADLINE: Duration = Duration::from_secs(100);
const CALLBACK_DEADLINE: Duration = Duration::from_secs(180);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Zai,
    ServiceStack,
}

/// What the backend does with a payment, besides failing some submissions at random.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Answers 200 within the dispatch.
    Sync,
    /// Answers 202, then posts the result to the signed result endpoint.
    Async,
    /// Answers 500 to every submission: the request fails.
    Down,
    /// Answers 202 and never a result: the request expires.
    Silent,
}

/// What the callback receiver does with a payment's deliveries (Zai only: the ServiceStack
/// dialect has no callback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Receiving {
    /// Fails [`RECEIVER_FAIL_PERMILLE`] of the deliveries.
    Faulty,
    /// Fails every delivery: the callback is dead-lettered.
    Dead,
}

#[derive(Clone, Debug)]
struct Plan {
    index: usize,
    dialect: Dialect,
    subject: String,
    outcome: Outcome,
    wait_secs: u64,
    receiving: Option<Receiving>,
}

impl Plan {
    fn new(seed: u64, index: usize) -> Plan {
        let roll = |what: &str| seeded_hash(seed, &format!("plan/{what}/{index}")) % 100;
        let dialect = if roll("dialect") < 75 {
            Dialect::Zai
        } else {
            Dialect::ServiceStack
        };
        let subject = match dialect {
            Dialect::Zai => format!("fault-{seed:x}-{index}"),
            Dialect::ServiceStack => {
                let high = u128::from(seeded_hash(seed, &format!("guid/high/{index}")));
                let low = u128::from(seeded_hash(seed, &format!("guid/low/{index}")));
                uuid::Uuid::from_u128((high << 64) | low)
                    .hyphenated()
                    .to_string()
            }
        };
        let outcome = match roll("outcome") {
            0..50 => Outcome::Sync,
            50..90 => Outcome::Async,
            90..95 => Outcome::Down,
            _ => Outcome::Silent,
        };
        let wait_secs = if roll("wait") < 50 { 0 } else { 3 };
        let receiving = (dialect == Dialect::Zai).then(|| {
            if roll("receiver") < 5 {
                Receiving::Dead
            } else {
                Receiving::Faulty
            }
        });
        Plan {
            index,
            dialect,
            subject,
            outcome,
            wait_secs,
            receiving,
        }
    }

    /// The backend's item response for this payment.
    fn result_body(&self) -> Value {
        json!({"items": {"id": self.subject, "state": "completed", "status": 22500, "run": self.index}})
    }

    fn behavior(&self, seed: u64) -> Behavior {
        let then = match self.outcome {
            Outcome::Sync => Behavior::Answer {
                status: 200,
                body: self.result_body(),
                after: Duration::from_millis(seeded_hash(seed, &self.subject) % 300),
            },
            Outcome::Async => Behavior::AcknowledgeThenDeliver {
                status: 200,
                body: self.result_body(),
                after: Duration::from_millis(200 + seeded_hash(seed, &self.subject) % 1_300),
            },
            Outcome::Down => Behavior::FailTimes {
                n: u32::MAX,
                then: Box::new(Behavior::Acknowledge),
            },
            Outcome::Silent => Behavior::Acknowledge,
        };
        Behavior::FailSome {
            seed,
            permille: BACKEND_FAIL_PERMILLE,
            then: Box::new(then),
        }
    }

    /// How many of the submissions the random backend failures answer 500.
    fn unlucky_submissions(&self, seed: u64) -> u32 {
        (1..=DISPATCH_TRIES)
            .filter(|n| {
                seeded_pick(
                    seed,
                    &format!("submit/{}/{n}", self.subject),
                    BACKEND_FAIL_PERMILLE,
                )
            })
            .count() as u32
    }

    /// The end states this payment may reach. A submission cut short by the kill counts as a
    /// try too, so one that the random failures leave a single try also may fail.
    fn expected_ends(&self, seed: u64) -> &'static [End] {
        let unlucky = self.unlucky_submissions(seed);
        match self.outcome {
            Outcome::Down => &[End::Failed],
            Outcome::Sync | Outcome::Async if unlucky == DISPATCH_TRIES => &[End::Failed],
            Outcome::Sync | Outcome::Async if unlucky + 1 == DISPATCH_TRIES => {
                &[End::Completed, End::Failed]
            }
            Outcome::Sync | Outcome::Async => &[End::Completed],
            Outcome::Silent => &[End::Expired],
        }
    }

    fn callback_path(&self) -> String {
        format!("/cb/{}", self.subject)
    }

    fn key(&self, seed: u64) -> String {
        format!("fault-run-{seed:x}-{}", self.index)
    }

    fn call(&self, base: &str, seed: u64, receiver: &Receiver) -> Call {
        let call = match self.dialect {
            Dialect::Zai => make_payment(
                base,
                &self.subject,
                &json!({
                    "account_id": ACCOUNT,
                    "wait": self.wait_secs,
                    "callback": receiver.url("/cb/{item}"),
                }),
            ),
            Dialect::ServiceStack => {
                let prefer = if self.wait_secs == 0 {
                    "respond-async".to_owned()
                } else {
                    format!("wait={}", self.wait_secs)
                };
                Call::new("POST", format!("{base}/mobile/payments/makePayment"))
                    .json(&json!({
                        "paymentId": self.subject,
                        "paymentMethod": {"type": "card", "token": ACCOUNT},
                        "clientType": "IOS",
                    }))
                    .header("prefer", &prefer)
            }
        };
        call.header("idempotency-key", &self.key(seed))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    Completed,
    Failed,
    Expired,
}

/// How one payment went, from the client's side.
#[derive(Debug, Default)]
struct Trace {
    /// The request id of the accepted payment; `None`: refused at acceptance.
    request_id: Option<String>,
    /// Every request id any answer named (a retry must only ever name the first).
    ids_named: HashSet<String>,
    /// Calls made again with the same key after a transport error, a `503`, a `409` (the key's
    /// first call still answering) or another 5xx.
    retried: [u32; 4],
    /// The last answer when refused.
    refusal: Option<String>,
    end: Option<End>,
    callback: Option<CallbackEnd>,
    /// What each failed attempt in the final delivery log says (`HTTP 500`, `no answer …`).
    failed_attempts: Vec<String>,
    /// Why this payment counts as lost or wrong, if it does.
    problems: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallbackEnd {
    Delivered,
    Exhausted,
}

/// The request id an answer names: its status link (`Location`, `Content-Location`, a `409`'s
/// link) or its body's id.
fn named_id(reply: &Reply) -> Option<String> {
    let from_link = |link: &str| {
        link.trim_end_matches("/status")
            .rsplit('/')
            .next()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
    };
    let links = [
        reply.header("location").map(str::to_owned),
        reply.header("content-location").map(str::to_owned),
        reply.json["links"]["status"].as_str().map(str::to_owned),
        reply.json["responseStatus"]["meta"]["location"]
            .as_str()
            .map(str::to_owned),
    ];
    links
        .into_iter()
        .flatten()
        .find_map(|link| from_link(&link))
        .or_else(|| reply.json["request_id"].as_str().map(str::to_owned))
        .or_else(|| {
            reply.json["responseStatus"]["meta"]["requestId"]
                .as_str()
                .map(str::to_owned)
        })
}

/// Pays, as a real client would: a transport error, a 5xx or a `409` (the key's first call still
/// answering) is tried again with the same `Idempotency-Key`, until [`ACCEPT_DEADLINE`].
async fn accept(plan: &Plan, base: &str, seed: u64, receiver: &Receiver, trace: &mut Trace) {
    let started = Instant::now();
    loop {
        let (kind, pause) = match plan.call(base, seed, receiver).try_send().await {
            Err(_) => (0, Duration::from_millis(300)),
            Ok(reply) => {
                let id = named_id(&reply);
                trace.ids_named.extend(id.clone());
                match (reply.status, id) {
                    // A `502` naming its request is a payment that failed within its wait:
                    // accepted too.
                    (200..=202 | 502, Some(id)) => {
                        trace.request_id = Some(id);
                        return;
                    }
                    (503, _) => (1, Duration::from_millis(300)),
                    (409, _) => (2, Duration::from_millis(1_000)),
                    (500..=599, _) => (3, Duration::from_millis(300)),
                    (status, _) => {
                        trace.refusal = Some(format!("{status} {}", reply.text));
                        return;
                    }
                }
            }
        };
        if started.elapsed() > ACCEPT_DEADLINE {
            trace.refusal = Some(format!("not accepted within {ACCEPT_DEADLINE:?}"));
            return;
        }
        if let Some(n) = trace.retried.get_mut(kind) {
            *n += 1;
        }
        tokio::time::sleep(pause).await;
    }
}

/// Long-polls the status link until the payment is terminal; checks what it answers.
async fn settle(plan: &Plan, base: &str, id: &str, seed: u64, trace: &mut Trace) {
    let link = format!("{base}/request/{id}/status?wait=5");
    let started = Instant::now();
    let reply = loop {
        if started.elapsed() > SETTLE_DEADLINE {
            trace
                .problems
                .push(format!("not terminal after {SETTLE_DEADLINE:?}"));
            return;
        }
        match Call::new("GET", &link).try_send().await {
            Ok(reply) if reply.status == 202 || reply.status == 503 => {}
            // Its body broke off (`Reply` reads a failed body as empty): the runtime was killed
            // while sending it, after the head was through (seen with wrangler 4.164.0). No
            // status answer is empty, so this is no answer yet.
            Ok(reply) if reply.text.is_empty() => {
                tokio::time::sleep(Duration::from_millis(300)).await
            }
            Ok(reply) => break reply,
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    };
    let message = match plan.dialect {
        Dialect::Zai => reply.json["message"].as_str(),
        Dialect::ServiceStack => reply.json["responseStatus"]["message"].as_str(),
    }
    .unwrap_or_default()
    .to_owned();
    let end = match reply.status {
        200 => {
            let body = match plan.dialect {
                Dialect::Zai => reply.json.clone(),
                Dialect::ServiceStack => reply.json["data"]
                    .as_str()
                    .and_then(|data| serde_json::from_str(data).ok())
                    .unwrap_or(Value::Null),
            };
            if body != plan.result_body() {
                trace
                    .problems
                    .push(format!("completed with another body: {}", reply.text));
            }
            End::Completed
        }
        502 if message.contains("expired") => End::Expired,
        502 => End::Failed,
        status => {
            trace
                .problems
                .push(format!("the status link answered {status}: {}", reply.text));
            return;
        }
    };
    trace.end = Some(end);
    let expected = plan.expected_ends(seed);
    if !expected.contains(&end) {
        trace.problems.push(format!(
            "ended {end:?}, expected {expected:?} ({:?}): {}",
            plan.outcome, reply.text
        ));
    }
}

/// Reads the delivery log until the callback is delivered or dead-lettered (`exhausted`).
/// The log is read as soon as the receiver has acknowledged the delivery, and otherwise at
/// growing intervals: a fault run with many payments must not become a load test of the log.
async fn await_callback(plan: &Plan, base: &str, id: &str, receiver: &Receiver, trace: &mut Trace) {
    let link = format!("{base}/request/{id}/callbacks");
    let webhook_id = format!("msg_{id}");
    let acknowledged = || {
        receiver
            .received_at(&plan.callback_path())
            .iter()
            .any(|r| r.answer.acknowledged() && r.header("webhook-id") == Some(webhook_id.as_str()))
    };
    let started = Instant::now();
    let mut last = String::new();
    let mut pause = Duration::from_millis(250);
    while started.elapsed() < CALLBACK_DEADLINE {
        let waiting = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let waited = waiting.elapsed();
            if waited >= pause || (waited >= Duration::from_millis(200) && acknowledged()) {
                break;
            }
        }
        pause = (pause * 2).min(Duration::from_secs(4));
        if let Ok(log) = Call::new("GET", &link).try_send().await {
            let entries = log.json["callbacks"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let delivered = entries.iter().any(|e| {
                e["http_response"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s))
            });
            let exhausted = entries.iter().any(|e| {
                e["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("exhausted"))
            });
            let end = match (delivered, exhausted) {
                (true, false) => Some(CallbackEnd::Delivered),
                (false, true) => Some(CallbackEnd::Exhausted),
                (false, false) => None,
                (true, true) => {
                    trace.problems.push(format!(
                        "callback both delivered and exhausted: {}",
                        log.text
                    ));
                    return;
                }
            };
            if let Some(end) = end {
                trace.callback = Some(end);
                trace.failed_attempts = entries
                    .iter()
                    .filter(|e| {
                        !e["http_response"]
                            .as_u64()
                            .is_some_and(|s| (200..300).contains(&s))
                            && !e["detail"]
                                .as_str()
                                .is_some_and(|d| d.contains("exhausted"))
                    })
                    .map(|e| match e["http_response"].as_u64() {
                        Some(status) => format!("HTTP {status}"),
                        None => e["detail"].as_str().unwrap_or("?").to_owned(),
                    })
                    .collect();
                if plan.receiving == Some(Receiving::Dead) && end != CallbackEnd::Exhausted {
                    trace
                        .problems
                        .push(format!("a dead receiver's callback ended {end:?}"));
                }
                return;
            }
            last = log.text;
        }
    }
    trace.problems.push(format!(
        "callback neither delivered nor exhausted after {CALLBACK_DEADLINE:?}; log: {last}"
    ));
}

struct Run {
    seed: u64,
    n: usize,
    backend: Arc<TestBackend>,
    receiver: Arc<Receiver>,
    gateway: Arc<Gateway>,
}

impl Run {
    fn start() -> Run {
        let n = env_number("FAULT_RUN_N").map_or(100, |n| n as usize);
        let seed = seed_from_env("FAULT_RUN_SEED");
        println!("fault run: N = {n}, FAULT_RUN_SEED=0x{seed:x}");
        let backend = TestBackend::start();
        let receiver = Receiver::start();
        let callback_timeout = CALLBACK_TIMEOUT_MS.to_string();
        let result_timeout = RESULT_TIMEOUT.as_secs().to_string();
        let vars = gateway_vars(
            &backend.url(),
            &[
                ("ALLOW_INSECURE_CALLBACKS", "true"),
                ("DISPATCH_TIMEOUT_MS", "5000"),
                ("DISPATCH_RETRY_DELAYS_MS", DISPATCH_RETRY_DELAYS_MS),
                ("RESULT_TIMEOUT_SECS", &result_timeout),
                ("CALLBACK_RETRY_SCHEDULE_MS", CALLBACK_RETRY_SCHEDULE_MS),
                ("CALLBACK_TIMEOUT_MS", &callback_timeout),
                ("CALLBACK_CONFIRM_MS", "3000"),
                // The run counts losses under faults; at soak size its bursts would exceed the
                // `standard` rate limit, so its tenants are on `high` (still counted).
                (
                    "TENANTS",
                    // tenant-a's objects are created with a location hint, tenant-b's without.
                    r#"[{"tenant": "tenant-a", "rate_tier": "high", "location_hint": "oc"}, {"tenant": "tenant-b", "rate_tier": "high"}]"#,
                ),
            ],
        );
        let gateway = Arc::new(Gateway::start("fault-run", vars));
        backend.deliver_results_to(&gateway.base);
        Run {
            seed,
            n,
            backend,
            receiver,
            gateway,
        }
    }

    fn script(&self, plan: &Plan) {
        self.backend.script(&plan.subject, plan.behavior(self.seed));
        match plan.receiving {
            Some(Receiving::Faulty) => self.receiver.script(
                &plan.callback_path(),
                Script::Faulty {
                    seed: self.seed,
                    permille: RECEIVER_FAIL_PERMILLE,
                    hold: RECEIVER_HOLD,
                },
            ),
            Some(Receiving::Dead) => self
                .receiver
                .script(&plan.callback_path(), Script::Always(500)),
            None => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_accepted_request_is_lost_across_backend_receiver_and_runtime_failures() {
    let run = Arc::new(Run::start());
    let (seed, n) = (run.seed, run.n);
    let plans: Vec<Plan> = (0..n).map(|i| Plan::new(seed, i)).collect();
    for plan in &plans {
        run.script(plan);
    }
    let started = Instant::now();
    let accepted = Arc::new(AtomicUsize::new(0));

    // The kill: once half the payments are accepted, SIGKILL the runtime's process group and
    // start it again on the same persisted state, while the rest are being paid.
    let killer = {
        let (run, accepted) = (run.clone(), accepted.clone());
        tokio::spawn(async move {
            while accepted.load(Ordering::SeqCst) < n / 2 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let at = started.elapsed();
            let gateway = run.gateway.clone();
            let down = tokio::task::spawn_blocking(move || {
                let t = Instant::now();
                gateway.restart();
                t.elapsed()
            })
            .await
            .expect("restart");
            println!(
                "runtime SIGKILLed at {:.1} s ({} accepted), serving again {:.1} s later",
                at.as_secs_f64(),
                n / 2,
                down.as_secs_f64()
            );
            (at, down)
        })
    };

    let paying = Arc::new(tokio::sync::Semaphore::new(PAYING_AT_ONCE));
    let polling = Arc::new(tokio::sync::Semaphore::new(POLLING_AT_ONCE));
    let traces = Arc::new(Mutex::new(BTreeMap::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for plan in plans.clone() {
        let (run, accepted, paying, polling, traces) = (
            run.clone(),
            accepted.clone(),
            paying.clone(),
            polling.clone(),
            traces.clone(),
        );
        tasks.spawn(async move {
            let base = run.gateway.base.clone();
            let mut trace = Trace::default();
            {
                let _permit = paying.acquire().await.expect("semaphore");
                accept(&plan, &base, run.seed, &run.receiver, &mut trace).await;
            }
            if let Some(id) = trace.request_id.clone() {
                accepted.fetch_add(1, Ordering::SeqCst);
                let _permit = polling.acquire().await.expect("semaphore");
                settle(&plan, &base, &id, run.seed, &mut trace).await;
                if plan.receiving.is_some() && trace.end.is_some() {
                    await_callback(&plan, &base, &id, &run.receiver, &mut trace).await;
                }
            }
            traces.lock().unwrap().insert(plan.index, trace);
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("a payment task panicked");
    }
    let (killed_at, down_for) = if killer.is_finished() {
        killer.await.expect("killer")
    } else {
        killer.abort();
        panic!("seed 0x{seed:x}: fewer than {} payments were accepted, so the runtime was never killed", n / 2);
    };
    let traces = std::mem::take(&mut *traces.lock().unwrap());
    let report = judge(&run, &plans, traces, killed_at, down_for, started.elapsed());
    println!("{}", report.table);
    assert!(
        report.lost.is_empty() && report.wrong.is_empty(),
        "seed 0x{seed:x} (rerun with FAULT_RUN_SEED=0x{seed:x}): {} lost, {} wrong\nlost:\n{}\nwrong:\n{}\n{}",
        report.lost.len(),
        report.wrong.len(),
        first_lines(&report.lost),
        first_lines(&report.wrong),
        report.table
    );
    // The panic canary: a SIGKILL ends the runtime, but nothing in it may panic or answer a
    // caller "interrupted", even where every end above looked right.
    let panics = run.gateway.panic_lines_since(0);
    println!("panic canary: {} line(s)", panics.len());
    run.gateway.assert_no_panic_since(0);
    run.gateway.kill();
}

struct Report {
    table: String,
    /// Accepted payments not terminal, with no answering status link, or with a callback neither
    /// delivered nor dead-lettered; payments made that the client was never told about.
    lost: Vec<String>,
    /// Ends other than the plan's, and other broken promises.
    wrong: Vec<String>,
}

fn judge(
    run: &Run,
    plans: &[Plan],
    traces: BTreeMap<usize, Trace>,
    killed_at: Duration,
    down_for: Duration,
    took: Duration,
) -> Report {
    let mut lost = Vec::new();
    let mut wrong = Vec::new();
    let received = run.receiver.received();
    let mut by_webhook: HashMap<String, Vec<&support::receiver::Received>> = HashMap::new();
    for r in &received {
        by_webhook
            .entry(r.header("webhook-id").unwrap_or_default().to_owned())
            .or_default()
            .push(r);
    }
    let dispatches = run.backend.dispatches();
    let mut ids_by_subject: HashMap<&str, HashSet<&str>> = HashMap::new();
    for d in &dispatches {
        ids_by_subject
            .entry(d.subject.as_str())
            .or_default()
            .insert(d.request_id.as_str());
    }
    let mut accepted_ids = HashSet::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut count = |what: &'static str| *counts.entry(what).or_default() += 1;
    let mut retried = [0; 4];
    let mut causes: BTreeMap<String, usize> = BTreeMap::new();
    for plan in plans {
        let name = format!(
            "#{} {} ({:?}, {:?})",
            plan.index, plan.subject, plan.dialect, plan.outcome
        );
        let Some(trace) = traces.get(&plan.index) else {
            lost.push(format!("{name}: no trace"));
            continue;
        };
        for cause in &trace.failed_attempts {
            *causes.entry(cause.clone()).or_default() += 1;
        }
        for (sum, n) in retried.iter_mut().zip(trace.retried) {
            *sum += n;
        }
        let Some(id) = &trace.request_id else {
            count("rejected at acceptance");
            // Refused, so the client knows of no payment: none may have been made.
            if ids_by_subject.contains_key(plan.subject.as_str()) {
                lost.push(format!(
                    "{name}: refused at acceptance ({:?}) but paid at the backend",
                    trace.refusal
                ));
            }
            continue;
        };
        count("accepted");
        accepted_ids.insert(id.clone());
        if trace.ids_named.len() > 1 {
            wrong.push(format!(
                "{name}: retries with one key named several requests: {:?}",
                trace.ids_named
            ));
        }
        let paid_as = ids_by_subject.get(plan.subject.as_str());
        if paid_as.is_some_and(|ids| ids.iter().any(|other| other != id)) {
            lost.push(format!(
                "{name}: a second payment at the backend: {paid_as:?}, accepted as {id}"
            ));
        }
        for problem in &trace.problems {
            let is_loss = problem.starts_with("not terminal")
                || problem.starts_with("the status link")
                || problem.starts_with("callback neither");
            let line = format!("{name} {id}: {problem}");
            if is_loss {
                lost.push(line);
            } else {
                wrong.push(line);
            }
        }
        match trace.end {
            Some(End::Completed) => count("completed"),
            Some(End::Failed) => count("failed"),
            Some(End::Expired) => count("expired"),
            None => {}
        }
        if plan.receiving.is_none() {
            continue;
        }
        count("callbacks owed");
        let webhook_id = format!("msg_{id}");
        let seen = by_webhook.get(&webhook_id).map_or(&[][..], Vec::as_slice);
        match trace.callback {
            Some(CallbackEnd::Delivered) => {
                count("callbacks delivered");
                if !seen.iter().any(|r| r.answer.acknowledged()) {
                    lost.push(format!(
                        "{name} {id}: logged delivered, but the receiver never acknowledged {webhook_id}"
                    ));
                }
            }
            Some(CallbackEnd::Exhausted) => count("callbacks exhausted (dead-lettered)"),
            None => {}
        }
        if seen
            .iter()
            .any(|r| r.path_and_query.split('?').next() != Some(plan.callback_path().as_str()))
        {
            wrong.push(format!(
                "{name} {id}: its webhook-id arrived at another path"
            ));
        }
    }
    // Every delivery the receiver saw belongs to an accepted payment.
    let strangers = by_webhook
        .keys()
        .filter(|w| !accepted_ids.contains(w.trim_start_matches("msg_")))
        .count();
    if strangers > 0 {
        lost.push(format!(
            "{strangers} webhook-id(s) at the receiver for no accepted payment"
        ));
    }
    let seen_again = by_webhook.values().filter(|rs| rs.len() > 1).count();
    let acked_again = by_webhook
        .values()
        .filter(|rs| rs.iter().filter(|r| r.answer.acknowledged()).count() > 1)
        .count();
    let plan_of: HashMap<&str, &Plan> = plans.iter().map(|p| (p.subject.as_str(), p)).collect();
    let backend_failures = dispatches
        .iter()
        .filter(|d| {
            plan_of.get(d.subject.as_str()).is_some_and(|p| {
                p.outcome == Outcome::Down
                    || seeded_pick(
                        run.seed,
                        &format!("submit/{}/{}", d.subject, d.submission_count),
                        BACKEND_FAIL_PERMILLE,
                    )
            })
        })
        .count();
    let deliveries = run.backend.deliveries();
    let results_retried = deliveries.iter().filter(|d| d.tries > 1).count();
    let get = |what: &str| counts.get(what).copied().unwrap_or_default();
    let zai = plans.iter().filter(|p| p.dialect == Dialect::Zai).count();
    let mut table = String::new();
    let mut row = |what: &str, value: String| {
        let _ = writeln!(table, "| {what:<62} | {value:>10} |");
    };
    row(
        "payments (Zai / ServiceStack)",
        format!("{zai} / {}", plans.len() - zai),
    );
    row("accepted", get("accepted").to_string());
    row(
        "rejected at acceptance",
        get("rejected at acceptance").to_string(),
    );
    let [transport, unavailable, in_flight, other] = retried;
    row(
        "retried with the same key: refused/reset, 503, 409, other 5xx",
        format!("{transport}, {unavailable}, {in_flight}, {other}"),
    );
    row("completed", get("completed").to_string());
    row("failed (backend never answered)", get("failed").to_string());
    row("expired (no result in time)", get("expired").to_string());
    row("backend submissions", dispatches.len().to_string());
    row("  answered 500", backend_failures.to_string());
    row(
        "async results posted (retried while the runtime was down)",
        format!("{} ({results_retried})", deliveries.len()),
    );
    row("callbacks owed", get("callbacks owed").to_string());
    row("  delivered", get("callbacks delivered").to_string());
    row(
        "  exhausted (dead-lettered)",
        get("callbacks exhausted (dead-lettered)").to_string(),
    );
    row(
        "failed attempts in the delivery logs",
        causes.values().sum::<usize>().to_string(),
    );
    for (cause, n) in &causes {
        row(&format!("  {cause}"), n.to_string());
    }
    row("receiver requests", received.len().to_string());
    row(
        "  faults (5xx, held past the timeout, reset)",
        received
            .iter()
            .filter(|r| !r.answer.acknowledged())
            .count()
            .to_string(),
    );
    row("webhook-ids seen more than once", seen_again.to_string());
    row(
        "duplicates: webhook-ids acknowledged more than once",
        acked_again.to_string(),
    );
    row("lost", lost.len().to_string());
    row("wrong", wrong.len().to_string());
    let table = format!(
        "fault run, seed 0x{:x}: killed at {:.1} s, back after {:.1} s, finished in {:.1} s\n\
         | {:<62} | {:>10} |\n| {:-<62} | {:->10} |\n{table}",
        run.seed,
        killed_at.as_secs_f64(),
        down_for.as_secs_f64(),
        took.as_secs_f64(),
        "count",
        "",
        "",
        "",
    );
    Report { table, lost, wrong }
}

/// The first lines of a long list, and how many more there are.
fn first_lines(lines: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut shown = lines.iter().take(SHOWN).cloned().collect::<Vec<_>>();
    if lines.len() > SHOWN {
        shown.push(format!("… and {} more", lines.len() - SHOWN));
    }
    shown.join("\n")
}
