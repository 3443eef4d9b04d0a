//! End-to-end tests of the checkout demo: a shop's page on one origin pays the gateway on another in a real headless Chromium.
//!
//! The gateway runs with the sandbox on and the development client, as under `make dev`, and
//! `demo/merchant_server.mjs` (the shop's server) serves the page on a second loopback port,
//! mints client tokens with the server credential and verifies the callbacks.
//! `tests/browser/demo_checkout.mjs` (playwright-core driving Debian's `/usr/bin/chromium`)
//! pays once per scenario and prints what the page showed as JSON, which is asserted here.
//! `DEMO_SCREENSHOT=docs/demo.png` also saves a screenshot of the page after a paid callback run.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};
use support::gateway::Gateway;
use support::node::NodeServer;
use support::*;

const DEV_KEY: &str = "dev_key";
const DEV_SECRET: &str = "dev_secret_0123456789";
const MINT_SECRET: &str = "dev_mint_secret_0123456789abcdef0123";
/// The browser run takes about 15 s alone; generous for a machine shared by several builds.
const BROWSER_DEADLINE: Duration = Duration::from_secs(170);

struct Demo {
    gateway: Gateway,
    merchant: NodeServer,
    /// The shop's page, on the merchant server's origin.
    shop: String,
}

/// The development client and tenant of `.dev.vars.example` (with the test callback secret),
/// allowing pages on `shop_origin`.
fn dev_vars(port: u16, shop_origin: &str) -> Vec<(String, String)> {
    let tenants = json!([{"tenant": "dev", "allowed_origins": [shop_origin],
                          "client_tokens": {"mint_secret": MINT_SECRET}}]);
    let mut vars = gateway_vars(
        &format!("http://127.0.0.1:{port}/sandbox"),
        &[
            ("SANDBOX_ENABLED", "true"),
            ("ALLOW_INSECURE_CALLBACKS", "true"),
            ("DISPATCH_RETRY_DELAYS_MS", "200,200,200,200"),
            ("TENANTS", &tenants.to_string()),
        ],
    );
    let clients = json!([{"key_id": DEV_KEY, "secret": DEV_SECRET, "tenant": "dev",
                          "callback_secret": CALLBACK_SECRET}]);
    for (name, value) in &mut vars {
        if name == "API_CLIENTS" {
            *value = clients.to_string();
        }
    }
    vars
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let port = gateway::free_port();
        let shop_port = gateway::free_port();
        let shop_origin = format!("http://127.0.0.1:{shop_port}");
        let gateway = Gateway::start_on(port, "demo", dev_vars(port, &shop_origin));
        let merchant = NodeServer::start(
            "demo/merchant_server.mjs",
            &[
                ("EDGEPAY_URL", &gateway.base),
                ("MERCHANT_PORT", &shop_port.to_string()),
                ("EDGEPAY_KEY_ID", DEV_KEY),
                ("EDGEPAY_SECRET", DEV_SECRET),
                ("EDGEPAY_CALLBACK_SECRET", CALLBACK_SECRET),
            ],
            r#""event":"listening""#,
            Duration::from_secs(30),
        );
        Demo {
            gateway,
            merchant,
            shop: format!("{shop_origin}/"),
        }
    })
}

/// Runs the browser script against the shop's page (`DEMO_SCREENSHOT` also saves a screenshot).
async fn run_browser(shop: &str) -> Value {
    let shot = std::env::var("DEMO_SCREENSHOT").ok();
    let mut args = vec![shop, DEV_SECRET];
    args.extend(shot.as_deref());
    support::node::run_script("tests/browser/demo_checkout.mjs", &args, BROWSER_DEADLINE).await
}

fn scenario<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["scenarios"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no scenario {name} in {report}"))
}

