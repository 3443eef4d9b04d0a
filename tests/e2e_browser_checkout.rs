//! End-to-end: a checkout page on another origin pays in headless Chromium with a client token, through the real preflight.
//!
//! `tests/browser/cross_origin_checkout.mjs` serves a merchant page (and a merchant-server
//! stand-in that mints client tokens with the server credential) on two loopback origins:
//! one the tenant allows, one no tenant allows. The page pays with plain `fetch` and with
//! `@servicestack/client`; the browser itself blocks the second origin.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::gateway::Gateway;
use support::*;

const BROWSER_DEADLINE: Duration = Duration::from_secs(120);
const NEVER: &str = "deadbeef-0000-4000-8000-000000000000";

#[tokio::test]
async fn a_page_on_an_allowed_origin_pays_with_a_client_token_and_another_origin_is_blocked() {
    let allowed_port = gateway::free_port();
    let blocked_port = gateway::free_port();
    let tenants = json!([
        {"tenant": "tenant-a", "allowed_origins": [format!("http://127.0.0.1:{allowed_port}")],
         "client_tokens": {"mint_secret": "mint-secret-tenant-a-0123456789abcdef"}},
    ]);
    let port = gateway::free_port();
    let vars = gateway_vars(
        &format!("http://127.0.0.1:{port}/sandbox"),
        &[
            ("SANDBOX_ENABLED", "true"),
            ("TENANTS", &tenants.to_string()),
        ],
    );
    let gateway = Gateway::start_on(port, "browser-checkout", vars);
    let report = support::node::run_script(
        "tests/browser/cross_origin_checkout.mjs",
        &[
            &gateway.base,
            &allowed_port.to_string(),
            &blocked_port.to_string(),
            TENANT_A_KEY,
            TENANT_A_SECRET,
        ],
        BROWSER_DEADLINE,
    )
    .await;

    let allowed = &report["allowed"];
    assert_eq!(
        allowed["minted"],
        json!({"zai": true, "servicestack": true}),
        "{report}"
    );
    // Plain fetch through the preflight: paid, and the exposed headers are readable.
    assert_eq!(allowed["fetch"]["status"], 200, "{report}");
    assert_eq!(allowed["fetch"]["state"], "completed", "{report}");
    assert!(
        allowed["fetch"]["contentLocation"]
            .as_str()
            .is_some_and(|l| l.starts_with(&gateway.base) && l.ends_with("/status")),
        "{report}"
    );
    assert!(allowed["fetch"]["requestId"].is_string(), "{report}");
    // The token pays its one item only, and the page can read the refusal.
    assert_eq!(allowed["otherItem"]["status"], 403, "{report}");
    assert_eq!(allowed["otherItem"]["code"], "insufficient_scope");
    // The real ServiceStack client, with credentials: "include".
    assert_eq!(allowed["servicestack"]["succeeded"], true, "{report}");
    let data: Value = allowed["servicestack"]["data"]
        .as_str()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or(Value::Null);
    assert_eq!(data["items"]["state"], "completed", "{report}");

    // The browser itself refuses the origin no tenant allows: the call never happens.
    let blocked = &report["blocked"];
    assert_eq!(blocked["minted"]["zai"], true, "{report}");
    assert!(
        blocked["fetch"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("TypeError")),
        "{report}"
    );
    assert!(blocked["servicestack"]["succeeded"] != true, "{report}");
    let cors_errors = blocked["consoleErrors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|m| m.as_str().is_some_and(|m| m.contains("CORS")))
                .count()
        })
        .unwrap_or(0);
    assert!(cors_errors >= 1, "{report}");
    // Nothing was stored for it: its item is free for a payment that never ends.
    let item = blocked["item"].as_str().unwrap_or_default();
    let free = make_payment(&gateway.base, item, &json!({"account_id": NEVER}))
        .send()
        .await;
    assert_eq!(free.status, 202, "{}", free.text);
}
