//! End-to-end tests of the ServiceStack-compatible (Viviot) `makePayment` dialect over the sandbox backend.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};
use support::gateway::Gateway;
use support::*;

fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| sandbox_gateway("servicestack", &[]))
}

fn url(path_and_query: &str) -> String {
    format!("{}/mobile/payments/{path_and_query}", gateway().base)
}

fn guid() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

fn dto(payment_id: &str, token: &str) -> Value {
    json!({"paymentId": payment_id, "paymentMethod": {"type": "card", "token": token}, "clientType": "IOS", "storePaymentMethod": true, "version": 2})
}

const INSTANT: &str = "tok_visa";
const ASYNC_1S: &str = "a5c00000-0000-4000-8000-000000000001";
const NEVER: &str = "deadbeef-0000-4000-8000-000000000000";

fn field_names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply.json["responseStatus"]["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["fieldName"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn the_sandbox_answers_within_the_default_wait_as_a_data_string() {
    let reply = Call::new("POST", url("makePayment"))
        .json(&dto(&guid(), INSTANT))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    let data = reply.json["data"].as_str().expect("data is a string");
    let inner: Value = serde_json::from_str(data).expect("the backend's JSON, serialised");
    assert_eq!(inner["items"]["state"], "completed");

    // The synchronous original holds by default: the async scenario still answers 200.
    let held = Call::new("POST", url("makePayment"))
        .json(&dto(&guid(), ASYNC_1S))
        .send()
        .await;
    assert_eq!(held.status, 200, "{}", held.text);
    assert!(held.elapsed >= Duration::from_millis(900));
}

#[tokio::test]
async fn respond_async_gets_202_in_servicestack_shape_and_the_status_link_later_holds_the_result() {
    let reply = Call::new("POST", url("makePayment"))
        .json(&dto(&guid(), ASYNC_1S))
        .header("prefer", "respond-async")
        .send()
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.json["data"], Value::Null);
    assert_eq!(reply.json["responseStatus"]["errorCode"], "Pending");
    let request_id = reply.json["responseStatus"]["meta"]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(request_id.len(), 32);
    assert!(reply.json["responseStatus"]["meta"]["status"].is_string());
    assert_eq!(reply.header("preference-applied"), Some("respond-async"));
    let location = reply.header("location").unwrap_or_default().to_owned();
    assert_eq!(
        location,
        format!("{}/request/{request_id}/status", gateway().base)
    );

    let done = Call::new("GET", format!("{location}?wait=10")).send().await;
    assert_eq!(done.status, 200, "{}", done.text);
    let inner: Value =
        serde_json::from_str(done.json["data"].as_str().unwrap_or_default()).unwrap_or(Value::Null);
    assert_eq!(inner["items"]["status"], 22500);
}

#[tokio::test]
async fn prefer_wait_shortens_the_hold() {
    let reply = Call::new("POST", url("makePayment"))
        .json(&dto(&guid(), NEVER))
        .header("prefer", "wait=1")
        .send()
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert!(
        reply.elapsed >= Duration::from_secs(1) && reply.elapsed < Duration::from_secs(10),
        "{:?}",
        reply.elapsed
    );
    assert_eq!(reply.header("preference-applied"), Some("wait=1"));
}

#[tokio::test]
async fn a_payment_id_in_flight_gets_409() {
    let id = guid();
    let first = Call::new("POST", url("makePayment"))
        .json(&dto(&id, NEVER))
        .header("prefer", "respond-async")
        .send()
        .await;
    assert_eq!(first.status, 202);
    // The dashed and the 32-hex forms are the same payment.
    let simple = id.replace('-', "").to_uppercase();
    let second = Call::new("POST", url("makePayment"))
        .json(&dto(&simple, INSTANT))
        .send()
        .await;
    assert_eq!(second.status, 409, "{}", second.text);
    assert_eq!(second.json["responseStatus"]["errorCode"], "Conflict");
    assert_eq!(
        second.json["responseStatus"]["meta"]["location"],
        first.header("location").unwrap_or_default()
    );
}

#[tokio::test]
async fn json_suffix_and_format_json_work_and_xml_is_406() {
    for path in ["makePayment.json", "makePayment?format=json", "makepayment"] {
        let reply = Call::new("POST", url(path))
            .json(&dto(&guid(), INSTANT))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert!(reply.json["data"].is_string());
    }
    for (path, accept) in [
        ("makePayment?format=xml", None),
        ("makePayment.xml", None),
        ("makePayment", Some("application/xml")),
    ] {
        let mut call = Call::new("POST", url(path)).json(&dto(&guid(), INSTANT));
        if let Some(accept) = accept {
            call = call.header("accept", accept);
        }
        let reply = call.send().await;
        assert_eq!(reply.status, 406, "{path} {accept:?}: {}", reply.text);
        assert_eq!(reply.json["responseStatus"]["errorCode"], "NotAcceptable");
    }
}

