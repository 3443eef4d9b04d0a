//! End-to-end tests with the real npm `@servicestack/client`, on DTOs that `@servicestack/cli` fetched from the gateway.
//!
//! `tests/node/servicestack_client.mjs` runs `typescript-ref <gateway>` (Add ServiceStack
//! Reference), transpiles the DTOs with `typescript`, calls the gateway in every client mode
//! (`post`, `api`, `send`, `sendOneWay`, `sendAll`, Basic and Bearer, base path `/api` and
//! `null`, `JsonApiClient`) and prints what the client surfaced; this file asserts on it.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use support::gateway::Gateway;
use support::*;

/// The client run takes a few seconds; generous for a machine shared by several builds.
const CLIENT_DEADLINE: Duration = Duration::from_secs(120);

fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| sandbox_gateway("servicestack-client", &[]))
}

/// One run of the client script per test binary; every test reads its report.
async fn report() -> &'static Value {
    static REPORT: tokio::sync::OnceCell<Value> = tokio::sync::OnceCell::const_new();
    REPORT
        .get_or_init(|| async {
            let work = std::env::temp_dir().join(format!(
                "edgepay-servicestack-client-{}",
                uuid::Uuid::new_v4().simple()
            ));
            let work = work.to_string_lossy().into_owned();
            let report = support::node::run_script(
                "tests/node/servicestack_client.mjs",
                &[&gateway().base, &work, TENANT_A_KEY, TENANT_A_SECRET],
                CLIENT_DEADLINE,
            )
            .await;
            let _ = std::fs::remove_dir_all(&work);
            report
        })
        .await
}

async fn call(name: &str) -> &'static Value {
    report().await["calls"]
        .as_array()
        .and_then(|calls| calls.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("the client run has no call {name}"))
}

/// The only answer a call caused: (status, path).
fn answer(call: &Value) -> (u64, &str) {
    let answers = call["answers"].as_array().cloned().unwrap_or_default();
    assert_eq!(answers.len(), 1, "one answer per call: {call}");
    (
        call["answers"][0]["status"].as_u64().unwrap_or_default(),
        call["answers"][0]["path"].as_str().unwrap_or_default(),
    )
}

/// The item inside a `data` string.
fn item(data: &Value) -> Value {
    data.as_str()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .map(|v| v["items"].clone())
        .unwrap_or(Value::Null)
}

/// What the thrown error or `api()`'s `error` carried.
fn response_status(call: &Value) -> &Value {
    if call["resolved"] == true {
        &call["result"]["error"]
    } else {
        &call["thrown"]["responseStatus"]
    }
}

#[tokio::test]
async fn the_official_cli_adds_and_updates_the_reference_from_types_typescript() {
    let r = report().await;
    assert_eq!(r["added"], "Saved to: dtos.ts", "{r}");
    assert_eq!(r["updated"], "Updated: dtos.ts", "{r}");
    assert_eq!(r["dtoHeader"][0], "/* Options:");
    assert_eq!(r["dtoHeader"][4], format!("BaseUrl: {}", gateway().base));
}

#[tokio::test]
async fn every_client_mode_pays_on_the_route_it_calls() {
    for (name, path) in [
        ("post", "/api/MakePaymentRequest"),
        ("send", "/api/MakePaymentRequest"),
        ("bearer_post", "/api/MakePaymentRequest"),
        ("reply_post", "/json/reply/MakePaymentRequest"),
        ("oneway_api_base", "/api/MakePaymentRequest"),
    ] {
        let c = call(name).await;
        assert_eq!(c["resolved"], true, "{name}: {c}");
        assert_eq!(answer(c), (200, path), "{name}");
        assert_eq!(
            item(&c["result"]["data"])["state"],
            "completed",
            "{name}: {c}"
        );
        // A success never carries an error code.
        assert!(c["result"].get("responseStatus").is_none(), "{name}: {c}");
    }
    for name in ["api", "json_api_client"] {
        let c = call(name).await;
        assert_eq!(c["api"]["succeeded"], true, "{name}: {c}");
        assert_eq!(answer(c), (200, "/api/MakePaymentRequest"), "{name}");
        let response = &c["result"]["response"];
        assert_eq!(item(&response["data"])["status"], 22500, "{name}: {c}");
        assert!(response.get("responseStatus").is_none(), "{name}: {c}");
    }
}

#[tokio::test]
async fn one_way_accepts_without_waiting_for_the_backend() {
    // The backend answers this payment after 2 s; a held call would have got its 200.
    let c = call("oneway").await;
    assert_eq!(c["resolved"], true, "{c}");
    assert_eq!(answer(c), (202, "/json/oneway/MakePaymentRequest"));
    assert_eq!(c["result"]["responseStatus"]["errorCode"], "Pending", "{c}");
    assert_eq!(
        c["result"]["responseStatus"]["meta"]["requestId"]
            .as_str()
            .map(str::len),
        Some(32)
    );
}

#[tokio::test]
async fn a_pending_payment_succeeds_in_api_with_its_status_readable_then_the_status_link_has_the_result(
) {
    let c = call("pending_api").await;
    assert_eq!(answer(c), (202, "/api/MakePaymentRequest"));
    // Any 2xx is success to the client: `succeeded`, with the pending status in the response.
    assert_eq!(c["api"]["succeeded"], true, "{c}");
    assert_eq!(c["api"]["failed"], false, "{c}");
    let response = &c["result"]["response"];
    assert_eq!(response["data"], Value::Null);
    assert_eq!(response["responseStatus"]["errorCode"], "Pending");
    let request_id = response["responseStatus"]["meta"]["requestId"]
        .as_str()
        .unwrap_or_default();
    let location = c["answers"][0]["location"].as_str().unwrap_or_default();
    assert_eq!(
        location,
        format!("{}/request/{request_id}/status", gateway().base)
    );
    let done = call("status_link").await;
    assert_eq!(done["resolved"], true, "{done}");
    assert_eq!(answer(done).0, 200);
    assert_eq!(item(&done["result"]["data"])["request_id"], request_id);
    assert_eq!(item(&done["result"]["data"])["state"], "completed");
}

