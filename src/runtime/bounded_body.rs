//! Reads at most a bounded prefix of a peer's HTTP body, as bytes, within a time bound, and lets the rest go.
//!
//! A peer (a callback receiver, the payment backend) controls its body's size, encoding and
//! pace. So the body is streamed only until a byte past `limit` shows or the time is up, never
//! buffered whole and never required to be text, and the stream is cancelled when the reader
//! returns, so the rest is not transferred into this isolate. What the bytes mean is the
//! caller's to decide; `edgepay_core::http::body_prefix::sanitised_text` makes log-safe text
//! of them where text is shown.

use std::fmt;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::{ByteStream, Delay, Response, ResponseBody};

use edgepay_core::http::body_prefix::Prefix;

/// The first bytes of a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyPrefix {
    /// At most the limit asked for.
    pub bytes: Vec<u8>,
    /// The body went on past `bytes`; the rest was not read.
    pub truncated: bool,
}

impl From<Prefix> for BodyPrefix {
    fn from(prefix: Prefix) -> Self {
        let (bytes, truncated) = prefix.into_parts();
        Self { bytes, truncated }
    }
}

/// Why a body could not be read to its end or its limit; what was read before is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The time bound came first.
    TimedOut { read: BodyPrefix },
    /// The body broke off: a reset connection, a `Content-Length` that lied.
    Broken { read: BodyPrefix, detail: String },
}

impl BodyError {
    /// The bytes read before the failure.
    pub fn read(&self) -> &BodyPrefix {
        match self {
            BodyError::TimedOut { read } | BodyError::Broken { read, .. } => read,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TimedOut { read } => {
                write!(
                    f,
                    "the body did not end in time ({} bytes read)",
                    read.bytes.len()
                )
            }
            BodyError::Broken { read, detail } => write!(
                f,
                "the body broke off after {} bytes: {detail}",
                read.bytes.len()
            ),
        }
    }
}

/// Reads at most `limit` bytes of `resp`'s body within `within`. `truncated` says the body
/// had more (the reader saw a byte past the limit and stopped there). The rest of the body is
/// cancelled, whatever the outcome.
pub async fn read_prefix(
    resp: &mut Response,
    limit: usize,
    within: Duration,
) -> Result<BodyPrefix, BodyError> {
    let mut prefix = Prefix::new(limit);
    let stream = match resp.body() {
        ResponseBody::Empty => return Ok(prefix.into()),
        ResponseBody::Body(bytes) => {
            prefix.push(bytes);
            return Ok(prefix.into());
        }
        // Built from the stream itself, not `Response::stream`, which may panic on a body
        // that is not a `ReadableStream`.
        ResponseBody::Stream(stream) => stream.clone(),
    };
    // Dropped on return, which cancels the stream: the rest is never transferred.
    let mut chunks = ByteStream::from(stream);
    let mut deadline = Delay::from(within);
    loop {
        match select(chunks.next(), &mut deadline).await {
            Either::Left((Some(Ok(chunk)), _)) => {
                if !prefix.push(&chunk) {
                    return Ok(prefix.into());
                }
            }
            Either::Left((None, _)) => return Ok(prefix.into()),
            Either::Left((Some(Err(e)), _)) => {
                return Err(BodyError::Broken {
                    read: prefix.into(),
                    detail: e.to_string(),
                })
            }
            Either::Right(((), _)) => {
                return Err(BodyError::TimedOut {
                    read: prefix.into(),
                })
            }
        }
    }
}
