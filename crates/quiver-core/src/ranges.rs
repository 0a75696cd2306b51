//! The values quiver can store: one range rule for every write path (batch
//! materialization, push, the Kafka ingest) and every tier, so a row one store
//! takes is never refused by the other.
//!
//! - **Timestamps** (event times, created times and `timestamp` features) lie
//!   within ±2^53 µs of 1970 ([`MIN_TIMESTAMP_US`]..=[`MAX_TIMESTAMP_US`], from
//!   1684-07-28 to 2255-06-05): the narrowest any tier needs, set by the Redis
//!   guard script, which compares times as Lua numbers (doubles, exact only up to
//!   2^53).
//! - **Numbers** fit their declared type: an integer beyond `int32`'s range is
//!   not an `int32`, and a finite number beyond `float32`'s range is refused
//!   instead of becoming infinity.
//!
//! A row whose join key or event time is null cannot be placed in time or
//! matched, so it is refused too (see `quiver_quality::builtin` for the
//! batch side).

/// The latest supported timestamp, UTC microseconds (2255-06-05T23:47:34.740992Z).
pub const MAX_TIMESTAMP_US: i64 = 1 << 53;
/// The earliest supported timestamp, UTC microseconds (1684-07-28T00:12:25.259008Z).
pub const MIN_TIMESTAMP_US: i64 = -MAX_TIMESTAMP_US;
/// The supported timestamps, as error messages state them.
pub const TIMESTAMP_RANGE: &str =
    "1684-07-28T00:12:25.259008Z to 2255-06-05T23:47:34.740992Z (±2^53 µs around 1970)";

/// Whether a timestamp (UTC microseconds) can be stored.
pub fn timestamp_in_range(us: i64) -> bool {
    (MIN_TIMESTAMP_US..=MAX_TIMESTAMP_US).contains(&us)
}

/// `value` as a `float32`, or `None` when it is finite but beyond `float32`'s
/// range (it would be stored as infinity). Precision is rounded away as usual.
pub fn to_float32(value: f64) -> Option<f32> {
    let narrowed = value as f32;
    (narrowed.is_finite() || !value.is_finite()).then_some(narrowed)
}

/// `value` as an `int32`, or `None` when it is beyond `int32`'s range.
pub fn to_int32(value: i64) -> Option<i32> {
    i32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_within_2_53_microseconds_of_1970() {
        assert!(timestamp_in_range(0));
        assert!(timestamp_in_range(MAX_TIMESTAMP_US));
        assert!(timestamp_in_range(MIN_TIMESTAMP_US));
        assert!(!timestamp_in_range(MAX_TIMESTAMP_US + 1));
        assert!(!timestamp_in_range(MIN_TIMESTAMP_US - 1));
        // 1677-09-21 (the nanosecond limit) and 0001-01-01 are outside.
        assert!(!timestamp_in_range(-9_223_372_036_854_775));
        assert!(!timestamp_in_range(-62_135_596_800_000_000));
    }

    #[test]
    fn the_stated_range_is_the_constants() {
        // 2^53 µs = 104,249 days, 23:47:34.740992 after 1970-01-01.
        let days = MAX_TIMESTAMP_US / 86_400_000_000;
        assert_eq!(days, 104_249);
        assert_eq!(MAX_TIMESTAMP_US % 86_400_000_000, 85_654_740_992);
        assert!(TIMESTAMP_RANGE.contains("2255-06-05T23:47:34.740992Z"));
        assert!(TIMESTAMP_RANGE.contains("1684-07-28T00:12:25.259008Z"));
    }

    #[test]
    fn numbers_fit_their_type_or_are_refused() {
        assert_eq!(to_float32(0.5), Some(0.5));
        assert_eq!(to_float32(f64::from(f32::MAX)), Some(f32::MAX));
        assert_eq!(to_float32(3.5e38), None);
        assert_eq!(to_float32(-3.5e38), None);
        assert_eq!(to_float32(1e-50), Some(0.0));
        assert_eq!(to_float32(f64::INFINITY), Some(f32::INFINITY));
        assert!(to_float32(f64::NAN).is_some_and(f32::is_nan));
        assert_eq!(to_int32(-2_147_483_648), Some(i32::MIN));
        assert_eq!(to_int32(3_000_000_000), None);
    }
}
