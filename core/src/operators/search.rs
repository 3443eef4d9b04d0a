//! Operators' searches of the payments index: `GET /requests`, the dead-letter list and the bulk replay's selection, one tenant's rows, newest first, with cursors.
//!
//! Every parameter is checked before a query is built, and a bad one is a `400` naming it.
//! Times are RFC 3339 and filter on when the request was accepted (`since` inclusive, `until`
//! exclusive). The cursor is opaque to callers: the last row's acceptance time and request id.

use serde_json::{json, Value};

use crate::http::api_error::{ApiError, FieldError};
use crate::operators::payments_index::{IndexRow, SqlValue, COLUMNS};
use crate::payment::request_record::Links;
use crate::time::rfc3339_millis;

pub const DEFAULT_LIMIT: u32 = 25;
pub const MAX_LIMIT: u32 = 100;
/// A bulk replay starts at most this many deliveries per call; the cursor continues.
pub const REPLAY_LIMIT: u32 = 100;
/// The states `state=` accepts.
pub const STATES: [&str; 4] = ["accepted", "submitted", "completed", "failed"];
/// Callback states that make a dead letter: every attempt failed, or the receiver said stop.
pub const DEAD_LETTER_STATES: [&str; 2] = ["exhausted", "stopped"];

/// Where the next page starts: after the row accepted at `created_ms` with `request_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_ms: u64,
    pub request_id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_ms, self.request_id)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (ms, id) = text.split_once('.')?;
        let valid_id = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let valid_ms = !ms.is_empty() && ms.len() <= 16 && ms.bytes().all(|b| b.is_ascii_digit());
        (valid_id && valid_ms).then(|| Cursor {
            created_ms: ms.parse().unwrap_or_default(),
            request_id: id.to_owned(),
        })
    }
}

/// Which rows a search is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Every request (`GET /requests`).
    Requests,
    /// Requests whose callback is exhausted or stopped (`/callbacks/dead-letters`).
    DeadLetters,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub listing: Listing,
    pub state: Option<String>,
    pub subject: Option<String>,
    pub since_ms: Option<u64>,
    pub until_ms: Option<u64>,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

fn invalid(field: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, "invalid", message)
}

fn parse_time(field: &str, value: &str) -> Result<u64, FieldError> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
        .ok_or_else(|| invalid(field, "must be an RFC 3339 time, e.g. 2026-12-02T10:00:00Z"))
}

impl Search {
    fn empty(listing: Listing, limit: u32) -> Self {
        Search {
            listing,
            state: None,
            subject: None,
            since_ms: None,
            until_ms: None,
            limit,
            cursor: None,
        }
    }

    /// `GET /requests?state=&subject=&since=&until=&limit=&cursor=`.
    pub fn requests(query: &str) -> Result<Self, ApiError> {
        Self::from_pairs(
            Listing::Requests,
            &["state", "subject", "since", "until", "limit", "cursor"],
            DEFAULT_LIMIT,
            MAX_LIMIT,
            url::form_urlencoded::parse(query.as_bytes()).collect(),
        )
    }

    /// `GET /callbacks/dead-letters?since=&until=&limit=&cursor=`.
    pub fn dead_letters(query: &str) -> Result<Self, ApiError> {
        Self::from_pairs(
            Listing::DeadLetters,
            &["since", "until", "limit", "cursor"],
            DEFAULT_LIMIT,
            MAX_LIMIT,
            url::form_urlencoded::parse(query.as_bytes()).collect(),
        )
    }

