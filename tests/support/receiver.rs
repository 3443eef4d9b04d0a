//! A callback receiver on 127.0.0.1 that records every request and answers as each path is scripted.

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

/// How one path answers, attempt by attempt.
#[derive(Clone, Debug)]
pub enum Script {
    /// Answer this status to every request.
    Always(u16),
    /// Answer 500 to the first `n` requests, then 200.
    FailThen(u32),
    /// Answer a redirect to `to`.
    Redirect(String),
    /// Answer 503 with `Retry-After: secs` the first time, then 200.
    RetryAfterThen(u64),
    /// Never answer the first request (hold it for a minute), then 200.
    HangOnce,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Receiver {
    pub port: u16,
    scripts: Mutex<HashMap<String, Script>>,
    received: Mutex<Vec<Received>>,
}

impl Receiver {
    pub fn start() -> Arc<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        listener.set_nonblocking(true).expect("nonblocking");
        let receiver = Arc::new(Receiver {
            port: listener.local_addr().expect("addr").port(),
            scripts: Mutex::new(HashMap::new()),
            received: Mutex::new(Vec::new()),
        });
        let served = receiver.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("receiver runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let receiver = served.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let receiver = receiver.clone();
                            async move { Ok::<_, Infallible>(receiver.handle(req).await) }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        receiver
    }

    /// A URL on this receiver for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn script(&self, path: &str, script: Script) {
        self.scripts.lock().unwrap().insert(path.to_owned(), script);
    }

    /// Requests whose path (without the query) is `path`.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path_and_query.split('?').next() == Some(path))
            .cloned()
            .collect()
    }

    pub async fn await_requests(&self, path: &str, n: usize, deadline: Duration) -> Vec<Received> {
        super::eventually(&format!("{n} callback(s) at {path}"), deadline, || async {
            let got = self.received_at(path);
            (got.len() >= n).then_some(got)
        })
        .await
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let path = req.uri().path().to_owned();
        let headers = req.headers().clone();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        let seen_before = {
            let mut received = self.received.lock().unwrap();
            let seen = received
                .iter()
                .filter(|r| r.path_and_query.split('?').next() == Some(path.as_str()))
                .count();
            received.push(Received {
                path_and_query,
                headers,
                body,
                at: Instant::now(),
            });
            seen as u32
        };
        let script = self
            .scripts
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or(Script::Always(200));
        let builder = Response::builder();
        let builder = match script {
            Script::Always(status) => builder.status(status),
            Script::FailThen(n) if seen_before < n => builder.status(500),
            Script::FailThen(_) => builder.status(200),
            Script::Redirect(to) => builder.status(302).header("location", to),
            Script::RetryAfterThen(secs) if seen_before == 0 => {
                builder.status(503).header("retry-after", secs.to_string())
            }
            Script::RetryAfterThen(_) => builder.status(200),
            Script::HangOnce if seen_before == 0 => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                builder.status(500)
            }
            Script::HangOnce => builder.status(200),
        };
        builder.body(Full::new(Bytes::new())).unwrap_or_default()
    }
}
