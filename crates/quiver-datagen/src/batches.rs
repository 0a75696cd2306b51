//! Rows to Arrow: the two schemas and one record batch per slice of rows.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

use crate::customer_rows::CustomerRow;
use crate::driver_rows::DriverRow;

/// The most rows one record batch (and one Parquet row group) holds.
pub const BATCH_ROWS: usize = 65_536;

fn timestamp(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    )
}

static DRIVER_STATS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        timestamp("event_timestamp"),
        timestamp("created"),
        Field::new("conv_rate", DataType::Float32, true),
        Field::new("acc_rate", DataType::Float32, true),
        Field::new("avg_daily_trips", DataType::Int64, true),
    ]))
});

static CUSTOMER_PROFILE: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        timestamp("event_timestamp"),
        timestamp("created"),
        Field::new("current_balance", DataType::Float64, true),
        Field::new("avg_passenger_count", DataType::Float32, true),
        Field::new("lifetime_trip_count", DataType::Int64, true),
        Field::new("segment", DataType::Utf8, true),
    ]))
});

/// The schema of driver_stats: keys and times are non-null, features nullable.
pub fn driver_stats_schema() -> SchemaRef {
    DRIVER_STATS.clone()
}

/// The schema of customer_profile: keys and times are non-null, features nullable.
pub fn customer_profile_schema() -> SchemaRef {
    CUSTOMER_PROFILE.clone()
}

fn times(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(values).with_timezone("UTC"))
}

/// One driver_stats record batch holding `rows`.
pub fn driver_stats_batch(rows: &[DriverRow]) -> Result<RecordBatch, ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.driver_id),
        )),
        times(rows.iter().map(|r| r.event_timestamp)),
        times(rows.iter().map(|r| r.created)),
        Arc::new(Float32Array::from_iter(rows.iter().map(|r| r.conv_rate))),
        Arc::new(Float32Array::from_iter(rows.iter().map(|r| r.acc_rate))),
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| r.avg_daily_trips),
        )),
    ];
    RecordBatch::try_new(driver_stats_schema(), columns)
}

/// One customer_profile record batch holding `rows`.
pub fn customer_profile_batch(rows: &[CustomerRow]) -> Result<RecordBatch, ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.customer_id.as_str()),
        )),
        times(rows.iter().map(|r| r.event_timestamp)),
        times(rows.iter().map(|r| r.created)),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.current_balance),
        )),
        Arc::new(Float32Array::from_iter_values(
            rows.iter().map(|r| r.avg_passenger_count),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.lifetime_trip_count),
        )),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.segment))),
    ];
    RecordBatch::try_new(customer_profile_schema(), columns)
}
