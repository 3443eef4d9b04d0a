//! End-to-end test support: a real `wrangler dev` per test binary, a scriptable payment backend, and signing.
#![allow(dead_code)] // each test binary uses a different part of the kit

pub mod backend;
pub mod gateway;
pub mod hostile;
pub mod node;
pub mod receiver;
pub mod signing;

use std::time::{Duration, Instant};

use serde_json::Value;

/// Development-style credentials the test gateways are configured with.
pub const TENANT_A_KEY: &str = "shop_a";
pub const TENANT_A_SECRET: &str = "sk_test_tenant_a_0123456789";
pub const TENANT_B_KEY: &str = "shop_b";
pub const TENANT_B_SECRET: &str = "sk_test_tenant_b_0123456789";
pub const BACKEND_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const CALLBACK_SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// A bash script that runs `command` in the background and, when the test process (its parent)
/// is gone, kills its whole process group: run it with `process_group(0)`, so nothing it starts
/// outlives the tests even though statics are never dropped.
pub fn under_watchdog(command: &str) -> String {
    format!(
        "{command} & child=$!; \
         while kill -0 {} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done; \
         kill -TERM -- -$$ 2>/dev/null",
        std::process::id()
    )
}

pub fn api_clients_json() -> String {
    serde_json::json!([
        {"key_id": TENANT_A_KEY, "secret": TENANT_A_SECRET, "tenant": "tenant-a", "callback_secret": CALLBACK_SECRET},
        {"key_id": TENANT_B_KEY, "secret": TENANT_B_SECRET, "tenant": "tenant-b"},
    ])
    .to_string()
}

/// `wrangler dev` vars for a test gateway: the test clients and backend secret, `backend_url`,
/// then `extra` (e.g. shortened schedules).
///
/// The backend breaker is off unless `extra` sets `BACKEND_BREAKER_FAILURES`: most tests script
/// failures for one payment at a time, which the breaker (one per isolate, shared by every
/// payment) would read as an outage and answer by holding the other tests' payments back.
/// `e2e_outage` runs it at its production setting.
pub fn gateway_vars(backend_url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = vec![
        ("API_CLIENTS".to_owned(), api_clients_json()),
        ("BACKEND_URL".to_owned(), backend_url.to_owned()),
        ("BACKEND_SECRET".to_owned(), BACKEND_SECRET.to_owned()),
    ];
    if !extra.iter().any(|(k, _)| *k == "BACKEND_BREAKER_FAILURES") {
        vars.push(("BACKEND_BREAKER_FAILURES".to_owned(), "0".to_owned()));
    }
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    vars
}

/// A gateway wired to its own scriptable test backend: the set-up most test binaries share.
pub struct BackendHarness {
    pub gateway: gateway::Gateway,
    pub backend: std::sync::Arc<backend::TestBackend>,
}

impl BackendHarness {
    /// Starts the backend, then a gateway named `name` calling it, with `extra` vars.
    pub fn start(name: &str, extra: &[(&str, &str)]) -> BackendHarness {
        let backend = backend::TestBackend::start();
        let gateway = gateway::Gateway::start(name, gateway_vars(&backend.url(), extra));
        BackendHarness { gateway, backend }
    }
}

/// Defines `harness()`, `base()` and `backend()` for a test binary whose tests share one
/// gateway, named `$name` and wired to its own scriptable backend with the `$extra` vars; both
/// start on first use.
#[macro_export]
macro_rules! shared_backend_harness {
    ($name:expr, $extra:expr) => {
        fn harness() -> &'static $crate::support::BackendHarness {
            static HARNESS: ::std::sync::OnceLock<$crate::support::BackendHarness> =
                ::std::sync::OnceLock::new();
            HARNESS.get_or_init(|| $crate::support::BackendHarness::start($name, $extra))
        }

        #[allow(dead_code)]
        fn base() -> &'static str {
            &harness().gateway.base
        }

        #[allow(dead_code)]
        fn backend() -> &'static $crate::support::backend::TestBackend {
            &harness().backend
        }
    };
}

/// A gateway whose backend is its own sandbox (`SANDBOX_ENABLED=true`, `BACKEND_URL` on its
/// own port), with the `extra` vars.
pub fn sandbox_gateway(name: &str, extra: &[(&str, &str)]) -> gateway::Gateway {
    let port = gateway::free_port();
    let mut vars = vec![("SANDBOX_ENABLED", "true")];
    vars.extend_from_slice(extra);
    let vars = gateway_vars(&format!("http://127.0.0.1:{port}/sandbox"), &vars);
    gateway::Gateway::start_on(port, name, vars)
}

