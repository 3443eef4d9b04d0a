//! A bounded prefix of a peer's HTTP body, gathered as bytes, and the log-safe text made from it.
//!
//! A peer (a callback receiver, the payment backend) controls its answer's body: its size, its
//! encoding and its pace. The gateway keeps at most a small prefix of it, as bytes, and turns
//! that into text only where text is shown (a log line, the delivery log). So no body can make
//! an answer fail for being binary, hold a shared consumer's memory for being large, or put
//! new lines, terminal escapes or reordering marks into a log.

/// How much of a callback receiver's answer is read: its status decides the outcome, and this
/// much of its body is enough to show why a receiver refused.
pub const RECEIVER_BODY_LIMIT: usize = 4 * 1024;

/// Appended to text that was cut, by the limit here or by the reader's.
pub const TRUNCATED_MARKER: &str = "…[truncated]";

/// The first bytes of a body, up to a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Prefix {
    pub fn new(limit: usize) -> Self {
        Self {
            bytes: Vec::new(),
            limit,
            truncated: false,
        }
    }

    /// Keeps what fits of `chunk` and drops the rest. Returns whether more is wanted: `false`
    /// once the body has shown a byte past the limit, so the reader stops there and never
    /// holds more than the limit plus the one chunk in hand.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        if self.truncated {
            return false;
        }
        let room = self.limit.saturating_sub(self.bytes.len());
        let (kept, rest) = chunk.split_at(room.min(chunk.len()));
        self.bytes.extend_from_slice(kept);
        self.truncated = !rest.is_empty();
        !self.truncated
    }

    /// Whether the body went on past the limit (the rest was not read).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes kept, and whether the body went on past them.
    pub fn into_parts(self) -> (Vec<u8>, bool) {
        (self.bytes, self.truncated)
    }
}

/// Characters that could change how a log is read rather than what it says: line and paragraph
/// separators, and the bidirectional controls that reorder text on screen.
fn is_layout_control(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// `bytes` as one line of text that is safe to log and to show: bytes that are not UTF-8
/// become U+FFFD (a sequence cut off by the end of a truncated prefix is dropped, not
/// replaced), control and layout characters become spaces, runs of white space become one,
/// and at most `max_chars` characters are kept. [`TRUNCATED_MARKER`] ends text that was cut
/// here or whose bytes were already a prefix (`truncated`).
pub fn sanitised_text(bytes: &[u8], truncated: bool, max_chars: usize) -> String {
    let mut text = String::new();
    let mut chars = 0usize;
    let mut cut = truncated;
    let mut pending_space = false;
    let mut chunks = bytes.utf8_chunks().peekable();
    'chunks: while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let invalid = chunk.invalid();
        // A partial sequence at the very end of a truncated prefix is the limit's doing.
        let cut_by_limit = last && truncated;
        let replacement = (!(invalid.is_empty() || cut_by_limit)).then_some('\u{fffd}');
        for c in chunk.valid().chars().chain(replacement) {
            let c = if c.is_control() || is_layout_control(c) {
                ' '
            } else {
                c
            };
            if c.is_whitespace() {
                pending_space = !text.is_empty();
                continue;
            }
            let needed = 1 + usize::from(pending_space);
            if chars + needed > max_chars {
                cut = true;
                break 'chunks;
            }
            if pending_space {
                text.push(' ');
                pending_space = false;
            }
            text.push(c);
            chars += needed;
        }
    }
    if cut {
        text.push_str(TRUNCATED_MARKER);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_keeps_up_to_the_limit_and_stops_past_it() {
        let mut p = Prefix::new(5);
        assert!(p.push(b"ab"));
        assert!(
            p.push(b"cde"),
            "exactly the limit: the end is not known yet"
        );
        assert!(!p.truncated());
        assert!(!p.push(b"f"), "one byte past the limit stops the reader");
        assert!(!p.push(b"more"));
        assert_eq!(p.into_parts(), (b"abcde".to_vec(), true));
    }

    #[test]
    fn a_body_that_ends_within_the_limit_is_whole() {
        let mut p = Prefix::new(RECEIVER_BODY_LIMIT);
        assert!(p.push(b""));
        assert!(p.push(&[0xff; 100]));
        assert_eq!(p.bytes().len(), 100);
        assert!(!p.truncated());
    }

    #[test]
    fn one_huge_chunk_keeps_only_the_limit() {
        let mut p = Prefix::new(RECEIVER_BODY_LIMIT);
        assert!(!p.push(&vec![b'x'; 8 << 20]));
        let (bytes, truncated) = p.into_parts();
        assert_eq!((bytes.len(), truncated), (RECEIVER_BODY_LIMIT, true));
    }

    #[test]
    fn a_zero_limit_keeps_nothing_and_notices_any_byte() {
        let mut p = Prefix::new(0);
        assert!(p.push(b""));
        assert!(!p.push(b"x"));
        assert_eq!(p.into_parts(), (Vec::new(), true));
    }

    #[test]
    fn text_is_lossy_one_line_and_free_of_controls() {
        let cases: [(&[u8], &str); 7] = [
            (b"plain", "plain"),
            (b"\xff\xfeok", "\u{fffd}\u{fffd}ok"),
            (b"a\r\nb\tc\x00d", "a b c d"),
            (b"\x1b[31mred\x1b[0m", "[31mred [0m"),
            ("x\u{202e}y\u{2028}z".as_bytes(), "x y z"),
            (b"  padded   out  ", "padded out"),
            (b"", ""),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sanitised_text(bytes, false, 100), expected, "{bytes:?}");
        }
    }

    #[test]
    fn text_is_cut_at_max_chars_with_a_marker() {
        assert_eq!(sanitised_text(b"abcdef", false, 3), "abc…[truncated]");
        assert_eq!(sanitised_text(b"abc", false, 3), "abc");
        assert_eq!(sanitised_text(b"ab cd", false, 3), "ab…[truncated]");
        assert_eq!(sanitised_text("ééé".as_bytes(), false, 2), "éé…[truncated]");
    }

    #[test]
    fn a_truncated_prefix_says_so_and_drops_a_sequence_cut_by_the_limit() {
        // "é" is C3 A9: the limit cut it after its first byte.
        assert_eq!(sanitised_text(b"caf\xc3", true, 100), "caf…[truncated]");
        // Not truncated: the same bytes are simply not UTF-8.
        assert_eq!(sanitised_text(b"caf\xc3", false, 100), "caf\u{fffd}");
        // Invalid bytes before the end are replaced even in a prefix.
        assert_eq!(
            sanitised_text(b"\xffok\xc3", true, 100),
            "\u{fffd}ok…[truncated]"
        );
    }

    #[test]
    fn any_bytes_give_bounded_control_free_text() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..500 {
            let len = round % 300;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 56) as u8
                })
                .collect();
            let text = sanitised_text(&bytes, round % 2 == 0, 40);
            let body = text.strip_suffix(TRUNCATED_MARKER).unwrap_or(&text);
            assert!(body.chars().count() <= 40, "{text:?}");
            assert!(
                !text.chars().any(|c| c.is_control() || is_layout_control(c)),
                "{text:?}"
            );
        }
    }
}