#[tokio::test]
async fn jsonp_wraps_sanitises_and_sends_errors_as_200() {
    let ok = Call::new("POST", url("makePayment?callback=handle.done_1"))
        .json(&dto(&guid(), INSTANT))
        .send()
        .await;
    assert_eq!(ok.status, 200);
    assert!(ok
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/javascript"));
    assert!(
        ok.text.starts_with("handle.done_1({") && ok.text.ends_with("})"),
        "{}",
        ok.text
    );

    let hostile = Call::new("POST", url("makePayment?callback=alert(1)//"))
        .json(&dto(&guid(), INSTANT))
        .send()
        .await;
    assert!(hostile.text.starts_with("alert1({"), "{}", hostile.text);

    let error = Call::new("POST", url("makePayment?callback=cb"))
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(error.status, 200, "JSONP errors travel as 200");
    assert!(
        error.text.starts_with("cb({\"responseStatus\""),
        "{}",
        error.text
    );
    let inner: Value =
        serde_json::from_str(&error.text[3..error.text.len() - 1]).unwrap_or(Value::Null);
    assert_eq!(inner["responseStatus"]["errorCode"], "NotEmpty");
}

#[tokio::test]
async fn every_field_error_names_its_field() {
    let id = guid();
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["clientType", "paymentId", "paymentMethod"]),
        (
            json!({"paymentId": "12345", "paymentMethod": {}, "clientType": "IOS"}),
            vec!["paymentId"],
        ),
        (
            json!({"paymentId": id, "paymentMethod": "not an object", "clientType": "IOS"}),
            vec!["paymentMethod"],
        ),
        (
            json!({"paymentId": id, "paymentMethod": {}, "clientType": "Windows"}),
            vec!["clientType"],
        ),
        (
            json!({"paymentId": id, "paymentMethod": {}, "clientType": 9}),
            vec!["clientType"],
        ),
        (
            json!({"paymentId": id, "paymentMethod": {}, "clientType": "web", "storePaymentMethod": "maybe"}),
            vec!["storePaymentMethod"],
        ),
        (
            json!({"paymentId": id, "paymentMethod": {}, "clientType": "web", "returnUrl": "not a url"}),
            vec!["returnUrl"],
        ),
        (
            json!({"paymentId": id, "paymentMethod": {}, "clientType": "web", "returnUrl": "javascript:alert(document.cookie)"}),
            vec!["returnUrl"],
        ),
        (
            json!({"paymentId": id, "paymentMethod": {}, "clientType": "web", "version": "v2"}),
            vec!["version"],
        ),
    ];
    for (body, fields) in cases {
        let reply = Call::new("POST", url("makePayment"))
            .json(&body)
            .send()
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_eq!(field_names(&reply), fields, "{body}");
        assert!(reply.json["responseStatus"]["message"].is_string());
        assert!(
            !reply.text.contains("panicked") && !reply.text.contains(".rs:"),
            "no stack traces"
        );
    }
    // Nothing was stored: the payment id is free.
    let ok = Call::new("POST", url("makePayment"))
        .json(&dto(&id, INSTANT))
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[tokio::test]
async fn query_string_form_and_casing_are_merged() {
    let id = guid();
    let form = "PaymentMethod=%7B%22type%22%3A%22card%22%7D&CLIENTTYPE=2&storepaymentmethod=false";
    let reply = Call::new(
        "POST",
        url(&format!("makePayment?paymentid={id}&clientType=1")),
    )
    .raw("application/x-www-form-urlencoded", form)
    .send()
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The bad query value is overridden by the form's good one.
    let overridden = Call::new(
        "POST",
        url(&format!(
            "makePayment?clientType=nonsense&paymentId={}",
            guid()
        )),
    )
    .json(&json!({"paymentMethod": {}, "clientType": "Web"}))
    .send()
    .await;
    assert_eq!(overridden.status, 200, "{}", overridden.text);
}

#[tokio::test]
async fn bad_credentials_get_401_in_servicestack_shape() {
    let reply = Call::new("POST", url("makePayment"))
        .json(&dto(&guid(), INSTANT))
        .header(
            "authorization",
            &basic(TENANT_A_KEY, "wrong-secret-0000000"),
        )
        .send()
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.json["responseStatus"]["errorCode"], "Unauthorized");
    assert!(reply.header("www-authenticate").is_some());
    let get = Call::new("GET", url("makePayment")).send().await;
    assert_eq!(get.status, 405);
    assert_eq!(get.json["responseStatus"]["errorCode"], "MethodNotAllowed");
}

fn predefined(path_and_query: &str) -> String {
    format!("{}/{path_and_query}", gateway().base)
}

