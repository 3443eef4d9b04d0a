//! A callback receiver on 127.0.0.1 that records every request and answers as each path is scripted.
//!
//! Besides fixed answers it can fail like a real receiver does: a 5xx, an answer held past the
//! sender's timeout, or a connection reset (RST, no answer at all); and it can answer with a
//! body a sender must not choke on (bytes that are not UTF-8, or megabytes sent slowly).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming};
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
    /// Hold every request this long, then answer 200 (a slow receiver within the timeout).
    SlowOk(Duration),
    /// Answer `status` with this body (e.g. bytes that are not UTF-8) to every request.
    WithBody { status: u16, body: Vec<u8> },
    /// Answer `status` at once, then send a body of `bytes` bytes in `chunk`-byte pieces, one
    /// every `pace`: a large body that takes a while to arrive, as over a real network.
    Streamed {
        status: u16,
        bytes: usize,
        chunk: usize,
        pace: Duration,
    },
    /// Answer the n-th request (0-based) with the n-th `(status, Retry-After seconds)`; the
    /// last one answers every request after it.
    Sequence(Vec<(u16, Option<u64>)>),
    /// Fail the requests `seed` picks (`permille` thousandths, by path and how many requests the
    /// path had before), in turn with a 5xx, a 500 held for `hold` (past the sender's timeout) or
    /// a connection reset; 200 otherwise.
    Faulty {
        seed: u64,
        permille: u64,
        hold: Duration,
    },
}

/// What the receiver did with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Held, then answered this status (the sender had usually given up by then).
    HeldThen(u16),
    /// The connection was reset without an answer.
    Reset,
}

impl Answer {
    /// Whether the sender got a 2xx.
    pub fn acknowledged(self) -> bool {
        matches!(self, Answer::Status(200..=299))
    }
}

#[derive(Clone, Debug)]
pub struct Received {
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
    pub answer: Answer,
    /// How many bytes of the answer's body the server has handed to the connection so far: a
    /// sender that stops reading stops this from reaching the body's length.
    pub answer_body_sent: Arc<AtomicUsize>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn answer_body_sent(&self) -> usize {
        self.answer_body_sent.load(Ordering::SeqCst)
    }
}

pub struct Receiver {
    pub port: u16,
    scripts: Mutex<HashMap<String, Script>>,
    /// How a path with no script of its own answers.
    default_script: Script,
    received: Mutex<Vec<Received>>,
}

impl Receiver {
    pub fn start() -> Arc<Receiver> {
        Self::start_answering(Script::Always(200))
    }

