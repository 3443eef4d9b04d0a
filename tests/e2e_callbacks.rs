//! End-to-end tests of signed callback delivery through the Queues consumer, with a recording receiver.

mod support;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::backend::{deliver_result, item_body, Behavior, TestBackend};
use support::gateway::Gateway;
use support::receiver::{Receiver, Script};
use support::*;

struct Harness {
    gateway: Gateway,
    backend: Arc<TestBackend>,
    receiver: Arc<Receiver>,
}

/// A short schedule: three attempts 200 ms apart (±20 %).
fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let backend = TestBackend::start();
        let receiver = Receiver::start();
        let vars = gateway_vars(
            &backend.url(),
            &[
                ("ALLOW_INSECURE_CALLBACKS", "true"),
                ("CALLBACK_RETRY_SCHEDULE_MS", "0,200,200"),
                ("CALLBACK_TIMEOUT_MS", "2000"),
                ("CALLBACK_CONFIRM_MS", "5000"),
            ],
        );
        let gateway = Gateway::start("callbacks", with_zai_signing(vars));
        Harness {
            gateway,
            backend,
            receiver,
        }
    })
}

/// Tenant A's client opts in to Zai's `Webhooks-signature`; tenant C signs callbacks the
/// Standard Webhooks way only.
const ZAI_WEBHOOK_SECRET: &str = "zai_test_secret_0123456789abcdefghij";
const TENANT_C_KEY: &str = "shop_c";
const TENANT_C_SECRET: &str = "sk_test_tenant_c_0123456789";

fn with_zai_signing(mut vars: Vec<(String, String)>) -> Vec<(String, String)> {
    let clients = json!([
        {"key_id": TENANT_A_KEY, "secret": TENANT_A_SECRET, "tenant": "tenant-a",
         "callback_secret": CALLBACK_SECRET, "zai_webhook_secret": ZAI_WEBHOOK_SECRET},
        {"key_id": TENANT_B_KEY, "secret": TENANT_B_SECRET, "tenant": "tenant-b"},
        {"key_id": TENANT_C_KEY, "secret": TENANT_C_SECRET, "tenant": "tenant-c",
         "callback_secret": CALLBACK_SECRET},
    ]);
    for (name, value) in &mut vars {
        if name == "API_CLIENTS" {
            *value = clients.to_string();
        }
    }
    vars
}

fn base() -> &'static str {
    &harness().gateway.base
}

const DEADLINE: Duration = Duration::from_secs(20);

/// Pays `item` with a callback to `path` on the receiver; the backend answers `body` at once.
async fn pay_with_callback(item: &str, path: &str, body: &Value) -> Reply {
    harness().backend.script(
        item,
        Behavior::Answer {
            status: 200,
            body: body.clone(),
            after: Duration::ZERO,
        },
    );
    let callback = harness().receiver.url(&format!(
        "{path}/{{item}}?request={{uuid}}&account={{account}}"
    ));
    let reply = make_payment(
        base(),
        item,
        &json!({"account_id": ACCOUNT, "wait": 10, "callback": callback}),
    )
    .send()
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
}

fn request_id_of(reply: &Reply) -> String {
    let link = reply.header("content-location").unwrap_or_default();
    link.trim_end_matches("/status")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn log_of(request_id: &str) -> Reply {
    Call::new("GET", format!("{}/request/{request_id}/callbacks", base()))
        .send()
        .await
}

/// Waits until the delivery log has `n` entries.
async fn await_log(request_id: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} log entries"), DEADLINE, || async {
        let log = log_of(request_id).await;
        let entries = log.json["callbacks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (entries.len() >= n).then_some(entries)
    })
    .await
}