/// Every non-2xx of this dialect carries a top-level `responseStatus` with both fields.
fn assert_servicestack_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.json["responseStatus"]["errorCode"], code,
        "{}",
        reply.text
    );
    assert!(
        reply.json["responseStatus"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn predefined_routes_pay_in_every_spelling_and_read_json_whatever_its_content_type() {
    for path in [
        "api/MakePaymentRequest",
        "api/makepaymentrequest",
        "api/MakePaymentRequest.json",
        "api/MakePaymentRequest?format=json",
        "json/reply/MakePaymentRequest",
        "json/reply/MAKEPAYMENTREQUEST",
    ] {
        for content_type in ["application/json", "text/plain;charset=UTF-8"] {
            let reply = Call::new("POST", predefined(path))
                .raw(content_type, dto(&guid(), INSTANT).to_string())
                .send()
                .await;
            assert_eq!(reply.status, 200, "{path} {content_type}: {}", reply.text);
            assert!(reply.json["data"].is_string(), "{path}: {}", reply.text);
            assert!(reply.json.get("responseStatus").is_none());
            assert!(reply.header("set-cookie").is_none());
        }
    }
    // Query-string args merge with the body, as on the custom route.
    let id = guid();
    let reply = Call::new(
        "POST",
        predefined(&format!(
            "api/MakePaymentRequest?paymentId={id}&clientType=Web"
        )),
    )
    .raw(
        "text/plain",
        json!({"paymentMethod": {"token": INSTANT}}).to_string(),
    )
    .send()
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let again = Call::new("POST", predefined("api/MakePaymentRequest"))
        .json(&dto(&id, NEVER))
        .header("prefer", "respond-async")
        .send()
        .await;
    // The merged paymentId was the payment's: it is paid, and a new payment for it may start.
    assert_eq!(again.status, 202, "{}", again.text);
}

#[tokio::test]
async fn one_way_never_holds_even_when_a_wait_is_preferred() {
    let reply = Call::new("POST", predefined("json/oneway/MakePaymentRequest"))
        .json(&dto(&guid(), ASYNC_1S))
        .header("prefer", "wait=20")
        .send()
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.json["responseStatus"]["errorCode"], "Pending");
    assert!(reply.header("preference-applied").is_none());
    let location = reply.header("location").unwrap_or_default().to_owned();
    let done = Call::new("GET", format!("{location}?wait=10")).send().await;
    assert_eq!(done.status, 200, "{}", done.text);
}

#[tokio::test]
async fn predefined_routes_refuse_in_servicestack_shape() {
    let unknown = Call::new("POST", predefined("api/GetAccessToken"))
        .json(&json!({}))
        .send()
        .await;
    assert_servicestack_error(&unknown, 405, "NotImplementedException");
    assert_eq!(
        unknown.json["responseStatus"]["message"],
        "The operation does not exist for this service"
    );
    for path in [
        "json/reply/Nope",
        "json/oneway/Nope",
        "api",
        "api/",
        "json/xml/MakePaymentRequest",
    ] {
        let reply = Call::new("POST", predefined(path))
            .json(&json!({}))
            .send()
            .await;
        assert_servicestack_error(&reply, 405, "NotImplementedException");
    }
    let get = Call::new("GET", predefined("api/MakePaymentRequest"))
        .send()
        .await;
    assert_servicestack_error(&get, 405, "MethodNotAllowed");
    assert_eq!(get.header("allow"), Some("POST"));
    let xml = Call::new("POST", predefined("api/MakePaymentRequest.xml"))
        .json(&dto(&guid(), INSTANT))
        .send()
        .await;
    assert_servicestack_error(&xml, 406, "NotAcceptable");
    let unauthorized = Call::new("POST", predefined("json/reply/MakePaymentRequest"))
        .without("authorization")
        .json(&dto(&guid(), INSTANT))
        .send()
        .await;
    assert_servicestack_error(&unauthorized, 401, "Unauthorized");
    assert_eq!(
        unauthorized.json["responseStatus"]["message"],
        "Not Authenticated"
    );
    assert!(unauthorized.header("www-authenticate").is_some());
    let invalid = Call::new("POST", predefined("api/MakePaymentRequest"))
        .raw(
            "text/plain",
            json!({"paymentId": "x", "clientType": "IOS"}).to_string(),
        )
        .send()
        .await;
    assert_servicestack_error(&invalid, 400, "InvalidValue");
    assert_eq!(field_names(&invalid), ["paymentId", "paymentMethod"]);
    // A batch body on the single route is a body error, not a batch.
    let array = Call::new("POST", predefined("api/MakePaymentRequest"))
        .json(&json!([dto(&guid(), INSTANT)]))
        .send()
        .await;
    assert_servicestack_error(&array, 400, "InvalidValue");
}

/// Auto-batched requests in every spelling of the route; their refusals, each naming the field.
#[tokio::test]
async fn batches_run_each_payment_in_turn_and_stop_at_the_first_error() {
    for path in [
        "api/MakePaymentRequest[]",
        "api/MakePaymentRequest%5B%5D",
        "json/reply/makepaymentrequest[]",
        "json/oneway/MakePaymentRequest[]",
    ] {
        let reply = Call::new("POST", predefined(path))
            .json(&json!([dto(&guid(), INSTANT), dto(&guid(), INSTANT)]))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(reply.header("x-autobatch-completed"), Some("2"), "{path}");
        assert_eq!(
            reply.json.as_array().map(Vec::len),
            Some(2),
            "{path}: {}",
            reply.text
        );
    }
    // The second payment's subject is in flight: the batch stops there with its 409.
    let busy = guid();
    let first = Call::new("POST", predefined("api/MakePaymentRequest"))
        .header("prefer", "respond-async")
        .json(&dto(&busy, NEVER))
        .send()
        .await;
    assert_eq!(first.status, 202, "{}", first.text);
    let stopped = Call::new("POST", predefined("api/MakePaymentRequest[]"))
        .json(&json!([
            dto(&guid(), INSTANT),
            dto(&busy, NEVER),
            dto(&guid(), INSTANT)
        ]))
        .send()
        .await;
    assert_servicestack_error(&stopped, 409, "Conflict");
    assert_eq!(stopped.header("x-autobatch-completed"), Some("1"));

    let too_many: Vec<Value> = (0..26).map(|_| dto(&guid(), INSTANT)).collect();
    let twice = guid();
    for (body, field) in [
        (json!(too_many), "body"),
        (json!([]), "body"),
        (json!({"paymentId": guid()}), "body"),
        (json!([dto(&guid(), INSTANT), "x"]), "[1]"),
        (
            json!([dto(&twice, INSTANT), dto(&twice, INSTANT)]),
            "[1].paymentId",
        ),
    ] {
        let refused = Call::new("POST", predefined("api/MakePaymentRequest[]"))
            .json(&body)
            .send()
            .await;
        assert_servicestack_error(&refused, 400, "InvalidValue");
        assert_eq!(field_names(&refused), [field], "{}", refused.text);
    }
    let keyed = Call::new("POST", predefined("api/MakePaymentRequest[]"))
        .header("idempotency-key", "k-1")
        .json(&json!([dto(&guid(), INSTANT)]))
        .send()
        .await;
    assert_servicestack_error(&keyed, 400, "InvalidValue");
    assert_eq!(field_names(&keyed), ["Idempotency-Key"]);
    let form = Call::new("POST", predefined("api/MakePaymentRequest[]"))
        .raw("application/x-www-form-urlencoded", "paymentId=1")
        .send()
        .await;
    assert_servicestack_error(&form, 400, "InvalidValue");
    assert_eq!(field_names(&form), ["body"]);
    // The answer that stops a batch is the single call's, headers included.
    assert!(
        stopped.header("location").is_some()
            || stopped.json["responseStatus"]["meta"]["location"].is_string()
    );
}

#[tokio::test]
async fn add_servicestack_reference_serves_typescript_csharp_and_metadata() {
    let base = &gateway().base;
    for (language, needle) in [
        (
            "typescript",
            "export class MakePaymentRequest extends BaseRequest implements IReturn<MakePaymentResponse>",
        ),
        (
            "csharp",
            "    public partial class MakePaymentRequest\n        : BaseRequest, IReturn<MakePaymentResponse>",
        ),
    ] {
        let reply = Call::new("GET", format!("{base}/types/{language}"))
            .without("authorization")
            .send()
            .await;
        assert_eq!(reply.status, 200, "{language}");
        assert!(reply
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("text/plain")));
        assert!(reply.text.starts_with("/* Options:\nDate: "), "{}", reply.text);
        assert!(
            reply.text.contains(&format!("\nBaseUrl: {base}\n")),
            "{}",
            reply.text
        );
        assert!(reply.text.contains(needle), "{language}: {}", reply.text);
    }
    let metadata = Call::new("GET", format!("{base}/types/metadata"))
        .without("authorization")
        .send()
        .await;
    assert_eq!(metadata.status, 200);
    assert_eq!(
        metadata.json["operations"][0]["request"]["name"],
        "MakePaymentRequest"
    );
    assert_eq!(metadata.json["config"]["baseUrl"], base.as_str());
    let unknown = Call::new("GET", format!("{base}/types/cobol")).send().await;
    assert_eq!(unknown.status, 404);
    let post = Call::new("POST", format!("{base}/types/typescript"))
        .send()
        .await;
    assert_eq!(post.status, 405);
}
