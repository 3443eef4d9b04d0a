//! SSRF end to end under the production setting: every class of the range table
//! (`src/domain/ssrf_rules.rs`), at both ends of each range, plus local host names, other IPv4
//! notations, schemes and credentials, is refused at acceptance through the real route, in every
//! encoding a callback can arrive in. Addresses just outside each range are accepted. The
//! ServiceStack dialect has no callback URL: whatever callback-like value it is sent is never
//! stored, so nothing is ever called for it.

mod support;

use serde_json::{json, Value};
use support::backend::Behavior;
use support::*;

// `ALLOW_INSECURE_CALLBACKS=false`, as `wrangler.toml` ships it (checked below), given
// explicitly so that no local `.dev.vars` can change it.
shared_backend_harness!("ssrf", &[("ALLOW_INSECURE_CALLBACKS", "false")]);

const CONCURRENCY: usize = 8;

/// (host as written in the URL, what the refusal must say). Each range of the table at its
/// first usable and its last address.
fn refused_hosts() -> Vec<(&'static str, &'static str)> {
    vec![
        // IPv4
        ("0.0.0.1", "unspecified"),
        ("0.255.255.255", "unspecified"),
        ("10.0.0.1", "private-network"),
        ("10.255.255.255", "private-network"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.255", "carrier-grade NAT"),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("169.254.169.254", "link-local"),
        ("169.254.255.255", "link-local"),
        ("172.16.0.1", "private-network"),
        ("172.31.255.255", "private-network"),
        ("192.0.0.8", "reserved"),
        ("192.0.0.255", "reserved"),
        ("192.0.2.1", "documentation"),
        ("192.0.2.255", "documentation"),
        ("192.88.99.1", "reserved"),
        ("192.88.99.255", "reserved"),
        ("192.168.0.1", "private-network"),
        ("192.168.255.255", "private-network"),
        ("198.18.0.1", "reserved"),
        ("198.19.255.255", "reserved"),
        ("198.51.100.1", "documentation"),
        ("198.51.100.255", "documentation"),
        ("203.0.113.1", "documentation"),
        ("203.0.113.255", "documentation"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.255", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        // IPv6
        ("[::]", "unspecified"),
        ("[::1]", "loopback"),
        ("[::a00:1]", "reserved"),
        ("[::ffff:ffff]", "reserved"),
        ("[64:ff9b::a00:1]", "reserved"),
        ("[64:ff9b::ffff:ffff]", "reserved"),
        ("[64:ff9b:1::1]", "reserved"),
        ("[64:ff9b:1:ffff:ffff:ffff:ffff:ffff]", "reserved"),
        ("[100::1]", "reserved"),
        ("[100::ffff:ffff:ffff:ffff]", "reserved"),
        ("[2001:db8::1]", "documentation"),
        ("[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]", "documentation"),
        ("[2001::1]", "reserved"),
        ("[2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff]", "reserved"),
        ("[2002:7f00:1::]", "reserved"),
        ("[2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff]", "reserved"),
        ("[3fff::1]", "documentation"),
        ("[3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff]", "documentation"),
        ("[fc00::1]", "unique-local"),
        ("[fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]", "unique-local"),
        ("[fe80::1]", "link-local"),
        ("[febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff]", "link-local"),
        ("[fec0::1]", "reserved"),
        ("[feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]", "reserved"),
        ("[ff02::1]", "multicast"),
        ("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]", "multicast"),
        // IPv4-mapped IPv6 reaches the IPv4 host it embeds.
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("[::ffff:10.0.0.1]", "private-network"),
        ("[::ffff:100.64.0.1]", "carrier-grade NAT"),
        // Other spellings of the same IPv4 addresses (the URL parser normalises them).
        ("2130706433", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("127.0.0.1.", "loopback"),
        ("%31%32%37.0.0.1", "loopback"),
        ("2852039166", "link-local"),
        ("10.1", "private-network"),
        ("0", "unspecified"),
        // Local host names.
        ("localhost", "loopback"),
        ("LOCALHOST.", "loopback"),
        ("api.localhost", "loopback"),
        ("a.b.localhost", "loopback"),
    ]
}

/// Whole URLs refused for what they are, not where they point.
fn refused_urls() -> Vec<(&'static str, &'static str)> {
    vec![
        ("http://shop.example.com/hook", "https"),
        ("ftp://shop.example.com/hook", "scheme"),
        ("gopher://shop.example.com/", "scheme"),
        ("file:///etc/passwd", "callback"),
        ("wss://shop.example.com/hook", "scheme"),
        ("https://user:pw@shop.example.com/hook", "credentials"),
        ("https://user@shop.example.com/hook", "credentials"),
        ("https://{item}.example.com/hook", "placeholders"),
        ("https://shop.example.com.{account}/hook", "placeholders"),
    ]
}

/// Hosts just outside each range: accepted (the refusals above are the ranges', not blanket).
fn accepted_hosts() -> Vec<&'static str> {
    vec![
        "1.0.0.1",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.1",
        "169.253.255.255",
        "169.255.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.1.1",
        "192.0.3.1",
        "192.88.98.255",
        "192.88.100.1",
        "192.167.255.255",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.1",
        "198.51.99.255",
        "198.51.101.1",
        "203.0.112.255",
        "203.0.114.1",
        "223.255.255.255",
        "[2001:200::1]",
        "[2001:db9::1]",
        "[2003::1]",
        "[2606:4700:4700::1111]",
        "[fbff:ffff::1]",
        "[::ffff:8.8.8.8]",
        "shop.example.com",
        "localhost.example.com",
    ]
}

fn encoded(url: &str) -> String {
    percent_encoding::utf8_percent_encode(url, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The ways one callback URL reaches the Zai route: as is in JSON, URL-encoded in JSON (decoded
/// once), and in a form body.
fn zai_calls(url: &str) -> Vec<(&'static str, String, Call)> {
    let mut calls = Vec::new();
    for (how, value, form) in [
        ("json", url.to_owned(), false),
        ("json, URL-encoded", encoded(url), false),
        ("form", url.to_owned(), true),
    ] {
        let item = unique("ssrf");
        // Never completed: an accepted callback is never called.
        backend().script(&item, Behavior::Acknowledge);
        let call = if form {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("account_id", ACCOUNT)
                .append_pair("callback", &value)
                .finish();
            Call::new("PATCH", format!("{}/items/{item}/make_payment", base()))
                .raw("application/x-www-form-urlencoded", body)
        } else {
            make_payment(
                base(),
                &item,
                &json!({"account_id": ACCOUNT, "callback": value}),
            )
        };
        calls.push((how, item, call));
    }
    calls
}

#[tokio::test]
async fn the_shipped_default_is_the_production_setting() {
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml"))
        .expect("wrangler.toml");
    assert!(
        toml.lines()
            .any(|l| l.trim() == r#"ALLOW_INSECURE_CALLBACKS = "false""#),
        "wrangler.toml must ship ALLOW_INSECURE_CALLBACKS = \"false\""
    );
}

#[tokio::test]
async fn every_class_of_the_range_table_is_refused_at_acceptance_in_every_encoding() {
    let mut cases = Vec::new();
    for (host, says) in refused_hosts() {
        for path in ["/hook", ":8443/hooks/{item}?id={uuid}"] {
            let url = format!("https://{host}{}", path);
            for (how, item, call) in zai_calls(&url) {
                cases.push((format!("{url} ({how})"), says, item, call));
            }
        }
    }
    for (url, says) in refused_urls() {
        for (how, item, call) in zai_calls(url) {
            cases.push((format!("{url} ({how})"), says, item, call));
        }
    }
    let replies = send_all(cases.iter().map(|c| c.3.clone()).collect(), CONCURRENCY).await;
    let mut failures = Vec::new();
    for ((what, says, item, _), reply) in cases.iter().zip(&replies) {
        let error = reply.json["errors"]
            .as_array()
            .and_then(|errors| errors.iter().find(|e| e["field"] == "callback"))
            .cloned()
            .unwrap_or(Value::Null);
        let message = error["message"].as_str().unwrap_or_default();
        if reply.status != 400 || !message.contains(says) || !message.contains("callback") {
            failures.push(format!("{what}: {} {}", reply.status, reply.text));
        }
        if !backend().dispatches_for(item).is_empty() {
            failures.push(format!("{what}: dispatched"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} not refused as they should be:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("ssrf: {} refusals", cases.len());

    // Just outside every range: accepted, with the callback linked.
    let mut accepted = Vec::new();
    for host in accepted_hosts() {
        let url = format!("https://{host}/hooks/{{item}}");
        let (_, _, call) = zai_calls(&url).swap_remove(0);
        accepted.push((url, call));
    }
    let replies = send_all(accepted.iter().map(|c| c.1.clone()).collect(), CONCURRENCY).await;
    let wrong: Vec<String> = accepted
        .iter()
        .zip(&replies)
        .filter(|(_, r)| r.status != 202 || !r.json["links"]["callbacks"].is_string())
        .map(|((url, _), r)| format!("{url}: {} {}", r.status, r.text))
        .collect();
    assert!(
        wrong.is_empty(),
        "refused but outside every range:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_servicestack_dialect_stores_no_callback_whatever_it_is_sent() {
    let target = "https://169.254.169.254/latest/meta-data";
    let payment_id = uuid::Uuid::new_v4().hyphenated().to_string();
    backend().script(&payment_id, Behavior::Acknowledge);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("callback", target)
        .append_pair("callbackUrl", "https://127.0.0.1/hook")
        .finish();
    let reply = Call::new(
        "POST",
        format!("{}/mobile/payments/makePayment?{query}", base()),
    )
    .json(&json!({
        "paymentId": payment_id,
        "paymentMethod": {"type": "card", "callback": target},
        "clientType": "Web",
        "callback": target,
        "callbackUrl": "https://10.0.0.1/hook",
        "webhook": "https://[::1]/hook",
        "returnUrl": "myapp://payments/done",
    }))
    .header("prefer", "respond-async")
    .send()
    .await;
    // `?callback=` is a JSONP name, sanitised to `[A-Za-z0-9._]`: never a URL.
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .text
            .starts_with("https169.254.169.254latestmetadata({"),
        "{}",
        reply.text
    );
    let inner: Value = serde_json::from_str(
        reply
            .text
            .trim_start_matches("https169.254.169.254latestmetadata(")
            .trim_end_matches(')'),
    )
    .unwrap_or(Value::Null);
    assert_eq!(
        inner["responseStatus"]["errorCode"], "Pending",
        "{}",
        reply.text
    );
    let id = inner["responseStatus"]["meta"]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(id.len(), 32, "{}", reply.text);
    // No callback was stored: the log is empty and a replay has nothing to call.
    let log = Call::new("GET", format!("{}/request/{id}/callbacks", base()))
        .send()
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    assert_eq!(log.json["callbacks"], json!([]));
    let replay = Call::new("POST", format!("{}/request/{id}/callbacks/replay", base()))
        .send()
        .await;
    assert_eq!(replay.status, 400, "{}", replay.text);
    assert!(replay.text.contains("no callback"), "{}", replay.text);
    let dispatched = backend()
        .await_dispatches(&payment_id, 1, std::time::Duration::from_secs(20))
        .await;
    assert!(
        dispatched[0].body["fields"].get("callback").is_none()
            && dispatched[0].body.get("callback").is_none(),
        "{}",
        dispatched[0].body
    );
}
