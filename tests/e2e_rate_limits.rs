//! End-to-end: per-tenant and per-subject rate limits on Cloudflare's rate limiting binding (simulated by `wrangler dev`), in both dialects.
//!
//! `tenant-a` is put on the `trial` tier through `TENANTS`, and mints client tokens; `tenant-b`
//! stays on `standard`. The limits are read from `wrangler.toml`, so the test and the
//! configuration cannot drift.

mod support;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::*;

shared_backend_harness!(
    "rate-limits",
    &[(
        "TENANTS",
        r#"[{"tenant": "tenant-a", "rate_tier": "trial",
             "client_tokens": {"mint_secret": "mint-secret-tenant-a-0123456789abcdef"}}]"#
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

/// Seconds since the epoch, as the binding's clock reads them.
fn epoch_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// The binding counts in fixed windows aligned to the clock (`Date.now() / period`), so a test
/// that straddled a window's edge would see its count reset. This starts the test at least 20 s
/// before the next edge: a wait for a known time, not for an event.
async fn start_of_a_window() {
    let into = epoch_secs() % 60.0;
    if into > 40.0 {
        tokio::time::sleep(Duration::from_secs_f64(60.5 - into)).await;
    }
}

/// The window of the binding's count that the clock is in now.
fn window_now() -> u64 {
    (epoch_secs() / 60.0) as u64
}

/// One test's turn at `tenant-a`'s budget. Each test that spends it needs the whole budget, so
/// they take turns, and a turn after the first starts in a window no earlier turn spent in
/// (where the binding's count starts afresh). Dropping the turn (also when its test fails)
/// notes the window it ended in.
struct Turn(tokio::sync::MutexGuard<'static, Option<u64>>);

impl Drop for Turn {
    fn drop(&mut self) {
        *self.0 = Some(window_now());
    }
}

async fn tenant_a_turn() -> Turn {
    static TURNS: OnceLock<tokio::sync::Mutex<Option<u64>>> = OnceLock::new();
    let last = TURNS
        .get_or_init(|| tokio::sync::Mutex::new(None))
        .lock()
        .await;
    if let Some(spent) = *last {
        while window_now() <= spent {
            let left = 60.0 - epoch_secs() % 60.0;
            tokio::time::sleep(Duration::from_secs_f64(left + 0.5)).await;
        }
    }
    start_of_a_window().await;
    Turn(last)
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
    let _turn = tenant_a_turn().await;

    // The trial tier's whole budget: every payment accepted and answered.
    let mut first_link = None;
    let mut accepted = Vec::new();
    for n in 0..limit {
        let item = unique("within");
        let reply = pay(&item).send().await;
        assert_eq!(reply.status, 200, "payment {n}: {}", reply.text);
        accepted.push(item);
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
    let other_item = unique("other");
    let other = pay(&other_item).by_tenant_b().send().await;
    assert_eq!(other.status, 200, "{}", other.text);
    accepted.push(other_item);
    let other_payment_id = uuid::Uuid::new_v4().to_string();
    let other_ss = servicestack_pay(&other_payment_id)
        .by_tenant_b()
        .send()
        .await;
    assert_eq!(other_ss.status, 200, "{}", other_ss.text);
    accepted.push(other_payment_id);

    // The limited tenant can still read its payments: reads have their own budget.
    let link = first_link.expect("a status link");
    let status = Call::new("GET", link).send().await;
    assert_eq!(status.status, 200, "{}", status.text);
    // Nothing reached the backend for the refused payments, while every accepted one (answered
    // above, so dispatched before) did.
    assert!(backend().dispatches_for(&over_item).is_empty());
    assert!(backend().dispatches_for(&over_payment_id).is_empty());
    for subject in &accepted {
        assert!(
            !backend().dispatches_for(subject).is_empty(),
            "{subject} was not dispatched"
        );
    }
}

/// A client token for `tenant-a` whose subject is `sub`, minted by its server (which spends one
/// of the tenant's payments).
async fn token_for(sub: &str) -> String {
    let minted = Call::new("POST", format!("{}/client-tokens", base()))
        .json(&json!({"sub": sub, "ttl_secs": 300}))
        .send()
        .await;
    assert_eq!(minted.status, 201, "{}", minted.text);
    minted.json["token"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_client_token_in_a_loop_is_stopped_at_its_subjects_limit_and_leaves_its_tenants_budget() {
    let subject_limit = binding_limit("RATE_LIMIT_TRIAL_SUBJECT_PAYMENTS");
    let tenant_limit = binding_limit("RATE_LIMIT_TRIAL_PAYMENTS");
    // Two mints, the subject's whole budget, a server's payment and another subject's.
    assert!(
        subject_limit + 4 <= tenant_limit,
        "the trial tier must tell a subject's limit from its tenant's"
    );
    let _turn = tenant_a_turn().await;
    let token = token_for("app-install-1").await;

    // One app install in a retry loop, as many tries as its tenant's whole budget: its subject's
    // limit is paid, then every further try is refused.
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..tenant_limit {
        let item = unique("loop");
        let reply = pay(&item)
            .header("authorization", &format!("Bearer {token}"))
            .send()
            .await;
        statuses.push(reply.status);
        if reply.status == 429 {
            refused = refused.or(Some((item, reply)));
        }
    }
    let expected: Vec<u16> = std::iter::repeat_n(200, subject_limit)
        .chain(std::iter::repeat_n(429, tenant_limit - subject_limit))
        .collect();
    assert_eq!(statuses, expected, "the token's answers, in order");
    let (refused_item, refused) = refused.expect("a refused try");
    assert_eq!(refused.header("retry-after"), Some("60"));
    assert_eq!(refused.json["code"], "rate_limited", "{}", refused.text);
    assert!(backend().dispatches_for(&refused_item).is_empty());

    // The refused tries spent none of the tenant's budget: its server still pays, and so does
    // another app install of the same tenant.
    let server = pay(&unique("server")).send().await;
    assert_eq!(server.status, 200, "{}", server.text);
    let other = token_for("app-install-2").await;
    let other_paid = pay(&unique("other-install"))
        .header("authorization", &format!("Bearer {other}"))
        .send()
        .await;
    assert_eq!(other_paid.status, 200, "{}", other_paid.text);
}

/// Every tier `wrangler.toml` meters has its four bindings, and a subject's limits are below its
/// tenant's (a subject that could spend its tenant's whole budget would protect no one).
#[test]
fn every_metered_tier_has_a_smaller_subject_budget() {
    for tier in ["STANDARD", "HIGH", "TRIAL"] {
        for budget in ["PAYMENTS", "READS"] {
            let tenant = binding_limit(&format!("RATE_LIMIT_{tier}_{budget}"));
            let subject = binding_limit(&format!("RATE_LIMIT_{tier}_SUBJECT_{budget}"));
            assert!(subject < tenant, "{tier} {budget}: {subject} vs {tenant}");
        }
    }
}
