//! A scriptable payment backend on 127.0.0.1: per-item behaviours, a record of every dispatch,
//! and signed result deliveries to the gateway.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::signing::{now_secs, sign};
use super::{Reply, BACKEND_SECRET};

/// How the backend answers dispatches for one item.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// Answer with `status` and `body` after `after`.
    Answer {
        status: u16,
        body: Value,
        after: Duration,
    },
    /// Answer 202; the test delivers the result itself.
    Acknowledge,
    /// Never answer (the gateway's dispatch timeout fires).
    Hang,
    /// Answer 500 to the first `n` submissions, then behave as `then`.
    FailTimes { n: u32, then: Box<Behavior> },
}

#[derive(Clone, Debug)]
pub struct Dispatch {
    pub request_id: String,
    pub subject: String,
    pub submission_count: u32,
    pub body: Value,
    pub idempotency_key: Option<String>,
    pub signature_valid: bool,
}

pub struct TestBackend {
    pub port: u16,
    behaviors: Mutex<HashMap<String, Behavior>>,
    dispatches: Mutex<Vec<Dispatch>>,
}

pub fn item_body(item: &str, state: &str, status: u32) -> Value {
    json!({"items": {"id": item, "state": state, "status": status}})
}

impl TestBackend {
    /// Starts the server on its own thread and runtime, so it outlives every test's runtime.
    pub fn start() -> Arc<TestBackend> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind test backend");
        listener.set_nonblocking(true).expect("nonblocking");
        let backend = Arc::new(TestBackend {
            port: listener.local_addr().expect("addr").port(),
            behaviors: Mutex::new(HashMap::new()),
            dispatches: Mutex::new(Vec::new()),
        });
        let served = backend.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("backend runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let backend = served.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let backend = backend.clone();
                            async move { Ok::<_, Infallible>(backend.handle(req).await) }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        backend
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn script(&self, item: &str, behavior: Behavior) {
        self.behaviors
            .lock()
            .unwrap()
            .insert(item.to_owned(), behavior);
    }

    pub fn dispatches_for(&self, item: &str) -> Vec<Dispatch> {
        self.dispatches
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.subject == item)
            .cloned()
            .collect()
    }

    /// Waits until the gateway has dispatched `item` at least `n` times.
    pub async fn await_dispatches(
        &self,
        item: &str,
        n: usize,
        deadline: Duration,
    ) -> Vec<Dispatch> {
        super::eventually(&format!("{n} dispatch(es) of {item}"), deadline, || async {
            let seen = self.dispatches_for(item);
            (seen.len() >= n).then_some(seen)
        })
        .await
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (id, ts, sig, idem) = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            header("idempotency-key"),
        );
        let bytes = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let signature_valid = match (&id, &ts, &sig) {
            (Some(id), Some(ts), Some(sig)) => ts
                .parse::<u64>()
                .map(|t| {
                    sig.split(' ')
                        .any(|s| s == sign(BACKEND_SECRET, id, t, &text))
                })
                .unwrap_or(false),
            _ => false,
        };
        let dispatch = Dispatch {
            request_id: body["request_id"].as_str().unwrap_or_default().to_owned(),
            subject: body["subject"].as_str().unwrap_or_default().to_owned(),
            submission_count: body["submission_count"].as_u64().unwrap_or_default() as u32,
            body: body.clone(),
            idempotency_key: idem,
            signature_valid,
        };
        let behavior = self
            .behaviors
            .lock()
            .unwrap()
            .get(&dispatch.subject)
            .cloned()
            .unwrap_or(Behavior::Answer {
                status: 200,
                body: item_body(&dispatch.subject, "completed", 22500),
                after: Duration::ZERO,
            });
        let submission = dispatch.submission_count;
        self.dispatches.lock().unwrap().push(dispatch);
        respond(behavior, submission).await
    }
}

fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn respond(
    behavior: Behavior,
    submission: u32,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response<Full<Bytes>>> + Send>> {
    Box::pin(async move {
        match behavior {
            Behavior::Answer {
                status,
                body,
                after,
            } => {
                tokio::time::sleep(after).await;
                json_response(status, &body)
            }
            Behavior::Acknowledge => json_response(202, &json!({"status": "accepted"})),
            Behavior::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                json_response(500, &json!({}))
            }
            Behavior::FailTimes { n, then } => {
                if submission <= n {
                    json_response(500, &json!({"error": "scripted failure"}))
                } else {
                    respond(*then, submission).await
                }
            }
        }
    })
}

/// Delivers an asynchronous result to the gateway, signed with the backend secret.
pub async fn deliver_result(base: &str, request_id: &str, status: u16, body: &Value) -> Reply {
    let payload = json!({"status": status, "body": body}).to_string();
    let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    deliver_signed(
        base,
        request_id,
        &payload,
        &msg_id,
        now_secs(),
        BACKEND_SECRET,
    )
    .await
}

/// Delivers `payload` with explicit signing inputs (for the rejection tests).
pub async fn deliver_signed(
    base: &str,
    request_id: &str,
    payload: &str,
    msg_id: &str,
    timestamp: u64,
    secret: &str,
) -> Reply {
    let started = Instant::now();
    let resp = reqwest::Client::new()
        .post(format!("{base}/internal/requests/{request_id}/result"))
        .header("content-type", "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            sign(secret, msg_id, timestamp, payload),
        )
        .body(payload.to_owned())
        .send()
        .await
        .expect("result delivery reaches the gateway");
    Reply::from(resp, started).await
}
