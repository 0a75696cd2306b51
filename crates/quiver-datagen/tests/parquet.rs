//! The Parquet output: determinism, schemas, row counts, realism, streaming, atomic writes.
// Helpers outside #[test] fns are test code too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use common::{driver_tuples, end, metadata, options, read};
use quiver_datagen::{
    BATCH_ROWS, CUSTOMER_PROFILE_FILE, DRIVER_STATS_FILE, DatagenError, GenerateOptions,
    customer_profile_schema, driver_stats_schema, generate_parquet,
};

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

#[test]
fn same_options_same_data_and_another_seed_other_values() {
    let opts = options(100, 72, 200, 14);
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate_parquet(a.path(), &opts).unwrap();
    generate_parquet(b.path(), &opts).unwrap();
    let other = GenerateOptions {
        seed: 43,
        ..opts.clone()
    };
    generate_parquet(c.path(), &other).unwrap();

    for file in [DRIVER_STATS_FILE, CUSTOMER_PROFILE_FILE] {
        let (first, second) = (read(&a.path().join(file)), read(&b.path().join(file)));
        assert!(!first.is_empty());
        assert_eq!(first, second, "{file}");
        // Even the bytes match: nothing time- or host-dependent goes into the file.
        assert_eq!(
            std::fs::read(a.path().join(file)).unwrap(),
            std::fs::read(b.path().join(file)).unwrap(),
            "{file}"
        );
    }

    let ours = read(&a.path().join(DRIVER_STATS_FILE));
    let theirs = read(&c.path().join(DRIVER_STATS_FILE));
    let conv = |batches: &[arrow::array::RecordBatch]| {
        batches
            .iter()
            .flat_map(|b| {
                b.column(3)
                    .as_primitive::<Float32Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .take(1000)
            .collect::<Vec<_>>()
    };
    assert_ne!(conv(&ours), conv(&theirs));
    let balance = |dir: &std::path::Path| {
        read(&dir.join(CUSTOMER_PROFILE_FILE))[0]
            .column(3)
            .as_primitive::<Float64Type>()
            .values()
            .to_vec()
    };
    assert_ne!(balance(a.path()), balance(c.path()));
}

#[test]
fn driver_stats_schema_rows_corrections_and_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let (drivers, hours) = (100, 72);
    let report = generate_parquet(dir.path(), &options(drivers, hours, 10, 3)).unwrap();
    let path = dir.path().join(DRIVER_STATS_FILE);
    let batches = read(&path);

    let schema = batches[0].schema();
    assert_eq!(schema.fields(), driver_stats_schema().fields());
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let types: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().clone()))
        .collect();
    assert_eq!(
        types,
        [
            ("driver_id", DataType::Int64),
            ("event_timestamp", ts.clone()),
            ("created", ts),
            ("conv_rate", DataType::Float32),
            ("acc_rate", DataType::Float32),
            ("avg_daily_trips", DataType::Int64),
        ]
    );

    let rows = driver_tuples(&batches);
    assert_eq!(report.files[0], (path, rows.len() as u64));

    // Late corrections: right after their original, same key and event time, later created, other values.
    let mut corrections = 0;
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if (a.0, a.1) == (b.0, b.1) {
            corrections += 1;
            assert!(b.2 > a.2, "correction is created later: {a:?} {b:?}");
            assert_ne!((a.3, a.4, a.5), (b.3, b.4, b.5));
        } else {
            assert!(
                (a.0, a.1) < (b.0, b.1),
                "ordered by driver then time: {a:?} {b:?}"
            );
        }
    }
    assert_eq!(rows.len(), drivers * hours + corrections);
    // ~0.5% of 7200 pairs.
    assert!(
        (5..=100).contains(&corrections),
        "{corrections} corrections"
    );

    // Every driver has every hour from end - (hours-1)h to end.
    let end_us = end().timestamp_micros();
    let expected: BTreeSet<i64> = (0..hours as i64).map(|k| end_us - k * HOUR_US).collect();
    let mut per_driver: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for r in &rows {
        per_driver.entry(r.0).or_default().insert(r.1);
        assert!(r.2 > r.1, "created after the event");
        assert!(r.2 - r.1 < DAY_US);
        assert!(r.3.is_none_or(|v| (0.0..=1.0).contains(&v)));
        assert!(r.4.is_none_or(|v| (0.0..=1.0).contains(&v)));
        assert!(r.5.is_none_or(|v| (0..=1000).contains(&v)));
    }
    assert_eq!(
        per_driver.keys().copied().collect::<Vec<_>>(),
        (1001..1001 + drivers as i64).collect::<Vec<_>>()
    );
    assert!(per_driver.values().all(|times| *times == expected));

    // ~1% nulls in conv_rate and avg_daily_trips.
    let conv_nulls = rows.iter().filter(|r| r.3.is_none()).count();
    let trip_nulls = rows.iter().filter(|r| r.5.is_none()).count();
    for nulls in [conv_nulls, trip_nulls] {
        assert!(
            (20..=150).contains(&nulls),
            "{nulls} nulls in {} rows",
            rows.len()
        );
    }
}

