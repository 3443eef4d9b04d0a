//! End-to-end tests of the Zai-compatible API against `wrangler dev` with a scripted backend.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::backend::{deliver_result, deliver_signed, item_body, Behavior};
use support::signing::now_secs;
use support::*;

shared_backend_harness!(
    "zai",
    &[
        ("SANDBOX_ENABLED", "false"),
        ("ALLOW_INSECURE_CALLBACKS", "true"),
        ("DISPATCH_TIMEOUT_MS", "3000"),
        ("DISPATCH_RETRY_DELAYS_MS", "200,200,200,200"),
    ]
);

const DEADLINE: Duration = Duration::from_secs(20);

fn status_link(reply: &Reply) -> String {
    reply.json["links"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn wait_zero_gives_202_and_the_status_link_then_returns_the_result() {
    let item = unique("async");
    backend().script(&item, Behavior::Acknowledge);
    let accepted = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 0}))
        .send()
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let request_id = accepted.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(request_id.len(), 32);
    assert!(
        ["accepted", "submitted"].contains(&accepted.json["state"].as_str().unwrap_or_default())
    );
    assert!(accepted.json["last_updated"]
        .as_str()
        .unwrap_or_default()
        .ends_with('Z'));
    assert!(accepted.json["submission_count"].is_u64());
    assert!(accepted.json["message"].is_string());
    let link = status_link(&accepted);
    assert_eq!(link, format!("{}/request/{request_id}/status", base()));
    assert_eq!(accepted.header("location"), Some(link.as_str()));
    assert!(accepted.header("retry-after").is_some());
    assert!(
        accepted.json["links"].get("callbacks").is_none(),
        "no callback was given"
    );

    // The dispatch reaches the backend, signed, with the request id as idempotency key.
    let dispatched = backend().await_dispatches(&item, 1, DEADLINE).await;
    assert!(dispatched[0].signature_valid);
    assert_eq!(dispatched[0].request_id, request_id);
    assert_eq!(
        dispatched[0].idempotency_key.as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(dispatched[0].body["fields"]["account_id"], ACCOUNT);

    // The backend's `202` is stored a moment after it saw the dispatch: until then the request
    // is still `accepted`, and pending either way.
    let pending = eventually("the backend's acknowledgement stored", DEADLINE, || async {
        let pending = Call::new("GET", &link).send().await;
        assert_eq!(pending.status, 202, "{}", pending.text);
        (pending.json["state"] == "submitted").then_some(pending)
    })
    .await;
    assert_eq!(pending.json["request_id"], request_id.as_str());
    assert_eq!(pending.json["submission_count"], 1);

    let body = item_body(&item, "completed", 22500);
    let delivered = deliver_result(base(), &request_id, 201, &body).await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);

    let done = Call::new("GET", &link).send().await;
    assert_eq!(done.status, 201, "the backend's own status is mirrored");
    assert_eq!(done.json, body, "the backend's body verbatim");
    assert_eq!(done.header("content-location"), Some(link.as_str()));
}

#[tokio::test]
async fn backend_answering_after_one_second_within_wait_gives_its_body_and_status() {
    let item = unique("sync-slow");
    let body = json!({"items": {"id": item, "state": "payment_held", "status": 22175, "note": "verbatim ✓"}});
    backend().script(
        &item,
        Behavior::Answer {
            status: 200,
            body: body.clone(),
            after: Duration::from_secs(1),
        },
    );
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": "5"}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json, body);
    assert!(
        reply.elapsed >= Duration::from_secs(1),
        "answered before the backend did: {:?}",
        reply.elapsed
    );
    assert!(
        reply.elapsed < Duration::from_secs(5),
        "held past the answer: {:?}",
        reply.elapsed
    );
}

#[tokio::test]
async fn async_result_within_wait_releases_the_held_caller() {
    let item = unique("async-held");
    backend().script(&item, Behavior::Acknowledge);
    let caller = tokio::spawn(
        make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 10})).send(),
    );
    let dispatch = backend()
        .await_dispatches(&item, 1, DEADLINE)
        .await
        .remove(0);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let body = item_body(&item, "completed", 22500);
    assert_eq!(
        deliver_result(base(), &dispatch.request_id, 200, &body)
            .await
            .status,
        200
    );
    let reply = caller.await.expect("caller task");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json, body);
    assert!(
        reply.elapsed < Duration::from_secs(10),
        "released by the result, not the timer: {:?}",
        reply.elapsed
    );
}

