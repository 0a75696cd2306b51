//! Timestamps as people read them.

use chrono::{DateTime, SecondsFormat, Utc};

/// UTC microseconds as RFC 3339.
pub fn rfc3339(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| us.to_string())
}

pub fn now_rfc3339() -> String {
    rfc3339(Utc::now().timestamp_micros())
}
