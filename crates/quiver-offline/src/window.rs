//! Half-open time windows `[start, end)` in UTC microseconds.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::error::{OfflineError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub start_us: i64,
    pub end_us: i64,
}

impl TimeWindow {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self> {
        let window = Self {
            start_us: start.timestamp_micros(),
            end_us: end.timestamp_micros(),
        };
        if window.start_us >= window.end_us {
            return Err(OfflineError::Request(format!(
                "the window start {start} is not before its end {end}"
            )));
        }
        Ok(window)
    }

    pub fn contains(&self, ts_us: i64) -> bool {
        self.start_us <= ts_us && ts_us < self.end_us
    }

    pub fn overlaps(&self, other: &TimeWindow) -> bool {
        self.start_us < other.end_us && other.start_us < self.end_us
    }

    pub fn covers(&self, other: &TimeWindow) -> bool {
        self.start_us <= other.start_us && other.end_us <= self.end_us
    }
}

/// Parses a timestamp as UTC: RFC 3339 (`2024-01-01T00:00:00Z`), or ISO 8601
/// without a zone (`2024-01-01T00:00:00.5`, `2024-01-01 00:00:00`,
/// `2024-01-01`), read as UTC as Feast's clients mean it.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>> {
    parse_instant(text).map_err(OfflineError::Request)
}

/// [`parse_timestamp`] with a plain message: the one reading of timestamp text
/// in requests, pushed rows and streamed messages.
pub fn parse_instant(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    let trimmed = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.with_timezone(&Utc));
    }
    // ISO 8601 with a compact offset (`+0000`), as Python's strftime writes it.
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(trimmed, format) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return Ok(day.and_time(NaiveTime::MIN).and_utc());
    }
    Err(format!(
        "`{text}` is not an RFC 3339 timestamp like 2024-01-01T00:00:00Z \
         (nor ISO 8601 without a zone, read as UTC)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(text: &str) -> i64 {
        parse_timestamp(text).expect(text).timestamp_micros()
    }

    #[test]
    fn zoned_and_naive_forms_read_as_utc() {
        let midnight = 1_704_067_200_000_000;
        for text in [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T05:30:00+05:30",
            "2024-01-01T00:00:00+0000",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:00",
            "2024-01-01T00:00",
            "2024-01-01",
            " 2024-01-01T00:00:00 ",
        ] {
            assert_eq!(us(text), midnight, "{text}");
        }
        assert_eq!(us("2024-01-01T00:00:00.123456"), midnight + 123_456);
        assert_eq!(us("2024-01-01T00:00:00.5+00:00"), midnight + 500_000);
    }

    #[test]
    fn other_text_is_refused_naming_the_value() {
        for text in [
            "soon",
            "",
            "2024-13-01",
            "2024-01-01T25:00:00",
            "1704067200",
        ] {
            let error = parse_timestamp(text).unwrap_err().to_string();
            assert!(error.contains("is not an RFC 3339 timestamp"), "{error}");
            assert!(error.contains(&format!("`{text}`")), "{error}");
        }
    }
}
