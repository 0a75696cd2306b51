//! Which statistics an Arrow type gets.

use std::fmt;

use arrow::datatypes::{DataType, TimeUnit};
use serde::{Deserialize, Serialize};

use super::StatsError;

/// The family of statistics a feature gets, decided by its Arrow type.
///
/// Types of one kind can be mixed in one accumulator (an `Int32` batch and an
/// `Int64` batch of the same feature, `Utf8` and `Utf8View`), since they hold
/// the same values; types of different kinds cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// `Int32`, `Int64`, `Float32`, `Float64`: moments, distinct count,
    /// quantiles, histogram.
    Numeric,
    /// `Timestamp(Microsecond, _)`: numeric statistics over microseconds since
    /// the Unix epoch (the time zone only changes how they are displayed).
    Timestamp,
    /// `Boolean`: moments of 0/1 (the mean is the share of `true`) and the two
    /// category counts. No quantiles: they would only ever be 0 or 1.
    Boolean,
    /// `Utf8`, `LargeUtf8`, `Utf8View` and dictionaries of them: length range,
    /// distinct count and top-k category counts instead of moments.
    String,
    /// `List`, `LargeList`, `FixedSizeList`, `ListView`, `LargeListView`: count
    /// and nulls only; what is inside a list is another feature's business.
    List,
}

impl ValueKind {
    /// The kind of statistics for `data_type`, or
    /// [`StatsError::UnsupportedType`] for types that have none (yet): other
    /// integer widths, decimals, dates, other timestamp units, structs.
    ///
    /// Timestamps are accepted in microseconds only, so that `min`, `max` and the
    /// quantiles of every timestamp summary are in one unit and comparable.
    pub fn of(data_type: &DataType) -> Result<Self, StatsError> {
        match data_type {
            DataType::Int32 | DataType::Int64 | DataType::Float32 | DataType::Float64 => {
                Ok(Self::Numeric)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => Ok(Self::Timestamp),
            DataType::Boolean => Ok(Self::Boolean),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(Self::String),
            DataType::Dictionary(_, values)
                if matches!(
                    values.as_ref(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                Ok(Self::String)
            }
            DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(_, _)
            | DataType::ListView(_)
            | DataType::LargeListView(_) => Ok(Self::List),
            other => Err(StatsError::UnsupportedType(other.clone())),
        }
    }

    /// Whether summaries of this kind carry a quantile sketch (and so get PSI and
    /// KS in drift) rather than category counts.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Numeric | Self::Timestamp)
    }

    /// Whether summaries of this kind carry category counts (and so get
    /// chi-square and PSI over categories in drift).
    pub fn is_categorical(self) -> bool {
        matches!(self, Self::Boolean | Self::String)
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Numeric => "numeric",
            Self::Timestamp => "timestamp",
            Self::Boolean => "boolean",
            Self::String => "string",
            Self::List => "list",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::Field;

    use super::*;

    #[test]
    fn classifies_the_supported_types() {
        let item = Arc::new(Field::new("item", DataType::Int64, true));
        let cases = [
            (DataType::Int32, ValueKind::Numeric),
            (DataType::Float32, ValueKind::Numeric),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                ValueKind::Timestamp,
            ),
            (DataType::Boolean, ValueKind::Boolean),
            (DataType::Utf8View, ValueKind::String),
            (
                DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::LargeUtf8)),
                ValueKind::String,
            ),
            (DataType::List(item.clone()), ValueKind::List),
            (DataType::FixedSizeList(item, 3), ValueKind::List),
        ];
        for (data_type, kind) in cases {
            assert_eq!(
                ValueKind::of(&data_type).expect("supported"),
                kind,
                "{data_type}"
            );
        }
    }

    #[test]
    fn refuses_types_without_statistics() {
        for data_type in [
            DataType::Int16,
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Int64)),
            DataType::Date32,
        ] {
            assert!(matches!(
                ValueKind::of(&data_type),
                Err(StatsError::UnsupportedType(_))
            ));
        }
    }

    #[test]
    fn serializes_in_snake_case() {
        let json = serde_json::to_string(&ValueKind::Timestamp).expect("serialize");
        assert_eq!(json, "\"timestamp\"");
    }
}
