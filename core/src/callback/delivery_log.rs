//! The delivery log's bounds: the entries a payment keeps, the line that stands for those it dropped, and its pages.
//!
//! Every attempt is logged and a replay starts a new round, so a payment's log could grow
//! without end. It keeps its first entry (how delivery began) and its newest
//! [`LOG_KEEP_NEWEST`]; the entries between are dropped, oldest first, and one line in their
//! place says how many. Each stored entry has a position (its row's sequence number, which only
//! grows), and `?after=` takes a position as its cursor: a page is stable while the log grows,
//! and a cursor whose entry was dropped since resumes at the next entry kept.

use crate::callback::delivery::AttemptLogEntry;
use crate::http::api_error::FieldError;
use crate::time::rfc3339_millis;

/// How many of a payment's newest entries the log keeps, besides its first.
pub const LOG_KEEP_NEWEST: usize = 100;

/// Entries in a page when `?limit=` is not given, and the most it may ask for.
pub const PAGE_DEFAULT: usize = 20;
pub const PAGE_MAX: usize = 100;

/// The largest position a cursor may name: JSON clients read integers exactly up to 2^53 - 1.
pub const CURSOR_MAX: u64 = (1 << 53) - 1;

/// Of a payment's stored positions, oldest first, the ones to drop now: those between the
/// first and the newest [`LOG_KEEP_NEWEST`]. They are contiguous in the payment's order.
pub fn entries_to_drop(positions: &[u64]) -> &[u64] {
    let keep_from = positions.len().saturating_sub(LOG_KEEP_NEWEST);
    positions.get(1..keep_from).unwrap_or_default()
}

/// The entries dropped from one payment's log: how many, and the newest of them, whose
/// position, attempt and time the line standing for them takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogGap {
    pub dropped: u64,
    pub position: u64,
    pub attempt: u32,
    pub executed_ms: u64,
}

impl LogGap {
    /// The gap after dropping `count` more entries, the newest of them at `position`.
    pub fn widened(
        previous: Option<LogGap>,
        count: u64,
        position: u64,
        attempt: u32,
        executed_ms: u64,
    ) -> LogGap {
        LogGap {
            dropped: previous.map_or(0, |g| g.dropped).saturating_add(count),
            position,
            attempt,
            executed_ms,
        }
    }

    /// The log's line for the dropped entries.
    pub fn entry(&self) -> AttemptLogEntry {
        let words = format!(
            "{} older entries dropped: the log keeps the first entry and the newest {LOG_KEEP_NEWEST}",
            self.dropped
        );
        AttemptLogEntry {
            executed_utc: rfc3339_millis(self.executed_ms),
            http_response: None,
            outcome: words.clone(),
            detail: words,
            attempt: self.attempt,
            dropped: Some(self.dropped),
        }
    }
}

/// Which page of the log is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageQuery {
    pub limit: usize,
    /// Only entries after this position (the previous page's last).
    pub after: Option<u64>,
}

impl Default for PageQuery {
    fn default() -> Self {
        Self {
            limit: PAGE_DEFAULT,
            after: None,
        }
    }
}

impl PageQuery {
    /// From the query string's decoded pairs: `limit` (1 to [`PAGE_MAX`]) and `after` (a
    /// position, 0 to [`CURSOR_MAX`]), each at most once. Other parameters are ignored, as they
    /// always were here. Every bad parameter is named.
    pub fn parse<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, Vec<FieldError>>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut query = PageQuery::default();
        let mut seen = (false, false);
        let mut errors: Vec<FieldError> = Vec::new();
        let mut refuse = |field: &str, message: String| {
            if !errors.iter().any(|e| e.field == field) {
                errors.push(FieldError::new(field, "invalid", message));
            }
        };
        for (name, value) in pairs {
            let value = value.as_ref();
            match name.as_ref() {
                "limit" if seen.0 => refuse("limit", "`limit` may be given once".to_owned()),
                "limit" => {
                    seen.0 = true;
                    match parse_number(value).filter(|n| (1..=PAGE_MAX as u64).contains(n)) {
                        Some(n) => query.limit = usize::try_from(n).unwrap_or(PAGE_DEFAULT),
                        None => refuse(
                            "limit",
                            format!("`limit` must be a whole number from 1 to {PAGE_MAX}"),
                        ),
                    }
                }
                "after" if seen.1 => refuse("after", "`after` may be given once".to_owned()),
                "after" => {
                    seen.1 = true;
                    match parse_number(value).filter(|n| *n <= CURSOR_MAX) {
                        Some(n) => query.after = Some(n),
                        None => refuse(
                            "after",
                            "`after` must be the cursor of a previous page (a whole number from `links.next`)"
                                .to_owned(),
                        ),
                    }
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors)
        }
    }
}

