//! The authentication matrix: every route, with no credentials, bad credentials, the wrong scheme
//! and another tenant's credentials; and the internal result endpoint's signature rules.
//!
//! Client routes answer `401` with a challenge (in the dialect's shape; under JSONP, as HTTP 200),
//! or `404` for another tenant's records, which are never disclosed. The internal result endpoint
//! and the sandbox refuse unsigned, badly signed, wrongly schemed and stale deliveries with `401`,
//! and the result endpoint a replayed one with `409`. Nothing any refused call carried changes a
//! record.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::backend::{deliver_signed, item_body, Behavior};
use support::signing::{now_secs, sign};
use support::*;

shared_backend_harness!(
    "auth-matrix",
    &[
        ("SANDBOX_ENABLED", "true"),
        ("ALLOW_INSECURE_CALLBACKS", "false"),
    ]
);

const CONCURRENCY: usize = 8;
const DEADLINE: Duration = Duration::from_secs(20);

/// Which kind of credentials a cell presents.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    None,
    Bad,
    WrongScheme,
}

/// Authorization headers for tenant A's key that must all be refused (`None`: no header at all).
fn refused_credentials() -> Vec<(Class, &'static str, Option<String>)> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        (Class::None, "no header", None),
        (Class::None, "empty header", Some(String::new())),
        (
            Class::Bad,
            "wrong secret",
            Some(basic(TENANT_A_KEY, "sk_test_wrong_0123456789")),
        ),
        (
            Class::Bad,
            "unknown key",
            Some(basic("nobody", TENANT_A_SECRET)),
        ),
        (
            Class::Bad,
            "B's key with A's secret",
            Some(basic(TENANT_B_KEY, TENANT_A_SECRET)),
        ),
        (
            Class::Bad,
            "A's key with B's secret",
            Some(basic(TENANT_A_KEY, TENANT_B_SECRET)),
        ),
        (
            Class::Bad,
            "empty secret",
            Some(format!("Basic {}", b64(&format!("{TENANT_A_KEY}:")))),
        ),
        (
            Class::Bad,
            "no colon",
            Some(format!("Basic {}", b64(TENANT_A_KEY))),
        ),
        (
            Class::Bad,
            "not base64",
            Some("Basic !!!notbase64!!!".into()),
        ),
        (
            Class::Bad,
            "Basic without credentials",
            Some("Basic".into()),
        ),
        (
            Class::Bad,
            "unknown bearer",
            Some("Bearer sk_test_unknown_0123456789".into()),
        ),
        (
            Class::Bad,
            "bearer with a space",
            Some(format!("Bearer {TENANT_A_SECRET} x")),
        ),
        (
            Class::Bad,
            "secret prefix only",
            Some(format!("Bearer {}", &TENANT_A_SECRET[..12])),
        ),
        (
            Class::Bad,
            "two credentials",
            Some(format!(
                "{}, {}",
                basic(TENANT_A_KEY, TENANT_A_SECRET),
                basic(TENANT_A_KEY, TENANT_A_SECRET)
            )),
        ),
        (
            Class::WrongScheme,
            "Token",
            Some(format!("Token {TENANT_A_SECRET}")),
        ),
        (
            Class::WrongScheme,
            "Digest",
            Some(format!(
                "Digest username=\"{TENANT_A_KEY}\", response=\"x\""
            )),
        ),
        (
            Class::WrongScheme,
            "ApiKey",
            Some(format!("ApiKey {TENANT_A_SECRET}")),
        ),
        (
            Class::WrongScheme,
            "Negotiate",
            Some("Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg".into()),
        ),
        (
            Class::WrongScheme,
            "Basic payload under Bearer",
            Some(format!(
                "Bearer {}",
                b64(&format!("{TENANT_A_KEY}:{TENANT_A_SECRET}"))
            )),
        ),
        (
            Class::WrongScheme,
            "bare secret under Basic",
            Some(format!("Basic {TENANT_A_SECRET}")),
        ),
        (
            Class::WrongScheme,
            "scheme only, secret in a header of its own",
            Some("Bearer".into()),
        ),
        (
            Class::WrongScheme,
            "a backend signature",
            Some(format!(
                "Signature {}",
                sign(BACKEND_SECRET, "m", now_secs(), "{}")
            )),
        ),
    ]
}

