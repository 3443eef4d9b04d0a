//! End-to-end test of the upgrade to lanes: a payment accepted before them (alone in the object named by its id, in the one-payment layout, holding its item in its tenant's lock shard) runs on to its result.

mod support;

use std::time::Duration;

use serde_json::json;
use support::backend::{deliver_result, item_body, Behavior};
use support::*;

shared_backend_harness!(
    "upgrade",
    &[
        ("SANDBOX_ENABLED", "false"),
        ("FAULT_INJECTION", "true"),
        // The upgrade window: the old item locks are still asked.
        ("LEGACY_ITEM_LOCKS_UNTIL", "2099-01-01T00:00:00Z"),
        ("DISPATCH_TIMEOUT_MS", "3000"),
    ]
);

const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_payment_of_before_lanes_keeps_its_item_and_reaches_its_result() {
    let item = unique("legacy");
    backend().script(&item, Behavior::Acknowledge);
    // Ids of before lanes were plain random v4 UUIDs: this one names a lane that never held it.
    let id = uuid::Uuid::new_v4().simple().to_string();
    let seeded = Call::new(
        "POST",
        format!("{}/__faults/legacy-payment/{id}/tenant-a/{item}", base()),
    )
    .send()
    .await;
    assert_eq!(seeded.status, 200, "{}", seeded.text);

    // Its first submission goes from its own object's alarm, under its own id.
    let dispatched = backend().await_dispatches(&item, 1, DEADLINE).await;
    assert_eq!(dispatched[0].request_id, id);
    assert!(dispatched[0].signature_valid);

    // The status link finds it in the object named by its id.
    let link = format!("{}/request/{id}/status", base());
    let pending = eventually("the acknowledgement stored", DEADLINE, || async {
        let reply = Call::new("GET", &link).send().await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        (reply.json["state"] == "submitted").then_some(reply)
    })
    .await;
    assert_eq!(pending.json["request_id"], id.as_str());
    assert_eq!(pending.json["submission_count"], 1);

    // During the upgrade window it keeps its item: a new payment on it is refused with its link.
    let refused = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 0}))
        .send()
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.text.contains(&id), "{}", refused.text);

    // Its result arrives on the async path, found the same way, and is stored once.
    let body = item_body(&item, "completed", 22500);
    let delivered = deliver_result(base(), &id, 200, &body).await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    let done = Call::new("GET", &link).send().await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json, body);
    let different = item_body(&item, "payment_held", 22175);
    let conflict = deliver_result(base(), &id, 200, &different).await;
    assert_eq!(conflict.status, 409, "{}", conflict.text);

    // Its delivery log is read from the old layout's tables.
    let log = Call::new("GET", format!("{}/request/{id}/callbacks", base()))
        .send()
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    assert_eq!(log.json["callbacks"], json!([]));

    // Terminal, it gives its item back to its lock shard: the next payment on it is taken, in
    // its lane.
    let next = eventually("the item free again", DEADLINE, || async {
        let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 0}))
            .send()
            .await;
        assert!([202, 409].contains(&reply.status), "{}", reply.text);
        (reply.status == 202).then_some(reply)
    })
    .await;
    let next_id = next.json["request_id"].as_str().unwrap_or_default();
    assert_eq!(next_id.len(), 32);
    assert_ne!(next_id, id);
    backend().await_dispatches(&item, 2, DEADLINE).await;
}