/// Plain decimal digits only: no sign, no spaces, no fraction, at most 16 digits.
fn parse_number(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.len() <= 16 && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

/// One page of the log, oldest first, and the cursor of the next page when there is more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    pub entries: Vec<AttemptLogEntry>,
    pub next_after: Option<u64>,
}

/// The page from the stored entries after the query's cursor (oldest first, each with its
/// position; at most `limit` + 1 are needed to know whether more follow) and the log's gap line.
pub fn page(
    stored: Vec<(u64, AttemptLogEntry)>,
    gap: Option<LogGap>,
    query: &PageQuery,
) -> LogPage {
    let after = query.after.unwrap_or(0);
    let mut lines: Vec<(u64, AttemptLogEntry)> =
        stored.into_iter().filter(|(p, _)| *p > after).collect();
    if let Some(gap) = gap.filter(|g| g.position > after) {
        let at = lines.partition_point(|(p, _)| *p < gap.position);
        lines.insert(at, (gap.position, gap.entry()));
    }
    let limit = query.limit.max(1);
    let more = lines.len() > limit;
    lines.truncate(limit);
    let next_after = more.then(|| lines.last().map(|(p, _)| *p)).flatten();
    LogPage {
        entries: lines.into_iter().map(|(_, e)| e).collect(),
        next_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(attempt: u32) -> AttemptLogEntry {
        AttemptLogEntry {
            executed_utc: rfc3339_millis(u64::from(attempt) * 1_000),
            http_response: Some(500),
            detail: "HTTP 500".into(),
            outcome: "HTTP 500".into(),
            attempt,
            dropped: None,
        }
    }

    /// Stores `n` more entries the way the object does (append, then drop what is due), and
    /// returns the positions kept and the gap.
    fn log_of(n: u64) -> (Vec<u64>, Option<LogGap>) {
        let mut kept: Vec<u64> = Vec::new();
        let mut gap = None;
        for position in 1..=n {
            kept.push(position);
            let drop: Vec<u64> = entries_to_drop(&kept).to_vec();
            if let (Some(first), Some(last)) = (drop.first(), drop.last()) {
                assert_eq!(last - first + 1, drop.len() as u64, "contiguous");
                gap = Some(LogGap::widened(
                    gap,
                    drop.len() as u64,
                    *last,
                    *last as u32,
                    0,
                ));
                kept.retain(|p| !drop.contains(p));
            }
        }
        (kept, gap)
    }

    #[test]
    fn a_log_within_the_cap_keeps_everything() {
        let (kept, gap) = log_of(LOG_KEEP_NEWEST as u64 + 1);
        assert_eq!(kept.len(), LOG_KEEP_NEWEST + 1);
        assert_eq!(gap, None);
        assert!(entries_to_drop(&[]).is_empty());
        assert!(entries_to_drop(&[7]).is_empty());
    }

    #[test]
    fn a_long_log_keeps_the_first_and_the_newest_and_counts_the_rest() {
        let (kept, gap) = log_of(1_000);
        assert_eq!(kept.len(), LOG_KEEP_NEWEST + 1);
        assert_eq!(kept.first(), Some(&1));
        assert_eq!(kept.get(1), Some(&(1_000 - LOG_KEEP_NEWEST as u64 + 1)));
        assert_eq!(kept.last(), Some(&1_000));
        let gap = gap.unwrap_or_else(|| panic!("a gap"));
        assert_eq!(gap.dropped, 1_000 - 1 - LOG_KEEP_NEWEST as u64);
        assert_eq!(
            gap.position,
            1_000 - LOG_KEEP_NEWEST as u64,
            "the newest dropped"
        );
        let line = gap.entry();
        assert_eq!(line.dropped, Some(899));
        assert_eq!(line.http_response, None);
        assert!(
            line.detail.starts_with("899 older entries dropped"),
            "{}",
            line.detail
        );
    }

    #[test]
    fn the_gap_line_is_serialised_with_its_count_and_others_without() {
        let gap = LogGap::widened(None, 3, 9, 4, 0).entry();
        let json = serde_json::to_value(&gap).unwrap_or_default();
        assert_eq!(json["dropped"], 3);
        let plain = serde_json::to_value(entry(1)).unwrap_or_default();
        assert!(plain.get("dropped").is_none(), "{plain}");
    }

    #[test]
    fn pages_walk_the_log_oldest_first_with_the_gap_in_its_place() {
        let (kept, gap) = log_of(130);
        let stored: Vec<(u64, AttemptLogEntry)> =
            kept.iter().map(|p| (*p, entry(*p as u32))).collect();
        let mut query = PageQuery {
            limit: 7,
            after: None,
        };
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            // As the object reads: after the cursor, at most limit + 1.
            let after = query.after.unwrap_or(0);
            let window: Vec<_> = stored
                .iter()
                .filter(|(p, _)| *p > after)
                .take(query.limit + 1)
                .cloned()
                .collect();
            let got = page(window, gap, &query);
            assert!(got.entries.len() <= query.limit);
            seen.extend(got.entries);
            pages += 1;
            match got.next_after {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
        assert_eq!(
            seen.len(),
            LOG_KEEP_NEWEST + 2,
            "every kept entry and the gap line"
        );
        assert_eq!(pages, (LOG_KEEP_NEWEST + 2).div_ceil(7));
        assert_eq!(seen.first().map(|e| e.attempt), Some(1));
        assert_eq!(seen.get(1).and_then(|e| e.dropped), Some(29));
        assert_eq!(seen.get(2).map(|e| e.attempt), Some(31));
        assert_eq!(seen.last().map(|e| e.attempt), Some(130));
    }

    #[test]
    fn a_page_that_ends_exactly_at_the_end_says_there_is_no_more() {
        let stored: Vec<_> = (1..=3).map(|p| (p, entry(p as u32))).collect();
        let got = page(
            stored.clone(),
            None,
            &PageQuery {
                limit: 3,
                after: None,
            },
        );
        assert_eq!((got.entries.len(), got.next_after), (3, None));
        let got = page(
            stored,
            None,
            &PageQuery {
                limit: 2,
                after: None,
            },
        );
        assert_eq!(got.next_after, Some(2));
        let got = page(Vec::new(), None, &PageQuery::default());
        assert_eq!(
            got,
            LogPage {
                entries: Vec::new(),
                next_after: None
            }
        );
    }

    #[test]
    fn a_cursor_past_the_gap_leaves_it_out() {
        let gap = Some(LogGap::widened(None, 5, 6, 6, 0));
        let stored = vec![(7, entry(7)), (8, entry(8))];
        let query = PageQuery {
            limit: 5,
            after: Some(6),
        };
        let got = page(stored, gap, &query);
        assert_eq!(
            got.entries.iter().map(|e| e.attempt).collect::<Vec<_>>(),
            [7, 8]
        );
    }

    #[test]
    fn page_queries() {
        let ok = |q: &[(&str, &str)]| PageQuery::parse(q.iter().copied());
        assert_eq!(ok(&[]), Ok(PageQuery::default()));
        assert_eq!(
            ok(&[("limit", "100"), ("after", "42"), ("other", "x")]),
            Ok(PageQuery {
                limit: 100,
                after: Some(42)
            })
        );
        assert_eq!(
            ok(&[("limit", "1"), ("after", "0")]).map(|q| q.limit),
            Ok(1)
        );
        assert_eq!(
            ok(&[("after", "9007199254740991")]).map(|q| q.after),
            Ok(Some(CURSOR_MAX))
        );
        for (query, field) in [
            (&[("limit", "0")][..], "limit"),
            (&[("limit", "101")], "limit"),
            (&[("limit", "-1")], "limit"),
            (&[("limit", "1.0")], "limit"),
            (&[("limit", " 5")], "limit"),
            (&[("limit", "")], "limit"),
            (&[("limit", "abc")], "limit"),
            (&[("limit", "5"), ("limit", "5")], "limit"),
            (&[("after", "x")], "after"),
            (&[("after", "-1")], "after"),
            (&[("after", "9007199254740992")], "after"),
            (&[("after", "99999999999999999999")], "after"),
            (&[("after", "1"), ("after", "2")], "after"),
        ] {
            let errors = ok(query).err().unwrap_or_default();
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, [field], "{query:?}");
        }
        let both = ok(&[("limit", "0"), ("after", "x"), ("limit", "1000")])
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = both.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "after"], "each bad parameter named once");
    }
}