/// A unique item id per call, so tests sharing one gateway never collide on the item lock.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

pub const ACCOUNT: &str = "0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f";

/// A response with its parsed JSON body (or `Null`) and timing.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
    pub elapsed: Duration,
}

impl Reply {
    pub async fn from(resp: reqwest::Response, started: Instant) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
            elapsed: started.elapsed(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An HTTP call to the gateway as tenant A unless told otherwise.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Call {
    pub fn new(method: &str, url: impl Into<String>) -> Call {
        Call {
            method: reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            url: url.into(),
            headers: vec![("authorization".into(), basic(TENANT_A_KEY, TENANT_A_SECRET))],
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn without(mut self, name: &str) -> Call {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    pub fn json(self, body: &Value) -> Call {
        let mut call = self.header("content-type", "application/json");
        call.body = Some(body.to_string().into_bytes());
        call
    }

    pub fn raw(self, content_type: &str, body: impl Into<String>) -> Call {
        self.bytes(content_type, body.into().into_bytes())
    }

    /// A body given byte for byte (it need not be UTF-8).
    pub fn bytes(mut self, content_type: &str, body: Vec<u8>) -> Call {
        self = self.header("content-type", content_type);
        self.body = Some(body);
        self
    }

    /// Adds a header line even if one of that name is already set (duplicate headers).
    pub fn also(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn by_tenant_b(self) -> Call {
        self.header("authorization", &basic(TENANT_B_KEY, TENANT_B_SECRET))
    }

    pub async fn send(self) -> Reply {
        self.try_send().await.expect("the gateway answers")
    }

    /// As `send`, but a transport error (refused, reset, timed out) is returned, not a panic.
    pub async fn try_send(self) -> Result<Reply, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        self.send_with(&client).await
    }

    /// As `try_send`, on a client shared by many calls.
    pub async fn send_with(self, client: &reqwest::Client) -> Result<Reply, reqwest::Error> {
        let mut req = client.request(self.method, &self.url);
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        if let Some(body) = self.body {
            req = req.body(body);
        }
        let started = Instant::now();
        let resp = req.send().await?;
        Ok(Reply::from(resp, started).await)
    }
}

pub fn basic(key: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"))
    )
}

/// Sends every call with at most `limit` in flight; the replies come back in the calls' order.
pub async fn send_all(calls: Vec<Call>, limit: usize) -> Vec<Reply> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(limit));
    let mut tasks = Vec::with_capacity(calls.len());
    for call in calls {
        let (client, permits) = (client.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            call.send_with(&client).await.expect("the gateway answers")
        }));
    }
    let mut replies = Vec::with_capacity(tasks.len());
    for task in tasks {
        replies.push(task.await.expect("a call task"));
    }
    replies
}

/// `PATCH {base}/items/{item}/make_payment` with a JSON body.
pub fn make_payment(base: &str, item: &str, body: &Value) -> Call {
    Call::new("PATCH", format!("{base}/items/{item}/make_payment")).json(body)
}

/// Sends `request` byte for byte on a fresh connection to 127.0.0.1:`port` (for what an HTTP
/// client refuses to send: lying or conflicting lengths, raw bytes in the request line) and
/// returns the status and the rest of the answer. Reads until the server closes or 20 s pass.
pub async fn raw_http(port: u16, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the gateway");
    // The server may answer and close before reading everything; a failed write is fine.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            _ => break,
        }
        // One complete answer is enough: headers plus a body of the declared length.
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let declared = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            });
            if declared.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A stable 64-bit hash of `seed` and `key` (FNV-1a, then a SplitMix64 finaliser): the same on
/// every machine and Rust version, so a seed reproduces which calls a fault run fails.
pub fn seeded_hash(seed: u64, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in key.bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A number from the environment, decimal or `0x` hex; `None` when unset or not a number.
pub fn env_number(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    let raw = raw.trim();
    match raw.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => raw.parse().ok(),
    }
}

/// A run's seed: the one `name` gives (to replay a run), else a fresh one from the clock.
pub fn seed_from_env(name: &str) -> u64 {
    env_number(name).unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        seeded_hash(nanos as u64, "seed")
    })
}

/// Whether the call named `key` is among the `permille` thousandths picked by `seed`.
pub fn seeded_pick(seed: u64, key: &str, permille: u64) -> bool {
    seeded_hash(seed, key) % 1000 < permille
}