#[tokio::test]
async fn the_callback_arrives_signed_at_the_substituted_path_with_the_body_verbatim() {
    let item = unique("cb ok");
    let item = item.replace(' ', "-");
    let body =
        json!({"items": {"id": item, "state": "completed", "status": 22500, "note": "verbatim ✓"}});
    let started = Instant::now();
    let reply = pay_with_callback(&item, "/ok", &body).await;
    let request_id = request_id_of(&reply);
    let got = harness()
        .receiver
        .await_requests(&format!("/ok/{item}"), 1, DEADLINE)
        .await
        .remove(0);
    assert_eq!(
        got.path_and_query,
        format!("/ok/{item}?request={request_id}&account={ACCOUNT}")
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&got.body).unwrap_or(Value::Null),
        body
    );
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("edgepay-request-id"), Some(request_id.as_str()));
    assert_eq!(got.header("edgepay-result-status"), Some("200"));
    assert_eq!(
        got.header("webhook-id"),
        Some(format!("msg_{request_id}").as_str())
    );
    // A third-party Standard Webhooks verifier accepts the signature.
    let verifier = standardwebhooks::Webhook::new(CALLBACK_SECRET).expect("secret");
    verifier
        .verify(&got.body, &got.headers)
        .expect("a valid Standard Webhooks signature");
    let other =
        standardwebhooks::Webhook::new("whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
            .expect("secret");
    assert!(
        other.verify(&got.body, &got.headers).is_err(),
        "another key must not verify"
    );
    println!(
        "first callback attempt {:?} after the payment call began",
        got.at - started
    );

    let entries = await_log(&request_id, 1).await;
    assert_eq!(entries[0]["attempt"], 1);
    assert_eq!(entries[0]["http_response"], 200);
    assert!(entries[0]["executed_utc"]
        .as_str()
        .unwrap_or_default()
        .ends_with('Z'));
    assert!(entries[0]["detail"].is_string());
}

#[tokio::test]
async fn an_async_result_is_called_back_too() {
    let item = unique("cb.async~x");
    harness().backend.script(&item, Behavior::Acknowledge);
    let callback = harness().receiver.url("/async/{item}");
    let reply = make_payment(
        base(),
        &item,
        &json!({"account_id": ACCOUNT, "callback": callback}),
    )
    .send()
    .await;
    assert_eq!(reply.status, 202);
    let request_id = reply.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    harness().backend.await_dispatches(&item, 1, DEADLINE).await;
    let body = item_body(&item, "completed", 22500);
    let result_sent = Instant::now();
    assert_eq!(
        deliver_result(base(), &request_id, 201, &body).await.status,
        200
    );
    let got = harness()
        .receiver
        .await_requests(&format!("/async/{item}"), 1, DEADLINE)
        .await
        .remove(0);
    assert_eq!(got.header("edgepay-result-status"), Some("201"));
    println!(
        "result to first callback attempt: {:?}",
        got.at.saturating_duration_since(result_sent)
    );
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_it_on_attempt_three_and_the_log_shows_three() {
    let item = unique("cb-retry");
    harness()
        .receiver
        .script(&format!("/retry/{item}"), Script::FailThen(2));
    let reply = pay_with_callback(&item, "/retry", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    let got = harness()
        .receiver
        .await_requests(&format!("/retry/{item}"), 3, DEADLINE)
        .await;
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap_or_default().to_owned())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "webhook-id is stable across attempts: {ids:?}"
    );
    let entries = await_log(&request_id, 3).await;
    let statuses: Vec<Value> = entries.iter().map(|e| e["http_response"].clone()).collect();
    assert_eq!(statuses, vec![json!(500), json!(500), json!(200)]);
    let attempts: Vec<Value> = entries.iter().map(|e| e["attempt"].clone()).collect();
    assert_eq!(attempts, vec![json!(1), json!(2), json!(3)]);
}

