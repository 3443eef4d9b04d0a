//! End-to-end tests of interruption: a panic in the Worker or in an object, an object reset and a
//! code reload each end every held caller promptly (the result or a `503`), and lose no payment.
//!
//! The gateway runs with `FAULT_INJECTION=true`, which serves `/__faults/...`. A panic interrupts
//! every request in flight in the instance, so the tests here take turns.

mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::backend::{deliver_result, item_body, Behavior};
use support::*;
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;

/// How soon after the fault every held caller must have its answer. Measured: under 0.1 s for
/// a panic or a reset, under 1 s for a reload; without the guard a held caller hung until its
/// client gave up.
const PROMPT: Duration = Duration::from_secs(5);

/// What `wrangler dev` logs once a reload is serving.
const RELOADED: &str = "Local server updated and ready";

shared_backend_harness!("interruption", &[("FAULT_INJECTION", "true")]);

/// One fault at a time: a panic answers every request in flight in the instance.
async fn turn() -> MutexGuard<'static, ()> {
    static TURN: OnceLock<Mutex<()>> = OnceLock::new();
    TURN.get_or_init(|| Mutex::new(())).lock().await
}

/// A Zai payment held for up to `wait` s on an item whose backend only acknowledges.
fn held_zai(item: &str, key: Option<&str>, wait: u32) -> JoinHandle<Reply> {
    harness().backend.script(item, Behavior::Acknowledge);
    let mut call = make_payment(base(), item, &json!({"account_id": ACCOUNT, "wait": wait}));
    if let Some(key) = key {
        call = call.header("idempotency-key", key);
    }
    tokio::spawn(call.send())
}

/// A ServiceStack payment held for its default 30 s; returns its subject too.
fn held_servicestack() -> (String, JoinHandle<Reply>) {
    let payment_id = uuid::Uuid::new_v4().hyphenated().to_string();
    harness().backend.script(&payment_id, Behavior::Acknowledge);
    let body = json!({"paymentId": payment_id, "paymentMethod": {"type": "card", "token": "tok"}, "clientType": "Web", "version": 1});
    let call = Call::new("POST", format!("{}/mobile/payments/makePayment", base())).json(&body);
    (payment_id, tokio::spawn(call.send()))
}

/// The request id of `subject`'s payment, once the backend has seen it (the caller is held then).
async fn dispatched(subject: &str) -> String {
    let seen = harness()
        .backend
        .await_dispatches(subject, 1, Duration::from_secs(20))
        .await;
    seen.first()
        .map(|d| d.request_id.clone())
        .unwrap_or_default()
}

fn status_call(request_id: &str, wait: u32) -> Call {
    Call::new(
        "GET",
        format!("{}/request/{request_id}/status?wait={wait}", base()),
    )
}

async fn answered(held: JoinHandle<Reply>, fault_at: Instant) -> Reply {
    let reply = held.await.expect("held caller task");
    assert!(
        fault_at.elapsed() < PROMPT,
        "a held caller waited {:?} after the fault",
        fault_at.elapsed()
    );
    reply
}

fn assert_zai_interrupted(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(reply.json["code"], "interrupted", "{}", reply.text);
    assert_eq!(reply.header("retry-after"), Some("2"));
}

fn assert_servicestack_interrupted(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(
        reply.json["responseStatus"]["errorCode"], "ServiceUnavailable",
        "{}",
        reply.text
    );
    assert_eq!(reply.header("retry-after"), Some("2"));
}

/// The payment survived: its status link answers, and a result delivered now completes it.
async fn survives(item: &str, request_id: &str) {
    let status = status_call(request_id, 0).send().await;
    assert_eq!(status.status, 202, "{}", status.text);
    assert_eq!(status.json["request_id"], request_id);
    let completed = item_body(item, "completed", 22500);
    let delivered = deliver_result(base(), request_id, 200, &completed).await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    let done = status_call(request_id, 0).send().await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json, completed);
}

#[tokio::test]
async fn a_panic_in_the_worker_answers_every_held_caller_with_503_in_its_dialect() {
    let _turn = turn().await;
    let item = unique("panic-worker");
    let key = unique("key");
    let zai = held_zai(&item, Some(&key), 20);
    let (payment_id, servicestack) = held_servicestack();
    let request_id = dispatched(&item).await;
    dispatched(&payment_id).await;

    let fault_at = Instant::now();
    let fault = Call::new("POST", format!("{}/__faults/panic", base()))
        .send()
        .await;
    assert_zai_interrupted(&fault);
    assert_zai_interrupted(&answered(zai, fault_at).await);
    assert_servicestack_interrupted(&answered(servicestack, fault_at).await);

    // The instance is rebuilt; the payment is still there and still owns its item.
    let health = Call::new("GET", format!("{}/healthz", base())).send().await;
    assert_eq!(health.status, 200);
    let retry = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(retry.status, 409, "{}", retry.text);
    assert_eq!(retry.json["request_id"], request_id.as_str());
    // The cut-short call could not give back its key's lease: a keyed retry is told the
    // payment is in flight, with its link, until the lease runs out.
    let keyed = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .header("idempotency-key", &key)
        .send()
        .await;
    assert_eq!(keyed.status, 409, "{}", keyed.text);
    assert_eq!(keyed.json["request_id"], request_id.as_str());
    survives(&item, &request_id).await;
}

