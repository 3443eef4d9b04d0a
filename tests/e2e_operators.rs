//! End-to-end: the payments index in D1, the operator APIs over it, the dashboard in Chromium, and an index that is down.
//!
//! One sandbox gateway takes payments through every sandbox scenario, then the test reads them
//! back through `GET /requests` (their final states, filters, pagination, another tenant seeing
//! none), makes dead letters (a receiver answering `500` until the schedule is used up, and
//! one answering `410`), lists them, replays them from the dashboard in headless Chromium and
//! through `POST /callbacks/dead-letters/replay`, and checks the receiver then got them. A
//! second gateway takes payments while every index write fails (`/__faults/index-down`):
//! they all complete, and once the index is back it catches up with nothing missing.
//! `DASHBOARD_SCREENSHOT=docs/dashboard.png` refreshes the screenshot in docs/operating.md.

mod support;

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::node::run_script;
use support::receiver::{Receiver, Script};
use support::*;

/// The sandbox's magic accounts (docs/walkthrough.md, "Sandbox backend"), with the state and backend status
/// each payment ends in, and how many submissions it takes.
const SCENARIOS: [(&str, &str, &str, Option<u16>, u64); 7] = [
    ("instant", ACCOUNT, "completed", Some(200), 1),
    (
        "slow",
        "a5c00000-0000-4000-8000-000000000001",
        "completed",
        Some(200),
        1,
    ),
    (
        "decline",
        "dec11e00-0000-4000-8000-000000000000",
        "completed",
        Some(422),
        1,
    ),
    (
        "recovers",
        "5e500000-0000-4000-8000-000000000001",
        "completed",
        Some(200),
        2,
    ),
    (
        "fails",
        "5e500000-0000-4000-8000-000000000000",
        "failed",
        None,
        3,
    ),
    (
        "never",
        "deadbeef-0000-4000-8000-000000000000",
        "failed",
        None,
        1,
    ),
    (
        "held",
        "4e1d0000-0000-4000-8000-000000000000",
        "completed",
        Some(200),
        1,
    ),
];

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// RFC 3339 UTC with milliseconds (the civil-from-days algorithm).
fn rfc3339(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let rem = ms % 86_400_000;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1_000 % 60,
        rem % 1_000
    )
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn get(url: &str, tenant_b: bool) -> Reply {
    let call = Call::new("GET", url);
    if tenant_b {
        call.by_tenant_b().send().await
    } else {
        call.send().await
    }
}

/// Every entry of a listing, following `links.next`; also the size of each page.
async fn walk(first: &str) -> (Vec<Value>, Vec<usize>) {
    let mut entries = Vec::new();
    let mut pages = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(url) = next {
        let reply = get(&url, false).await;
        assert_eq!(reply.status, 200, "{url}: {}", reply.text);
        let data = reply.json["data"].as_array().cloned().unwrap_or_default();
        pages.push(data.len());
        entries.extend(data);
        next = reply.json["links"]["next"].as_str().map(str::to_owned);
        assert_eq!(
            reply.json["has_more"].as_bool(),
            Some(next.is_some()),
            "has_more and links.next agree"
        );
        assert!(pages.len() < 50, "pagination ends");
    }
    (entries, pages)
}

/// The request ids of a listing's entries.
fn ids(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| e["request_id"].as_str().map(str::to_owned))
        .collect()
}

/// Pays `item` with `account`, not waiting, and returns its request id.
async fn pay(base: &str, item: &str, account: &str, callback: Option<&str>) -> String {
    let mut body = json!({"account_id": account});
    if let Some(cb) = callback {
        body["callback"] = cb.into();
    }
    let reply = make_payment(base, item, &body)
        .header("prefer", "respond-async")
        .send()
        .await;
    assert_eq!(reply.status, 202, "{item}: {}", reply.text);
    reply.json["request_id"]
        .as_str()
        .expect("a request id")
        .to_owned()
}

