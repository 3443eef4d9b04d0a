//! End-to-end tests of `Idempotency-Key` on both dialects against `wrangler dev` with a scripted backend.

mod support;

use std::time::Duration;

use serde_json::json;
use support::backend::{deliver_result, item_body, Behavior};
use support::*;

shared_backend_harness!(
    "idempotency",
    &[(
        "TENANTS",
        // The location hint puts every stub of tenant-a's lanes and keys through
        // `get_by_name_with_location_hint`.
        r#"[{"tenant": "tenant-a", "location_hint": "weur",
             "client_tokens": {"mint_secret": "mint-secret-tenant-a-0123456789abcdef"}}]"#
    )]
);

fn key() -> String {
    unique("key")
}

#[tokio::test]
async fn a_repeat_of_a_completed_request_returns_the_identical_body_and_status() {
    let item = unique("idem-done");
    let body = json!({"items": {"id": item, "state": "payment_required", "status": 22100}});
    harness().backend.script(
        &item,
        Behavior::Answer {
            status: 422,
            body: body.clone(),
            after: Duration::ZERO,
        },
    );
    let k = key();
    let first = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(first.status, 422, "{}", first.text);
    // Field order and formatting differ; wait is not part of the request's identity.
    let again = Call::new("PATCH", format!("{}/items/{item}/make_payment", base()))
        .raw(
            "application/json",
            format!("{{ \"wait\": \"3\",\n  \"account_id\": \"{ACCOUNT}\" }}"),
        )
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(again.status, 422);
    assert_eq!(again.text, first.text, "identical body");
    assert_eq!(
        again.header("content-location"),
        first.header("content-location"),
        "the same request id"
    );
    assert_eq!(
        harness().backend.dispatches_for(&item).len(),
        1,
        "the backend saw one payment"
    );
}

#[tokio::test]
async fn the_same_key_gets_409_while_the_first_call_holds_then_the_current_outcome() {
    let item = unique("idem-flight");
    harness().backend.script(&item, Behavior::Acknowledge);
    let k = key();
    // The first call holds its caller for up to 8 s while the backend has only acknowledged.
    let first = {
        let (item, k) = (item.clone(), k.clone());
        tokio::spawn(async move {
            make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 8}))
                .header("idempotency-key", &k)
                .send()
                .await
        })
    };
    harness()
        .backend
        .await_dispatches(&item, 1, Duration::from_secs(20))
        .await;
    let during = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(during.status, 409, "{}", during.text);
    let first = first.await.expect("first call");
    assert_eq!(first.status, 202, "{}", first.text);
    assert_eq!(during.json["request_id"], first.json["request_id"]);

    // The first call has answered: a repeat gets the request's current outcome, pending.
    let pending = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(pending.status, 202, "{}", pending.text);
    assert_eq!(pending.json["request_id"], first.json["request_id"]);

    // Once it completes, the same key returns its result.
    let id = first.json["request_id"].as_str().unwrap_or_default();
    assert_eq!(
        deliver_result(base(), id, 200, &item_body(&item, "completed", 22500))
            .await
            .status,
        200
    );
    let done = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json, item_body(&item, "completed", 22500));
    assert_eq!(
        harness().backend.dispatches_for(&item).len(),
        1,
        "the backend saw one payment"
    );
}

#[tokio::test]
async fn the_same_key_with_a_changed_field_or_another_item_gets_422() {
    let item = unique("idem-mismatch");
    let k = key();
    let first = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(first.status, 200);
    let changed = make_payment(
        base(),
        &item,
        &json!({"account_id": ACCOUNT, "device_id": "phone", "wait": 5}),
    )
    .header("idempotency-key", &k)
    .send()
    .await;
    assert_eq!(changed.status, 422, "{}", changed.text);
    assert_eq!(changed.json["code"], "idempotency_key_reused");
    let other_item = make_payment(
        base(),
        &unique("idem-other"),
        &json!({"account_id": ACCOUNT}),
    )
    .header("idempotency-key", &k)
    .send()
    .await;
    assert_eq!(other_item.status, 422);
}