/// How a route renders its 401.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Face {
    Problem,
    ServiceStack,
    Jsonp,
}

/// One client route as tenant A would call it, valid but for the credentials under test.
#[derive(Clone)]
struct Route {
    name: &'static str,
    call: fn(&Fixtures) -> Call,
    face: Face,
    /// For records: tenant B gets `404`. For payments: B's own, independent, accepted payment.
    across_tenants: u16,
}

/// Tenant A's records every route is tried against.
struct Fixtures {
    /// A pending Zai request (acknowledged, no result) and its item.
    zai_id: String,
    zai_item: String,
    /// A pending ServiceStack request and its paymentId.
    ss_id: String,
    ss_payment_id: String,
}

fn status_url(id: &str) -> String {
    format!("{}/request/{id}/status", base())
}

fn ss_dto(payment_id: &str) -> Value {
    json!({"paymentId": payment_id, "paymentMethod": {"type": "card"}, "clientType": "Web"})
}

fn routes() -> Vec<Route> {
    vec![
        Route {
            name: "PATCH make_payment",
            call: |f| make_payment(base(), &f.zai_item, &json!({"account_id": ACCOUNT})),
            face: Face::Problem,
            across_tenants: 202,
        },
        Route {
            name: "POST make_payment",
            call: |f| {
                Call::new(
                    "POST",
                    format!("{}/items/{}/make_payment", base(), f.zai_item),
                )
                .json(&json!({"account_id": ACCOUNT}))
            },
            face: Face::Problem,
            across_tenants: 202,
        },
        Route {
            name: "ServiceStack makePayment",
            call: |f| {
                Call::new("POST", format!("{}/mobile/payments/makePayment", base()))
                    .json(&ss_dto(&f.ss_payment_id))
                    .header("prefer", "respond-async")
            },
            face: Face::ServiceStack,
            across_tenants: 202,
        },
        Route {
            name: "ServiceStack makePayment.json",
            call: |f| {
                Call::new(
                    "POST",
                    format!("{}/mobile/payments/makePayment.json", base()),
                )
                .json(&ss_dto(&f.ss_payment_id))
                .header("prefer", "respond-async")
            },
            face: Face::ServiceStack,
            across_tenants: 202,
        },
        Route {
            name: "ServiceStack JSONP",
            call: |f| {
                Call::new(
                    "POST",
                    format!("{}/mobile/payments/makePayment?callback=cb", base()),
                )
                .json(&ss_dto(&f.ss_payment_id))
                .header("prefer", "respond-async")
            },
            face: Face::Jsonp,
            // JSONP answers 200 whatever happened; B's own payment is pending inside.
            across_tenants: 200,
        },
        Route {
            name: "status (Zai)",
            call: |f| Call::new("GET", status_url(&f.zai_id)),
            face: Face::Problem,
            across_tenants: 404,
        },
        Route {
            name: "status (ServiceStack request)",
            call: |f| Call::new("GET", status_url(&f.ss_id)),
            face: Face::Problem,
            across_tenants: 404,
        },
        Route {
            name: "status long-poll ?wait=5",
            call: |f| Call::new("GET", format!("{}?wait=5", status_url(&f.zai_id))),
            face: Face::Problem,
            across_tenants: 404,
        },
        Route {
            name: "status long-poll Prefer: wait=5",
            call: |f| Call::new("GET", status_url(&f.ss_id)).header("prefer", "wait=5"),
            face: Face::Problem,
            across_tenants: 404,
        },
        Route {
            name: "callback log",
            call: |f| Call::new("GET", format!("{}/request/{}/callbacks", base(), f.zai_id)),
            face: Face::Problem,
            across_tenants: 404,
        },
        Route {
            name: "callback replay",
            call: |f| {
                Call::new(
                    "POST",
                    format!("{}/request/{}/callbacks/replay", base(), f.zai_id),
                )
            },
            face: Face::Problem,
            across_tenants: 404,
        },
    ]
}

