//! A peer that misbehaves on purpose, on 127.0.0.1: as the payment backend (`POST /payments`) and
//! as a callback receiver (`POST /cb/{case}`), it answers each request with a scripted raw HTTP
//! answer (any status, body and framing, a lying `Content-Length`, a trickle), written byte by
//! byte on the socket so that nothing an HTTP library would refuse to send is out of reach.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the body of a raw answer holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Empty,
    /// Bytes that are not UTF-8.
    NotUtf8,
    /// Text that is not JSON.
    NotJson,
    /// JSON nested deeper than any parser's recursion limit.
    DeepJson,
    /// A JSON item response.
    Json,
    /// A JSON string whose whole text is exactly `n` bytes.
    JsonOfLen(usize),
}

impl Body {
    pub fn bytes(&self, subject: &str) -> Vec<u8> {
        match self {
            Body::Empty => Vec::new(),
            Body::NotUtf8 => vec![0xff, 0xfe, b'{', 0x80, 0xc3, 0x28, b'}'],
            Body::NotJson => b"{\"items\": not json".to_vec(),
            Body::DeepJson => {
                let depth = 5_000;
                let mut text = "[".repeat(depth);
                text.push_str(&"]".repeat(depth));
                text.into_bytes()
            }
            Body::Json => item_json(subject).to_string().into_bytes(),
            Body::JsonOfLen(n) => {
                let mut text = String::from("\"");
                text.push_str(&"x".repeat(n.saturating_sub(2)));
                text.push('"');
                text.into_bytes()
            }
        }
    }
}

/// The item response a well-behaved backend would give for `subject`.
pub fn item_json(subject: &str) -> Value {
    serde_json::json!({"items": {"id": subject, "state": "completed", "status": 22500}})
}

/// How the answer is put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` and the body, at once.
    Plain,
    /// The whole answer one byte at a time, slower than any timeout of the gateway's.
    Trickle,
    /// The head at once, then the body one byte every 300 ms, slower than any timeout.
    StallBody,
    /// A `Content-Length` 100 bytes longer than the body, then the connection is closed.
    LyingLength,
    /// An interim `1xx` head and then nothing: the connection is closed with no final answer.
    InterimOnly,
}

/// An odd header on the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quirk {
    None,
    /// `Retry-After` that is no delay at all.
    GarbageRetryAfter,
    /// One header 48 KiB long.
    HugeHeader,
}

/// One scripted raw answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAnswer {
    pub status: u16,
    pub body: Body,
    pub framing: Framing,
    pub quirk: Quirk,
}

impl RawAnswer {
    pub fn plain(status: u16, body: Body) -> RawAnswer {
        RawAnswer {
            status,
            body,
            framing: Framing::Plain,
            quirk: Quirk::None,
        }
    }

    fn head(&self, body_len: usize) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} Scripted\r\n", self.status);
        head.push_str("content-type: application/json\r\n");
        head.push_str("connection: close\r\n");
        match self.quirk {
            Quirk::None => {}
            Quirk::GarbageRetryAfter => head.push_str("retry-after: soon, -5, 1e99\r\n"),
            Quirk::HugeHeader => {
                head.push_str("x-huge: ");
                head.push_str(&"h".repeat(48 * 1024));
                head.push_str("\r\n");
            }
        }
        let declared = match self.framing {
            Framing::LyingLength => body_len + 100,
            _ => body_len,
        };
        head.push_str(&format!("content-length: {declared}\r\n\r\n"));
        head.into_bytes()
    }
}

/// The misbehaving peer: answers are scripted by subject (backend) or case path (receiver).
pub struct HostilePeer {
    pub port: u16,
    backend: Mutex<HashMap<String, RawAnswer>>,
    receiver: Mutex<HashMap<String, RawAnswer>>,
    /// How many requests each receiver path got.
    received: Mutex<HashMap<String, usize>>,
}

/// A subject as the backend sees it, in one spelling (a GUID with or without dashes).
fn subject_key(subject: &str) -> String {
    subject.replace('-', "").to_ascii_lowercase()
}

impl HostilePeer {
    pub fn start() -> Arc<HostilePeer> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind hostile peer");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let port = std_listener.local_addr().expect("addr").port();
        let peer = Arc::new(HostilePeer {
            port,
            backend: Mutex::new(HashMap::new()),
            receiver: Mutex::new(HashMap::new()),
            received: Mutex::new(HashMap::new()),
        });
        let serving = peer.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("hostile peer runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let peer = serving.clone();
                    tokio::spawn(async move { peer.serve(stream).await });
                }
            });
        });
        peer
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The backend's answer to every submission for `subject`.
    pub fn script_backend(&self, subject: &str, answer: RawAnswer) {
        self.backend
            .lock()
            .unwrap()
            .insert(subject_key(subject), answer);
    }

    /// The receiver's answer to every callback to `/cb/{case}`.
    pub fn script_receiver(&self, case: &str, answer: RawAnswer) {
        self.receiver
            .lock()
            .unwrap()
            .insert(format!("/cb/{case}"), answer);
    }

    pub fn received(&self, case: &str) -> usize {
        self.received
            .lock()
            .unwrap()
            .get(&format!("/cb/{case}"))
            .copied()
            .unwrap_or(0)
    }

    async fn serve(&self, mut stream: TcpStream) {
        let Some((path, body)) = read_request(&mut stream).await else {
            return;
        };
        let (answer, subject) = if path == "/payments" {
            let subject = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["subject"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let answer = self
                .backend
                .lock()
                .unwrap()
                .get(&subject_key(&subject))
                .cloned();
            (answer, subject)
        } else {
            *self
                .received
                .lock()
                .unwrap()
                .entry(path.clone())
                .or_default() += 1;
            (self.receiver.lock().unwrap().get(&path).cloned(), path)
        };
        // An unscripted request is answered as a well-behaved peer would.
        let answer = answer.unwrap_or_else(|| RawAnswer::plain(200, Body::Json));
        let _ = write_answer(&mut stream, &answer, &subject).await;
    }
}

/// Reads one request's path and body (by its `Content-Length`), at most 1 MiB.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(buf.get(..head_end)?).into_owned();
    let path = head.split_whitespace().nth(1)?.to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < head_end + length.min(1 << 20) {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    }
    Some((path, buf.get(head_end..)?.to_vec()))
}

async fn write_answer(
    stream: &mut TcpStream,
    answer: &RawAnswer,
    subject: &str,
) -> std::io::Result<()> {
    let body = answer.body.bytes(subject);
    match answer.framing {
        Framing::InterimOnly => {
            let head = format!("HTTP/1.1 {} Interim\r\n\r\n", answer.status);
            stream.write_all(head.as_bytes()).await?;
            stream.flush().await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Framing::Trickle => {
            let mut wire = answer.head(body.len());
            wire.extend_from_slice(&body);
            // One byte every 300 ms: the head alone takes longer than any timeout under test.
            for byte in wire {
                stream.write_all(&[byte]).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        Framing::StallBody => {
            stream.write_all(&answer.head(body.len())).await?;
            stream.flush().await?;
            for byte in body {
                tokio::time::sleep(Duration::from_millis(300)).await;
                stream.write_all(&[byte]).await?;
                stream.flush().await?;
            }
        }
        Framing::Plain | Framing::LyingLength => {
            let mut wire = answer.head(body.len());
            wire.extend_from_slice(&body);
            stream.write_all(&wire).await?;
            stream.flush().await?;
            if answer.framing == Framing::LyingLength {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    stream.shutdown().await
}