#[tokio::test]
async fn a_receiver_that_always_fails_ends_exhausted_in_the_dead_letter_queue() {
    let item = unique("cb-dead");
    harness()
        .receiver
        .script(&format!("/dead/{item}"), Script::Always(500));
    let reply = pay_with_callback(&item, "/dead", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    let entries = await_log(&request_id, 4).await;
    assert_eq!(
        entries.len(),
        4,
        "three attempts and the exhaustion: {entries:?}"
    );
    assert!(
        entries[3]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("exhausted"),
        "{entries:?}"
    );
    assert_eq!(entries[3]["http_response"], Value::Null);
    assert_eq!(
        harness()
            .receiver
            .received_at(&format!("/dead/{item}"))
            .len(),
        3
    );
}

#[tokio::test]
async fn a_410_stops_delivery() {
    let item = unique("cb-gone");
    harness()
        .receiver
        .script(&format!("/gone/{item}"), Script::Always(410));
    let reply = pay_with_callback(&item, "/gone", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    let entries = await_log(&request_id, 1).await;
    assert_eq!(entries[0]["http_response"], 410);
    // Give a wrongly scheduled retry time to happen (the schedule is 200 ms), then check none did.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        harness()
            .receiver
            .received_at(&format!("/gone/{item}"))
            .len(),
        1
    );
    assert_eq!(await_log(&request_id, 1).await.len(), 1);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_counts_as_a_failure() {
    let item = unique("cb-redirect");
    let target = format!("/redirected/{item}");
    harness().receiver.script(
        &format!("/moved/{item}"),
        Script::Redirect(harness().receiver.url(&target)),
    );
    let reply = pay_with_callback(&item, "/moved", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    let entries = await_log(&request_id, 4).await;
    assert_eq!(entries[0]["http_response"], 302);
    assert!(entries[3]["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("exhausted"));
    assert!(
        harness().receiver.received_at(&target).is_empty(),
        "the redirect target was never called"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let item = unique("cb-retry-after");
    harness()
        .receiver
        .script(&format!("/later/{item}"), Script::RetryAfterThen(2));
    let reply = pay_with_callback(&item, "/later", &item_body(&item, "completed", 22500)).await;
    let got = harness()
        .receiver
        .await_requests(&format!("/later/{item}"), 2, DEADLINE)
        .await;
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(1900),
        "the second attempt waited for Retry-After: {gap:?}"
    );
    assert_eq!(
        await_log(&request_id_of(&reply), 2).await[1]["http_response"],
        200
    );
}

#[tokio::test]
async fn replay_delivers_the_stored_result_again_with_the_same_webhook_id() {
    let item = unique("cb-replay");
    let body = item_body(&item, "completed", 22500);
    let reply = pay_with_callback(&item, "/replay", &body).await;
    let request_id = request_id_of(&reply);
    let path = format!("/replay/{item}");
    let first = harness()
        .receiver
        .await_requests(&path, 1, DEADLINE)
        .await
        .remove(0);
    await_log(&request_id, 1).await;
    let replay = Call::new(
        "POST",
        format!("{}/request/{request_id}/callbacks/replay", base()),
    )
    .send()
    .await;
    assert_eq!(replay.status, 202, "{}", replay.text);
    let both = harness().receiver.await_requests(&path, 2, DEADLINE).await;
    assert_eq!(both[1].header("webhook-id"), first.header("webhook-id"));
    assert_eq!(both[1].body, first.body);
    let entries = await_log(&request_id, 2).await;
    assert_eq!(entries[1]["attempt"], 2);

    // Another tenant can neither read the log nor replay.
    let log = Call::new("GET", format!("{}/request/{request_id}/callbacks", base()))
        .by_tenant_b()
        .send()
        .await;
    assert_eq!(log.status, 404);
    let stolen = Call::new(
        "POST",
        format!("{}/request/{request_id}/callbacks/replay", base()),
    )
    .by_tenant_b()
    .send()
    .await;
    assert_eq!(stolen.status, 404);
}

#[tokio::test]
async fn replay_without_a_callback_or_a_result_is_refused() {
    let item = unique("cb-none");
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .send()
        .await;
    let request_id = request_id_of(&reply);
    let replay = Call::new(
        "POST",
        format!("{}/request/{request_id}/callbacks/replay", base()),
    )
    .send()
    .await;
    assert_eq!(replay.status, 400, "{}", replay.text);
    let log = log_of(&request_id).await;
    assert_eq!(log.status, 200);
    assert_eq!(log.json["callbacks"], json!([]));

    let pending_item = unique("cb-pending");
    harness()
        .backend
        .script(&pending_item, Behavior::Acknowledge);
    let callback = harness().receiver.url("/pending/{item}");
    let pending = make_payment(
        base(),
        &pending_item,
        &json!({"account_id": ACCOUNT, "callback": callback}),
    )
    .send()
    .await;
    let pending_id = pending.json["request_id"].as_str().unwrap_or_default();
    let early = Call::new(
        "POST",
        format!("{}/request/{pending_id}/callbacks/replay", base()),
    )
    .send()
    .await;
    assert_eq!(early.status, 409, "{}", early.text);
}

#[tokio::test]
async fn a_client_without_a_signing_secret_cannot_ask_for_callbacks() {
    let reply = make_payment(
        base(),
        &unique("cb-unsigned"),
        &json!({"account_id": ACCOUNT, "callback": harness().receiver.url("/x")}),
    )
    .by_tenant_b()
    .send()
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json["errors"][0]["field"], "callback");
}

/// Verifies Zai's `Webhooks-signature` as Zai's guide describes it, independently of the
/// gateway's code: split at `,` into `t` and `v` pairs, HMAC-SHA256 over `"{t}.{raw body}"`
/// keyed with the secret's bytes, base64url without padding, compared in constant time.
fn zai_signature_verifies(header: &str, body: &[u8], secret: &str) -> Option<u64> {
    use base64::Engine;
    use hmac::Mac;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for element in header.split(',') {
        match element.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v", v)) => signatures.push(v.to_owned()),
            _ => return None,
        }
    }
    let t = timestamp?;
    let matched = signatures.iter().any(|v| {
        let Ok(given) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v) else {
            return false;
        };
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    });
    matched.then_some(t)
}

#[tokio::test]
async fn a_client_that_opts_in_also_gets_zais_webhooks_signature() {
    let item = unique("cb-zai");
    let body = json!({"items": {"id": item, "state": "completed", "status": 22500}});
    pay_with_callback(&item, "/zai", &body).await;
    let got = harness()
        .receiver
        .await_requests(&format!("/zai/{item}"), 1, DEADLINE)
        .await
        .remove(0);
    let header = got
        .header("webhooks-signature")
        .unwrap_or_else(|| panic!("no Webhooks-signature: {:?}", got.headers));
    let t = zai_signature_verifies(header, &got.body, ZAI_WEBHOOK_SECRET)
        .unwrap_or_else(|| panic!("Webhooks-signature does not verify: {header}"));
    assert_eq!(
        got.header("webhook-timestamp"),
        Some(t.to_string().as_str())
    );
    assert!(
        zai_signature_verifies(header, &got.body, "another_secret_0123456789abcdefghij").is_none()
    );
    assert!(zai_signature_verifies(header, b"{\"tampered\":true}", ZAI_WEBHOOK_SECRET).is_none());
    // The Standard Webhooks signature is still there, beside it.
    standardwebhooks::Webhook::new(CALLBACK_SECRET)
        .expect("secret")
        .verify(&got.body, &got.headers)
        .expect("a valid Standard Webhooks signature");

    // A client that did not opt in gets the Standard Webhooks headers only.
    let other = unique("cb-no-zai");
    harness().backend.script(
        &other,
        Behavior::Answer {
            status: 200,
            body: body.clone(),
            after: Duration::ZERO,
        },
    );
    let reply = make_payment(
        base(),
        &other,
        &json!({"account_id": ACCOUNT, "wait": 10, "callback": harness().receiver.url("/plain/{item}")}),
    )
    .header("authorization", &basic(TENANT_C_KEY, TENANT_C_SECRET))
    .send()
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let plain = harness()
        .receiver
        .await_requests(&format!("/plain/{other}"), 1, DEADLINE)
        .await
        .remove(0);
    assert!(plain.header("webhook-signature").is_some());
    assert_eq!(plain.header("webhooks-signature"), None);
}

/// The rules every Zai example response follows (CLIENTS: Zai's "Asynchronous API" collection):
/// a pending answer's fields and their JSON types, `message` paired with `submission_count`
/// ("request awaiting submission" only with 0), and a delivery-log line whose `detail` is the
/// receiver's own answer body as a string.
#[tokio::test]
async fn answers_follow_zais_example_shapes_field_by_field() {
    fn kinds(v: &Value) -> Vec<(String, &'static str)> {
        let kind = |v: &Value| match v {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Object(_) => "object",
            Value::Array(_) => "array",
            Value::Bool(_) => "bool",
            Value::Null => "null",
        };
        v.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), kind(v))).collect())
            .unwrap_or_default()
    }
    fn pair_rule_holds(v: &Value) -> bool {
        match (v["message"].as_str(), v["submission_count"].as_u64()) {
            (Some("request awaiting submission"), Some(0)) => true,
            (Some("request awaiting response"), Some(n)) => n >= 1,
            _ => false,
        }
    }
    // Zai's pending example, its links with a callback given.
    let example_202 = json!({"last_updated": "2024-01-01T00:00:00.000Z", "submission_count": 0,
        "message": "request awaiting submission",
        "links": {"status": "https://x/request/0123456789abcdef0123456789abcdef/status",
                  "callbacks": "https://x/request/0123456789abcdef0123456789abcdef/callbacks"}});
    let example_log_line = json!({"executed_utc": "2024-01-01T00:00:00.000Z",
        "http_response": 200, "detail": "{\"message\": \"hey thanks for the callback\"}"});
    let receivers_answer = r#"{"message": "hey thanks for the callback"}"#;

    let item = unique("cb-zai-shape");
    let path = format!("/zai-shape/{item}");
    harness().receiver.script(
        &path,
        Script::WithBody {
            status: 200,
            body: receivers_answer.as_bytes().to_vec(),
        },
    );
    harness().backend.script(&item, Behavior::Acknowledge);
    let callback = harness().receiver.url("/zai-shape/{item}");
    let fresh = make_payment(
        base(),
        &item,
        &json!({"account_id": ACCOUNT, "wait": 0, "callback": callback}),
    )
    .send()
    .await;
    assert_eq!(fresh.status, 202, "{}", fresh.text);
    let link = fresh.json["links"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let request_id = fresh.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    harness().backend.await_dispatches(&item, 1, DEADLINE).await;
    let submitted = eventually("the acknowledgement stored", DEADLINE, || async {
        let reply = Call::new("GET", &link).send().await;
        (reply.status == 202 && reply.json["state"] == "submitted").then_some(reply)
    })
    .await;
    for pending in [&fresh.json, &submitted.json] {
        let ours = kinds(pending);
        for field in kinds(&example_202) {
            assert!(
                ours.contains(&field),
                "{field:?} as in Zai's example: {pending}"
            );
        }
        assert_eq!(
            kinds(&pending["links"]),
            kinds(&example_202["links"]),
            "{pending}"
        );
        assert!(
            pair_rule_holds(pending),
            "message and submission_count: {pending}"
        );
        let status = pending["links"]["status"].as_str().unwrap_or_default();
        assert!(
            status.ends_with(&format!("/request/{request_id}/status")) && request_id.len() == 32,
            "{status}"
        );
    }
    assert_eq!(submitted.json["message"], "request awaiting response");
    assert_eq!(submitted.json["submission_count"], 1);

    let body = item_body(&item, "completed", 22500);
    assert_eq!(
        deliver_result(base(), &request_id, 200, &body).await.status,
        200
    );
    let entries = await_log(&request_id, 1).await;
    let line = &entries[0];
    for field in kinds(&example_log_line) {
        assert!(
            kinds(line).contains(&field),
            "{field:?} as in Zai's example: {line}"
        );
    }
    assert_eq!(line["http_response"], 200);
    assert_eq!(
        line["detail"], receivers_answer,
        "the receiver's own answer: {line}"
    );
    assert_eq!(line["outcome"], "delivered (HTTP 200)");
}

