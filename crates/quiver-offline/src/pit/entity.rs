//! The entity frame of a training-set request: join keys plus the time of each row.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, TimestampMicrosecondArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::FormatOptions;

use crate::error::{OfflineError, Result};
use crate::view_schema::{arrow_type, timestamp_type};

/// The column holding each entity row's time, as Feast names it.
pub const ENTITY_TIMESTAMP: &str = "event_timestamp";

/// A validated entity frame.
#[derive(Debug, Clone)]
pub struct EntityFrame {
    /// The rows exactly as given; every one of their columns comes back untouched.
    pub batch: RecordBatch,
    /// Each row's time, UTC microseconds.
    pub times: Vec<i64>,
}

/// The most rows one frame may hold, whatever the configured limit: the join
/// addresses entity rows with `u32`.
pub const MAX_ROWS: usize = u32::MAX as usize;

impl EntityFrame {
    /// Checks the frame: not empty, under `max_rows`, with a usable timestamp column.
    pub fn new(batch: RecordBatch, timestamp_column: &str, max_rows: usize) -> Result<Self> {
        if batch.num_rows() == 0 {
            return Err(OfflineError::Request("the entity frame has no rows".into()));
        }
        let max_rows = max_rows.min(MAX_ROWS);
        if batch.num_rows() > max_rows {
            return Err(OfflineError::Request(format!(
                "the entity frame has {} rows, over the limit of {max_rows}",
                batch.num_rows()
            )));
        }
        let column = batch.column_by_name(timestamp_column).ok_or_else(|| {
            OfflineError::Request(format!(
                "the entity frame has no `{timestamp_column}` column"
            ))
        })?;
        let times = to_utc_micros(column, timestamp_column)?;
        Ok(Self { batch, times })
    }

    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }

    /// The named key column cast to its declared type (`1001` given as text is fine).
    pub fn key_column(&self, name: &str, declared: quiver_core::ValueType) -> Result<ArrayRef> {
        let column = self.batch.column_by_name(name).ok_or_else(|| {
            OfflineError::Request(format!("the entity frame has no join key column `{name}`"))
        })?;
        let target = arrow_type(declared);
        if column.data_type() == &target {
            return Ok(column.clone());
        }
        cast_with_options(
            column,
            &target,
            &CastOptions {
                safe: false,
                format_options: FormatOptions::default(),
            },
        )
        .map_err(|e| {
            OfflineError::Request(format!("join key `{name}` is not a valid {declared}: {e}"))
        })
    }
}

/// Timestamps of any unit and zone, or RFC 3339 text, as UTC microseconds.
/// Naive timestamps are taken as UTC.
fn to_utc_micros(column: &ArrayRef, name: &str) -> Result<Vec<i64>> {
    let micros: ArrayRef = match column.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let naive = DataType::Timestamp(TimeUnit::Microsecond, None);

            (match column.data_type() {
                DataType::Timestamp(_, Some(_)) => {
                    cast_with_options(column, &timestamp_type(), &strict())?
                }
                _ => cast_with_options(column, &naive, &strict())?,
            }) as _
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = cast_with_options(column, &DataType::Utf8, &strict())?;
            let text = text.as_string::<i32>();
            let mut values = Vec::with_capacity(text.len());
            for (row, value) in text.iter().enumerate() {
                let value = value.ok_or_else(|| missing(name, row))?;
                let parsed = chrono::DateTime::parse_from_rfc3339(value.trim()).map_err(|e| {
                    OfflineError::Request(format!("entity row {row}: `{name}` value `{value}` is not an RFC 3339 timestamp: {e}"))
                })?;
                values.push(parsed.timestamp_micros());
            }
            Arc::new(TimestampMicrosecondArray::from(values))
        }
        other => {
            return Err(OfflineError::Request(format!(
                "the entity frame's `{name}` column is {other}; expected timestamps or RFC 3339 text"
            )));
        }
    };
    let micros = micros
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .ok_or_else(|| OfflineError::Request(format!("cannot read `{name}` as timestamps")))?;
    if let Some(row) = (0..micros.len()).find(|&i| micros.is_null(i)) {
        return Err(missing(name, row));
    }
    Ok(micros.values().to_vec())
}

fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    }
}

fn missing(name: &str, row: usize) -> OfflineError {
    OfflineError::Request(format!("entity row {row} has no `{name}`"))
}