#[tokio::test]
async fn decline_status_is_mirrored() {
    let item = unique("decline");
    let body = json!({"items": {"id": item, "state": "payment_required", "status": 22100}, "errors": {"base": ["declined"]}});
    backend().script(
        &item,
        Behavior::Answer {
            status: 422,
            body: body.clone(),
            after: Duration::ZERO,
        },
    );
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .send()
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.json, body);
}

#[tokio::test]
async fn never_answering_backend_with_wait_two_gives_202_after_about_two_seconds() {
    let item = unique("hang");
    backend().script(&item, Behavior::Hang);
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 2}))
        .send()
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert!(
        reply.elapsed >= Duration::from_secs(2),
        "{:?}",
        reply.elapsed
    );
    assert!(
        reply.elapsed < Duration::from_secs(8),
        "{:?}",
        reply.elapsed
    );
}

#[tokio::test]
async fn prefer_wait_is_honoured_and_reported_and_body_wait_wins() {
    let item = unique("prefer");
    backend().script(&item, Behavior::Hang);
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .header("prefer", "respond-async, wait=1")
        .send()
        .await;
    assert_eq!(reply.status, 202);
    assert!(
        reply.elapsed >= Duration::from_secs(1),
        "{:?}",
        reply.elapsed
    );
    let applied = reply.header("preference-applied").unwrap_or_default();
    assert!(
        applied.contains("wait=1") && applied.contains("respond-async"),
        "{applied}"
    );

    // The body's wait (0) wins over the header's: no hold, no wait preference applied.
    let item2 = unique("prefer-body");
    backend().script(&item2, Behavior::Hang);
    let reply = make_payment(base(), &item2, &json!({"account_id": ACCOUNT, "wait": 0}))
        .header("prefer", "wait=20")
        .send()
        .await;
    assert_eq!(reply.status, 202);
    assert!(
        reply.elapsed < Duration::from_secs(5),
        "{:?}",
        reply.elapsed
    );
    assert!(!reply
        .header("preference-applied")
        .unwrap_or_default()
        .contains("wait"));
}

#[tokio::test]
async fn wait_above_thirty_is_capped_not_refused() {
    let item = unique("cap");
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 3600}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn one_result_releases_a_held_payment_call_and_a_long_polling_status_call() {
    let item = unique("two-callers");
    backend().script(&item, Behavior::Acknowledge);
    let payer = tokio::spawn(
        make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 25})).send(),
    );
    let dispatch = backend()
        .await_dispatches(&item, 1, DEADLINE)
        .await
        .remove(0);
    let link = format!("{}/request/{}/status", base(), dispatch.request_id);
    let poller = tokio::spawn(Call::new("GET", format!("{link}?wait=25")).send());
    // Give the long-poll time to be parked, so the result has to wake it.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let body = item_body(&item, "completed", 22500);
    assert_eq!(
        deliver_result(base(), &dispatch.request_id, 200, &body)
            .await
            .status,
        200
    );
    let (paid, polled) = (payer.await.expect("payer"), poller.await.expect("poller"));
    for reply in [&paid, &polled] {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json, body);
        assert!(
            reply.elapsed < Duration::from_secs(20),
            "released by the result: {:?}",
            reply.elapsed
        );
    }
    assert!(
        polled.elapsed >= Duration::from_millis(900),
        "the poller was held: {:?}",
        polled.elapsed
    );
}