#[test]
fn customer_profile_schema_rows_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let (customers, days) = (200, 14);
    let report = generate_parquet(dir.path(), &options(2, 2, customers, days)).unwrap();
    let path = dir.path().join(CUSTOMER_PROFILE_FILE);
    let batches = read(&path);
    let schema = batches[0].schema();
    assert_eq!(schema.fields(), customer_profile_schema().fields());
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let types: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().clone()))
        .collect();
    assert_eq!(
        types,
        [
            ("customer_id", DataType::Utf8),
            ("event_timestamp", ts.clone()),
            ("created", ts),
            ("current_balance", DataType::Float64),
            ("avg_passenger_count", DataType::Float32),
            ("lifetime_trip_count", DataType::Int64),
            ("segment", DataType::Utf8),
        ]
    );

    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(total, customers * days);
    assert_eq!(report.files[1], (path, total as u64));

    let end_us = end().timestamp_micros();
    let mut segments = BTreeMap::new();
    let mut last: Option<(String, i64, i64)> = None;
    let mut ids = BTreeSet::new();
    for b in &batches {
        let id = b.column(0).as_string::<i32>();
        let ev = b.column(1).as_primitive::<TimestampMicrosecondType>();
        let created = b.column(2).as_primitive::<TimestampMicrosecondType>();
        let trips = b.column(5).as_primitive::<Int64Type>();
        let segment = b.column(6).as_string::<i32>();
        for i in 0..b.num_rows() {
            let (id, ev, trips) = (id.value(i).to_string(), ev.value(i), trips.value(i));
            assert!(created.value(i) > ev);
            assert!((end_us - (days as i64 - 1) * DAY_US..=end_us).contains(&ev));
            assert_eq!((end_us - ev) % DAY_US, 0);
            *segments
                .entry(segment.is_valid(i).then(|| segment.value(i).to_string()))
                .or_insert(0) += 1;
            if let Some((prev_id, prev_ev, prev_trips)) = &last
                && *prev_id == id
            {
                assert_eq!(ev - prev_ev, DAY_US);
                assert!(trips >= *prev_trips, "lifetime_trip_count never decreases");
            }
            ids.insert(id.clone());
            last = Some((id, ev, trips));
        }
    }
    let expected_ids: BTreeSet<String> = (1..=customers).map(|i| format!("C{i:05}")).collect();
    assert_eq!(ids, expected_ids);
    assert!(ids.contains("C00001") && ids.contains("C00200"));
    let names: BTreeSet<_> = segments.keys().cloned().collect();
    assert_eq!(
        names,
        [
            None,
            Some("bronze".into()),
            Some("gold".into()),
            Some("silver".into())
        ]
        .into_iter()
        .collect()
    );
    let nulls = segments[&None];
    assert!(
        (5..=80).contains(&nulls),
        "{nulls} null segments in {total}"
    );
}

#[test]
fn large_tables_are_written_in_bounded_batches() {
    let dir = tempfile::tempdir().unwrap();
    let report = generate_parquet(dir.path(), &options(1000, 300, 5, 2)).unwrap();
    let path = dir.path().join(DRIVER_STATS_FILE);
    let meta = metadata(&path);
    let total = meta.file_metadata().num_rows() as u64;
    assert!(total >= 300_000);
    assert_eq!(report.files[0].1, total);
    let groups: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
    assert!(groups.len() >= 5, "{groups:?}");
    assert!(
        groups.iter().all(|&n| n as usize <= BATCH_ROWS),
        "{groups:?}"
    );
    assert!(!matches!(
        meta.row_group(0).column(0).compression(),
        parquet::basic::Compression::UNCOMPRESSED
    ));
}

#[test]
fn output_replaces_old_files_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/data");
    generate_parquet(&out, &options(5, 5, 5, 5)).unwrap();
    let report = generate_parquet(&out, &options(3, 4, 2, 2)).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [CUSTOMER_PROFILE_FILE, DRIVER_STATS_FILE]);
    assert_eq!(report.files[1].1, 4);
    let drivers: usize = read(&out.join(DRIVER_STATS_FILE))
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(drivers as u64, report.files[0].1);
    assert!(drivers >= 12);
}

#[cfg(unix)]
#[test]
fn files_get_the_usual_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    generate_parquet(dir.path(), &options(1, 1, 1, 1)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let plain = dir.path().join("plain");
    std::fs::File::create(&plain).unwrap();
    // Like any file the user creates (umask applies), not the temp file's owner-only 0600.
    assert_eq!(mode(&dir.path().join(DRIVER_STATS_FILE)), mode(&plain));
}

#[test]
fn empty_tables_are_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    let report = generate_parquet(dir.path(), &options(0, 72, 10, 0)).unwrap();
    assert_eq!(report.files.iter().map(|f| f.1).collect::<Vec<_>>(), [0, 0]);
    let meta = metadata(&dir.path().join(DRIVER_STATS_FILE));
    assert_eq!(meta.file_metadata().num_rows(), 0);
}

#[test]
fn impossible_options_are_rejected_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let err = generate_parquet(&out, &options(1, usize::MAX, 1, 1)).unwrap_err();
    assert!(matches!(err, DatagenError::InvalidArgument(_)), "{err}");
    let err = generate_parquet(&out, &options(1, 1, 1, 400_000_000)).unwrap_err();
    assert!(matches!(err, DatagenError::InvalidArgument(_)), "{err}");
    assert!(!out.exists());
}
