//! The built-in checks every row of every view passes before its declared
//! checks, on every write path: a row needs its join keys and its event time
//! (without them it can be neither matched nor placed in time), and each of its
//! timestamps must lie in the supported range ([`quiver_core::ranges`]), the
//! one both stores can hold. A row that breaks one is dropped and counted like
//! a `drop` check, under the name of the first it breaks.
//!
//! Push and the Kafka ingest refuse such records already when decoding them
//! (with a 400 or a dead letter, by the same range); on those paths these
//! checks find nothing.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use quiver_core::ranges::timestamp_in_range;

/// A join key is null.
pub const NULL_JOIN_KEY: &str = "null_join_key";
/// The event time is null.
pub const NULL_EVENT_TIMESTAMP: &str = "null_event_timestamp";
/// The event time, the created time or a `timestamp` feature is outside the
/// supported range.
pub const TIMESTAMP_OUT_OF_RANGE: &str = "timestamp_out_of_range";

/// The built-in checks, in the order a row's reason is picked.
pub const BUILTIN_CHECKS: [&str; 3] = [NULL_JOIN_KEY, NULL_EVENT_TIMESTAMP, TIMESTAMP_OUT_OF_RANGE];

/// The columns the built-in checks read.
#[derive(Debug, Clone)]
pub(crate) struct RowRules {
    keys: Vec<String>,
    event_ts: String,
    /// Other timestamp columns (the created time, `timestamp` and
    /// `list<timestamp>` features): null is fine, out of range is not.
    timestamps: Vec<String>,
}

impl RowRules {
    pub(crate) fn new(keys: &[String], event_ts: &str, timestamps: Vec<String>) -> Self {
        Self {
            keys: keys.to_vec(),
            event_ts: event_ts.to_string(),
            timestamps,
        }
    }

    /// Per row of `batch`, the first built-in check it breaks.
    pub(crate) fn judge(&self, batch: &RecordBatch) -> Result<Vec<Option<&'static str>>, String> {
        let mut broken: Vec<Option<&'static str>> = vec![None; batch.num_rows()];
        let mut mark = |rule: &'static str, rows: &mut dyn Iterator<Item = bool>| {
            for (slot, bad) in broken.iter_mut().zip(rows) {
                if bad && slot.is_none() {
                    *slot = Some(rule);
                }
            }
        };
        for key in &self.keys {
            let column = column(batch, key)?;
            if column.null_count() > 0 {
                mark(
                    NULL_JOIN_KEY,
                    &mut (0..column.len()).map(|i| column.is_null(i)),
                );
            }
        }
        let event = column(batch, &self.event_ts)?;
        if event.null_count() > 0 {
            mark(
                NULL_EVENT_TIMESTAMP,
                &mut (0..event.len()).map(|i| event.is_null(i)),
            );
        }
        for name in std::iter::once(&self.event_ts).chain(&self.timestamps) {
            let column = column(batch, name)?;
            mark(
                TIMESTAMP_OUT_OF_RANGE,
                &mut out_of_range(name, column)?.into_iter(),
            );
        }
        Ok(broken)
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, String> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("the rows have no column `{name}`"))
}

/// Which rows hold a timestamp outside the supported range (nulls do not).
fn out_of_range(name: &str, column: &ArrayRef) -> Result<Vec<bool>, String> {
    match column.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let values = column.as_primitive::<TimestampMicrosecondType>();
            Ok(values
                .iter()
                .map(|v| v.is_some_and(|us| !timestamp_in_range(us)))
                .collect())
        }
        DataType::List(_) => {
            let lists = column.as_list::<i32>();
            (0..lists.len())
                .map(|row| {
                    if lists.is_null(row) {
                        return Ok(false);
                    }
                    Ok(out_of_range(name, &lists.value(row))?.contains(&true))
                })
                .collect()
        }
        other => Err(format!(
            "column `{name}` holds {other}, not microsecond timestamps"
        )),
    }
}
