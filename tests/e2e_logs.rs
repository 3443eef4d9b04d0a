//! End-to-end tests of `X-Request-Id` and the one JSON log line per request, read from `wrangler dev`'s output.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::backend::{deliver_result, item_body, Behavior};
use support::*;

shared_backend_harness!(
    "logs",
    &[
        ("SANDBOX_ENABLED", "false"),
        ("ALLOW_INSECURE_CALLBACKS", "true"),
    ]
);

const DEADLINE: Duration = Duration::from_secs(20);

/// The request log lines (`"msg":"request"`) the gateway printed for `request_id`, parsed.
fn lines_for(request_id: &str) -> Vec<Value> {
    harness()
        .gateway
        .log()
        .lines()
        .filter_map(|line| line.find('{').map(|start| &line[start..]))
        .filter_map(|json| serde_json::from_str::<Value>(json).ok())
        .filter(|v| v["msg"] == "request" && v["request_id"] == request_id)
        .collect()
}

/// Waits for the one log line of `request_id` (the line is printed after the response is sent).
async fn line_for(request_id: &str) -> Value {
    let lines = eventually("the request's log line", DEADLINE, || async {
        let lines = lines_for(request_id);
        (!lines.is_empty()).then_some(lines)
    })
    .await;
    assert_eq!(lines.len(), 1, "exactly one line per request: {lines:?}");
    lines.into_iter().next().unwrap_or_default()
}

fn trace_id(label: &str) -> String {
    format!("test-{label}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_well_formed_incoming_request_id_is_echoed_on_every_kind_of_answer() {
    let id = trace_id("echo");
    let calls = [
        Call::new("GET", format!("{}/healthz", base())),
        Call::new("GET", format!("{}/no/such/route", base())),
        Call::new(
            "GET",
            format!("{}/request/{}/status", base(), "0".repeat(32)),
        ),
        make_payment(base(), &unique("echo"), &json!({"wait": 0})),
        make_payment(base(), &unique("echo"), &json!({})).without("authorization"),
        Call::new("POST", format!("{}/mobile/payments/makePayment", base()))
            .without("authorization"),
    ];
    for call in calls {
        let url = call.url.clone();
        let reply = call.header("x-request-id", &id).send().await;
        assert_eq!(
            reply.header("x-request-id"),
            Some(id.as_str()),
            "{url}: {}",
            reply.status
        );
    }
}

#[tokio::test]
async fn a_missing_or_malformed_request_id_is_replaced_by_a_generated_one() {
    let too_long = "a".repeat(129);
    let mut seen = Vec::new();
    for incoming in [
        None,
        Some("has space"),
        Some("{\"x\":1}"),
        Some(too_long.as_str()),
    ] {
        let mut call = Call::new("GET", format!("{}/healthz", base()));
        if let Some(value) = incoming {
            call = call.header("x-request-id", value);
        }
        let reply = call.send().await;
        let got = reply.header("x-request-id").unwrap_or_default().to_owned();
        assert!(
            got.len() == 36
                && got.starts_with("req_")
                && got[4..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{incoming:?} → {got:?}"
        );
        seen.push(got);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "every generated id is fresh");
}

#[tokio::test]
async fn a_synchronous_payment_logs_route_dialect_tenant_status_and_its_transition() {
    let item = unique("log-sync");
    backend().script(
        &item,
        Behavior::Answer {
            status: 200,
            body: item_body(&item, "completed", 22500),
            after: Duration::ZERO,
        },
    );
    let id = trace_id("sync");
    let reply = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 10}))
        .header("x-request-id", &id)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let line = line_for(&id).await;
    assert_eq!(line["level"], "info");
    assert_eq!(line["method"], "PATCH");
    assert_eq!(line["route"], "/items/{item}/make_payment");
    assert_eq!(line["dialect"], "zai");
    assert_eq!(line["status"], 200);
    assert_eq!(line["tenant"], "tenant-a");
    assert!(line["duration_ms"].as_u64().is_some(), "{line}");
    assert!(
        line["ts"].as_str().unwrap_or_default().ends_with('Z'),
        "{line}"
    );
    let payment_id = line["payment_id"].as_str().unwrap_or_default();
    assert_eq!(payment_id.len(), 32, "{line}");
    assert_eq!(line["transition"], json!({"from": null, "to": "completed"}));
    // The status link names the same payment.
    let content_location = reply.header("content-location").unwrap_or_default();
    assert!(content_location.contains(payment_id), "{content_location}");
}