fn phases(s: &Value) -> Vec<&str> {
    s["phases"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn text<'a>(s: &'a Value, field: &str) -> &'a str {
    s[field].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_shopper_pays_through_every_sandbox_scenario_in_chromium() {
    let demo = demo();
    let report = run_browser(&demo.shop).await;

    // Labelled as a sandbox; the page is on the shop's origin and pays the gateway on another.
    assert_eq!(report["title"], "edgepay sandbox checkout", "{report}");
    assert!(text(&report, "banner").contains("SANDBOX"), "{report}");
    assert_eq!(report["gateway"], demo.gateway.base.as_str(), "{report}");
    assert_ne!(report["pageOrigin"], report["gateway"], "{report}");
    // The page never held the server secret: not in its markup, not in any answer it read.
    assert_eq!(report["secretSeen"], false, "{report}");
    // The browser preflighted the token-carrying PATCH itself, on the gateway's origin.
    let requests = report["requests"].as_array().cloned().unwrap_or_default();
    let to_gateway = |method: &str| {
        requests.iter().any(|r| {
            r["method"] == method
                && r["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with(&format!("{}/items/", demo.gateway.base)))
        })
    };
    assert!(to_gateway("PATCH"), "{report}");
    eventually(
        "a preflight's request line in the gateway's log",
        Duration::from_secs(10),
        || async {
            demo.gateway
                .log()
                .contains(r#""method":"OPTIONS","route":"(preflight)""#)
                .then_some(())
        },
    )
    .await;

    let instant = scenario(&report, "instant");
    assert_eq!(instant["state"], "completed", "{instant}");
    assert_eq!(instant["http"], "200");
    assert_eq!(instant["itemState"], "completed (22500)");
    assert_eq!(phases(instant)[..2], ["token", "submitting"], "{instant}");

    // Held until the result arrives 3 s later, within the 5 s wait.
    let held = scenario(&report, "slow-held");
    assert_eq!(
        phases(held),
        ["token", "submitting", "held", "completed"],
        "{held}"
    );
    assert_eq!(held["itemState"], "completed (22500)");

    // Not within 1 s: pending, the status link long-polled with the token, completed, then the
    // callback as the shop's server verified it.
    let pending = scenario(&report, "slow-pending-with-callback");
    assert_eq!(
        phases(pending),
        [
            "token",
            "submitting",
            "held",
            "pending",
            "long-poll",
            "completed",
            "callback"
        ],
        "{pending}"
    );
    let link = text(pending, "statusLink");
    let request_id = text(pending, "requestId");
    assert_eq!(request_id.len(), 32, "{pending}");
    assert_eq!(
        link,
        format!("{}/request/{request_id}/status", demo.gateway.base)
    );
    // [#, received, result status, item state, signature]
    let row = &pending["callbacks"][0];
    assert_eq!(row[2], "200", "{pending}");
    assert_eq!(row[3], "completed", "{pending}");
    assert_eq!(row[4], "verified", "{pending}");
    // What the page showed is what the shop's server logged: it verified that request's callback
    // with the Standard Webhooks library, and it never logged a secret.
    let item = text(pending, "item");
    let lines = demo.merchant.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(r#""event":"callback_verified""#)
                && l.contains(&format!(r#""item":"{item}""#))),
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains(DEV_SECRET) || l.contains(CALLBACK_SECRET)),
        "{lines:?}"
    );

    let declined = scenario(&report, "decline");
    assert_eq!(declined["state"], "declined", "{declined}");
    assert_eq!(declined["http"], "422");
    assert_eq!(declined["message"], "The payment was declined (sandbox)");
    assert_eq!(declined["itemState"], "payment_required (22100)");

    let recovers = scenario(&report, "error-recovers");
    assert_eq!(recovers["state"], "completed", "{recovers}");
    assert_eq!(recovers["http"], "200");

    let fails = scenario(&report, "error-fails");
    assert_eq!(fails["state"], "failed", "{fails}");
    assert_eq!(fails["http"], "502");
    assert!(
        text(fails, "message").contains("gave up after 5 submissions"),
        "{fails}"
    );

    let payment_held = scenario(&report, "held");
    assert_eq!(payment_held["state"], "completed", "{payment_held}");
    assert_eq!(payment_held["itemState"], "payment_held (22175)");

    // Markup in an answer is shown as text.
    let markup = scenario(&report, "markup-in-response");
    assert_eq!(markup["state"], "error", "{markup}");
    assert_eq!(markup["http"], "400");
    assert_eq!(report["markup"]["elementCreated"], false, "{report}");
    assert_eq!(report["markup"]["shownAsText"], true, "{report}");

    // A token changed on its way from the shop's server is refused by the gateway.
    let tampered = scenario(&report, "tampered-token");
    assert_eq!(tampered["state"], "error", "{tampered}");
    assert_eq!(tampered["http"], "401");

    // Another origin's frame does not get the page.
    assert_eq!(report["framing"]["payButtonInFrame"], false, "{report}");

    // No script error, and nothing the Content-Security-Policy refused. (Chromium logs every
    // non-2xx answer as "Failed to load resource"; those are the scenarios above.)
    assert_eq!(report["pageErrors"], json!([]), "{report}");
    let unexpected: Vec<&str> = report["consoleErrors"]
        .as_array()
        .map(|all| all.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            !m.starts_with("Failed to load resource: the server responded with a status of 4")
                && !m.starts_with(
                    "Failed to load resource: the server responded with a status of 502",
                )
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

#[tokio::test]
async fn the_shops_page_and_its_assets_carry_the_security_headers() {
    let demo = demo();
    let shop = demo.shop.trim_end_matches('/');
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/checkout.js", "text/javascript; charset=utf-8"),
        ("/checkout.css", "text/css; charset=utf-8"),
    ] {
        let reply = Call::new("GET", format!("{shop}{path}"))
            .without("authorization")
            .send()
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        // The page may fetch from its own server and from the gateway, nothing else.
        assert!(
            csp.contains(&format!("connect-src 'self' {};", demo.gateway.base)),
            "{path}: {csp}"
        );
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        assert!(!reply.text.contains(DEV_SECRET), "{path}");
    }
    // The gateway itself serves no page: the checkout lives on the shop's origin.
    let gone = Call::new("GET", format!("{}/demo", demo.gateway.base))
        .send()
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text);
}

#[tokio::test]
async fn the_shops_server_believes_only_callbacks_whose_signature_verifies() {
    let demo = demo();
    let shop = demo.shop.trim_end_matches('/');
    let item = unique("forged");
    let body = json!({"items": {"id": item, "state": "completed"}}).to_string();
    let forged = Call::new("POST", format!("{shop}/callbacks/{item}"))
        .without("authorization")
        .header("webhook-id", "msg_forged")
        .header(
            "webhook-timestamp",
            &support::signing::now_secs().to_string(),
        )
        .header(
            "webhook-signature",
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .raw("application/json", body.clone())
        .send()
        .await;
    assert_eq!(forged.status, 400, "{}", forged.text);
    let unsigned = Call::new("POST", format!("{shop}/callbacks/{item}"))
        .without("authorization")
        .raw("application/json", body)
        .send()
        .await;
    assert_eq!(unsigned.status, 400, "{}", unsigned.text);
    let order = Call::new("GET", format!("{shop}/orders/{item}"))
        .send()
        .await;
    assert_eq!(order.status, 404, "{}", order.text);
    assert_eq!(order.json["callbacks"], json!([]), "{}", order.text);
}