#[tokio::test]
async fn a_second_payment_for_an_item_in_flight_gets_409_with_the_in_flight_link() {
    let item = unique("conflict");
    backend().script(&item, Behavior::Acknowledge);
    let first = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(first.status, 202);
    let second = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(second.status, 409, "{}", second.text);
    assert_eq!(
        second.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(second.json["links"]["status"], status_link(&first).as_str());
    assert_eq!(second.json["request_id"], first.json["request_id"]);

    // Another tenant's payment for the same item id is independent.
    let other = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .by_tenant_b()
        .send()
        .await;
    assert_eq!(other.status, 202, "{}", other.text);

    // Once the first completes, the item is free again.
    let id = first.json["request_id"].as_str().unwrap_or_default();
    assert_eq!(
        deliver_result(base(), id, 200, &item_body(&item, "completed", 22500))
            .await
            .status,
        200
    );
    backend().script(
        &item,
        Behavior::Answer {
            status: 200,
            body: json!({"again": true}),
            after: Duration::ZERO,
        },
    );
    let third = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .send()
        .await;
    assert_eq!(third.status, 200, "{}", third.text);
    assert_eq!(third.json, json!({"again": true}));
}

#[tokio::test]
async fn transient_backend_failures_are_resubmitted_then_succeed() {
    let item = unique("retry");
    let ok = Behavior::Answer {
        status: 200,
        body: item_body(&item, "completed", 22500),
        after: Duration::ZERO,
    };
    backend().script(
        &item,
        Behavior::FailTimes {
            n: 2,
            then: Box::new(ok),
        },
    );
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 10}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let dispatches = backend().dispatches_for(&item);
    let counts: Vec<u32> = dispatches.iter().map(|d| d.submission_count).collect();
    assert_eq!(counts, vec![1, 2, 3]);
    assert!(dispatches
        .iter()
        .all(|d| d.request_id == dispatches[0].request_id));
    let status = Call::new("GET", reply.header("content-location").unwrap_or_default())
        .send()
        .await;
    assert_eq!(status.status, 200);
}

#[tokio::test]
async fn a_backend_that_always_fails_ends_failed_after_bounded_tries() {
    let item = unique("always-500");
    backend().script(
        &item,
        Behavior::FailTimes {
            n: u32::MAX,
            then: Box::new(Behavior::Acknowledge),
        },
    );
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 15}))
        .send()
        .await;
    assert_eq!(reply.status, 502, "{}", reply.text);
    assert_eq!(reply.json["state"], "failed");
    assert_eq!(reply.json["submission_count"], 5);
    assert_eq!(backend().dispatches_for(&item).len(), 5);
    // A failed request frees the item.
    backend().script(&item, Behavior::Acknowledge);
    let again = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(again.status, 202, "{}", again.text);
}

fn field_names(reply: &Reply) -> Vec<String> {
    reply.json["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_invalid_field_is_a_400_naming_it_and_nothing_is_stored() {
    let long_device = "d".repeat(256);
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("ok", json!({}), vec!["account_id"]),
        ("ok", json!({"account_id": ""}), vec!["account_id"]),
        (
            "ok",
            json!({"account_id": "not-a-uuid"}),
            vec!["account_id"],
        ),
        ("ok", json!({"account_id": 12}), vec!["account_id"]),
        ("b%20ad", json!({"account_id": ACCOUNT}), vec!["item"]),
        ("x%2Fy", json!({"account_id": ACCOUNT}), vec!["item"]),
        (
            "ok",
            json!({"account_id": ACCOUNT, "device_id": ""}),
            vec!["device_id"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "device_id": long_device}),
            vec!["device_id"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "device_id": "a\nb"}),
            vec!["device_id"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "ip_address": "999.1.1.1"}),
            vec!["ip_address"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "ip_address": "localhost"}),
            vec!["ip_address"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "wait": -1}),
            vec!["wait"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "wait": "soon"}),
            vec!["wait"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "wait": 1.5}),
            vec!["wait"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "wait": true}),
            vec!["wait"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "callback": "https://shop.example.com/{order}"}),
            vec!["callback"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "callback": "/relative"}),
            vec!["callback"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "callback": "ftp://shop.example.com/"}),
            vec!["callback"],
        ),
        (
            "ok",
            json!({"account_id": ACCOUNT, "callback": "http://169.254.169.254/latest"}),
            vec!["callback"],
        ),
        (
            "ok",
            json!({"account_id": "x", "device_id": "", "ip_address": "x", "wait": "x", "callback": "x"}),
            vec!["account_id", "device_id", "ip_address", "wait", "callback"],
        ),
    ];
    for (item_suffix, body, fields) in cases {
        let item = if item_suffix == "ok" {
            unique("bad")
        } else {
            format!("{}{item_suffix}", unique("bad"))
        };
        backend().script(&item, Behavior::Acknowledge);
        let reply = make_payment(base(), &item, &body).send().await;
        assert_eq!(reply.status, 400, "{body} -> {}", reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(field_names(&reply), fields, "{body}");
        assert!(
            backend().dispatches_for(&item).is_empty(),
            "nothing dispatched for {body}"
        );
        if item_suffix == "ok" {
            // Nothing was stored: the item is not locked, so a valid payment goes through.
            let valid = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
                .send()
                .await;
            assert_eq!(valid.status, 202, "after {body}: {}", valid.text);
        }
    }
}

