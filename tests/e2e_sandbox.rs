//! End-to-end tests of the built-in sandbox backend: each documented magic account id, through the real gateway.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use support::gateway::Gateway;
use support::*;

fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| {
        // The sandbox is the backend, reached through the gateway's own port.
        sandbox_gateway(
            "sandbox",
            &[
                ("DISPATCH_RETRY_DELAYS_MS", "200,200,200,200"),
                ("RESULT_TIMEOUT_SECS", "3"),
            ],
        )
    })
}

async fn pay(account: &str, wait: u32) -> Reply {
    make_payment(
        &gateway().base,
        &unique("sbx"),
        &json!({"account_id": account, "wait": wait}),
    )
    .send()
    .await
}

#[tokio::test]
async fn any_other_account_completes_immediately() {
    let reply = pay(ACCOUNT, 5).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["items"]["state"], "completed");
    assert_eq!(reply.json["items"]["status"], 22500);
}

#[tokio::test]
async fn a5c_accounts_complete_through_the_async_result_path() {
    let reply = pay("a5c00000-0000-4000-8000-000000000001", 10).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["items"]["state"], "completed");
    assert!(
        reply.elapsed >= Duration::from_millis(900),
        "{:?}",
        reply.elapsed
    );

    // Not held: 202 now, the status link completes later.
    let later = pay("a5c00000-0000-4000-8000-000000000001", 0).await;
    assert_eq!(later.status, 202);
    let link = later.json["links"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let done = Call::new("GET", format!("{link}?wait=10")).send().await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json["items"]["status"], 22500);
}

#[tokio::test]
async fn dec11e_accounts_are_declined_with_422() {
    let reply = pay("dec11e00-0000-4000-8000-000000000000", 5).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.json["items"]["state"], "payment_required");
    assert!(reply.json["errors"]["base"].is_array());
}

#[tokio::test]
async fn held_accounts_complete_as_payment_held() {
    let reply = pay("4e1d0000-0000-4000-8000-000000000000", 5).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["items"]["state"], "payment_held");
    assert_eq!(reply.json["items"]["status"], 22175);
}

#[tokio::test]
async fn five_hundreds_are_resubmitted() {
    let reply = pay("5e500000-0000-4000-8000-000000000002", 10).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let status = Call::new("GET", reply.header("content-location").unwrap_or_default())
        .send()
        .await;
    assert_eq!(status.status, 200);
    let failing = pay("5e500000-0000-4000-8000-000000000000", 15).await;
    assert_eq!(failing.status, 502, "{}", failing.text);
    assert_eq!(failing.json["submission_count"], 5);
}

#[tokio::test]
async fn deadbeef_accounts_never_answer_and_expire() {
    let reply = pay("deadbeef-0000-4000-8000-000000000000", 1).await;
    assert_eq!(reply.status, 202);
    assert_eq!(reply.json["state"], "submitted");
    let link = reply.json["links"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let expired = Call::new("GET", format!("{link}?wait=10")).send().await;
    assert_eq!(expired.status, 502, "{}", expired.text);
    assert_eq!(expired.json["state"], "failed");
    assert!(expired.json["message"]
        .as_str()
        .unwrap_or_default()
        .contains("expired"));
}

#[tokio::test]
async fn the_sandbox_refuses_unsigned_dispatches() {
    let reply = Call::new("POST", format!("{}/sandbox/payments", gateway().base))
        .json(&json!({"request_id": "x", "subject": "y", "fields": {}, "submission_count": 1}))
        .send()
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
}

#[tokio::test]
async fn callbacks_to_private_or_insecure_targets_are_refused_under_the_production_setting() {
    for target in [
        "https://10.0.0.1/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",
        "https://[fd00::1]/hook",
        "https://[::1]/hook",
        "https://224.0.0.1/hook",
        "https://192.0.2.10/hook",
        "https://240.0.0.1/hook",
        "https://localhost/hook",
        "https://api.localhost/hook",
        "http://shop.example.com/hook",
    ] {
        let reply = make_payment(
            &gateway().base,
            &unique("ssrf"),
            &json!({"account_id": ACCOUNT, "callback": target}),
        )
        .send()
        .await;
        assert_eq!(reply.status, 400, "{target}: {}", reply.text);
        assert_eq!(reply.json["errors"][0]["field"], "callback", "{target}");
    }
    let ok = make_payment(
        &gateway().base,
        &unique("ssrf-ok"),
        &json!({"account_id": ACCOUNT, "callback": "https://shop.example.com/hook/{item}"}),
    )
    .send()
    .await;
    assert_eq!(ok.status, 202, "{}", ok.text);
}
