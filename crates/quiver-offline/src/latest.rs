//! The latest row of each entity among a view's canonical rows: the greatest
//! event time, ties broken by the greatest created time (a missing created
//! time counts lowest), the order the offline store keeps rows in
//! ([`crate::view_schema::storage_order`]).

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use arrow::row::{RowConverter, SortField};

use crate::error::{OfflineError, Result};
use crate::view_schema::{CREATED_TS, EVENT_TS};

/// The rows of `batch` (canonical columns) that are the latest of their keys
/// `keys`, in key order.
pub fn latest_per_key(batch: &RecordBatch, keys: &[&str]) -> Result<RecordBatch> {
    if batch.num_rows() == 0 {
        return Ok(batch.clone());
    }
    let ascending = SortOptions {
        descending: false,
        nulls_first: true,
    };
    let mut order = Vec::with_capacity(keys.len() + 2);
    for name in keys.iter().chain([&EVENT_TS, &CREATED_TS]) {
        order.push(SortColumn {
            values: column(batch, name)?,
            options: Some(ascending),
        });
    }
    let sorted = take_record_batch(batch, &lexsort_to_indices(&order, None)?)?;
    let key_columns = keys
        .iter()
        .map(|k| column(&sorted, k))
        .collect::<Result<Vec<_>>>()?;
    let converter = RowConverter::new(
        key_columns
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = converter.convert_columns(&key_columns)?;
    // Sorted by key then time: the last row of each run of one key is its latest.
    let last = sorted.num_rows() - 1;
    let keep: UInt32Array = (0..sorted.num_rows())
        .filter(|&i| i == last || rows.row(i) != rows.row(i + 1))
        .map(|i| i as u32)
        .collect();
    Ok(take_record_batch(&sorted, &keep)?)
}

fn column(batch: &RecordBatch, name: &str) -> Result<ArrayRef> {
    batch
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| OfflineError::Config(format!("canonical rows lack column `{name}`")))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Float64Array, Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};

    use super::*;
    use crate::view_schema::timestamp_type;

    fn rows(keys: &[i64], event: &[i64], created: &[Option<i64>], values: &[f64]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("driver_id", DataType::Int64, true),
            Field::new(EVENT_TS, timestamp_type(), false),
            Field::new(CREATED_TS, timestamp_type(), true),
            Field::new("rate", DataType::Float64, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(keys.to_vec())),
                Arc::new(TimestampMicrosecondArray::from(event.to_vec()).with_timezone("UTC")),
                Arc::new(TimestampMicrosecondArray::from(created.to_vec()).with_timezone("UTC")),
                Arc::new(Float64Array::from(values.to_vec())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn latest_event_wins_then_latest_created_and_a_missing_created_counts_lowest() {
        let batch = rows(
            &[2, 1, 1, 2, 2, 3],
            &[10, 5, 9, 10, 7, 1],
            &[Some(1), Some(0), Some(0), None, Some(9), None],
            &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        );
        let latest = latest_per_key(&batch, &["driver_id"]).unwrap();
        let keys = latest
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        let values = latest
            .column(3)
            .as_primitive::<Float64Type>()
            .values()
            .to_vec();
        // Key 2: two rows at event 10, the one with a created time wins.
        assert_eq!(keys, vec![1, 2, 3]);
        assert_eq!(values, vec![0.3, 0.1, 0.6]);
    }

    #[test]
    fn no_rows_give_no_rows() {
        let batch = rows(&[], &[], &[], &[]);
        assert_eq!(
            latest_per_key(&batch, &["driver_id"]).unwrap().num_rows(),
            0
        );
    }
}