#[tokio::test]
async fn malformed_bodies_and_transport_errors_have_defined_answers() {
    let item = unique("transport");
    let url = format!("{}/items/{item}/make_payment", base());
    let cases: Vec<(Call, u16, Option<&str>)> = vec![
        (
            Call::new("PATCH", &url).raw("application/json", "{not json"),
            400,
            Some("body"),
        ),
        (
            Call::new("PATCH", &url).raw("application/json", "[1, 2]"),
            400,
            Some("body"),
        ),
        (
            Call::new("PATCH", &url).raw(
                "application/x-www-form-urlencoded",
                "account_id=a&account_id=b",
            ),
            400,
            Some("account_id"),
        ),
        (
            Call::new("PATCH", &url).raw("text/plain", "account_id=x"),
            415,
            None,
        ),
        (
            Call::new("PATCH", &url).raw(
                "application/json",
                format!("{{\"pad\": \"{}\"}}", "x".repeat(70_000)),
            ),
            413,
            None,
        ),
        (Call::new("GET", &url), 405, None),
        (Call::new("DELETE", &url), 405, None),
        (Call::new("GET", format!("{}/nope", base())), 404, None),
    ];
    for (call, status, field) in cases {
        let reply = call.send().await;
        assert_eq!(reply.status, status, "{}", reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{}",
            reply.text
        );
        if let Some(field) = field {
            assert_eq!(field_names(&reply), vec![field.to_owned()]);
        }
        if status == 405 {
            assert_eq!(reply.header("allow"), Some("PATCH, POST"));
        }
    }
    // The form encoding and POST are accepted too.
    let form = Call::new("POST", &url)
        .raw(
            "application/x-www-form-urlencoded",
            format!("account_id={ACCOUNT}&wait=3"),
        )
        .send()
        .await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert!(backend().dispatches_for(&item).len() == 1);
}

#[tokio::test]
async fn the_callback_template_is_stored_and_linked() {
    let item = unique("callback");
    backend().script(&item, Behavior::Acknowledge);
    let encoded = "http%3A%2F%2F127.0.0.1%3A9%2Fhooks%2F%7Bitem%7D%3Frequest%3D%7Buuid%7D";
    let reply = make_payment(
        base(),
        &item,
        &json!({"account_id": ACCOUNT, "callback": encoded}),
    )
    .send()
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.json["request_id"].as_str().unwrap_or_default();
    assert_eq!(
        reply.json["links"]["callbacks"],
        format!("{}/request/{id}/callbacks", base()).as_str()
    );
}

#[tokio::test]
async fn every_authentication_failure_is_a_401_with_a_challenge() {
    let item = unique("auth");
    let pay_url = format!("{}/items/{item}/make_payment", base());
    let status_url = format!(
        "{}/request/{}/status",
        base(),
        uuid::Uuid::new_v4().simple()
    );
    let headers: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Basic".into()),
        Some("Basic !!!notbase64".into()),
        Some(basic(TENANT_A_KEY, "wrong-secret-000000")),
        Some(basic("nobody", TENANT_A_SECRET)),
        Some(basic(TENANT_B_KEY, TENANT_A_SECRET)),
        Some(format!("Bearer {}", "sk_test_unknown_0123456789")),
        Some(format!("Token {TENANT_A_SECRET}")),
        Some(format!("Digest username={TENANT_A_KEY}")),
    ];
    for header in headers {
        for url in [&pay_url, &status_url] {
            let method = if url == &pay_url { "PATCH" } else { "GET" };
            let mut call = Call::new(method, url.as_str())
                .json(&json!({"account_id": ACCOUNT}))
                .without("authorization");
            if let Some(h) = &header {
                call = call.header("authorization", h);
            }
            let reply = call.send().await;
            assert_eq!(reply.status, 401, "{header:?} on {url}: {}", reply.text);
            assert!(
                reply
                    .header("www-authenticate")
                    .unwrap_or_default()
                    .contains("Basic"),
                "{header:?}"
            );
            assert_eq!(reply.json["code"], "unauthorized");
            assert!(!reply.text.contains(TENANT_A_SECRET), "never echo a secret");
        }
    }
    assert!(backend().dispatches_for(&item).is_empty());
    // Bearer with a valid secret works.
    let bearer = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .header("authorization", &format!("Bearer {TENANT_A_SECRET}"))
        .send()
        .await;
    assert_eq!(bearer.status, 200, "{}", bearer.text);
}

