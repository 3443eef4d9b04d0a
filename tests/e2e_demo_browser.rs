//! End-to-end tests of the sandbox web checkout demo: a real headless Chromium clicks through it.
//!
//! The gateway runs with the sandbox on and the development client, as under `make dev`;
//! `tests/browser/demo_checkout.mjs` (playwright-core driving Debian's `/usr/bin/chromium`)
//! pays once per scenario and prints what the page showed as JSON, which is asserted here.
//! `DEMO_SCREENSHOT=docs/demo.png` also saves a screenshot of the page after a paid callback run.

mod support;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use support::gateway::Gateway;
use support::receiver::Receiver;
use support::*;

const DEV_KEY: &str = "dev_key";
const DEV_SECRET: &str = "dev_secret_0123456789";
/// The browser run takes about 15 s alone; generous for a machine shared by several builds.
const BROWSER_DEADLINE: Duration = Duration::from_secs(170);

struct Demo {
    gateway: Gateway,
    receiver: Arc<Receiver>,
}

/// The development client of `.dev.vars.example` (with the test callback secret).
fn dev_vars(port: u16, sandbox: &str) -> Vec<(String, String)> {
    let mut vars = gateway_vars(
        &format!("http://127.0.0.1:{port}/sandbox"),
        &[
            ("SANDBOX_ENABLED", sandbox),
            ("ALLOW_INSECURE_CALLBACKS", "true"),
            ("DISPATCH_RETRY_DELAYS_MS", "200,200,200,200"),
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
        Demo {
            gateway: Gateway::start_on(port, "demo", dev_vars(port, "true")),
            receiver: Receiver::start(),
        }
    })
}

/// Runs the browser script against `base` (`DEMO_SCREENSHOT` also saves a screenshot).
async fn run_browser(base: &str, callback: &str) -> Value {
    let shot = std::env::var("DEMO_SCREENSHOT").ok();
    let mut args = vec![base, callback];
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
    let report = run_browser(&demo.gateway.base, &demo.receiver.url("/hook/{item}")).await;

    // Labelled as a sandbox, with the development credential the gateway accepts.
    assert_eq!(report["title"], "edgepay sandbox checkout", "{report}");
    assert!(text(&report, "banner").contains("SANDBOX"), "{report}");
    assert_eq!(report["prefill"]["keyId"], DEV_KEY, "{report}");
    assert_eq!(report["prefill"]["secretFilled"], true, "{report}");

    let instant = scenario(&report, "instant");
    assert_eq!(instant["state"], "completed", "{instant}");
    assert_eq!(instant["http"], "200");
    assert_eq!(instant["itemState"], "completed (22500)");
    assert_eq!(phases(instant).first(), Some(&"submitting"));

    // Held until the result arrives 3 s later, within the 5 s wait.
    let held = scenario(&report, "slow-held");
    assert_eq!(phases(held), ["submitting", "held", "completed"], "{held}");
    assert_eq!(held["itemState"], "completed (22500)");

    // Not within 1 s: pending, the status link long-polled, completed, then the callback log.
    let pending = scenario(&report, "slow-pending-with-callback");
    assert_eq!(
        phases(pending),
        [
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
    assert_eq!(pending["callbacks"][0][2], "200", "{pending}");
    assert!(
        pending["callbacks"][0][3]
            .as_str()
            .unwrap_or_default()
            .contains("delivered"),
        "{pending}"
    );
    // The log the page showed is what happened: the receiver got that callback.
    let item = text(pending, "item");
    let got = demo
        .receiver
        .await_requests(&format!("/hook/{item}"), 1, Duration::from_secs(10))
        .await;
    assert_eq!(
        got[0].header("edgepay-request-id"),
        Some(request_id),
        "{got:?}"
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

    // Markup echoed by the gateway (an unknown callback placeholder) is shown as text.
    let markup = scenario(&report, "markup-in-response");
    assert_eq!(markup["state"], "error", "{markup}");
    assert_eq!(markup["http"], "400");
    assert_eq!(report["markup"]["elementCreated"], false, "{report}");
    assert_eq!(report["markup"]["shownAsText"], true, "{report}");

    let wrong = scenario(&report, "wrong-secret");
    assert_eq!(wrong["state"], "error", "{wrong}");
    assert_eq!(wrong["http"], "401");

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
async fn the_page_and_its_assets_carry_the_security_headers() {
    let base = &demo().gateway.base;
    for (path, content_type) in [
        ("/demo", "text/html; charset=utf-8"),
        ("/demo/", "text/html; charset=utf-8"),
        ("/demo/checkout.js", "text/javascript; charset=utf-8"),
        ("/demo/checkout.css", "text/css; charset=utf-8"),
    ] {
        let reply = Call::new("GET", format!("{base}{path}"))
            .without("authorization")
            .send()
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
    }
    let page = Call::new("GET", format!("{base}/demo")).send().await;
    assert!(page
        .text
        .contains(r#"id="key-id" name="key-id" value="dev_key""#));

    let unknown = Call::new("GET", format!("{base}/demo/checkout.html"))
        .send()
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let post = Call::new("POST", format!("{base}/demo")).send().await;
    assert_eq!(post.status, 405, "{}", post.text);
    assert_eq!(post.header("allow"), Some("GET"));
}

#[tokio::test]
async fn the_demo_is_404_when_the_sandbox_is_off() {
    let port = gateway::free_port();
    let off = Gateway::start_on(port, "demo-off", dev_vars(port, "false"));
    for path in ["/demo", "/demo/", "/demo/checkout.js", "/demo/checkout.css"] {
        let reply = Call::new("GET", format!("{}{path}", off.base)).send().await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert!(!reply.text.contains(DEV_SECRET), "{path}");
    }
    // The same gateway answers other routes: the 404 is the sandbox switch, not a dead server.
    let health = Call::new("GET", format!("{}/healthz", off.base))
        .send()
        .await;
    assert_eq!(health.json["sandbox"], false, "{}", health.text);
    off.kill();
}
