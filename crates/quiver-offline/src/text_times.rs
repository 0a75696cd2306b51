//! Timestamps written as text (CSV cells, JSON strings) into a timestamp
//! column: values given with a zone (`Z`, `+05:30`) make a UTC column, values
//! without one a naive column, so the zone a caller gave is never lost.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::FormatOptions;

use crate::error::{OfflineError, Result};

/// `text` as timestamps of `unit`: UTC when the values carry a zone (converted
/// to UTC), naive when none does; a column mixing both is refused.
pub fn timestamps_from_text(name: &str, text: &StringArray, unit: TimeUnit) -> Result<ArrayRef> {
    let (mut zoned, mut naive) = (None, None);
    for (row, value) in text.iter().enumerate() {
        let Some(value) = value else { continue };
        let slot = if has_zone(value) {
            &mut zoned
        } else {
            &mut naive
        };
        slot.get_or_insert((row, value));
    }
    if let (Some((zr, zv)), Some((nr, nv))) = (zoned, naive) {
        return Err(OfflineError::Request(format!(
            "column `{name}` mixes timestamps with a zone (row {zr}: `{zv}`) and without one \
             (row {nr}: `{nv}`); give every value a zone, or none"
        )));
    }
    let zone = zoned.map(|_| Arc::<str>::from("UTC"));
    let strict = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    cast_with_options(text, &DataType::Timestamp(unit, zone), &strict).map_err(|e| {
        OfflineError::Request(format!(
            "column `{name}` holds a value that is not a timestamp: {e}"
        ))
    })
}

/// A UTC timestamp column when every value of `text` is an RFC 3339 timestamp
/// (which always has a zone), in the finest unit its values use; `None` otherwise.
pub fn rfc3339_column(name: &str, text: &StringArray) -> Option<Result<ArrayRef>> {
    let mut digits = 0;
    for value in text.iter().flatten() {
        chrono::DateTime::parse_from_rfc3339(value.trim()).ok()?;
        digits = digits.max(fraction_digits(value));
    }
    if text.null_count() == text.len() {
        return None;
    }
    let unit = match digits {
        0 => TimeUnit::Second,
        1..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    };
    Some(timestamps_from_text(name, text, unit))
}

/// Whether a timestamp's text names its zone: anything after the seconds and
/// their fraction (`Z`, `+05:30`, ` UTC`).
pub fn has_zone(value: &str) -> bool {
    let value = value.trim();
    // `YYYY-MM-DDTHH:MM:SS` is 19 bytes; a bare date has no zone either.
    let Some(rest) = value.get(19..) else {
        return false;
    };
    let rest = rest
        .strip_prefix('.')
        .map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    !rest.trim().is_empty()
}

fn fraction_digits(value: &str) -> usize {
    value
        .trim()
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .map_or(0, |r| r.chars().take_while(char::is_ascii_digit).count())
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, TimestampSecondArray};
    use arrow::datatypes::TimestampSecondType;

    use super::*;

    #[test]
    fn zones_are_recognized() {
        assert!(has_zone("2024-01-01T00:00:00Z"));
        assert!(has_zone("2024-01-01T00:00:00.123+05:30"));
        assert!(has_zone("2024-01-01 00:00:00 UTC"));
        assert!(!has_zone("2024-01-01T00:00:00"));
        assert!(!has_zone("2024-01-01T00:00:00.123456"));
        assert!(!has_zone("2024-01-01"));
    }

    #[test]
    fn zoned_text_becomes_utc_and_naive_stays_naive() {
        let zoned = StringArray::from(vec!["2024-01-01T05:30:00+05:30", "2024-01-01T01:00:00Z"]);
        let column = timestamps_from_text("t", &zoned, TimeUnit::Second).unwrap();
        assert_eq!(
            column.data_type(),
            &DataType::Timestamp(TimeUnit::Second, Some("UTC".into()))
        );
        let values = column.as_primitive::<TimestampSecondType>();
        assert_eq!(values.values(), &[1_704_067_200, 1_704_070_800]);

        let naive = StringArray::from(vec![Some("2024-01-01T00:00:00"), None]);
        let column = timestamps_from_text("t", &naive, TimeUnit::Second).unwrap();
        assert_eq!(
            column.as_ref(),
            &TimestampSecondArray::from(vec![Some(1_704_067_200), None]) as &dyn Array
        );
    }

    #[test]
    fn a_mixed_column_is_refused_naming_both_rows() {
        let mixed = StringArray::from(vec!["2024-01-01T00:00:00Z", "2024-01-01T00:00:00"]);
        let error = timestamps_from_text("t", &mixed, TimeUnit::Second)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("row 0") && error.contains("row 1"),
            "{error}"
        );
    }

    #[test]
    fn only_rfc3339_text_becomes_a_column() {
        let ids = StringArray::from(vec!["C00042"]);
        assert!(rfc3339_column("c", &ids).is_none());
        let nulls = StringArray::from(vec![None::<&str>]);
        assert!(rfc3339_column("n", &nulls).is_none());
        let times = StringArray::from(vec![
            Some("2024-01-01T00:00:00.5Z"),
            None,
            Some("2024-01-01T10:00:00+05:30"),
        ]);
        let column = rfc3339_column("t", &times).unwrap().unwrap();
        assert_eq!(
            column.data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
    }
}
