//! The shapes that go in and out of an online store, and the rules both stores share:
//! name checks, the (event, created) order and the TTL judgement.

use std::cmp::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{OnlineError, Result};
use crate::key::EntityKey;
use crate::value::Value;

/// Field suffixes the Redis layout reserves inside a view's namespace.
pub(crate) const RESERVED_FEATURES: [&str; 2] = ["__ts", "__created"];

/// Timestamps must stay where a double is exact: the Redis guard script compares
/// them as Lua numbers. This is the narrowest range any tier needs, so it is
/// quiver's one supported range (`quiver_core::ranges`), checked on every write path.
pub use quiver_core::ranges::MAX_TIMESTAMP_US;

/// What a write needs to know about a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewMeta {
    pub name: String,
    /// Every feature of the view, in the order of [`OnlineRow::values`].
    pub features: Vec<String>,
    /// The view's TTL: used for the Redis key expiry when that is enabled.
    pub ttl: Option<Duration>,
}

/// One row of a view for one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineRow {
    pub key: EntityKey,
    /// Event time, UTC µs.
    pub event_ts: i64,
    /// Created (ingestion) time, UTC µs; `None` ranks below every value.
    pub created_ts: Option<i64>,
    /// One per [`ViewMeta::features`], in order.
    pub values: Vec<Value>,
}

/// What a write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteReport {
    /// Rows stored (newer than, or equal to, what was there).
    pub written: u64,
    /// Rows dropped because the stored row has a later (event, created).
    pub dropped_older: u64,
}

impl std::ops::AddAssign for WriteReport {
    fn add_assign(&mut self, other: Self) {
        self.written += other.written;
        self.dropped_older += other.dropped_older;
    }
}

/// One view's part of a read: which features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadView {
    pub view: String,
    pub features: Vec<String>,
    /// Values older than this (against the read's `now`) read as
    /// [`Status::OutsideMaxAge`]; `None` never expires.
    pub ttl: Option<Duration>,
}

/// How a value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Present,
    NotFound,
    OutsideMaxAge,
}

impl Status {
    /// The wire spelling (`PRESENT`, `NOT_FOUND`, `OUTSIDE_MAX_AGE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Present => "PRESENT",
            Status::NotFound => "NOT_FOUND",
            Status::OutsideMaxAge => "OUTSIDE_MAX_AGE",
        }
    }
}

/// The answer for one (entity key, view).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewValues {
    pub status: Status,
    /// The stored row's event time: `Some` when `Present` or `OutsideMaxAge`,
    /// `None` when `NotFound`.
    pub event_ts: Option<i64>,
    /// One per requested feature; all `Null` unless `Present`. A feature the stored
    /// row does not have (added to the view later) reads as `Null`.
    pub values: Vec<Value>,
}

impl ViewValues {
    pub(crate) fn not_found(features: usize) -> Self {
        ViewValues {
            status: Status::NotFound,
            event_ts: None,
            values: vec![Value::Null; features],
        }
    }

    /// The answer for a stored row with this event time, judged against `now_us`;
    /// `values` is only called when the row is fresh enough to be returned.
    pub(crate) fn found(
        event_ts: i64,
        ttl: Option<Duration>,
        now_us: i64,
        features: usize,
        values: impl FnOnce() -> Result<Vec<Value>>,
    ) -> Result<Self> {
        Ok(match judge(event_ts, ttl, now_us) {
            Status::Present => ViewValues {
                status: Status::Present,
                event_ts: Some(event_ts),
                values: values()?,
            },
            status => ViewValues {
                status,
                event_ts: Some(event_ts),
                values: vec![Value::Null; features],
            },
        })
    }
}

/// The current time in UTC microseconds (the default `now` of a read).
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn duration_us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `Present` when the row is within the TTL: `event_ts >= now - ttl` (inclusive,
/// like the point-in-time join), otherwise `OutsideMaxAge`.
pub(crate) fn judge(event_ts: i64, ttl: Option<Duration>, now_us: i64) -> Status {
    match ttl {
        Some(ttl) if event_ts < now_us.saturating_sub(duration_us(ttl)) => Status::OutsideMaxAge,
        _ => Status::Present,
    }
}

/// The order the guard keeps: event time, then created time with `None` lowest.
pub(crate) fn version_cmp(a: (i64, Option<i64>), b: (i64, Option<i64>)) -> Ordering {
    // Option's order already puts None below Some.
    a.cmp(&b)
}

/// Checks a view name for both stores (it becomes part of keys and field names).
pub(crate) fn check_view_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains([':', '\0', '{', '}']) {
        return Err(OnlineError::Invalid(format!(
            "view name `{name}` must be non-empty without `:`, braces or NUL"
        )));
    }
    Ok(())
}

pub(crate) fn check_feature_names(view: &str, features: &[String]) -> Result<()> {
    for (i, f) in features.iter().enumerate() {
        if f.is_empty() || f.contains('\0') {
            return Err(OnlineError::Invalid(format!(
                "view `{view}` has an empty or NUL-containing feature name"
            )));
        }
        if RESERVED_FEATURES.contains(&f.as_str()) {
            return Err(OnlineError::Invalid(format!(
                "feature name `{view}:{f}` is reserved by the online store"
            )));
        }
        if features[..i].contains(f) {
            return Err(OnlineError::Invalid(format!(
                "feature `{view}:{f}` is listed twice"
            )));
        }
    }
    Ok(())
}

/// Validates a write: names, one value per feature, timestamps in range.
pub(crate) fn check_write(view: &ViewMeta, rows: &[OnlineRow]) -> Result<()> {
    check_view_name(&view.name)?;
    check_feature_names(&view.name, &view.features)?;
    for row in rows {
        if row.values.len() != view.features.len() {
            return Err(OnlineError::Invalid(format!(
                "row for {} in view `{}` has {} values for {} features",
                row.key,
                view.name,
                row.values.len(),
                view.features.len()
            )));
        }
        for ts in std::iter::once(row.event_ts).chain(row.created_ts) {
            if !quiver_core::ranges::timestamp_in_range(ts) {
                return Err(OnlineError::Invalid(format!(
                    "timestamp {ts}µs of the row for {} in view `{}` is outside {}",
                    row.key,
                    view.name,
                    quiver_core::ranges::TIMESTAMP_RANGE
                )));
            }
        }
    }
    Ok(())
}

/// Validates a read's views.
pub(crate) fn check_read(views: &[ReadView]) -> Result<()> {
    for v in views {
        check_view_name(&v.view)?;
        check_feature_names(&v.view, &v.features)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_boundary_is_inclusive() {
        let ttl = Some(Duration::from_secs(10));
        let now = 100_000_000;
        assert_eq!(judge(now - 10_000_000, ttl, now), Status::Present);
        assert_eq!(judge(now - 10_000_001, ttl, now), Status::OutsideMaxAge);
        assert_eq!(judge(i64::MIN, None, now), Status::Present);
        assert_eq!(judge(now + 5, ttl, now), Status::Present);
    }

    #[test]
    fn null_created_ranks_lowest() {
        assert_eq!(version_cmp((5, None), (5, Some(i64::MIN))), Ordering::Less);
        assert_eq!(version_cmp((6, None), (5, Some(9))), Ordering::Greater);
        assert_eq!(version_cmp((5, Some(1)), (5, Some(1))), Ordering::Equal);
    }

    #[test]
    fn status_serializes_in_screaming_snake_case() {
        for s in [Status::Present, Status::NotFound, Status::OutsideMaxAge] {
            let json = serde_json::to_string(&s).ok();
            assert_eq!(json, Some(format!("\"{}\"", s.as_str())));
        }
    }
}
