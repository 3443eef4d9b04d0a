//! Time as plain milliseconds since the epoch: the domain never reads a clock, the edge passes `now` in.

use chrono::{DateTime, SecondsFormat};

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-21T07:16:53.123Z`.
pub fn rfc3339_millis(epoch_ms: u64) -> String {
    i64::try_from(epoch_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| "9999-12-31T23:59:59.999Z".to_owned())
}

pub const SECOND_MS: u64 = 1000;
pub const MINUTE_MS: u64 = 60 * SECOND_MS;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
pub const DAY_MS: u64 = 24 * HOUR_MS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc_with_millis() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_795_245_413_123),
            "2026-11-21T07:16:53.123Z"
        );
        assert_eq!(rfc3339_millis(u64::MAX), "9999-12-31T23:59:59.999Z");
    }
}