/// A receiver that answers 200 with a body that is not UTF-8 got the callback: the status
/// decides, never the body's encoding.
#[tokio::test]
async fn a_200_with_a_body_that_is_not_utf8_is_delivered_on_attempt_one() {
    let item = unique("cb-binary");
    let path = format!("/binary/{item}");
    let body = b"\xff\xfe\x00ok\x80\x1b[31m\xc3(".to_vec();
    harness()
        .receiver
        .script(&path, Script::WithBody { status: 200, body });
    let reply = pay_with_callback(&item, "/binary", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    let entries = await_log(&request_id, 1).await;
    assert_eq!(
        (
            entries[0]["attempt"].clone(),
            entries[0]["http_response"].clone()
        ),
        (json!(1), json!(200)),
        "delivered on attempt 1: {entries:?}"
    );
    assert_eq!(entries[0]["outcome"], "delivered (HTTP 200)", "{entries:?}");
    // Longer than the whole schedule (0, 200, 200 ms): a failure would have been retried.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(harness().receiver.received_at(&path).len(), 1);
    assert_eq!(await_log(&request_id, 1).await.len(), 1);
}

/// A receiver that answers 200 and then sends 8 MiB, slowly, got the callback at once: the
/// gateway reads a small prefix of the body and lets the rest go.
#[tokio::test]
async fn a_200_with_a_huge_slow_body_is_delivered_on_attempt_one_without_reading_it_all() {
    const HUGE: usize = 8 << 20;
    let item = unique("cb-huge");
    let path = format!("/huge/{item}");
    // 128 pieces of 64 KiB, one every 40 ms: about 5 s, more than the 2 s callback timeout.
    harness().receiver.script(
        &path,
        Script::Streamed {
            status: 200,
            bytes: HUGE,
            chunk: 64 << 10,
            pace: Duration::from_millis(40),
        },
    );
    let reply = pay_with_callback(&item, "/huge", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    let entries = await_log(&request_id, 1).await;
    assert_eq!(
        (
            entries[0]["attempt"].clone(),
            entries[0]["http_response"].clone()
        ),
        (json!(1), json!(200)),
        "delivered on attempt 1: {entries:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = harness().receiver.received_at(&path);
    assert_eq!(got.len(), 1, "no retry");
    assert_eq!(await_log(&request_id, 1).await.len(), 1);
    // The gateway stopped reading: the receiver could not hand over the whole body, even
    // after more than the time it needs to send it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sent = got[0].answer_body_sent();
    assert!(
        sent < HUGE,
        "the receiver sent all {sent} bytes: the gateway read the whole body"
    );
}

/// A failing receiver's answer body is shown in the log as text, bounded and without control
/// characters, however it was encoded.
#[tokio::test]
async fn a_failing_receivers_body_is_logged_sanitised_and_bounded() {
    let item = unique("cb-body-500");
    let path = format!("/body500/{item}");
    let mut body = b"oops\x1b[2J\xff\r\nline two ".to_vec();
    body.extend(std::iter::repeat_n(b'z', 20_000));
    harness()
        .receiver
        .script(&path, Script::WithBody { status: 500, body });
    let reply = pay_with_callback(&item, "/body500", &item_body(&item, "completed", 22500)).await;
    let entries = await_log(&request_id_of(&reply), 1).await;
    let detail = entries[0]["detail"].as_str().unwrap_or_default();
    assert_eq!(entries[0]["http_response"], 500);
    assert_eq!(entries[0]["outcome"], "HTTP 500", "{entries:?}");
    assert!(detail.starts_with("oops"), "the body is quoted: {detail}");
    assert!(
        !detail.chars().any(char::is_control),
        "no control characters: {detail:?}"
    );
    assert!(detail.contains('\u{fffd}'), "lossy UTF-8: {detail}");
    assert!(detail.len() < 1_000, "bounded: {} bytes", detail.len());
}

async fn log_page(request_id: &str, query: &str) -> Reply {
    Call::new(
        "GET",
        format!("{}/request/{request_id}/callbacks{query}", base()),
    )
    .send()
    .await
}

/// The delivery log is read in pages, oldest first, following `links.next`.
#[tokio::test]
async fn the_delivery_log_is_paginated_oldest_first() {
    let item = unique("cb-pages");
    harness()
        .receiver
        .script(&format!("/pages/{item}"), Script::Always(500));
    let reply = pay_with_callback(&item, "/pages", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    // Three attempts and the exhaustion.
    let all = await_log(&request_id, 4).await;
    assert_eq!(all.len(), 4, "{all:?}");

    let first = log_page(&request_id, "?limit=3").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let page: Vec<Value> = first.json["callbacks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(page, all[..3].to_vec(), "the oldest three first");
    assert_eq!(first.json["has_more"], true, "{}", first.text);
    let next = first.json["links"]["next"]
        .as_str()
        .unwrap_or_else(|| panic!("a next link: {}", first.text))
        .to_owned();
    assert!(next.starts_with(&format!("{}/request/{request_id}/callbacks?", base())));
    assert_eq!(
        first.json["links"]["self"],
        format!("{}/request/{request_id}/callbacks", base())
    );

    let second = Call::new("GET", &next).send().await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.json["callbacks"], json!(all[3..].to_vec()));
    assert_eq!(second.json["has_more"], false);
    assert!(
        second.json["links"].get("next").is_none(),
        "{}",
        second.text
    );

    // The default page holds the whole short log, and says there is no more.
    let whole = log_of(&request_id).await;
    assert_eq!(whole.json["callbacks"], json!(all));
    assert_eq!(whole.json["has_more"], false);
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_a_400_naming_the_parameter() {
    let item = unique("cb-badpage");
    let reply = pay_with_callback(&item, "/badpage", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    await_log(&request_id, 1).await;
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=abc", "limit"),
        ("?limit=2&limit=3", "limit"),
        ("?after=x", "after"),
        ("?after=-1", "after"),
    ] {
        let got = log_page(&request_id, query).await;
        assert_eq!(got.status, 400, "{query}: {}", got.text);
        assert_eq!(
            got.json["errors"][0]["field"], field,
            "{query}: {}",
            got.text
        );
    }
    assert_eq!(log_page(&request_id, "?limit=100").await.status, 200);
}

async fn replay_of(request_id: &str) -> Reply {
    Call::new(
        "POST",
        format!("{}/request/{request_id}/callbacks/replay", base()),
    )
    .send()
    .await
}

/// One replay at a time: while a replay's delivery is still pending, another is a 409.
#[tokio::test]
async fn a_replay_while_the_previous_replay_is_pending_is_a_409() {
    let item = unique("cb-replay-busy");
    let path = format!("/busy/{item}");
    // Every attempt is put off for a minute, so each round stays pending.
    harness()
        .receiver
        .script(&path, Script::Sequence(vec![(503, Some(60))]));
    let reply = pay_with_callback(&item, "/busy", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    await_log(&request_id, 1).await;
    // The first delivery is pending (its next attempt is a minute away): a replay may start
    // over now.
    let replay = replay_of(&request_id).await;
    assert_eq!(replay.status, 202, "{}", replay.text);
    harness().receiver.await_requests(&path, 2, DEADLINE).await;
    await_log(&request_id, 2).await;
    let again = replay_of(&request_id).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.json["code"], "replay_in_flight", "{}", again.text);
    assert!(
        again.json["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("replay"),
        "{}",
        again.text
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        harness().receiver.received_at(&path).len(),
        2,
        "the refused replay sent nothing"
    );
}

/// At most ten replays per payment per hour; the eleventh is a 429 with `Retry-After`.
#[tokio::test]
async fn the_eleventh_replay_within_an_hour_is_a_429_with_retry_after() {
    let item = unique("cb-replay-many");
    let path = format!("/many/{item}");
    let reply = pay_with_callback(&item, "/many", &item_body(&item, "completed", 22500)).await;
    let request_id = request_id_of(&reply);
    await_log(&request_id, 1).await;
    for n in 1..=10 {
        let replay = replay_of(&request_id).await;
        assert_eq!(replay.status, 202, "replay {n}: {}", replay.text);
        // Each replay's delivery ends before the next, so none is refused as in flight.
        await_log(&request_id, n + 1).await;
    }
    let refused = replay_of(&request_id).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(
        refused.json["code"], "replay_rate_limited",
        "{}",
        refused.text
    );
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a Retry-After in seconds: {:?}", refused.headers));
    assert!(
        (3_000..=3_600).contains(&retry_after),
        "the oldest replay leaves the hour in about an hour: {retry_after}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        harness().receiver.received_at(&path).len(),
        11,
        "the first delivery and ten replays, no more"
    );
}

/// A gateway whose schedule makes 120 attempts at once, to fill a delivery log past its cap.
fn long_schedule_gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| {
        let schedule = vec!["0"; 120].join(",");
        let vars = gateway_vars(
            &harness().backend.url(),
            &[
                ("ALLOW_INSECURE_CALLBACKS", "true"),
                ("CALLBACK_RETRY_SCHEDULE_MS", &schedule),
                ("CALLBACK_TIMEOUT_MS", "2000"),
                ("CALLBACK_CONFIRM_MS", "5000"),
            ],
        );
        Gateway::start("callbacks-long-log", vars)
    })
}

/// A log past its cap keeps the first entry and the newest hundred, with one line saying how
/// many were dropped between them, and pages walk it all.
#[tokio::test]
async fn a_long_delivery_log_keeps_its_first_and_newest_entries_and_counts_the_dropped() {
    let base = long_schedule_gateway().base.clone();
    let item = unique("cb-long");
    harness()
        .receiver
        .script(&format!("/long/{item}"), Script::Always(500));
    harness().backend.script(
        &item,
        Behavior::Answer {
            status: 200,
            body: item_body(&item, "completed", 22500),
            after: Duration::ZERO,
        },
    );
    let callback = harness().receiver.url("/long/{item}");
    let reply = make_payment(
        &base,
        &item,
        &json!({"account_id": ACCOUNT, "wait": 10, "callback": callback}),
    )
    .send()
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let request_id = request_id_of(&reply);
    let log = format!("{base}/request/{request_id}/callbacks");
    // Every page, following `links.next`.
    let walk = || async {
        let mut lines: Vec<Value> = Vec::new();
        let mut next = Some(format!("{log}?limit=100"));
        while let Some(url) = next {
            let page = Call::new("GET", url).send().await;
            assert_eq!(page.status, 200, "{}", page.text);
            lines.extend(
                page.json["callbacks"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
            next = page.json["links"]["next"].as_str().map(str::to_owned);
        }
        lines
    };
    eventually(
        "120 attempts and the exhaustion",
        Duration::from_secs(180),
        || async {
            let lines = walk().await;
            let done = lines
                .last()
                .and_then(|l| l["detail"].as_str())
                .is_some_and(|d| d.contains("exhausted"));
            done.then_some(())
        },
    )
    .await;
    // Walked again once the log is final: a walk begun while the last attempts were still being
    // logged holds pages of two states of the log (its first page before the newest entries
    // dropped older ones), as each page is read from the log of its moment.
    let lines = walk().await;
    let attempts: Vec<u64> = lines.iter().filter_map(|l| l["attempt"].as_u64()).collect();
    assert_eq!(
        lines.len(),
        102,
        "the first, the gap line, the newest 100: {attempts:?}"
    );
    assert_eq!(lines[0]["attempt"], 1);
    assert_eq!(lines[0]["http_response"], 500);
    assert_eq!(lines[1]["dropped"], 20, "{}", lines[1]);
    assert_eq!(lines[1]["http_response"], Value::Null);
    assert!(
        lines[1]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("20 older entries dropped"),
        "{}",
        lines[1]
    );
    assert_eq!(
        attempts[2..],
        (22..=120).chain([120]).collect::<Vec<u64>>()[..]
    );
    assert!(lines
        .iter()
        .enumerate()
        .all(|(i, l)| i == 1 || l.get("dropped").is_none()));
    assert_eq!(
        harness()
            .receiver
            .received_at(&format!("/long/{item}"))
            .len(),
        120
    );
}