#[tokio::test]
async fn validation_errors_reach_the_client_with_the_first_code_and_every_field() {
    let c = call("validation").await;
    assert_eq!(answer(c), (400, "/api/MakePaymentRequest"));
    assert_eq!(c["api"]["failed"], true);
    assert_eq!(c["api"]["errorCode"], "NotEmpty", "{c}");
    let mut fields: Vec<&str> = c["api"]["fieldNames"]
        .as_array()
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(fields, ["clientType", "paymentId", "paymentMethod"]);
    assert_eq!(
        c["api"]["errorMessage"],
        response_status(c)["errors"][0]["message"]
    );

    let thrown = call("validation_thrown").await;
    assert_eq!(thrown["resolved"], false);
    let status = response_status(thrown);
    assert_eq!(status["errorCode"], "NotEmpty", "{thrown}");
    assert_eq!(status["errors"][0]["fieldName"], "paymentId");
    assert_eq!(status["errors"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_401_is_servicestacks_unauthorized_and_the_client_tries_no_token_refresh() {
    for name in ["unauthorized", "unauthorized_bearer"] {
        let c = call(name).await;
        // One answer: no GetAccessToken call followed the 401.
        assert_eq!(answer(c), (401, "/api/MakePaymentRequest"), "{name}");
        let status = response_status(c);
        assert_eq!(status["errorCode"], "Unauthorized", "{name}: {c}");
        assert_eq!(status["message"], "Not Authenticated", "{name}: {c}");
        assert!(
            c["answers"][0]["wwwAuthenticate"]
                .as_str()
                .is_some_and(|h| h.contains("Basic") && h.contains("Bearer")),
            "{name}: {c}"
        );
    }
}

#[tokio::test]
async fn unknown_operations_get_servicestacks_own_refusal() {
    for (name, path) in [
        ("unknown_operation", "/api/NoSuchRequest"),
        ("unknown_operation_reply", "/json/reply/NoSuchRequest"),
    ] {
        let c = call(name).await;
        assert_eq!(answer(c), (405, path), "{name}");
        let status = response_status(c);
        assert_eq!(status["errorCode"], "NotImplementedException", "{name}");
        assert_eq!(
            status["message"],
            "The operation does not exist for this service"
        );
    }
}

/// `sendAll`: one POST of the array to `/api/MakePaymentRequest[]`; every payment's answer comes
/// back in order, typed as the DTO's response, with `X-AutoBatch-Completed`.
#[tokio::test]
async fn send_all_pays_each_payment_and_answers_in_request_order() {
    let batch = call("send_all").await;
    assert_eq!(answer(batch), (200, "/api/MakePaymentRequest[]"), "{batch}");
    assert_eq!(batch["answers"][0]["autoBatchCompleted"], "2", "{batch}");
    let results = batch["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 2, "{batch}");
    let ids: Vec<Value> = results
        .iter()
        .map(|r| item(&r["data"])["request_id"].clone())
        .collect();
    assert!(
        ids.iter().all(Value::is_string) && ids[0] != ids[1],
        "two payments: {batch}"
    );
}

/// As in ServiceStack, the first error stops a batch: the answer is that error, and the header
/// counts the payments that ran before it; the ones after it never ran.
#[tokio::test]
async fn send_all_stops_at_the_first_error_and_says_how_many_ran() {
    let stopped = call("send_all_stops").await;
    assert_eq!(
        answer(stopped),
        (400, "/api/MakePaymentRequest[]"),
        "{stopped}"
    );
    assert_eq!(
        stopped["answers"][0]["autoBatchCompleted"], "1",
        "{stopped}"
    );
    let status = response_status(stopped);
    let fields: Vec<&str> = status["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|f| f["fieldName"].as_str()).collect())
        .unwrap_or_default();
    assert!(fields.contains(&"clientType"), "{stopped}");
    // The third payment (one its backend never answers) never ran: its id is not in flight.
    let after = call("after_stopped_batch").await;
    assert_eq!(answer(after).0, 200, "{after}");
}

#[tokio::test]
async fn a_payment_id_in_flight_is_a_conflict_naming_the_request() {
    let first = call("conflict_first").await;
    assert_eq!(answer(first).0, 202, "{first}");
    let request_id = &first["result"]["responseStatus"]["meta"]["requestId"];
    let c = call("conflict_second").await;
    assert_eq!(answer(c).0, 409);
    let status = response_status(c);
    assert_eq!(status["errorCode"], "Conflict");
    assert!(
        status["meta"]["location"]
            .as_str()
            .zip(request_id.as_str())
            .is_some_and(|(l, id)| l.contains(id)),
        "{c}"
    );
}

#[tokio::test]
async fn no_answer_sets_a_cookie_that_would_start_a_token_refresh() {
    let r = report().await;
    let answers = r["allAnswers"].as_array().cloned().unwrap_or_default();
    let per_call: usize = r["calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| c["answers"].as_array())
                .map(Vec::len)
                .sum()
        })
        .unwrap_or_default();
    assert!(
        answers.len() >= 15 && answers.len() == per_call,
        "{answers:?}"
    );
    for a in answers {
        assert_eq!(a["setCookie"], Value::Null, "{a}");
        assert_eq!(a["xCookies"], Value::Null, "{a}");
    }
}
