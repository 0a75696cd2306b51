//! Shared by the integration tests: read generated Parquet back.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs::File;
use std::path::Path;

use arrow::array::{
    Array, AsArray, Float32Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow::datatypes::{Float32Type, Int64Type, TimestampMicrosecondType};
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;
use quiver_datagen::GenerateOptions;

pub fn end() -> DateTime<Utc> {
    "2024-03-10T12:00:00Z".parse().unwrap()
}

pub fn options(drivers: usize, hours: usize, customers: usize, days: usize) -> GenerateOptions {
    GenerateOptions {
        drivers,
        customers,
        hours,
        days,
        end: end(),
        seed: 42,
    }
}

pub fn read(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

pub fn metadata(path: &Path) -> ParquetMetaData {
    let file = File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .metadata()
        .as_ref()
        .clone()
}

/// A driver_stats row as read back from Parquet (times in µs).
pub type DriverTuple = (i64, i64, i64, Option<f32>, Option<f32>, Option<i64>);

pub fn driver_tuples(batches: &[RecordBatch]) -> Vec<DriverTuple> {
    let mut out = Vec::new();
    for b in batches {
        let ids: &Int64Array = b.column(0).as_primitive::<Int64Type>();
        let ev: &TimestampMicrosecondArray = b.column(1).as_primitive::<TimestampMicrosecondType>();
        let cr: &TimestampMicrosecondArray = b.column(2).as_primitive::<TimestampMicrosecondType>();
        let conv: &Float32Array = b.column(3).as_primitive::<Float32Type>();
        let acc: &Float32Array = b.column(4).as_primitive::<Float32Type>();
        let trips: &Int64Array = b.column(5).as_primitive::<Int64Type>();
        let opt_f = |a: &Float32Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
        for i in 0..b.num_rows() {
            out.push((
                ids.value(i),
                ev.value(i),
                cr.value(i),
                opt_f(conv, i),
                opt_f(acc, i),
                (!trips.is_null(i)).then(|| trips.value(i)),
            ));
        }
    }
    out
}
