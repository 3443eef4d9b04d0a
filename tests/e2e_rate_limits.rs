//! End-to-end: per-tenant rate limits on Cloudflare's rate limiting binding (simulated by `wrangler dev`), in both dialects.
//!
//! `tenant-a` is put on the `trial` tier through `TENANTS`; `tenant-b` stays on `standard`.
//! The limits are read from `wrangler.toml`, so the test and the configuration cannot drift.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::*;

shared_backend_harness!(
    "rate-limits",
    &[(
        "TENANTS",
        r#"[{"tenant": "tenant-a", "rate_tier": "trial"}]"#
    )]
);

/// The `limit` of the rate-limit binding `name` in the repository's `wrangler.toml`.
fn binding_limit(name: &str) -> usize {
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml"))
        .expect("wrangler.toml");
    let block = toml
        .split("[[ratelimits]]")
        .find(|b| b.contains(&format!("name = \"{name}\"")))
        .unwrap_or_else(|| panic!("no [[ratelimits]] binding {name} in wrangler.toml"));
    let limit = block
        .split("limit = ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ', '}']).next())
        .and_then(|n| n.trim().parse().ok());
    limit.unwrap_or_else(|| panic!("no limit for {name}: {block}"))
}

/// The binding counts in fixed windows aligned to the clock (`Date.now() / period`), so a test
/// that straddled a window's edge would see its count reset. This starts the test at least 20 s
/// before the next edge: a wait for a known time, not for an event.
async fn start_of_a_window() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let into = now % 60.0;
    if into > 40.0 {
        tokio::time::sleep(Duration::from_secs_f64(60.5 - into)).await;
    }
}

fn pay(item: &str) -> Call {
    make_payment(base(), item, &json!({"account_id": ACCOUNT})).header("prefer", "wait=5")
}

fn servicestack_pay(payment_id: &str) -> Call {
    Call::new("POST", format!("{}/mobile/payments/makePayment", base())).json(&json!({
        "paymentId": payment_id,
        "paymentMethod": {"type": "card", "token": "tok_1"},
        "clientType": "IOS",
    }))
}

/// The request log line of the answer with `request_id`, once `wrangler dev` has written it
/// (its log reaches the file a little after the answer reaches the client).
async fn log_line(request_id: &str) -> Value {
    eventually(
        &format!("the request line of {request_id}"),
        Duration::from_secs(10),
        || async {
            harness()
                .gateway
                .log()
                .lines()
                .filter_map(|l| l.find('{').map(|i| &l[i..]))
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| v["msg"] == "request" && v["request_id"] == request_id)
        },
    )
    .await
}

#[tokio::test]
async fn a_tenant_over_its_limit_gets_429_in_both_dialects_and_no_one_else_does() {
    let limit = binding_limit("RATE_LIMIT_TRIAL_PAYMENTS");
    let reads = binding_limit("RATE_LIMIT_TRIAL_READS");
    assert!(reads > 2, "the trial tier must leave room for status reads");
    start_of_a_window().await;

    // The trial tier's whole budget: every payment accepted and answered.
    let mut first_link = None;
    for n in 0..limit {
        let reply = pay(&unique("within")).send().await;
        assert_eq!(reply.status, 200, "payment {n}: {}", reply.text);
        first_link = first_link.or_else(|| reply.header("content-location").map(str::to_owned));
    }

    // One more: 429, with Retry-After, and refused before any object was touched.
    let over_item = unique("over");
    let over = pay(&over_item).send().await;
    assert_eq!(over.status, 429, "{}", over.text);
    assert_eq!(over.header("retry-after"), Some("60"));
    assert_eq!(
        over.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(over.json["code"], "rate_limited", "{}", over.text);
    assert!(over.header("location").is_none() && over.header("content-location").is_none());
    let line = log_line(over.header("x-request-id").expect("x-request-id")).await;
    assert_eq!(line["status"], 429, "{line}");
    assert_eq!(line["error"], "rate_limited", "{line}");
    assert_eq!(line["tenant"], "tenant-a", "{line}");
    // The engine names the payment on the log line once it has an id: none was made.
    assert!(line.get("payment_id").is_none_or(Value::is_null), "{line}");

    // The ServiceStack dialect shares the budget and answers in its own shape.
    let over_payment_id = uuid::Uuid::new_v4().to_string();
    let ss = servicestack_pay(&over_payment_id).send().await;
    assert_eq!(ss.status, 429, "{}", ss.text);
    assert_eq!(ss.header("retry-after"), Some("60"));
    assert_eq!(
        ss.json["responseStatus"]["errorCode"], "TooManyRequests",
        "{}",
        ss.text
    );

    // Another tenant at the same moment is unaffected, in both dialects.
    let other = pay(&unique("other")).by_tenant_b().send().await;
    assert_eq!(other.status, 200, "{}", other.text);
    let other_ss = servicestack_pay(&uuid::Uuid::new_v4().to_string())
        .by_tenant_b()
        .send()
        .await;
    assert_eq!(other_ss.status, 200, "{}", other_ss.text);

    // The limited tenant can still read its payments: reads have their own budget.
    let link = first_link.expect("a status link");
    let status = Call::new("GET", link).send().await;
    assert_eq!(status.status, 200, "{}", status.text);
    // Nothing reached the backend for the refused payments, while every accepted one (answered
    // above, so dispatched before) did.
    assert!(backend().dispatches_for(&over_item).is_empty());
    assert!(backend().dispatches_for(&over_payment_id).is_empty());
    assert_eq!(backend().dispatches().len(), limit + 2);
}