/// Waits until the index shows `item`'s one entry as `check` wants it.
async fn indexed(base: &str, item: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let url = format!("{base}/requests?subject={}", enc(item));
    eventually(
        &format!("{item} in the index {what}"),
        Duration::from_secs(45),
        || async {
            let reply = get(&url, false).await;
            let entry = reply.json["data"].as_array()?.first()?.clone();
            check(&entry).then_some(entry)
        },
    )
    .await
}

/// Waits until the receiver has acknowledged a delivery at `path` (a replay arrived).
async fn acknowledged(receiver: &Receiver, path: &str) {
    eventually(
        &format!("{path} delivered"),
        Duration::from_secs(30),
        || async {
            receiver
                .received_at(path)
                .iter()
                .any(|r| r.answer.acknowledged())
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn operators_search_the_index_list_dead_letters_and_replay_them() {
    let gateway = sandbox_gateway(
        "operators",
        &[
            ("ALLOW_INSECURE_CALLBACKS", "true"),
            ("DISPATCH_RETRY_DELAYS_MS", "200,200"),
            ("RESULT_TIMEOUT_SECS", "6"),
            ("CALLBACK_RETRY_SCHEDULE_MS", "0,200,400"),
            ("CALLBACK_TIMEOUT_MS", "2000"),
        ],
    );
    let base = gateway.base.as_str();
    let receiver = Receiver::start();
    let run = unique("ops");

    // 1. Every sandbox scenario reaches the index with its final state.
    let scenarios_start = now_ms() - 1;
    let mut scenario_ids = Vec::new();
    for (name, account, ..) in SCENARIOS {
        let item = format!("{run}-{name}");
        scenario_ids.push(pay(base, &item, account, None).await);
    }
    for ((name, _, state, status, submissions), id) in SCENARIOS.iter().zip(&scenario_ids) {
        let item = format!("{run}-{name}");
        let entry = indexed(base, &item, &format!("as {state}"), |e| {
            e["state"] == *state && e["result_status"].as_u64().map(|s| s as u16) == *status
        })
        .await;
        assert_eq!(entry["request_id"], id.as_str(), "{name}");
        assert_eq!(entry["submission_count"], *submissions, "{name}");
        assert_eq!(entry["dialect"], "zai");
        assert_eq!(entry["callback"]["state"], "none");
        assert_eq!(
            entry["links"]["status"],
            format!("{base}/request/{id}/status"),
            "{name}: the entry links its status"
        );
        // The index agrees with the object, which is the truth.
        let status_reply = get(entry["links"]["status"].as_str().unwrap(), false).await;
        let object_status = status_reply.status;
        match *status {
            Some(s) => assert_eq!(object_status, s, "{name}"),
            None => assert_eq!(object_status, 502, "{name}: failed"),
        }
    }

    // 2. Filters and pagination return exactly the expected sets.
    let page_start = now_ms();
    let mut page_ids = Vec::new();
    for i in 0..7 {
        page_ids.push(pay(base, &format!("{run}-page-{i}"), ACCOUNT, None).await);
    }
    for i in 0..7 {
        indexed(base, &format!("{run}-page-{i}"), "completed", |e| {
            e["state"] == "completed"
        })
        .await;
    }
    let page_end = now_ms() + 1;
    let window = format!(
        "since={}&until={}",
        enc(&rfc3339(page_start)),
        enc(&rfc3339(page_end))
    );
    let (entries, pages) = walk(&format!("{base}/requests?{window}&limit=3")).await;
    assert_eq!(pages, vec![3, 3, 1], "pages of three");
    let got = ids(&entries);
    assert_eq!(
        got.iter().collect::<HashSet<_>>(),
        page_ids.iter().collect::<HashSet<_>>(),
        "exactly this batch, no duplicates"
    );
    assert_eq!(got.len(), 7);
    let created: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["created"].as_str())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );

    let scenarios_window = format!(
        "since={}&until={}",
        enc(&rfc3339(scenarios_start)),
        enc(&rfc3339(page_start))
    );
    let (failed, _) = walk(&format!("{base}/requests?{scenarios_window}&state=failed")).await;
    let expect_failed: HashSet<&String> = SCENARIOS
        .iter()
        .zip(&scenario_ids)
        .filter(|(s, _)| s.2 == "failed")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids(&failed).iter().collect::<HashSet<_>>(), expect_failed);
    let (completed, _) = walk(&format!(
        "{base}/requests?{scenarios_window}&state=completed"
    ))
    .await;
    assert_eq!(completed.len(), 5);
    let (one, _) = walk(&format!(
        "{base}/requests?subject={}",
        enc(&format!("{run}-page-3"))
    ))
    .await;
    assert_eq!(ids(&one), vec![page_ids[3].clone()]);

    // Another tenant sees none of them.
    let b = get(
        &format!("{base}/requests?since={}", enc(&rfc3339(scenarios_start))),
        true,
    )
    .await;
    assert_eq!(b.status, 200);
    let b_ids: HashSet<String> = ids(b.json["data"].as_array().unwrap())
        .into_iter()
        .collect();
    assert!(scenario_ids
        .iter()
        .chain(&page_ids)
        .all(|id| !b_ids.contains(id)));
    let b = get(
        &format!("{base}/requests?subject={}", enc(&format!("{run}-page-3"))),
        true,
    )
    .await;
    assert_eq!(b.json["data"], json!([]));

    // Bad input names the parameter; no credential is a 401.
    let bad = get(
        &format!("{base}/requests?state=lost&limit=500&colour=red"),
        false,
    )
    .await;
    assert_eq!(bad.status, 400);
    let fields: Vec<&str> = bad.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["state", "limit", "colour"]);
    let anonymous = Call::new("GET", format!("{base}/requests"))
        .without("authorization")
        .send()
        .await;
    assert_eq!(anonymous.status, 401);

    // 3. Dead letters: two receivers that fail every attempt, one that says stop (410).
    let dead_start = now_ms() - 1;
    let mut dead_ids = Vec::new();
    for (i, answer) in [500u16, 500, 410].into_iter().enumerate() {
        let item = format!("{run}-dead-{i}");
        receiver.script(&format!("/dead/{item}"), Script::Always(answer));
        let callback = receiver.url("/dead/{item}");
        dead_ids.push(pay(base, &item, ACCOUNT, Some(&callback)).await);
    }
    let dead_url = format!(
        "{base}/callbacks/dead-letters?since={}",
        enc(&rfc3339(dead_start))
    );
    let listed = eventually("three dead letters", Duration::from_secs(45), || async {
        let reply = get(&dead_url, false).await;
        let data = reply.json["data"].as_array()?.clone();
        (data.len() == 3).then_some(data)
    })
    .await;
    assert_eq!(
        ids(&listed).iter().collect::<HashSet<_>>(),
        dead_ids.iter().collect::<HashSet<_>>()
    );
    let states: HashSet<&str> = listed
        .iter()
        .filter_map(|e| e["callback"]["state"].as_str())
        .collect();
    assert_eq!(states, HashSet::from(["exhausted", "stopped"]));
    assert!(listed.iter().all(|e| e["links"]["callbacks"].is_string()));
    let b = get(&dead_url, true).await;
    assert_eq!(
        b.json["data"],
        json!([]),
        "another tenant has no dead letters"
    );

    // The receivers are fixed; the operator replays from the dashboard in Chromium.
    for i in 0..3 {
        receiver.script(&format!("/dead/{run}-dead-{i}"), Script::Always(200));
    }
    let screenshot = std::env::var("DASHBOARD_SCREENSHOT").unwrap_or_default();
    let mut args = vec![base, TENANT_A_KEY, TENANT_A_SECRET];
    if !screenshot.is_empty() {
        args.push(&screenshot);
    }
    let report = run_script(
        "tests/browser/dashboard.mjs",
        &args,
        Duration::from_secs(110),
    )
    .await;
    assert_eq!(report["status"], 200);
    assert_eq!(report["loadState"], "ok", "{report}");
    assert_eq!(report["consoleErrors"], json!([]), "{report}");
    assert_eq!(report["pageErrors"], json!([]), "{report}");
    assert_eq!(report["secretFieldAfter"], "", "the secret leaves the form");
    assert_eq!(report["storage"], 0, "nothing stored in the browser");
    assert!(report["csp"]
        .as_str()
        .unwrap_or_default()
        .contains("default-src 'none'"));
    let charted: u64 = report["bars"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["count"].as_u64())
        .sum();
    let made = (scenario_ids.len() + page_ids.len() + dead_ids.len()) as u64;
    assert!(
        charted >= made,
        "the chart counts every payment ({charted} < {made})"
    );
    let failure_rows: HashSet<&str> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["requestId"].as_str())
        .collect();
    for id in expect_failed
        .iter()
        .chain(dead_ids.iter().collect::<Vec<_>>().iter())
    {
        assert!(
            failure_rows.contains(id.as_str()),
            "{id} in the failure list"
        );
    }
    assert!(report["detail"].is_object(), "a failure's detail opened");
    assert_eq!(report["replayState"], "ok", "{report}");
    assert_eq!(report["replayText"], "started 3, skipped 0");
    for i in 0..3 {
        acknowledged(&receiver, &format!("/dead/{run}-dead-{i}")).await;
    }
    eventually(
        "the dead letters to leave the list",
        Duration::from_secs(30),
        || async {
            let reply = get(&dead_url, false).await;
            (reply.json["data"] == json!([])).then_some(())
        },
    )
    .await;

    // 4. The API's bulk replay is bounded and continues with its cursor.
    let more_start = now_ms() - 1;
    let mut more = Vec::new();
    for i in 0..2 {
        let item = format!("{run}-more-{i}");
        receiver.script(&format!("/dead/{item}"), Script::Always(500));
        more.push(pay(base, &item, ACCOUNT, Some(&receiver.url("/dead/{item}"))).await);
    }
    let since = rfc3339(more_start);
    let more_url = format!("{base}/callbacks/dead-letters?since={}", enc(&since));
    eventually("two more dead letters", Duration::from_secs(45), || async {
        let reply = get(&more_url, false).await;
        (reply.json["data"].as_array()?.len() == 2).then_some(())
    })
    .await;
    for i in 0..2 {
        receiver.script(&format!("/dead/{run}-more-{i}"), Script::Always(200));
    }
    let replay = |body: Value| {
        Call::new("POST", format!("{base}/callbacks/dead-letters/replay"))
            .json(&body)
            .send()
    };
    let first = replay(json!({"since": since, "limit": 1})).await;
    assert_eq!(first.status, 202, "{}", first.text);
    assert_eq!(first.json["started"], 1);
    assert_eq!(first.json["has_more"], true);
    let cursor = first.json["next_cursor"].as_str().expect("a cursor");
    let second = replay(json!({"since": since, "limit": 1, "cursor": cursor})).await;
    assert_eq!(second.json["started"], 1, "{}", second.text);
    assert_eq!(second.json["has_more"], false);
    for i in 0..2 {
        acknowledged(&receiver, &format!("/dead/{run}-more-{i}")).await;
    }
    let refused = replay(json!({"since": "yesterday"})).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json["errors"][0]["field"], "since");
}