    /// `POST /callbacks/dead-letters/replay` with `{"since"?, "until"?, "cursor"?, "limit"?}`
    /// (an empty body replays from the newest); at most [`REPLAY_LIMIT`] per call.
    pub fn replay(body: &str) -> Result<Self, ApiError> {
        if body.trim().is_empty() {
            return Ok(Self::empty(Listing::DeadLetters, REPLAY_LIMIT));
        }
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
            return Err(ApiError::Validation(vec![invalid(
                "body",
                "must be a JSON object",
            )]));
        };
        let mut pairs = Vec::new();
        let mut errors = Vec::new();
        for name in ["since", "until", "cursor", "limit"] {
            match fields.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => pairs.push((name.into(), s.clone().into())),
                Some(Value::Number(n)) if name == "limit" => {
                    pairs.push((name.into(), n.to_string().into()));
                }
                Some(_) => errors.push(invalid(name, "has the wrong type")),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Self::from_pairs(
            Listing::DeadLetters,
            &["since", "until", "cursor", "limit"],
            REPLAY_LIMIT,
            REPLAY_LIMIT,
            pairs,
        )
    }

    fn from_pairs(
        listing: Listing,
        allowed: &[&str],
        default_limit: u32,
        max_limit: u32,
        pairs: Vec<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)>,
    ) -> Result<Self, ApiError> {
        let mut search = Self::empty(listing, default_limit);
        let mut errors = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in pairs {
            let name = name.as_ref();
            if !allowed.contains(&name) {
                errors.push(FieldError::new(
                    name,
                    "unknown",
                    format!(
                        "is not a parameter here (expected one of: {})",
                        allowed.join(", ")
                    ),
                ));
                continue;
            }
            if seen.iter().any(|s| s == name) {
                errors.push(invalid(name, "is given more than once"));
                continue;
            }
            seen.push(name.to_owned());
            let value = value.as_ref();
            let parsed = match name {
                "state" if STATES.contains(&value) => {
                    search.state = Some(value.to_owned());
                    Ok(())
                }
                "state" => Err(invalid(
                    name,
                    format!("must be one of: {}", STATES.join(", ")),
                )),
                "subject"
                    if (1..=128).contains(&value.chars().count())
                        && !value.chars().any(char::is_control) =>
                {
                    search.subject = Some(value.to_owned());
                    Ok(())
                }
                "subject" => Err(invalid(name, "must be 1–128 printable characters")),
                "since" => parse_time(name, value).map(|t| search.since_ms = Some(t)),
                "until" => parse_time(name, value).map(|t| search.until_ms = Some(t)),
                "limit" => match value.parse::<u32>() {
                    Ok(n) if (1..=max_limit).contains(&n) => {
                        search.limit = n;
                        Ok(())
                    }
                    _ => Err(invalid(
                        name,
                        format!("must be a whole number from 1 to {max_limit}"),
                    )),
                },
                "cursor" => Cursor::parse(value)
                    .map(|c| search.cursor = Some(c))
                    .ok_or_else(|| invalid(name, "is not a cursor this API gave out")),
                _ => Ok(()),
            };
            if let Err(e) = parsed {
                errors.push(e);
            }
        }
        if let (Some(since), Some(until)) = (search.since_ms, search.until_ms) {
            if since >= until {
                errors.push(invalid("until", "must be later than since"));
            }
        }
        if errors.is_empty() {
            Ok(search)
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    /// The query for one page of `tenant`'s rows: one more than the limit, to tell whether
    /// there is a next page.
    pub fn sql(&self, tenant: &str) -> (String, Vec<SqlValue>) {
        let mut sql = format!("SELECT {COLUMNS} FROM payments WHERE tenant = ?");
        let mut params: Vec<SqlValue> = vec![tenant.into()];
        if self.listing == Listing::DeadLetters {
            sql.push_str(" AND callback_state IN ('exhausted', 'stopped')");
        }
        if let Some(state) = &self.state {
            sql.push_str(" AND state = ?");
            params.push(state.as_str().into());
        }
        if let Some(subject) = &self.subject {
            sql.push_str(" AND subject = ?");
            params.push(subject.as_str().into());
        }
        if let Some(since) = self.since_ms {
            sql.push_str(" AND created_ms >= ?");
            params.push(since.into());
        }
        if let Some(until) = self.until_ms {
            sql.push_str(" AND created_ms < ?");
            params.push(until.into());
        }
        if let Some(cursor) = &self.cursor {
            sql.push_str(" AND (created_ms < ? OR (created_ms = ? AND request_id < ?))");
            params.push(cursor.created_ms.into());
            params.push(cursor.created_ms.into());
            params.push(cursor.request_id.as_str().into());
        }
        sql.push_str(" ORDER BY created_ms DESC, request_id DESC LIMIT ?");
        params.push(u64::from(self.limit.saturating_add(1)).into());
        (sql, params)
    }

    /// This page's rows and, when there are more, the cursor of the next page.
    pub fn page(&self, mut rows: Vec<IndexRow>) -> (Vec<IndexRow>, Option<Cursor>) {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if rows.len() <= limit {
            return (rows, None);
        }
        rows.truncate(limit);
        let next = rows.last().map(|r| Cursor {
            created_ms: r.created_ms,
            request_id: r.request_id.clone(),
        });
        (rows, next)
    }
}

/// One row as the API shows it, with its links on `origin`.
pub fn entry(row: &IndexRow, origin: &str) -> Value {
    let links = Links::new(origin, &row.request_id, row.callback_state != "none");
    let mut link_map = json!({"status": links.status});
    if let (Some(callbacks), Some(map)) = (links.callbacks, link_map.as_object_mut()) {
        map.insert("callbacks".into(), callbacks.into());
    }
    json!({
        "request_id": row.request_id,
        "dialect": row.dialect,
        "subject": row.subject,
        "state": row.state,
        "created": rfc3339_millis(row.created_ms),
        "updated": rfc3339_millis(row.updated_ms),
        "result_status": row.result_status,
        "submission_count": row.submission_count,
        "callback": {"state": row.callback_state, "attempts": row.callback_attempts},
        "links": link_map,
    })
}

/// A page of rows: `{"data", "has_more", "next_cursor", "links": {"next"}}`; the next link is
/// `next_base` (the listing's URL with its filters, without `cursor`) plus the cursor.
pub fn page_body(rows: &[IndexRow], next: Option<&Cursor>, origin: &str, next_base: &str) -> Value {
    let next_cursor = next.map(Cursor::encode);
    let next_link = next_cursor.as_ref().map(|c| {
        let joiner = if next_base.contains('?') { '&' } else { '?' };
        format!("{next_base}{joiner}cursor={c}")
    });
    json!({
        "data": rows.iter().map(|r| entry(r, origin)).collect::<Vec<_>>(),
        "has_more": next_cursor.is_some(),
        "next_cursor": next_cursor,
        "links": {"next": next_link},
    })
}

/// The query string of `query` without its `cursor` (the base of a next-page link).
pub fn without_cursor(query: &str) -> String {
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    fn row(ms: u64, id: char) -> IndexRow {
        IndexRow {
            request_id: id.to_string().repeat(32),
            tenant: "t".into(),
            dialect: "zai".into(),
            subject: "s".into(),
            state: "completed".into(),
            created_ms: ms,
            updated_ms: ms,
            result_status: Some(200),
            submission_count: 1,
            callback_state: "none".into(),
            callback_attempts: 0,
        }
    }

    #[test]
    fn parses_every_filter() {
        let s = Search::requests(
            "state=failed&subject=item-1&since=2026-12-02T10:00:00Z&until=2026-12-02T12:00:00%2B01:00&limit=5",
        )
        .unwrap();
        assert_eq!(s.state.as_deref(), Some("failed"));
        assert_eq!(s.subject.as_deref(), Some("item-1"));
        assert_eq!(s.since_ms, Some(1_796_205_600_000));
        assert_eq!(s.until_ms, Some(1_796_205_600_000 + 3_600_000));
        assert_eq!(s.limit, 5);
        assert_eq!(Search::requests("").unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let err =
            Search::requests("state=lost&limit=0&since=yesterday&cursor=x&subject=&color=red")
                .unwrap_err();
        assert_eq!(
            fields(err),
            vec!["state", "limit", "since", "cursor", "subject", "color"]
        );
        assert_eq!(
            fields(Search::requests("limit=101").unwrap_err()),
            ["limit"]
        );
        assert_eq!(
            fields(Search::requests("limit=1&limit=2").unwrap_err()),
            ["limit"]
        );
        assert_eq!(
            fields(
                Search::requests("since=2026-12-02T10:00:00Z&until=2026-12-02T10:00:00Z")
                    .unwrap_err()
            ),
            ["until"]
        );
        // The dead-letter list has no state or subject filter.
        assert_eq!(
            fields(Search::dead_letters("state=failed").unwrap_err()),
            ["state"]
        );
    }

    #[test]
    fn replay_bodies() {
        assert_eq!(Search::replay("").unwrap().limit, REPLAY_LIMIT);
        let s = Search::replay(r#"{"since": "2026-12-02T10:00:00Z", "limit": 3}"#).unwrap();
        assert_eq!((s.since_ms, s.limit), (Some(1_796_205_600_000), 3));
        assert_eq!(s.listing, Listing::DeadLetters);
        assert_eq!(fields(Search::replay("[1]").unwrap_err()), ["body"]);
        assert_eq!(
            fields(Search::replay(r#"{"since": 5}"#).unwrap_err()),
            ["since"]
        );
        assert_eq!(
            fields(Search::replay(r#"{"limit": 500}"#).unwrap_err()),
            ["limit"]
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = Cursor {
            created_ms: 1_796_205_600_000,
            request_id: "ab".repeat(16),
        };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for bad in [
            "",
            ".",
            "1.",
            "x.abababababababababababababababab",
            "1.ABABABABABABABABABABABABABABABAB",
            "1.ab",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_query_binds_every_filter_and_one_more_row_than_the_limit() {
        let mut s =
            Search::requests("state=failed&subject=x&since=2026-12-02T10:00:00Z&limit=2").unwrap();
        s.cursor = Some(Cursor {
            created_ms: 9,
            request_id: "a".repeat(32),
        });
        let (sql, params) = s.sql("tenant-a");
        assert_eq!(sql.matches('?').count(), params.len());
        assert_eq!(params.first(), Some(&SqlValue::Text("tenant-a".into())));
        assert_eq!(params.last(), Some(&SqlValue::Int(3)));
        assert!(sql.contains("ORDER BY created_ms DESC, request_id DESC"));
        assert!(!sql.contains("callback_state IN"));
        let (dead, _) = Search::dead_letters("").unwrap().sql("t");
        assert!(dead.contains("callback_state IN ('exhausted', 'stopped')"));
        // Values are bound, never spliced into the text.
        let s = Search::requests("subject=x'%20OR%201=1--").unwrap();
        assert!(!s.sql("t").0.contains("OR 1=1"));
    }

    #[test]
    fn pages_cut_at_the_limit_with_the_last_rows_cursor() {
        let s = Search::requests("limit=2").unwrap();
        let (rows, next) = s.page(vec![row(3, 'c'), row(2, 'b'), row(1, 'a')]);
        assert_eq!(rows.len(), 2);
        assert_eq!(next.map(|c| c.created_ms), Some(2));
        let (rows, next) = s.page(vec![row(3, 'c'), row(2, 'b')]);
        assert_eq!((rows.len(), next), (2, None));
    }

    #[test]
    fn entries_link_to_status_and_delivery_log() {
        let mut r = row(1, 'a');
        let e = entry(&r, "http://h");
        assert_eq!(
            e["links"]["status"],
            format!("http://h/request/{}/status", "a".repeat(32))
        );
        assert!(e["links"].get("callbacks").is_none());
        r.callback_state = "exhausted".into();
        assert!(entry(&r, "http://h")["links"]["callbacks"].is_string());
        let body = page_body(
            &[r],
            Some(&Cursor {
                created_ms: 1,
                request_id: "a".repeat(32),
            }),
            "http://h",
            "http://h/requests?state=failed",
        );
        assert_eq!(body["has_more"], true);
        assert!(body["links"]["next"]
            .as_str()
            .unwrap()
            .starts_with("http://h/requests?state=failed&cursor=1."));
        assert_eq!(
            without_cursor("state=failed&cursor=1.x&limit=2"),
            "state=failed&limit=2"
        );
    }
}