async fn fixtures() -> Fixtures {
    let zai_item = unique("auth-zai");
    backend().script(&zai_item, Behavior::Acknowledge);
    let zai = make_payment(base(), &zai_item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(zai.status, 202, "{}", zai.text);
    let ss_payment_id = uuid::Uuid::new_v4().hyphenated().to_string();
    backend().script(&ss_payment_id, Behavior::Acknowledge);
    let ss = Call::new("POST", format!("{}/mobile/payments/makePayment", base()))
        .json(&ss_dto(&ss_payment_id))
        .header("prefer", "respond-async")
        .send()
        .await;
    assert_eq!(ss.status, 202, "{}", ss.text);
    Fixtures {
        zai_id: zai.json["request_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        zai_item,
        ss_id: ss.json["responseStatus"]["meta"]["requestId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        ss_payment_id,
    }
}

/// Whether an `Authorization` header presents a Bearer credential (a scheme and a value).
fn presents_bearer(authorization: Option<&str>) -> bool {
    authorization
        .and_then(|h| h.trim().split_once(' '))
        .is_some_and(|(scheme, value)| {
            scheme.eq_ignore_ascii_case("bearer") && !value.trim().is_empty()
        })
}

/// Why the answer to a call that presented `authorization` and was refused is wrong (empty:
/// right). A refused Bearer credential is RFC 6750's `invalid_token`, beside the Basic
/// challenge; anything else gets the plain challenge of both schemes.
fn problems_with_401(face: Face, authorization: Option<&str>, reply: &Reply) -> Vec<String> {
    let mut problems = Vec::new();
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    if !(challenge.contains("Basic") && challenge.contains("Bearer")) {
        problems.push(format!("challenge {challenge:?}"));
    }
    let invalid_token = challenge.contains(r#"Bearer realm="edgepay", error="invalid_token""#);
    if presents_bearer(authorization) != invalid_token {
        problems.push(format!(
            "challenge {challenge:?} for a {} credential",
            if presents_bearer(authorization) {
                "Bearer"
            } else {
                "non-Bearer"
            }
        ));
    }
    let mut shown = reply.json.clone();
    if let Some(doc) = shown.as_object_mut() {
        doc.remove("instance"); // the path the caller sent, echoed
    }
    let shown = if shown.is_null() {
        reply.text.clone()
    } else {
        shown.to_string()
    };
    for leak in [
        TENANT_A_SECRET,
        TENANT_B_SECRET,
        "request_id",
        "requestId",
        "\"items\"",
    ] {
        if shown.contains(leak) {
            problems.push(format!("the answer carries {leak:?}"));
        }
    }
    let error = match face {
        Face::Problem => {
            if reply.status != 401 {
                problems.push(format!("status {}", reply.status));
            }
            reply.json["code"].clone()
        }
        Face::ServiceStack => {
            if reply.status != 401 {
                problems.push(format!("status {}", reply.status));
            }
            reply.json["responseStatus"]["errorCode"].clone()
        }
        Face::Jsonp => {
            if reply.status != 200 {
                problems.push(format!("status {} (JSONP answers 200)", reply.status));
            }
            let inner = reply
                .text
                .strip_prefix("cb(")
                .and_then(|t| t.strip_suffix(')'))
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .unwrap_or(Value::Null);
            inner["responseStatus"]["errorCode"].clone()
        }
    };
    if error != json!("unauthorized") && error != json!("Unauthorized") {
        problems.push(format!("error code {error}"));
    }
    problems
}

#[tokio::test]
async fn every_client_route_refuses_missing_bad_and_wrongly_schemed_credentials_and_hides_other_tenants_records(
) {
    let f = fixtures().await;
    let routes = routes();
    let credentials = refused_credentials();

    // Refused credentials: every route × every variant, all at once (bounded).
    let mut cells = Vec::new();
    let mut calls = Vec::new();
    for route in &routes {
        for (class, what, header) in &credentials {
            let mut call = (route.call)(&f).without("authorization");
            if let Some(h) = header {
                call = call.header("authorization", h);
            }
            cells.push((route.name, *class, *what, route.face));
            calls.push(call);
        }
    }
    let replies = send_all(calls, CONCURRENCY).await;
    let mut failures = Vec::new();
    for ((route, class, what, face), reply) in cells.iter().zip(&replies) {
        let presented = credentials
            .iter()
            .find(|(_, name, _)| name == what)
            .and_then(|(_, _, header)| header.as_deref());
        let problems = problems_with_401(*face, presented, reply);
        if !problems.is_empty() {
            failures.push(format!(
                "{route} / {class:?} {what}: {} -> {}",
                problems.join("; "),
                reply.text
            ));
        }
        // A refused long-poll is refused at once, never held.
        if reply.elapsed > Duration::from_secs(4) {
            failures.push(format!(
                "{route} / {what}: answered after {:?}",
                reply.elapsed
            ));
        }
    }

    // Another tenant's valid credentials: A's records do not exist for B; B's payments are B's.
    let mut cross = Vec::new();
    for route in &routes {
        for (how, header) in [
            ("B by Basic", basic(TENANT_B_KEY, TENANT_B_SECRET)),
            ("B by Bearer", format!("Bearer {TENANT_B_SECRET}")),
        ] {
            let reply = (route.call)(&f)
                .header("authorization", &header)
                .send()
                .await;
            cross.push((route.name, how, route.across_tenants, reply));
        }
    }
    let b_ids: Vec<String> = cross
        .iter()
        .filter_map(|(_, _, want, r)| (*want != 404).then_some(r))
        .filter_map(|r| {
            r.json["request_id"]
                .as_str()
                .or_else(|| r.json["responseStatus"]["meta"]["requestId"].as_str())
                .or_else(|| r.text.contains("\"requestId\"").then_some("jsonp"))
                .map(str::to_owned)
        })
        .collect();
    for (route, how, want, reply) in &cross {
        let mut problems = Vec::new();
        // B's second payment for a subject meets B's own first one: the 409 rule within B.
        let own_conflict = *want == 202 && reply.status == 409;
        if reply.status != *want && !own_conflict {
            problems.push(format!("status {} (want {want})", reply.status));
        }
        if *want == 404 {
            if reply.json["code"] != "not_found" {
                problems.push(format!("code {}", reply.json["code"]));
            }
            let mut shown = reply.json.clone();
            if let Some(doc) = shown.as_object_mut() {
                doc.remove("instance"); // the path B sent, echoed
            }
            for leak in [&f.zai_id, &f.ss_id, &f.zai_item, &f.ss_payment_id] {
                if shown.to_string().contains(leak.as_str()) {
                    problems.push(format!("leaks {leak}"));
                }
            }
            if reply.elapsed > Duration::from_secs(4) {
                problems.push(format!("held {:?}", reply.elapsed));
            }
        } else if reply.text.contains(&f.zai_id) || reply.text.contains(&f.ss_id) {
            problems
                .push("B's payment names A's request: the lock is shared across tenants".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{route} / {how}: {} -> {}",
                problems.join("; "),
                reply.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cells are wrong:\n{}",
        failures.len(),
        cells.len() + cross.len(),
        failures.join("\n")
    );
    // B's payments were B's own, one new request each (the first per subject; B's repeats on the
    // same subject meet B's own lock, which is the 409 rule working within B).
    assert!(!b_ids.is_empty());
    eprintln!(
        "auth matrix: {} routes × {} refused credentials + {} cross-tenant cells",
        routes.len(),
        credentials.len(),
        cross.len()
    );

    // Nothing the refused calls carried changed A's records; A still sees them.
    let a_status = Call::new("GET", status_url(&f.zai_id)).send().await;
    assert_eq!(a_status.status, 202, "{}", a_status.text);
    assert_eq!(a_status.json["state"], "submitted");
    let a_log = Call::new("GET", format!("{}/request/{}/callbacks", base(), f.zai_id))
        .send()
        .await;
    assert_eq!(a_log.status, 200, "{}", a_log.text);
    let a_replay = Call::new(
        "POST",
        format!("{}/request/{}/callbacks/replay", base(), f.zai_id),
    )
    .send()
    .await;
    assert_eq!(
        a_replay.status, 400,
        "A's own replay is refused for a reason, not for auth"
    );
    let a_dispatches = backend()
        .dispatches_for(&f.zai_item)
        .into_iter()
        .filter(|d| d.body["tenant"] == "tenant-a")
        .count();
    assert_eq!(
        a_dispatches, 1,
        "the refused calls dispatched nothing for A's item"
    );
}

#[tokio::test]
async fn another_tenants_idempotency_key_is_independent() {
    let key = format!("auth-key-{}", uuid::Uuid::new_v4().simple());
    let item = unique("auth-key");
    backend().script(&item, Behavior::Acknowledge);
    let a = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .header("idempotency-key", &key)
        .send()
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    // B, same key, a different request: not A's 422, not A's request.
    let other = unique("auth-key-b");
    backend().script(&other, Behavior::Acknowledge);
    let b = make_payment(base(), &other, &json!({"account_id": ACCOUNT}))
        .header("idempotency-key", &key)
        .by_tenant_b()
        .send()
        .await;
    assert_eq!(b.status, 202, "{}", b.text);
    assert_ne!(b.json["request_id"], a.json["request_id"]);
}

/// `v1,<base64>` with its first base64 character changed.
fn tampered(signature: &str) -> String {
    let (scheme, b64) = signature.split_at(3);
    let first = if b64.starts_with('A') { "B" } else { "A" };
    format!("{scheme}{first}{}", &b64[1..])
}

/// A well-formed result for `id`, signed as told.
fn delivery(id: &str, payload: &str, msg_id: &str, ts: String, signature: String) -> Call {
    Call::new("POST", format!("{}/internal/requests/{id}/result", base()))
        .without("authorization")
        .raw("application/json", payload)
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", &ts)
        .header("webhook-signature", &signature)
}

/// The signed POSTs the gateway accepts from the backend (the result endpoint) and, as the
/// sandbox backend, from itself (`/sandbox/payments`), against every broken signature.
#[tokio::test]
async fn the_internal_result_endpoint_and_the_sandbox_refuse_unsigned_bad_wrong_stale_and_replayed_deliveries(
) {
    let item = unique("auth-result");
    backend().script(&item, Behavior::Acknowledge);
    let pending = make_payment(base(), &item, &json!({"account_id": ACCOUNT}))
        .send()
        .await;
    assert_eq!(pending.status, 202, "{}", pending.text);
    let id = pending.json["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    backend().await_dispatches(&item, 1, DEADLINE).await;
    let payload =
        json!({"request_id": id, "status": 200, "body": item_body(&item, "completed", 22500)})
            .to_string();
    let dispatch = json!({"request_id": uuid::Uuid::new_v4().simple().to_string(), "subject": "x", "fields": {}, "submission_count": 1}).to_string();
    let sandbox = format!("{}/sandbox/payments", base());

    let now = now_secs();
    let msg = |n: &str| format!("msg_auth_{n}_{}", uuid::Uuid::new_v4().simple());
    // (class, what, message id, timestamp, signature or None for no signature headers at all,
    //  an Authorization header instead)
    type Variant = (
        &'static str,
        &'static str,
        String,
        u64,
        Option<String>,
        Option<String>,
    );
    let variants = |body: &str| -> Vec<Variant> {
        let (m1, m2, m3, m4, m5, m6, m7, m8, m9) = (
            msg("1"),
            msg("2"),
            msg("3"),
            msg("4"),
            msg("5"),
            msg("6"),
            msg("7"),
            msg("8"),
            msg("9"),
        );
        vec![
            ("none", "unsigned", m1, now, None, None),
            (
                "bad",
                "signed with another key",
                m2.clone(),
                now,
                Some(sign(CALLBACK_SECRET, &m2, now, body)),
                None,
            ),
            (
                "bad",
                "signature of another message",
                m3,
                now,
                Some(sign(BACKEND_SECRET, "msg_other", now, body)),
                None,
            ),
            (
                "bad",
                "tampered signature",
                m4.clone(),
                now,
                Some(tampered(&sign(BACKEND_SECRET, &m4, now, body))),
                None,
            ),
            (
                "wrong scheme",
                "a client's Basic credentials",
                m5,
                now,
                None,
                Some(basic(TENANT_A_KEY, TENANT_A_SECRET)),
            ),
            (
                "wrong scheme",
                "the backend secret as a Bearer token",
                m6,
                now,
                None,
                Some(format!("Bearer {BACKEND_SECRET}")),
            ),
            (
                "wrong scheme",
                "a v2 signature",
                m7.clone(),
                now,
                Some(sign(BACKEND_SECRET, &m7, now, body).replacen("v1,", "v2,", 1)),
                None,
            ),
            (
                "stale",
                "signed 301 s ago",
                m8.clone(),
                now - 301,
                Some(sign(BACKEND_SECRET, &m8, now - 301, body)),
                None,
            ),
            (
                "stale",
                "signed 6 min ahead",
                m9.clone(),
                now + 360,
                Some(sign(BACKEND_SECRET, &m9, now + 360, body)),
                None,
            ),
        ]
    };
    let mut failures = Vec::new();
    let mut cells = 0;
    for (target, body) in [
        ("result endpoint", payload.as_str()),
        ("sandbox", dispatch.as_str()),
    ] {
        for (class, what, msg_id, ts, signature, authorization) in variants(body) {
            let url = if target == "sandbox" {
                sandbox.clone()
            } else {
                format!("{}/internal/requests/{id}/result", base())
            };
            let mut call = Call::new("POST", url)
                .without("authorization")
                .raw("application/json", body);
            if let Some(signature) = signature {
                call = call
                    .header("webhook-id", &msg_id)
                    .header("webhook-timestamp", &ts.to_string())
                    .header("webhook-signature", &signature);
            }
            if let Some(authorization) = authorization {
                call = call.header("authorization", &authorization);
            }
            let reply = call.send().await;
            cells += 1;
            if reply.status != 401 || reply.json["code"] != "bad_signature" {
                failures.push(format!(
                    "{target} / {class} {what}: {} {}",
                    reply.status, reply.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let still = Call::new("GET", status_url(&id)).send().await;
    assert_eq!(
        still.status, 202,
        "refused deliveries change nothing: {}",
        still.text
    );

    // Replayed: the same delivery (same webhook-id) a second time.
    let first_id = msg("replay");
    let first = deliver_signed(base(), &id, &payload, &first_id, now_secs(), BACKEND_SECRET).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let replayed =
        deliver_signed(base(), &id, &payload, &first_id, now_secs(), BACKEND_SECRET).await;
    assert_eq!(replayed.status, 409, "{}", replayed.text);
    let replayed_later = delivery(
        &id,
        &payload,
        &first_id,
        (now_secs() + 10).to_string(),
        sign(BACKEND_SECRET, &first_id, now_secs() + 10, &payload),
    )
    .send()
    .await;
    assert_eq!(
        replayed_later.status, 409,
        "a replay with a fresh timestamp is still a replay"
    );
    let different = json!({"request_id": id, "status": 422, "body": {"forged": true}}).to_string();
    let forged = deliver_signed(
        base(),
        &id,
        &different,
        &first_id,
        now_secs(),
        BACKEND_SECRET,
    )
    .await;
    assert_eq!(forged.status, 409, "{}", forged.text);
    let done = Call::new("GET", status_url(&id)).send().await;
    assert_eq!(done.status, 200);
    assert_eq!(done.json, item_body(&item, "completed", 22500));
    eprintln!("signed endpoints: {} refused cells, 3 replays", cells);
}