#[tokio::test]
async fn a_panic_in_the_object_answers_its_held_callers_with_503_and_keeps_the_payment() {
    let _turn = turn().await;
    let item = unique("panic-object");
    let held = held_zai(&item, None, 20);
    let request_id = dispatched(&item).await;
    let fault_at = Instant::now();
    let fault = Call::new(
        "POST",
        format!("{}/__faults/panic-object/{request_id}", base()),
    )
    .send()
    .await;
    assert_zai_interrupted(&fault);
    assert_zai_interrupted(&answered(held, fault_at).await);
    survives(&item, &request_id).await;
}

#[tokio::test]
async fn an_object_reset_answers_its_held_callers_with_503_and_a_keyed_retry_finds_the_payment() {
    let _turn = turn().await;
    let item = unique("reset");
    let key = unique("key");
    let held = held_zai(&item, Some(&key), 20);
    let request_id = dispatched(&item).await;
    let fault_at = Instant::now();
    Call::new(
        "POST",
        format!("{}/__faults/reset-object/{request_id}", base()),
    )
    .send()
    .await;
    assert_zai_interrupted(&answered(held, fault_at).await);

    let keyed = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .header("idempotency-key", &key)
        .send()
        .await;
    assert_eq!(keyed.status, 202, "{}", keyed.text);
    assert_eq!(keyed.json["request_id"], request_id.as_str());
    let unkeyed = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(unkeyed.status, 409, "{}", unkeyed.text);
    assert_eq!(
        unkeyed.json["links"]["status"],
        format!("{}/request/{request_id}/status", base())
    );
    survives(&item, &request_id).await;
    assert_eq!(
        harness().backend.dispatches_for(&item).len(),
        1,
        "one payment reached the backend"
    );
}

#[tokio::test]
async fn a_code_reload_ends_held_callers_promptly_and_keeps_the_payment() {
    let _turn = turn().await;
    let item = unique("reload");
    let held = held_zai(&item, None, 20);
    let request_id = dispatched(&item).await;
    // `wrangler dev` watches `src/`: writing a file there (git ignores it) makes it rebuild
    // (nothing to compile) and reload the Worker, as an edit would.
    let trigger = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/.reload-trigger");
    let reloaded = || harness().gateway.log().matches(RELOADED).count();
    let reloads_before = reloaded();
    let fault_at = Instant::now();
    std::fs::write(&trigger, unique("reload")).expect("write the reload trigger");
    let reply = answered(held, fault_at).await;
    // The dev server answers a request cut by the reload itself (plain text, no Retry-After).
    assert_eq!(reply.status, 503, "{}", reply.text);
    eventually("the reload to finish", Duration::from_secs(60), || async {
        (reloaded() > reloads_before).then_some(())
    })
    .await;
    let status = status_call(&request_id, 0).send().await;
    assert_eq!(status.status, 202, "{}", status.text);
    assert_eq!(status.json["request_id"], request_id.as_str());
    survives(&item, &request_id).await;
}

/// The usage counters `make bench` prices (`POST /__faults/usage`).
async fn usage() -> Value {
    let reply = Call::new("POST", format!("{}/__faults/usage", base()))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

fn counter(units: &Value, name: &str) -> u64 {
    units[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {units}"))
}

#[tokio::test]
async fn the_usage_counters_count_a_payments_units_and_not_their_own_reads() {
    let _turn = turn().await;
    let before = usage().await;
    // Reading is not counted: nothing else calls the Worker while this test has its turn.
    assert_eq!(
        counter(&usage().await, "worker_requests"),
        counter(&before, "worker_requests")
    );
    let item = unique("usage");
    let paid = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 10}))
        .send()
        .await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    // The index row comes from the lane's alarm, after the answer.
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let now = usage().await;
        if counter(&now, "index_rows_written") > counter(&before, "index_rows_written")
            || Instant::now() > deadline
        {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let grew = |name: &str| counter(&after, name) - counter(&before, name);
    assert_eq!(grew("worker_requests"), 1, "{before} → {after}");
    assert!(grew("object_requests") >= 1, "{before} → {after}");
    assert!(grew("object_rows_written") >= 1, "{before} → {after}");
    assert!(grew("index_rows_written") >= 1, "{before} → {after}");
}
