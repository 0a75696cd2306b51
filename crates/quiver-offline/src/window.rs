//! Half-open time windows `[start, end)` in UTC microseconds.

use chrono::{DateTime, Utc};

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

/// Parses an RFC 3339 timestamp (`2024-01-01T00:00:00Z`) as UTC.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            OfflineError::Request(format!(
                "`{text}` is not an RFC 3339 timestamp like 2024-01-01T00:00:00Z: {e}"
            ))
        })
}