#[tokio::test]
async fn another_tenants_request_is_not_found() {
    let item = unique("tenancy");
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .send()
        .await;
    assert_eq!(reply.status, 200);
    let link = reply
        .header("content-location")
        .unwrap_or_default()
        .to_owned();
    assert_eq!(Call::new("GET", &link).send().await.status, 200);
    let other = Call::new("GET", &link).by_tenant_b().send().await;
    assert_eq!(other.status, 404, "{}", other.text);
    assert!(!other.text.contains(&item), "nothing of the request leaks");
    for id in [
        uuid::Uuid::new_v4().simple().to_string(),
        "nope".into(),
        "0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f".into(),
    ] {
        let missing = Call::new("GET", format!("{}/request/{id}/status", base()))
            .send()
            .await;
        assert_eq!(missing.status, 404, "{id}");
    }
    let bad_wait = Call::new("GET", format!("{link}?wait=-5")).send().await;
    assert_eq!(bad_wait.status, 400);
    assert_eq!(field_names(&bad_wait), vec!["wait".to_owned()]);
}

#[tokio::test]
async fn the_result_endpoint_refuses_unsigned_bad_stale_replayed_and_conflicting_deliveries() {
    let item = unique("result-auth");
    backend().script(&item, Behavior::Acknowledge);
    let accepted = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    let id = accepted.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    backend().await_dispatches(&item, 1, DEADLINE).await;
    let payload =
        json!({"request_id": id, "status": 200, "body": item_body(&item, "completed", 22500)})
            .to_string();
    let url = format!("{}/internal/requests/{id}/result", base());

    let unsigned = Call::new("POST", &url)
        .without("authorization")
        .raw("application/json", payload.clone())
        .send()
        .await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.text);
    let wrong_key = deliver_signed(base(), &id, &payload, "m1", now_secs(), CALLBACK_SECRET).await;
    assert_eq!(wrong_key.status, 401);
    let stale = deliver_signed(
        base(),
        &id,
        &payload,
        "m2",
        now_secs() - 301,
        BACKEND_SECRET,
    )
    .await;
    assert_eq!(stale.status, 401);
    let pending = Call::new("GET", status_link(&accepted)).send().await;
    assert_eq!(pending.status, 202, "rejected deliveries change nothing");

    let good = deliver_signed(base(), &id, &payload, "m3", now_secs(), BACKEND_SECRET).await;
    assert_eq!(good.status, 200, "{}", good.text);
    let replay = deliver_signed(base(), &id, &payload, "m3", now_secs(), BACKEND_SECRET).await;
    assert_eq!(replay.status, 409, "{}", replay.text);
    let same_again = deliver_signed(base(), &id, &payload, "m4", now_secs(), BACKEND_SECRET).await;
    assert_eq!(
        same_again.status, 200,
        "the same result under a new id is idempotent"
    );
    let different = json!({"request_id": id, "status": 422, "body": {"other": true}}).to_string();
    let conflict = deliver_signed(base(), &id, &different, "m5", now_secs(), BACKEND_SECRET).await;
    assert_eq!(conflict.status, 409, "{}", conflict.text);
    let done = Call::new("GET", status_link(&accepted)).send().await;
    assert_eq!(done.status, 200);
    assert_eq!(done.json, item_body(&item, "completed", 22500));

    let unknown = deliver_result(
        base(),
        &uuid::Uuid::new_v4().simple().to_string(),
        200,
        &json!({}),
    )
    .await;
    assert_eq!(unknown.status, 404);
    let malformed = deliver_signed(
        base(),
        &id,
        r#"{"status": "ok"}"#,
        "m6",
        now_secs(),
        BACKEND_SECRET,
    )
    .await;
    assert_eq!(malformed.status, 400);
}