#[tokio::test]
async fn an_asynchronous_result_logs_the_transition_it_caused() {
    let item = unique("log-async");
    backend().script(&item, Behavior::Acknowledge);
    let accepted = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 0}))
        .send()
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let payment_id = accepted.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    backend().await_dispatches(&item, 1, DEADLINE).await;
    // The backend has the dispatch before the gateway has stored its acknowledgement: wait for
    // that, or the result may find the payment still `accepted` (with wrangler 4.164.0 it did in
    // 3 runs of 5; with the runtime before, in none of 5).
    let link = format!("{}/request/{payment_id}/status", base());
    eventually("the acknowledgement stored", DEADLINE, || async {
        let reply = Call::new("GET", &link).send().await;
        (reply.json["state"] == "submitted").then_some(())
    })
    .await;
    let stored = deliver_result(base(), &payment_id, 200, &item_body(&item, "completed", 1)).await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    let id = stored.header("x-request-id").unwrap_or_default().to_owned();
    let line = line_for(&id).await;
    assert_eq!(line["route"], "/internal/requests/{id}/result");
    assert_eq!(line["dialect"], "internal");
    assert_eq!(line["payment_id"], payment_id.as_str());
    assert_eq!(line["transition"]["to"], "completed");
    assert_eq!(line["transition"]["from"], "submitted", "{line}");
}

#[tokio::test]
async fn refused_requests_log_a_warning_with_the_error_code_in_either_dialect() {
    let id = trace_id("unauth");
    let reply = make_payment(base(), &unique("log-401"), &json!({"account_id": ACCOUNT}))
        .without("authorization")
        .header("x-request-id", &id)
        .send()
        .await;
    assert_eq!(reply.status, 401);
    let line = line_for(&id).await;
    assert_eq!(line["level"], "warn");
    assert_eq!(line["status"], 401);
    assert_eq!(line["error"], "unauthorized");
    assert!(line.get("tenant").is_none(), "{line}");

    let id = trace_id("ss400");
    let reply = Call::new("POST", format!("{}/mobile/payments/makePayment", base()))
        .json(&json!({"amount": "lots"}))
        .header("x-request-id", &id)
        .send()
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let line = line_for(&id).await;
    assert_eq!(line["dialect"], "service_stack");
    assert_eq!(line["route"], "/mobile/payments/makePayment");
    assert_eq!(line["error"], "validation_failed");
    assert_eq!(line["tenant"], "tenant-a");
}

#[tokio::test]
async fn secrets_payment_details_device_ids_and_addresses_never_reach_the_log() {
    let device = format!("device-{}", uuid::Uuid::new_v4().simple());
    let account = uuid::Uuid::new_v4().to_string();
    let card_token = format!("tok_{}", uuid::Uuid::new_v4().simple());
    let payment_id = uuid::Uuid::new_v4().hyphenated().to_string();
    backend().script(
        &payment_id,
        Behavior::Answer {
            status: 200,
            body: json!({"ok": true}),
            after: Duration::ZERO,
        },
    );
    let id = trace_id("secrets");
    let reply = Call::new(
        "POST",
        format!(
            "{}/mobile/payments/makePayment?deviceId={device}&accountId={account}",
            base()
        ),
    )
    .json(&json!({
        "paymentId": payment_id,
        "paymentMethod": {"type": "card", "token": card_token},
        "clientType": "IOS",
        "deviceId": device,
    }))
    .header("x-request-id", &id)
    .header("x-forwarded-for", "203.0.113.77")
    .send()
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let line = line_for(&id).await;
    assert_eq!(line["transition"]["to"], "completed", "{line}");
    line_for(&id).await;
    // Everything the Worker printed; `wrangler dev`'s own access log (which shows the URL, as
    // `wrangler tail` shows the request) is the runtime's, not the gateway's.
    let log: String = harness()
        .gateway
        .log()
        .lines()
        .filter(|line| !line.contains("[wrangler:"))
        .collect::<Vec<_>>()
        .join("\n");
    for secret in [
        TENANT_A_SECRET,
        basic(TENANT_A_KEY, TENANT_A_SECRET).as_str(),
        BACKEND_SECRET,
        device.as_str(),
        account.as_str(),
        card_token.as_str(),
        "203.0.113.77",
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}");
    }
}