#[tokio::test]
async fn payments_complete_while_the_index_is_down_and_it_catches_up() {
    let gateway = sandbox_gateway(
        "operators-index-down",
        &[
            ("FAULT_INJECTION", "true"),
            ("DISPATCH_RETRY_DELAYS_MS", "200,200"),
        ],
    );
    let base = gateway.base.as_str();
    let run = unique("down");
    let fault = |which: &'static str| Call::new("POST", format!("{base}/__faults/{which}")).send();
    assert_eq!(fault("index-down").await.status, 200);

    let started = now_ms() - 1;
    let cases = [
        (ACCOUNT, 200, "completed"),
        ("dec11e00-0000-4000-8000-000000000000", 422, "completed"),
        ("a5c00000-0000-4000-8000-000000000001", 200, "completed"),
        ("5e500000-0000-4000-8000-000000000000", 502, "failed"),
    ];
    let mut items = Vec::new();
    for (i, (account, status, _)) in cases.iter().enumerate() {
        let item = format!("{run}-{i}");
        let reply = make_payment(base, &item, &json!({"account_id": account, "wait": 10}))
            .send()
            .await;
        assert_eq!(
            reply.status, *status,
            "{item} completes with D1 down: {}",
            reply.text
        );
        items.push(item);
    }
    let search = get(&format!("{base}/requests"), false).await;
    assert_eq!(
        search.status, 503,
        "a search while the index is down: {}",
        search.text
    );
    assert!(search.header("retry-after").is_some());
    eventually(
        "the failed index writes in the log",
        Duration::from_secs(10),
        || async {
            gateway
                .log()
                .contains("payments index write failed")
                .then_some(())
        },
    )
    .await;

    assert_eq!(fault("index-up").await.status, 200);
    let url = format!("{base}/requests?since={}", enc(&rfc3339(started)));
    let caught_up = eventually("the index to catch up", Duration::from_secs(60), || async {
        let reply = get(&url, false).await;
        let data = reply.json["data"].as_array()?.clone();
        let done = data.len() == cases.len()
            && data
                .iter()
                .all(|e| e["state"] == "completed" || e["state"] == "failed");
        done.then_some(data)
    })
    .await;
    for ((_, status, state), item) in cases.iter().zip(&items) {
        let entry = caught_up
            .iter()
            .find(|e| e["subject"] == item.as_str())
            .unwrap_or_else(|| panic!("{item} is in the index"));
        assert_eq!(entry["state"], *state, "{item}");
        if *status != 502 {
            assert_eq!(entry["result_status"], *status, "{item}");
        }
    }
}