/// Two items of tenant A whose payments share a lane (one object), found with the gateway's
/// own lane rule; the test checks the ids agree, so a change of rule fails it, not skips it.
fn two_items_in_one_lane() -> (String, String) {
    use edgepay_core::payment::lane::Lane;
    let lane_of = |item: &str| Lane::of("tenant-a", &format!("tenant-a/item/{item}"));
    let first = unique("lane");
    let second = (0..100_000)
        .map(|i| format!("{first}-{i}"))
        .find(|candidate| lane_of(candidate) == lane_of(&first))
        .expect("some item shares the first one's lane");
    (first, second)
}

fn id_of(reply: &Reply) -> String {
    reply.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn payments_sharing_a_lane_keep_their_own_lock_result_and_held_callers() {
    let (a, b) = two_items_in_one_lane();
    backend().script(&a, Behavior::Acknowledge);
    backend().script(&b, Behavior::Acknowledge);
    let pay = |item: &str| make_payment(base(), item, &json!({"account_id": ACCOUNT})).send();
    let (first_a, first_b) = (pay(&a).await, pay(&b).await);
    assert_eq!(first_a.status, 202, "{}", first_a.text);
    assert_eq!(first_b.status, 202, "{}", first_b.text);
    let (id_a, id_b) = (id_of(&first_a), id_of(&first_b));
    assert_ne!(id_a, id_b);
    assert_eq!(id_a.get(..6), id_b.get(..6), "both ids name the same lane");

    // Each item's lock is its own, though one object holds both.
    let again_a = pay(&a).await;
    assert_eq!(again_a.status, 409, "{}", again_a.text);
    assert_eq!(id_of(&again_a), id_a);
    let again_b = pay(&b).await;
    assert_eq!(again_b.status, 409, "{}", again_b.text);
    assert_eq!(id_of(&again_b), id_b);

    // A caller held on each; A's result wakes A's caller only.
    let held = |id: &str, wait: u32| {
        Call::new("GET", format!("{}/request/{id}/status?wait={wait}", base())).send()
    };
    let held_a = tokio::spawn(held(&id_a, 20));
    let held_b = tokio::spawn(held(&id_b, 3));
    backend().await_dispatches(&a, 1, DEADLINE).await;
    let body_a = item_body(&a, "completed", 22500);
    assert_eq!(
        deliver_result(base(), &id_a, 200, &body_a).await.status,
        200
    );
    let woken_a = held_a.await.expect("held caller of A");
    assert_eq!(woken_a.status, 200, "{}", woken_a.text);
    assert_eq!(woken_a.json, body_a);
    let still_b = held_b.await.expect("held caller of B");
    assert_eq!(still_b.status, 202, "{}", still_b.text);
    assert_eq!(still_b.json["request_id"], id_b.as_str());

    // A is free again (a new payment, in the same lane); B still holds its item.
    let next_a = pay(&a).await;
    assert_eq!(next_a.status, 202, "{}", next_a.text);
    assert_ne!(id_of(&next_a), id_a);
    assert_eq!(id_of(&next_a).get(..6), id_a.get(..6));
    assert_eq!(pay(&b).await.status, 409);

    // B's own result completes B, with its own body.
    let body_b = item_body(&b, "completed", 22500);
    assert_eq!(
        deliver_result(base(), &id_b, 200, &body_b).await.status,
        200
    );
    let done_b = held(&id_b, 0).await;
    assert_eq!(done_b.status, 200, "{}", done_b.text);
    assert_eq!(done_b.json, body_b);
}

/// Posts the same signed bytes as `deliver_signed` would, to `target`'s path.
async fn post_signed_to(target: &str, payload: &str, msg_id: &str, ts: u64) -> Reply {
    deliver_signed(base(), target, payload, msg_id, ts, BACKEND_SECRET).await
}

#[tokio::test]
async fn a_signed_result_for_one_request_is_refused_on_another_and_changes_nothing() {
    let (a, b) = (unique("bound-a"), unique("bound-b"));
    backend().script(&a, Behavior::Acknowledge);
    backend().script(&b, Behavior::Acknowledge);
    let pay = |item: &str| make_payment(base(), item, &json!({"account_id": ACCOUNT})).send();
    let (first_a, first_b) = (pay(&a).await, pay(&b).await);
    let (id_a, id_b) = (id_of(&first_a), id_of(&first_b));
    backend().await_dispatches(&a, 1, DEADLINE).await;
    backend().await_dispatches(&b, 1, DEADLINE).await;
    let payload =
        json!({"request_id": id_a, "status": 200, "body": item_body(&a, "completed", 22500)})
            .to_string();
    let (msg, ts) = ("msg_bound_once", now_secs());
    let stored = post_signed_to(&id_a, &payload, msg, ts).await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    // The same signed delivery, byte for byte, on B's path.
    let replayed = post_signed_to(&id_b, &payload, msg, ts).await;
    assert_eq!(replayed.status, 400, "{}", replayed.text);
    assert_eq!(replayed.json["errors"][0]["field"], "request_id");
    let still = Call::new("GET", status_link(&first_b)).send().await;
    assert_eq!(still.status, 202, "B keeps waiting for its own result");
    // A result that names no request is refused too (no deploy window is configured here).
    let unbound = json!({"status": 200, "body": item_body(&b, "completed", 22500)}).to_string();
    let refused = post_signed_to(&id_b, &unbound, "msg_unbound", now_secs()).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.json["errors"][0]["field"], "request_id");
    let own = deliver_result(base(), &id_b, 200, &item_body(&b, "completed", 22500)).await;
    assert_eq!(own.status, 200, "{}", own.text);
    let done = Call::new("GET", status_link(&first_b)).send().await;
    assert_eq!(done.json, item_body(&b, "completed", 22500));
}