    /// A receiver whose unscripted paths answer as `default_script` does.
    pub fn start_answering(default_script: Script) -> Arc<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        listener.set_nonblocking(true).expect("nonblocking");
        let receiver = Arc::new(Receiver {
            port: listener.local_addr().expect("addr").port(),
            scripts: Mutex::new(HashMap::new()),
            default_script,
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
                        // A second handle on the socket, to reset it while hyper owns the stream.
                        let second = stream.as_fd().try_clone_to_owned().ok();
                        let reset = Arc::new(tokio::sync::Notify::new());
                        let asked = reset.clone();
                        let svc = service_fn(move |req| {
                            let receiver = receiver.clone();
                            let asked = asked.clone();
                            async move { Ok::<_, Infallible>(receiver.handle(req, &asked).await) }
                        });
                        let serve =
                            http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                        tokio::select! {
                            _ = serve => {}
                            () = reset.notified() => reset_connection(second),
                        }
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

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
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

    async fn handle(
        &self,
        req: Request<Incoming>,
        reset: &tokio::sync::Notify,
    ) -> Response<AnswerBody> {
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
        let script = self
            .scripts
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or_else(|| self.default_script.clone());
        let sent = Arc::new(AtomicUsize::new(0));
        // Decided and recorded under one lock, so concurrent requests count each other.
        let (answer, extra, hold) = {
            let mut received = self.received.lock().unwrap();
            let seen_before = received
                .iter()
                .filter(|r| r.path_and_query.split('?').next() == Some(path.as_str()))
                .count() as u32;
            let decided = decide(&script, &path, seen_before);
            received.push(Received {
                path_and_query,
                headers,
                body,
                at: Instant::now(),
                answer: decided.0,
                answer_body_sent: sent.clone(),
            });
            decided
        };
        if let Some(hold) = hold {
            tokio::time::sleep(hold).await;
        }
        let status = match answer {
            Answer::Status(status) | Answer::HeldThen(status) => status,
            Answer::Reset => {
                reset.notify_one();
                // The connection is torn down; this answer is never sent.
                std::future::pending::<()>().await;
                500
            }
        };
        let mut builder = Response::builder().status(status);
        for (name, value) in extra {
            builder = builder.header(name, value);
        }
        let body = AnswerBody::new(answer_body(&script), sent);
        builder.body(body).unwrap_or_else(|_| {
            let mut broken = Response::new(AnswerBody::new(Content::Empty, Arc::default()));
            *broken.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            broken
        })
    }
}

/// What an answer's body holds.
enum Content {
    Empty,
    Whole(Bytes),
    Paced {
        left: usize,
        chunk: usize,
        pace: Duration,
    },
}

fn answer_body(script: &Script) -> Content {
    match script {
        Script::WithBody { body, .. } => Content::Whole(Bytes::from(body.clone())),
        Script::Streamed {
            bytes, chunk, pace, ..
        } => Content::Paced {
            left: *bytes,
            chunk: (*chunk).max(1),
            pace: *pace,
        },
        _ => Content::Empty,
    }
}

/// An answer's body that counts what the connection took of it, and can arrive slowly.
pub struct AnswerBody {
    content: Content,
    sent: Arc<AtomicUsize>,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl AnswerBody {
    fn new(content: Content, sent: Arc<AtomicUsize>) -> Self {
        Self {
            content,
            sent,
            wait: None,
        }
    }
}

impl hyper::body::Body for AnswerBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let data = match &mut this.content {
            Content::Empty => None,
            Content::Whole(bytes) => {
                let bytes = std::mem::take(bytes);
                this.content = Content::Empty;
                (!bytes.is_empty()).then_some(bytes)
            }
            Content::Paced { left, chunk, pace } => {
                if *left == 0 {
                    None
                } else {
                    if let Some(wait) = this.wait.as_mut() {
                        if wait.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                    this.wait = Some(Box::pin(tokio::time::sleep(*pace)));
                    let n = (*chunk).min(*left);
                    *left -= n;
                    Some(Bytes::from(vec![b'x'; n]))
                }
            }
        };
        Poll::Ready(data.map(|bytes| {
            this.sent.fetch_add(bytes.len(), Ordering::SeqCst);
            Ok(Frame::data(bytes))
        }))
    }
}

/// The answer to one request: what it is, extra headers, and how long to hold it first.
fn decide(
    script: &Script,
    path: &str,
    seen_before: u32,
) -> (Answer, Vec<(&'static str, String)>, Option<Duration>) {
    let now = |status| (Answer::Status(status), Vec::new(), None);
    match script {
        Script::Always(status) => now(*status),
        Script::FailThen(n) if seen_before < *n => now(500),
        Script::FailThen(_) => now(200),
        Script::Redirect(to) => (Answer::Status(302), vec![("location", to.clone())], None),
        Script::RetryAfterThen(secs) if seen_before == 0 => (
            Answer::Status(503),
            vec![("retry-after", secs.to_string())],
            None,
        ),
        Script::RetryAfterThen(_) => now(200),
        Script::HangOnce if seen_before == 0 => (
            Answer::HeldThen(500),
            Vec::new(),
            Some(Duration::from_secs(60)),
        ),
        Script::HangOnce => now(200),
        Script::SlowOk(hold) => (Answer::HeldThen(200), Vec::new(), Some(*hold)),
        Script::WithBody { status, .. } | Script::Streamed { status, .. } => now(*status),
        Script::Sequence(steps) => {
            let step = steps
                .get(seen_before as usize)
                .or(steps.last())
                .copied()
                .unwrap_or((200, None));
            let extra = step
                .1
                .map(|secs| vec![("retry-after", secs.to_string())])
                .unwrap_or_default();
            (Answer::Status(step.0), extra, None)
        }
        Script::Faulty {
            seed,
            permille,
            hold,
        } => {
            let key = format!("deliver/{path}/{seen_before}");
            if !super::seeded_pick(*seed, &key, *permille) {
                return now(200);
            }
            match super::seeded_hash(*seed, &format!("fault/{key}")) % 3 {
                0 => now(if seen_before.is_multiple_of(2) {
                    500
                } else {
                    503
                }),
                1 => (Answer::HeldThen(500), Vec::new(), Some(*hold)),
                _ => (Answer::Reset, Vec::new(), None),
            }
        }
    }
}

/// Closes the connection with a reset: `SO_LINGER` 0, then the last handle is dropped (the
/// caller has dropped hyper's), so the kernel sends RST instead of FIN.
fn reset_connection(second: Option<std::os::fd::OwnedFd>) {
    let Some(fd) = second else { return };
    if let Ok(stream) = tokio::net::TcpStream::from_std(std::net::TcpStream::from(fd)) {
        let _ = stream.set_zero_linger();
    }
}