#[tokio::test]
async fn keys_are_scoped_to_the_tenant() {
    let k = key();
    let a = make_payment(
        base(),
        &unique("idem-a"),
        &json!({"account_id": ACCOUNT, "wait": 5}),
    )
    .header("idempotency-key", &k)
    .send()
    .await;
    let b = make_payment(
        base(),
        &unique("idem-b"),
        &json!({"account_id": ACCOUNT, "wait": 5}),
    )
    .header("idempotency-key", &k)
    .by_tenant_b()
    .send()
    .await;
    assert_eq!((a.status, b.status), (200, 200), "{} / {}", a.text, b.text);
    assert_ne!(a.header("content-location"), b.header("content-location"));
}

#[tokio::test]
async fn a_request_rejected_by_validation_stores_nothing_and_may_be_retried_with_the_key() {
    let item = unique("idem-fix");
    let k = key();
    let bad = make_payment(base(), &item, &json!({"account_id": "nope"}))
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(bad.status, 400);
    let fixed = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(fixed.status, 200, "{}", fixed.text);
}

#[tokio::test]
async fn invalid_keys_are_a_400_naming_the_header() {
    let long = "k".repeat(256);
    for bad in [long.as_str(), "ключ"] {
        let reply = make_payment(base(), &unique("idem-bad"), &json!({"account_id": ACCOUNT}))
            .header("idempotency-key", bad)
            .send()
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(reply.json["errors"][0]["field"], "Idempotency-Key");
    }
}

#[tokio::test]
async fn the_servicestack_dialect_honours_keys_in_its_own_shape() {
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let dto = json!({"paymentId": id, "paymentMethod": {"type": "card"}, "clientType": "Web"});
    let url = format!("{}/mobile/payments/makePayment", base());
    let k = key();
    let first = Call::new("POST", &url)
        .json(&dto)
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = Call::new("POST", &url)
        .json(&dto)
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!((again.status, &again.text), (200, &first.text));
    let changed = Call::new("POST", &url)
        .json(&json!({"paymentId": id, "paymentMethod": {"type": "card"}, "clientType": "IOS"}))
        .header("idempotency-key", &k)
        .send()
        .await;
    assert_eq!(changed.status, 422, "{}", changed.text);
    assert_eq!(
        changed.json["responseStatus"]["errorCode"],
        "IdempotencyKeyReused"
    );
}

/// A client token of tenant A for subject `sub`.
async fn token_for(sub: &str) -> String {
    let minted = Call::new("POST", format!("{}/client-tokens", base()))
        .json(&json!({"sub": sub}))
        .send()
        .await;
    assert_eq!(minted.status, 201, "{}", minted.text);
    minted.json["token"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_tokens_key_never_reaches_another_subjects_key_through_a_slash() {
    // Subject `<u>/1` with key `k`, and subject `<u>` with key `1/k`: the same characters,
    // cut in another place. They are two keys of two owners.
    let u = unique("shopper");
    let first_token = token_for(&format!("{u}/1")).await;
    let second_token = token_for(&u).await;
    let pay = |item: &str, token: &str, key: &str| {
        make_payment(base(), item, &json!({"account_id": ACCOUNT, "wait": 5}))
            .header("authorization", &format!("Bearer {token}"))
            .header("idempotency-key", key)
    };
    let first_item = unique("idem-slash-1");
    let first = pay(&first_item, &first_token, "k").send().await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second_item = unique("idem-slash-2");
    let second = pay(&second_item, &second_token, "1/k").send().await;
    assert_eq!(second.status, 200, "another owner's key: {}", second.text);
    assert_ne!(
        second.header("content-location"),
        first.header("content-location"),
        "two payments"
    );
    assert_eq!(harness().backend.dispatches_for(&second_item).len(), 1);
}