#[tokio::test]
async fn a_record_leaves_the_index_before_its_object_is_deleted() {
    // Retention 0: a terminal record is deleted at its next alarm, once its lock is released.
    let gateway = sandbox_gateway(
        "operators-retention",
        &[("FAULT_INJECTION", "true"), ("RETENTION_DAYS", "0")],
    );
    let base = gateway.base.as_str();
    let run = unique("gone");
    let fault = |which: &'static str| Call::new("POST", format!("{base}/__faults/{which}")).send();
    let paid = |item: String| async move {
        let reply = make_payment(base, &item, &json!({"account_id": ACCOUNT, "wait": 10}))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{item}: {}", reply.text);
        reply
            .header("content-location")
            .expect("a status link")
            .to_owned()
    };
    let gone = |link: String, item: String| async move {
        eventually(
            &format!("{item} deleted"),
            Duration::from_secs(30),
            || async { (get(&link, false).await.status == 404).then_some(()) },
        )
        .await;
        let listed = get(&format!("{base}/requests?subject={}", enc(&item)), false).await;
        assert_eq!(listed.status, 200);
        assert_eq!(listed.json["data"], json!([]), "{item} left the index");
    };

    // With the index up, the record and its row go together.
    let first = format!("{run}-up");
    gone(paid(first.clone()).await, first).await;

    // With the index down, the object waits: it is not deleted while its row may remain.
    assert_eq!(fault("index-down").await.status, 200);
    let second = format!("{run}-down");
    let link = paid(second.clone()).await;
    let id = link
        .trim_end_matches("/status")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    // Two failures for it: the row's write, then (5 s later) the removal before deletion.
    eventually(
        "the failed write and removal in the log",
        Duration::from_secs(30),
        || async {
            let failures = gateway
                .log()
                .lines()
                .filter(|l| l.contains("payments index write failed") && l.contains(&id))
                .count();
            (failures >= 2).then_some(())
        },
    )
    .await;
    assert_eq!(
        get(&link, false).await.status,
        200,
        "the object is kept while the index is down"
    );
    assert_eq!(fault("index-up").await.status, 200);
    gone(link, second).await;
}