#[tokio::test]
async fn a_no_content_result_is_readable_and_never_interrupts_a_caller_held_elsewhere() {
    let log_start = harness().gateway.log().len();
    let (odd, held_item) = (unique("no-content"), unique("held-meanwhile"));
    backend().script(&odd, Behavior::Acknowledge);
    backend().script(&held_item, Behavior::Acknowledge);
    let odd_payment = make_payment(base(), &odd, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    let held_payment = make_payment(base(), &held_item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    let (odd_id, held_id) = (id_of(&odd_payment), id_of(&held_payment));
    backend().await_dispatches(&odd, 1, DEADLINE).await;
    backend().await_dispatches(&held_item, 1, DEADLINE).await;
    // A caller held on another payment for the whole test.
    let held =
        tokio::spawn(Call::new("GET", format!("{}?wait=20", status_link(&held_payment))).send());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let no_content = json!({"request_id": odd_id, "status": 204, "body": null}).to_string();
    let stored = deliver_signed(
        base(),
        &odd_id,
        &no_content,
        "msg_204",
        now_secs(),
        BACKEND_SECRET,
    )
    .await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    for _ in 0..5 {
        let read = Call::new("GET", status_link(&odd_payment)).send().await;
        assert_eq!(read.status, 204, "{}", read.text);
        assert_eq!(read.text, "");
        assert_eq!(
            read.header("content-location"),
            Some(status_link(&odd_payment).as_str())
        );
    }
    // A 204 carrying an item response is refused: the status forbids a body.
    let with_body =
        json!({"request_id": held_id, "status": 204, "body": {"items": {}}}).to_string();
    let refused = deliver_signed(
        base(),
        &held_id,
        &with_body,
        "msg_204_body",
        now_secs(),
        BACKEND_SECRET,
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.json["errors"][0]["field"], "body");

    let own = deliver_result(
        base(),
        &held_id,
        200,
        &item_body(&held_item, "completed", 22500),
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let released = held.await.expect("the held call");
    assert_eq!(
        released.status, 200,
        "the held caller gets its own result: {}",
        released.text
    );
    assert_eq!(released.json, item_body(&held_item, "completed", 22500));
    harness().gateway.assert_no_panic_since(log_start);
}

#[tokio::test]
async fn a_synchronous_no_content_reply_completes_the_payment_without_a_body() {
    let log_start = harness().gateway.log().len();
    let item = unique("sync-204");
    backend().script(
        &item,
        Behavior::Answer {
            status: 204,
            body: Value::Null,
            after: Duration::ZERO,
        },
    );
    let paid = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .send()
        .await;
    assert_eq!(paid.status, 204, "{}", paid.text);
    assert_eq!(paid.text, "");
    let link = paid
        .header("content-location")
        .unwrap_or_default()
        .to_owned();
    let read = Call::new("GET", &link).send().await;
    assert_eq!((read.status, read.text.as_str()), (204, ""));
    harness().gateway.assert_no_panic_since(log_start);
}
