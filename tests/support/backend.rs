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
    /// Answer 500 to the submissions `seed` picks (`permille` thousandths of them, by subject and
    /// submission number), behave as `then` otherwise.
    FailSome {
        seed: u64,
        permille: u64,
        then: Box<Behavior>,
    },
    /// Answer 202, then deliver `status` and `body` to the gateway's signed result endpoint after
    /// `after`, again while the gateway is unreachable or answers 5xx (see [`ResultDelivery`]).
    AcknowledgeThenDeliver {
        status: u16,
        body: Value,
        after: Duration,
    },
}

/// How one result delivery of [`Behavior::AcknowledgeThenDeliver`] ended.
#[derive(Clone, Debug)]
pub struct ResultDelivery {
    pub request_id: String,
    /// The gateway's last answer; `None` when it never answered before the deadline.
    pub status: Option<u16>,
    pub tries: u32,
}

/// A real backend keeps trying to deliver a result this long.
const RESULT_DELIVERY_DEADLINE: Duration = Duration::from_secs(180);

#[derive(Clone, Debug)]
pub struct Dispatch {
    pub request_id: String,
    pub subject: String,
    pub submission_count: u32,
    pub body: Value,
    pub idempotency_key: Option<String>,
    pub signature_valid: bool,
    /// When the backend received it.
    pub at: std::time::Instant,
}

pub struct TestBackend {
    pub port: u16,
    behaviors: Mutex<HashMap<String, Behavior>>,
    dispatches: Mutex<Vec<Dispatch>>,
    /// Where asynchronous results go (the gateway starts after its backend).
    gateway: Mutex<Option<String>>,
    deliveries: Mutex<Vec<ResultDelivery>>,
    /// While set, every submission is answered with this status (an outage), whatever its script.
    down: Mutex<Option<u16>>,
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
            gateway: Mutex::new(None),
            deliveries: Mutex::new(Vec::new()),
            down: Mutex::new(None),
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

    /// The gateway that [`Behavior::AcknowledgeThenDeliver`] delivers results to.
    pub fn deliver_results_to(&self, base: &str) {
        *self.gateway.lock().unwrap() = Some(base.to_owned());
    }

    /// Every dispatch received so far.
    /// Starts (`Some(status)`) or ends (`None`) an outage: every submission meanwhile is
    /// answered with `status`.
    pub fn set_down(&self, status: Option<u16>) {
        *self.down.lock().unwrap() = status;
    }

    pub fn dispatches(&self) -> Vec<Dispatch> {
        self.dispatches.lock().unwrap().clone()
    }

    /// Every finished result delivery so far.
    pub fn deliveries(&self) -> Vec<ResultDelivery> {
        self.deliveries.lock().unwrap().clone()
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

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
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
            at: std::time::Instant::now(),
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
        let behavior = match *self.down.lock().unwrap() {
            Some(status) => Behavior::Answer {
                status,
                body: json!({"error": "backend down"}),
                after: Duration::ZERO,
            },
            None => resolve(behavior, &dispatch.subject, dispatch.submission_count),
        };
        let request_id = dispatch.request_id.clone();
        self.dispatches.lock().unwrap().push(dispatch);
        if let Behavior::AcknowledgeThenDeliver {
            status,
            body,
            after,
        } = &behavior
        {
            let gateway = self.gateway.lock().unwrap().clone();
            if let Some(base) = gateway {
                let (status, body, after) = (*status, body.clone(), *after);
                let backend = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let done = deliver_until_answered(&base, &request_id, status, &body).await;
                    backend.deliveries.lock().unwrap().push(done);
                });
            }
        }
        respond(behavior).await
    }
}

/// The behaviour for this submission, with the failure rules applied.
fn resolve(behavior: Behavior, subject: &str, submission: u32) -> Behavior {
    let scripted_failure = || Behavior::Answer {
        status: 500,
        body: json!({"error": "scripted failure"}),
        after: Duration::ZERO,
    };
    match behavior {
        Behavior::FailTimes { n, .. } if submission <= n => scripted_failure(),
        Behavior::FailTimes { then, .. } => resolve(*then, subject, submission),
        Behavior::FailSome { seed, permille, .. }
            if super::seeded_pick(seed, &format!("submit/{subject}/{submission}"), permille) =>
        {
            scripted_failure()
        }
        Behavior::FailSome { then, .. } => resolve(*then, subject, submission),
        leaf => leaf,
    }
}

/// Delivers a result as a real backend would: under one message id, again after a transport
/// error or a 5xx (the gateway restarting), until any other answer or the deadline.
pub async fn deliver_until_answered(
    base: &str,
    request_id: &str,
    status: u16,
    body: &Value,
) -> ResultDelivery {
    let payload = json!({"request_id": request_id, "status": status, "body": body}).to_string();
    let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let started = Instant::now();
    let mut tries = 0;
    let mut last = None;
    while started.elapsed() < RESULT_DELIVERY_DEADLINE {
        tries += 1;
        let sent = try_deliver_signed(
            base,
            request_id,
            &payload,
            &msg_id,
            now_secs(),
            BACKEND_SECRET,
        )
        .await;
        if let Ok(reply) = sent {
            last = Some(reply.status);
            if reply.status < 500 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ResultDelivery {
        request_id: request_id.to_owned(),
        status: last,
        tries,
    }
}

fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

/// Answers a resolved behaviour (see [`resolve`]).
async fn respond(behavior: Behavior) -> Response<Full<Bytes>> {
    match behavior {
        Behavior::Answer {
            status,
            body,
            after,
        } => {
            tokio::time::sleep(after).await;
            json_response(status, &body)
        }
        Behavior::Acknowledge | Behavior::AcknowledgeThenDeliver { .. } => {
            json_response(202, &json!({"status": "accepted"}))
        }
        Behavior::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            json_response(500, &json!({}))
        }
        // `resolve` never leaves these.
        Behavior::FailTimes { .. } | Behavior::FailSome { .. } => {
            json_response(500, &json!({"error": "unresolved behaviour"}))
        }
    }
}

/// Delivers an asynchronous result to the gateway, signed with the backend secret.
pub async fn deliver_result(base: &str, request_id: &str, status: u16, body: &Value) -> Reply {
    let payload = json!({"request_id": request_id, "status": status, "body": body}).to_string();
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
    try_deliver_signed(base, request_id, payload, msg_id, timestamp, secret)
        .await
        .expect("result delivery reaches the gateway")
}

/// As `deliver_signed`, but a transport error is returned, not a panic.
pub async fn try_deliver_signed(
    base: &str,
    request_id: &str,
    payload: &str,
    msg_id: &str,
    timestamp: u64,
    secret: &str,
) -> Result<Reply, reqwest::Error> {
    let started = Instant::now();
    let resp = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?
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
        .await?;
    Ok(Reply::from(resp, started).await)
}
