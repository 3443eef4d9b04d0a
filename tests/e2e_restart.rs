//! Durability across a runtime restart: `wrangler dev` is SIGKILLed and started again on the same
//! persisted state; completed requests still answer and in-flight ones still complete.

mod support;

use std::time::Duration;

use serde_json::json;
use support::backend::{deliver_result, item_body, Behavior, TestBackend};
use support::gateway::Gateway;
use support::receiver::{Receiver, Script};
use support::*;

#[tokio::test]
async fn completed_and_in_flight_requests_survive_a_restart() {
    let backend = TestBackend::start();
    let vars = gateway_vars(
        &backend.url(),
        &[
            ("DISPATCH_TIMEOUT_MS", "2000"),
            ("DISPATCH_RETRY_DELAYS_MS", "500,500,500,500"),
        ],
    );
    let gateway = Gateway::start("restart", vars);
    let base = gateway.base.clone();

    // 1. A completed request.
    let done_item = unique("done");
    let done = make_payment(
        &base,
        &done_item,
        &json!({"account_id": ACCOUNT, "wait": 5}),
    )
    .send()
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let done_link = done
        .header("content-location")
        .unwrap_or_default()
        .to_owned();

    // 2. An acknowledged request whose result arrives after the restart.
    let acked_item = unique("acked");
    backend.script(&acked_item, Behavior::Acknowledge);
    let acked = make_payment(&base, &acked_item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(acked.status, 202);
    let acked_id = acked.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    backend
        .await_dispatches(&acked_item, 1, Duration::from_secs(20))
        .await;

    // 3. A request whose backend is down across the restart: re-submitted afterwards by the alarm.
    let down_item = unique("down");
    backend.script(&down_item, Behavior::Hang);
    let down = make_payment(&base, &down_item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(down.status, 202);
    backend
        .await_dispatches(&down_item, 1, Duration::from_secs(20))
        .await;

    gateway.restart();
    backend.script(
        &down_item,
        Behavior::Answer {
            status: 200,
            body: item_body(&down_item, "completed", 22500),
            after: Duration::ZERO,
        },
    );

    let still_done = Call::new("GET", &done_link).send().await;
    assert_eq!(still_done.status, 200, "{}", still_done.text);
    assert_eq!(still_done.json, done.json);

    let delivered = deliver_result(
        &base,
        &acked_id,
        200,
        &item_body(&acked_item, "completed", 22500),
    )
    .await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    let acked_done = Call::new(
        "GET",
        acked.json["links"]["status"].as_str().unwrap_or_default(),
    )
    .send()
    .await;
    assert_eq!(acked_done.status, 200);
    assert_eq!(acked_done.json, item_body(&acked_item, "completed", 22500));

    let down_link = down.json["links"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let down_done = Call::new("GET", format!("{down_link}?wait=25"))
        .send()
        .await;
    assert_eq!(
        down_done.status,
        200,
        "{}\n{}",
        down_done.text,
        gateway.log()
    );
    assert!(
        backend.dispatches_for(&down_item).len() >= 2,
        "re-submitted after the restart"
    );

    // The item locks were released across the restart too.
    backend.script(&acked_item, Behavior::Acknowledge);
    let again = make_payment(&base, &acked_item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(again.status, 202, "{}", again.text);
    gateway.kill();
}

#[tokio::test]
async fn a_callback_interrupted_by_a_restart_is_still_delivered() {
    let backend = TestBackend::start();
    let receiver = Receiver::start();
    let vars = gateway_vars(
        &backend.url(),
        &[
            ("ALLOW_INSECURE_CALLBACKS", "true"),
            // The first attempt hangs far longer than the confirm deadline, so the restart lands
            // while it is on the queue or in flight, and the outbox has to send it again.
            ("CALLBACK_TIMEOUT_MS", "30000"),
            ("CALLBACK_CONFIRM_MS", "3000"),
            ("CALLBACK_RETRY_SCHEDULE_MS", "0,500,500"),
        ],
    );
    let gateway = Gateway::start("restart-callback", vars);
    let item = unique("cb-restart");
    let path = format!("/hook/{item}");
    receiver.script(&path, Script::HangOnce);
    let callback = receiver.url("/hook/{item}");
    let reply = make_payment(
        &gateway.base,
        &item,
        &json!({"account_id": ACCOUNT, "wait": 5, "callback": callback}),
    )
    .send()
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The first attempt is in flight (hanging) when the runtime dies.
    receiver
        .await_requests(&path, 1, Duration::from_secs(20))
        .await;
    gateway.restart();
    let got = receiver
        .await_requests(&path, 2, Duration::from_secs(30))
        .await;
    assert_eq!(
        got[0].header("webhook-id"),
        got[1].header("webhook-id"),
        "the same delivery, deduplicable"
    );
    let link = reply
        .header("content-location")
        .unwrap_or_default()
        .replace("/status", "/callbacks");
    let delivered = eventually(
        "a delivered entry in the log",
        Duration::from_secs(20),
        || async {
            let log = Call::new("GET", &link).send().await;
            let entries = log.json["callbacks"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            entries
                .iter()
                .any(|e| e["http_response"] == 200)
                .then_some(entries)
        },
    )
    .await;
    assert!(!delivered.is_empty());
    gateway.kill();
}
