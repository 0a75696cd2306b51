//! Batch sources against real services and files: Postgres tables and queries
//! (through the test Postgres), Parquet files, hive-partitioned directories and
//! globs written here, materialization into the offline store (idempotent,
//! overlapping windows) and a point-in-time join over rows read from Postgres,
//! checked against the generator's rows.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, ArrowPrimitiveType, AsArray, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray, TimestampNanosecondArray,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{
    DataType, Field, Float32Type, Float64Type, Int64Type, Schema, TimeUnit,
    TimestampMicrosecondType,
};
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use quiver_core::{
    EntitySpec, FeatureSpec, FeatureViewSpec, JoinKey, RepoSpec, SourceKind, SourceSpec,
};
use quiver_datagen::{DriverRow, GenerateOptions, driver_rows, generate_parquet, load_postgres};
use quiver_offline::pit::{
    EntityFrame, FeatureSelection, HistoricalRequest, get_historical_features,
};
use quiver_offline::{
    CREATED_TS, EVENT_TS, EngineConfig, OfflineError, OfflineStore, StoreEverything, TableRows,
    TimeWindow, ViewSchema, materialize_view, parse_timestamp, read_source, session,
    timestamp_type,
};
use quiver_testkit::{TempDatabase, temp_postgres_database};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const VIEW: &str = "driver_hourly_stats";
const SOURCE: &str = "driver_stats_source";
const TABLE: &str = "driver_stats";
const HOUR: i64 = 3_600_000_000;
const TTL_US: i64 = 48 * HOUR;
/// The generator's driver_stats features, as the example repo declares them.
const DRIVER_FEATURES: [(&str, &str); 3] = [
    ("conv_rate", "float32"),
    ("acc_rate", "float32"),
    ("avg_daily_trips", "int64"),
];

// ---------------------------------------------------------------------------
// Definitions built in code
// ---------------------------------------------------------------------------

/// UTC microseconds of an RFC 3339 time.
fn us(text: &str) -> i64 {
    parse_timestamp(text).unwrap().timestamp_micros()
}

fn window(start: &str, end: &str) -> TimeWindow {
    TimeWindow::new(
        parse_timestamp(start).unwrap(),
        parse_timestamp(end).unwrap(),
    )
    .unwrap()
}

/// 20 drivers x 72 hours ending 2024-01-03T00:00Z (events from 2023-12-31T01:00Z):
/// about 1440 rows with a few null features and late corrections.
fn options() -> GenerateOptions {
    GenerateOptions {
        drivers: 20,
        customers: 1,
        hours: 72,
        days: 1,
        end: parse_timestamp("2024-01-03T00:00:00Z").unwrap(),
        seed: 42,
    }
}

fn all_driver_rows() -> Vec<DriverRow> {
    driver_rows(&options()).unwrap().collect()
}

fn source_spec(kind: SourceKind, timestamp: &str, created: Option<&str>) -> SourceSpec {
    SourceSpec {
        name: SOURCE.into(),
        kind,
        timestamp_field: timestamp.into(),
        created_timestamp_field: created.map(String::from),
        field_mapping: Default::default(),
        description: None,
        tags: Default::default(),
    }
}

fn parquet_source(path: &str, timestamp: &str, created: Option<&str>) -> SourceSpec {
    source_spec(
        SourceKind::Parquet { path: path.into() },
        timestamp,
        created,
    )
}

/// The generator's table (or a query) in Postgres, with its two timestamps.
fn postgres_source(url: &str, table: Option<&str>, query: Option<&str>) -> SourceSpec {
    source_spec(
        SourceKind::Postgres {
            url: url.into(),
            table: table.map(String::from),
            query: query.map(String::from),
        },
        "event_timestamp",
        Some("created"),
    )
}

/// A repo with the `driver` entity (key `driver_id: int64`) and one view,
/// `driver_hourly_stats` (TTL 2 days), reading `source` with `features` (name, dtype).
fn repo(source: SourceSpec, features: &[(&str, &str)]) -> RepoSpec {
    RepoSpec {
        project: "sources".into(),
        entities: vec![EntitySpec {
            name: "driver".into(),
            description: None,
            join_keys: vec![JoinKey {
                name: "driver_id".into(),
                dtype: "int64".parse().unwrap(),
            }],
            tags: Default::default(),
        }],
        feature_views: vec![FeatureViewSpec {
            name: VIEW.into(),
            entities: vec!["driver".into()],
            source: source.name.clone(),
            stream_source: None,
            ttl: Some(Duration::from_micros(TTL_US as u64)),
            online: true,
            features: features
                .iter()
                .map(|(name, dtype)| FeatureSpec {
                    name: (*name).into(),
                    dtype: dtype.parse().unwrap(),
                    description: None,
                    checks: Vec::new(),
                })
                .collect(),
            description: None,
            checks: Vec::new(),
            drift: None,
            tags: Default::default(),
        }],
        sources: vec![source],
        feature_services: vec![],
    }
}

fn view_of(source: SourceSpec, features: &[(&str, &str)]) -> ViewSchema {
    ViewSchema::new(&repo(source, features), VIEW).unwrap()
}

fn engine(spill_dir: &Path) -> SessionContext {
    session(
        &EngineConfig {
            memory_limit: 256 << 20,
            batch_size: 500,
            target_partitions: 2,
        },
        spill_dir,
    )
    .unwrap()
}

// ---------------------------------------------------------------------------
// Reading and comparing rows
// ---------------------------------------------------------------------------

/// Asserts `schema` has the view's canonical column names and types, in order.
fn assert_canonical(schema: &Schema, view: &ViewSchema, what: &str) {
    let got: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    let want: Vec<(&str, &DataType)> = view
        .schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    assert_eq!(got, want, "{what}: not the view's canonical layout");
}

/// Everything `read_source` returns for `window`, as one batch; checks every
/// batch (and the stream's own schema) has the canonical layout.
async fn read(
    view: &ViewSchema,
    repo_root: &Path,
    window: TimeWindow,
) -> Result<RecordBatch, OfflineError> {
    let spill = tempfile::tempdir().unwrap();
    let ctx = engine(spill.path());
    let stream = read_source(&ctx, view, repo_root, window).await?;
    let schema = stream.schema();
    assert_canonical(&schema, view, "the stream's schema");
    let batches: Vec<RecordBatch> = stream.try_collect().await?;
    for batch in &batches {
        assert_canonical(&batch.schema(), view, "a batch's schema");
    }
    // Keys and event times may still be null: the built-in checks drop those rows.
    Ok(concat_batches(&schema, &batches)?)
}

/// The values of a primitive column, panicking with the column's real type if it is another.
fn column<T: ArrowPrimitiveType>(batch: &RecordBatch, name: &str) -> Vec<Option<T::Native>> {
    let array = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}` in {:?}", batch.schema()));
    array
        .as_primitive_opt::<T>()
        .unwrap_or_else(|| {
            panic!(
                "column `{name}` is {}, expected {}",
                array.data_type(),
                T::DATA_TYPE
            )
        })
        .iter()
        .collect()
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}` in {:?}", batch.schema()));
    array
        .as_string_opt::<i32>()
        .unwrap_or_else(|| panic!("column `{name}` is {}, expected Utf8", array.data_type()))
        .iter()
        .map(|v| v.map(String::from))
        .collect()
}

/// One driver_stats row as the offline tier holds it.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    driver_id: i64,
    event: i64,
    created: Option<i64>,
    conv_rate: Option<f32>,
    acc_rate: Option<f32>,
    avg_daily_trips: Option<i64>,
}

impl From<&DriverRow> for Stored {
    fn from(r: &DriverRow) -> Self {
        Stored {
            driver_id: r.driver_id,
            event: r.event_timestamp,
            created: Some(r.created),
            conv_rate: r.conv_rate,
            acc_rate: r.acc_rate,
            avg_daily_trips: r.avg_daily_trips,
        }
    }
}

/// The rows of a canonical driver_stats batch.
fn stored_rows(batch: &RecordBatch) -> Vec<Stored> {
    let ids = column::<Int64Type>(batch, "driver_id");
    let events = column::<TimestampMicrosecondType>(batch, EVENT_TS);
    let created = column::<TimestampMicrosecondType>(batch, CREATED_TS);
    let conv = column::<Float32Type>(batch, "conv_rate");
    let acc = column::<Float32Type>(batch, "acc_rate");
    let trips = column::<Int64Type>(batch, "avg_daily_trips");
    (0..batch.num_rows())
        .map(|i| Stored {
            driver_id: ids[i].expect("a join key is never null"),
            event: events[i].expect("an event time is never null"),
            created: created[i],
            conv_rate: conv[i],
            acc_rate: acc[i],
            avg_daily_trips: trips[i],
        })
        .collect()
}

/// The generator's rows that pass `keep`, in the offline tier's form.
fn expected_rows(keep: impl Fn(&DriverRow) -> bool) -> Vec<Stored> {
    all_driver_rows()
        .iter()
        .filter(|r| keep(r))
        .map(Stored::from)
        .collect()
}

fn sorted(mut rows: Vec<Stored>) -> Vec<Stored> {
    // (driver, event, created) is unique in the generated data.
    rows.sort_by_key(|r| (r.driver_id, r.event, r.created));
    rows
}

/// Same rows, any order; on failure names the first difference rather than dumping both lists.
fn assert_same_rows(got: Vec<Stored>, want: Vec<Stored>, what: &str) {
    let (got, want) = (sorted(got), sorted(want));
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: row {i} (sorted) differs\n got: {:?}\nwant: {:?}",
            got[i], want[i]
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} rows, expected {}",
        got.len(),
        want.len()
    );
}

// ---------------------------------------------------------------------------
// Postgres
// ---------------------------------------------------------------------------

/// A throwaway database holding the generator's rows in table `driver_stats`.
async fn postgres_with_driver_stats() -> TempDatabase {
    let db = temp_postgres_database("offline_sources").await;
    let loaded = load_postgres(&db.url, TABLE, &options()).await.unwrap();
    assert_eq!(loaded as usize, all_driver_rows().len(), "rows loaded");
    db
}

/// Runs `sql` (one or more statements) on the database at `url`.
async fn execute(url: &str, sql: &str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
    conn.close().await.unwrap();
}

/// A window that cuts the generated data in the middle; both bounds fall on event times.
fn middle_window() -> TimeWindow {
    window("2024-01-01T06:00:00Z", "2024-01-02T12:00:00Z")
}

#[tokio::test]
async fn postgres_table_returns_exactly_the_window_in_canonical_types() {
    let db = postgres_with_driver_stats().await;
    let view = view_of(
        postgres_source(&db.url, Some(TABLE), None),
        &DRIVER_FEATURES,
    );
    let w = middle_window();
    let want = expected_rows(|r| w.contains(r.event_timestamp));
    // The test is only meaningful if the window holds both bounds' edge cases and nulls.
    assert!(want.iter().any(|r| r.event == w.start_us), "a row at start");
    assert!(
        all_driver_rows()
            .iter()
            .any(|r| r.event_timestamp == w.end_us),
        "a source row exactly at the (excluded) end"
    );
    assert!(
        want.iter().any(|r| r.conv_rate.is_none()),
        "a null conv_rate"
    );
    assert!(
        want.iter().any(|r| r.avg_daily_trips.is_none()),
        "a null avg_daily_trips"
    );

    let batch = read(&view, Path::new("."), w).await.unwrap();
    let schema = batch.schema();
    assert_eq!(
        schema.field_with_name("conv_rate").unwrap().data_type(),
        &DataType::Float32
    );
    assert_eq!(
        schema
            .field_with_name("avg_daily_trips")
            .unwrap()
            .data_type(),
        &DataType::Int64
    );
    assert_eq!(
        schema.field_with_name(EVENT_TS).unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_same_rows(
        stored_rows(&batch),
        want,
        "Postgres rows with start <= event < end",
    );
}

#[tokio::test]
async fn postgres_query_source_reads_the_query_rows() {
    let db = postgres_with_driver_stats().await;
    let query = format!("SELECT * FROM {TABLE} WHERE driver_id < 1003");
    let view = view_of(
        postgres_source(&db.url, None, Some(&query)),
        &DRIVER_FEATURES,
    );
    let w = middle_window();
    let batch = read(&view, Path::new("."), w).await.unwrap();
    let want = expected_rows(|r| r.driver_id < 1003 && w.contains(r.event_timestamp));
    assert!(!want.is_empty());
    assert_same_rows(stored_rows(&batch), want, "rows of the query source");
}

#[tokio::test]
async fn postgres_naive_timestamp_is_read_as_utc() {
    let db = temp_postgres_database("offline_naive_ts").await;
    // The database's default zone is far from UTC: a naive `timestamp` must still
    // read as UTC. (sqlx also starts every session in UTC, which takes precedence
    // over this default, so this guards against a change of client settings.)
    execute(
        &db.url,
        &format!(
            "ALTER DATABASE \"{}\" SET timezone TO 'America/New_York'",
            db.name
        ),
    )
    .await;
    execute(
        &db.url,
        "CREATE TABLE naive_stats (driver_id BIGINT, ts TIMESTAMP, v DOUBLE PRECISION);
         INSERT INTO naive_stats VALUES
           (1001, '2024-01-01 00:00:00', 1.5),
           (1001, '2024-01-01 23:59:59.999999', 2.5),
           (1002, '2024-01-01 12:00:00', NULL),
           (1002, '2024-01-02 00:00:00', 3.5),
           (1003, '2023-12-31 23:59:59.999999', 4.5),
           (NULL, '2024-01-01 06:00:00', 5.5),
           (1004, NULL, 6.5);",
    )
    .await;

    let source = source_spec(
        SourceKind::Postgres {
            url: db.url.clone(),
            table: Some("naive_stats".into()),
            query: None,
        },
        "ts",
        None,
    );
    let view = view_of(source, &[("v", "float64")]);
    let batch = read(
        &view,
        Path::new("."),
        window("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
    )
    .await
    .unwrap();
    let mut got: Vec<(Option<i64>, Option<i64>, Option<f64>)> = (0..batch.num_rows())
        .map(|i| {
            (
                column::<Int64Type>(&batch, "driver_id")[i],
                column::<TimestampMicrosecondType>(&batch, EVENT_TS)[i],
                column::<Float64Type>(&batch, "v")[i],
            )
        })
        .collect();
    got.sort_by_key(|(d, t, _)| (*d, *t));
    assert_eq!(
        got,
        vec![
            (None, Some(us("2024-01-01T06:00:00Z")), Some(5.5)),
            (Some(1001), Some(us("2024-01-01T00:00:00Z")), Some(1.5)),
            (
                Some(1001),
                Some(us("2024-01-01T23:59:59.999999Z")),
                Some(2.5)
            ),
            (Some(1002), Some(us("2024-01-01T12:00:00Z")), None),
            (Some(1004), None, Some(6.5)),
        ],
        "naive timestamps are UTC: rows of [2024-01-01, 2024-01-02) and their times; \
         rows without a key or an event time are passed on, for the built-in checks \
         to drop and count (quiver_quality::builtin)"
    );
    assert!(
        column::<TimestampMicrosecondType>(&batch, CREATED_TS)
            .iter()
            .all(Option::is_none),
        "no created column: created times are null"
    );
}

#[tokio::test]
async fn postgres_type_mismatch_names_source_column_and_types() {
    let db = postgres_with_driver_stats().await;
    let view = view_of(
        postgres_source(&db.url, Some(TABLE), None),
        &[("conv_rate", "string"), ("avg_daily_trips", "int64")],
    );
    let err = read(&view, Path::new("."), middle_window())
        .await
        .expect_err("a REAL column read as string must fail");
    assert!(err.is_user_error(), "a type mismatch is the user's: {err}");
    match err {
        OfflineError::TypeMismatch {
            source_name,
            column,
            declared,
            found,
        } => {
            assert_eq!(
                (
                    source_name.as_str(),
                    column.as_str(),
                    declared.as_str(),
                    found.as_str()
                ),
                (SOURCE, "conv_rate", "string", "FLOAT4")
            );
        }
        other => panic!("expected TypeMismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn postgres_missing_column_is_reported() {
    let db = postgres_with_driver_stats().await;
    let view = view_of(
        postgres_source(&db.url, Some(TABLE), None),
        &[("conv_rate", "float32"), ("no_such_feature", "int64")],
    );
    let err = read(&view, Path::new("."), middle_window())
        .await
        .expect_err("a missing column must fail");
    assert!(err.is_user_error(), "a missing column is the user's: {err}");
    match err {
        OfflineError::MissingColumn {
            source_name,
            column,
        } => assert_eq!(
            (source_name.as_str(), column.as_str()),
            (SOURCE, "no_such_feature")
        ),
        other => panic!("expected MissingColumn, got {other:?}"),
    }
}

#[tokio::test]
async fn postgres_unreachable_is_unavailable() {
    let view = view_of(
        postgres_source("postgres://postgres@127.0.0.1:1/quiver", Some(TABLE), None),
        &DRIVER_FEATURES,
    );
    let err = read(&view, Path::new("."), middle_window())
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        matches!(err, OfflineError::PostgresUnavailable { .. }),
        "expected PostgresUnavailable, got {err:?}"
    );
    assert!(err.is_unavailable(), "a retry may help: {err}");
    assert!(!err.is_user_error(), "not the user's fault: {err}");
}

// ---------------------------------------------------------------------------
// Materialize from Postgres, then a point-in-time join
// ---------------------------------------------------------------------------

/// The row the point-in-time join must pick for (driver, t): the latest event
/// in `[t - ttl, t]`, ties to the greater created time.
fn brute_force(rows: &[DriverRow], driver: i64, t: i64) -> Option<&DriverRow> {
    rows.iter()
        .filter(|r| {
            r.driver_id == driver && r.event_timestamp <= t && t - TTL_US <= r.event_timestamp
        })
        .max_by_key(|r| (r.event_timestamp, r.created))
}

fn entity_batch(rows: &[(i64, i64)]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("event_timestamp", timestamp_type(), false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1))
                .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

#[tokio::test]
async fn materialized_postgres_rows_answer_point_in_time_joins() {
    let db = postgres_with_driver_stats().await;
    let spec = repo(
        postgres_source(&db.url, Some(TABLE), None),
        &DRIVER_FEATURES,
    );
    let view = ViewSchema::new(&spec, VIEW).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ctx = engine(dir.path());
    let store = OfflineStore::new(dir.path().join("offline"));
    let rows = all_driver_rows();

    // Two windows that split the data off the hour grid, so the join reads several files.
    let windows = [
        window("2023-12-30T00:00:00Z", "2024-01-02T07:30:00Z"),
        window("2024-01-02T07:30:00Z", "2024-01-05T00:00:00Z"),
    ];
    for w in windows {
        let outcome = materialize_view(
            &ctx,
            &store,
            dir.path(),
            &view,
            w,
            |_| {},
            &mut StoreEverything,
        )
        .await
        .unwrap();
        let in_window = rows
            .iter()
            .filter(|r| w.contains(r.event_timestamp))
            .count();
        assert_eq!(
            outcome.rows as usize, in_window,
            "rows materialized for {w:?}"
        );
        assert_eq!(outcome.rows_replaced, 0, "nothing stored before for {w:?}");
    }

    // Late corrections share their original's event time: the later created wins.
    let corrections: Vec<(i64, i64)> = rows
        .windows(2)
        .filter(|p| {
            p[0].driver_id == p[1].driver_id && p[0].event_timestamp == p[1].event_timestamp
        })
        .map(|p| (p[1].driver_id, p[1].event_timestamp))
        .collect();
    assert!(!corrections.is_empty(), "test data holds late corrections");

    let end = us("2024-01-03T00:00:00Z");
    let times = [
        us("2023-12-31T00:00:00Z"), // before any data
        us("2023-12-31T01:00:00Z"), // exactly the first event
        us("2024-01-01T10:30:00Z"), // between events
        us("2024-01-02T07:30:00Z"), // at the split between the two windows
        end,                        // the last event
        end + TTL_US - HOUR,        // inside the TTL
        end + TTL_US,               // exactly t - ttl = last event: still in
        end + TTL_US + 1,           // one microsecond past the TTL
    ];
    let mut entities: Vec<(i64, i64)> = Vec::new();
    for driver in [1001, 1007, 1020, 9999] {
        entities.extend(times.iter().map(|t| (driver, *t)));
    }
    entities.extend(&corrections);
    entities.push(entities[2]); // a duplicate comes back duplicated

    let frame = EntityFrame::new(entity_batch(&entities), "event_timestamp", 10_000).unwrap();
    let request = HistoricalRequest {
        features: FeatureSelection::Features(
            DRIVER_FEATURES
                .iter()
                .map(|(f, _)| format!("{VIEW}:{f}"))
                .collect(),
        ),
        full_feature_names: false,
        as_of_known_time: false,
    };
    let out = get_historical_features(&ctx, &store, &spec, &frame, &request)
        .await
        .unwrap()
        .whole()
        .unwrap();
    assert_eq!(
        out.num_rows(),
        entities.len(),
        "one output row per entity row"
    );
    let conv = column::<Float32Type>(&out, "conv_rate");
    let acc = column::<Float32Type>(&out, "acc_rate");
    let trips = column::<Int64Type>(&out, "avg_daily_trips");
    let keys = column::<Int64Type>(&out, "driver_id");
    let mut found = 0;
    for (i, (driver, t)) in entities.iter().enumerate() {
        assert_eq!(
            keys[i],
            Some(*driver),
            "row {i}: entity columns keep their order"
        );
        let want = brute_force(&rows, *driver, *t);
        found += usize::from(want.is_some());
        assert_eq!(
            (conv[i], acc[i], trips[i]),
            (
                want.and_then(|r| r.conv_rate),
                want.and_then(|r| r.acc_rate),
                want.and_then(|r| r.avg_daily_trips)
            ),
            "entity row {i} (driver {driver}, t {t}): joined features differ from the reference row {want:?}"
        );
    }
    assert!(
        found > 0 && found < entities.len(),
        "the entity rows cover both answers and misses"
    );
}

// ---------------------------------------------------------------------------
// Parquet
// ---------------------------------------------------------------------------

fn write_parquet(path: &Path, batch: &RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// A hive partition's file: (driver, RFC 3339 event time, conv_rate); created is
/// one second after the event. The partition values are not stored in the file.
fn partition_batch(rows: &[(i64, &str, Option<f32>)]) -> RecordBatch {
    let events: Vec<i64> = rows.iter().map(|r| us(r.1)).collect();
    let schema = Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("event_timestamp", timestamp_type(), false),
        Field::new("created", timestamp_type(), false),
        Field::new("conv_rate", DataType::Float32, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(TimestampMicrosecondArray::from(events.clone()).with_timezone("UTC")),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(events.iter().map(|t| t + 1_000_000))
                .with_timezone("UTC"),
        ),
        Arc::new(Float32Array::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

/// `src/date=2024-01-01/region=eu/part-0.parquet` and `src/date=2024-01-02/region=us/part-0.parquet`.
fn hive_dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(
        &dir.path()
            .join("src/date=2024-01-01/region=eu/part-0.parquet"),
        &partition_batch(&[
            (1001, "2024-01-01T01:00:00Z", Some(0.25)),
            (1002, "2024-01-01T02:00:00Z", None),
            (1001, "2024-01-01T03:00:00Z", Some(0.5)),
        ]),
    );
    write_parquet(
        &dir.path()
            .join("src/date=2024-01-02/region=us/part-0.parquet"),
        &partition_batch(&[
            (1003, "2024-01-02T05:00:00Z", Some(0.75)),
            (1001, "2024-01-02T06:00:00Z", Some(1.0)),
        ]),
    );
    dir
}

type RegionRow = (i64, i64, Option<f32>, Option<String>);

/// (driver, event, conv_rate, region) of a canonical batch, sorted.
fn region_rows(batch: &RecordBatch) -> Vec<RegionRow> {
    let ids = column::<Int64Type>(batch, "driver_id");
    let events = column::<TimestampMicrosecondType>(batch, EVENT_TS);
    let conv = column::<Float32Type>(batch, "conv_rate");
    let regions = strings(batch, "region");
    let mut rows: Vec<RegionRow> = (0..batch.num_rows())
        .map(|i| {
            (
                ids[i].unwrap(),
                events[i].unwrap(),
                conv[i],
                regions[i].clone(),
            )
        })
        .collect();
    rows.sort_by_key(|r| (r.0, r.1));
    rows
}

fn all_hive_rows() -> Vec<RegionRow> {
    let region = |r: &str| Some(r.to_string());
    let mut rows = vec![
        (1001, us("2024-01-01T01:00:00Z"), Some(0.25), region("eu")),
        (1002, us("2024-01-01T02:00:00Z"), None, region("eu")),
        (1001, us("2024-01-01T03:00:00Z"), Some(0.5), region("eu")),
        (1003, us("2024-01-02T05:00:00Z"), Some(0.75), region("us")),
        (1001, us("2024-01-02T06:00:00Z"), Some(1.0), region("us")),
    ];
    rows.sort_by_key(|r| (r.0, r.1));
    rows
}

const REGION_FEATURES: [(&str, &str); 2] = [("conv_rate", "float32"), ("region", "string")];

fn whole_hive_window() -> TimeWindow {
    window("2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z")
}

#[tokio::test]
async fn parquet_hive_directory_turns_partitions_into_columns() {
    let dir = hive_dataset();
    let view = view_of(
        parquet_source("src", "event_timestamp", Some("created")),
        &REGION_FEATURES,
    );
    let batch = read(&view, dir.path(), whole_hive_window()).await.unwrap();
    assert_eq!(
        region_rows(&batch),
        all_hive_rows(),
        "every row with its region"
    );
    let created = column::<TimestampMicrosecondType>(&batch, CREATED_TS);
    let events = column::<TimestampMicrosecondType>(&batch, EVENT_TS);
    assert!(
        created
            .iter()
            .zip(&events)
            .all(|(c, e)| *c == e.map(|e| e + 1_000_000)),
        "created times come from the `created` column"
    );

    // A window across both partitions keeps only its rows.
    let cut = window("2024-01-01T02:00:00Z", "2024-01-02T06:00:00Z");
    let batch = read(&view, dir.path(), cut).await.unwrap();
    let want: Vec<RegionRow> = all_hive_rows()
        .into_iter()
        .filter(|r| cut.contains(r.1))
        .collect();
    assert_eq!(
        region_rows(&batch),
        want,
        "rows of [01-01T02:00, 01-02T06:00)"
    );
}

#[tokio::test]
async fn parquet_hive_partition_values_are_parsed_into_the_declared_type() {
    let dir = hive_dataset();
    let view = view_of(
        parquet_source("src", "event_timestamp", Some("created")),
        &[("date", "timestamp"), ("region", "string")],
    );
    let batch = read(&view, dir.path(), whole_hive_window()).await.unwrap();
    let mut got: Vec<(Option<i64>, Option<String>)> =
        column::<TimestampMicrosecondType>(&batch, "date")
            .into_iter()
            .zip(strings(&batch, "region"))
            .collect();
    got.sort();
    let (day1, day2) = (us("2024-01-01T00:00:00Z"), us("2024-01-02T00:00:00Z"));
    let eu = || Some("eu".to_string());
    let us_ = || Some("us".to_string());
    assert_eq!(
        got,
        vec![
            (Some(day1), eu()),
            (Some(day1), eu()),
            (Some(day1), eu()),
            (Some(day2), us_()),
            (Some(day2), us_()),
        ],
        "`date=...` directories read as UTC midnight timestamps beside their region"
    );
}

/// Writers' leftovers beside the data: a hidden and an underscore file (valid
/// Parquet, one row of driver 4242) in `root/partition`.
fn add_stray_files(root: &Path, partition: &str) {
    let stray = partition_batch(&[(4242, "2024-01-01T04:00:00Z", Some(9.0))]);
    for name in [".part-1.parquet", "_part-2.parquet"] {
        write_parquet(&root.join(partition).join(name), &stray);
    }
}

#[tokio::test]
async fn parquet_plain_directory_skips_hidden_and_underscore_files() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(
        &dir.path().join("plain/part-0.parquet"),
        &partition_batch(&[(1001, "2024-01-01T01:00:00Z", Some(0.25))]),
    );
    add_stray_files(dir.path(), "plain");
    let view = view_of(
        parquet_source("plain", "event_timestamp", Some("created")),
        &[("conv_rate", "float32")],
    );
    let batch = read(&view, dir.path(), whole_hive_window()).await.unwrap();
    assert_eq!(
        column::<Int64Type>(&batch, "driver_id"),
        vec![Some(1001)],
        "only part-0's row (driver 4242 is in hidden/underscore files)"
    );
}

#[tokio::test]

async fn parquet_hive_directory_skips_hidden_and_underscore_files() {
    // Writers' temporaries and markers are not data, in partitioned directories too.
    let dir = hive_dataset();
    add_stray_files(dir.path(), "src/date=2024-01-01/region=eu");
    let view = view_of(
        parquet_source("src", "event_timestamp", Some("created")),
        &REGION_FEATURES,
    );
    let batch = read(&view, dir.path(), whole_hive_window()).await.unwrap();
    assert_eq!(
        region_rows(&batch),
        all_hive_rows(),
        "only the part-0 files' rows (driver 4242 is in hidden/underscore files)"
    );
}

#[tokio::test]

async fn parquet_glob_over_hive_directories_turns_partitions_into_columns() {
    let dir = hive_dataset();
    let view = view_of(
        parquet_source(
            "src/date=2024-01-0*/region=*/*.parquet",
            "event_timestamp",
            Some("created"),
        ),
        &REGION_FEATURES,
    );
    let batch = read(&view, dir.path(), whole_hive_window()).await.unwrap();
    assert_eq!(
        region_rows(&batch),
        all_hive_rows(),
        "every row with its region"
    );
}

#[tokio::test]
async fn parquet_glob_path_reads_every_matching_file() {
    let dir = hive_dataset();
    let view = view_of(
        parquet_source(
            "src/date=2024-01-0*/region=*/*.parquet",
            "event_timestamp",
            Some("created"),
        ),
        &[("conv_rate", "float32")],
    );
    let batch = read(&view, dir.path(), whole_hive_window()).await.unwrap();
    let ids = column::<Int64Type>(&batch, "driver_id");
    let mut got: Vec<(Option<i64>, Option<i64>)> = ids
        .into_iter()
        .zip(column::<TimestampMicrosecondType>(&batch, EVENT_TS))
        .collect();
    got.sort();
    let want: Vec<(Option<i64>, Option<i64>)> = all_hive_rows()
        .iter()
        .map(|r| (Some(r.0), Some(r.1)))
        .collect();
    assert_eq!(got, want, "the rows of both globbed files");
}

#[tokio::test]
async fn parquet_single_file_path() {
    let dir = hive_dataset();
    let view = view_of(
        parquet_source(
            "src/date=2024-01-02/region=us/part-0.parquet",
            "event_timestamp",
            Some("created"),
        ),
        &[("conv_rate", "float32")],
    );
    let batch = read(&view, dir.path(), whole_hive_window()).await.unwrap();
    let mut got: Vec<(Option<i64>, Option<f32>)> = column::<Int64Type>(&batch, "driver_id")
        .into_iter()
        .zip(column::<Float32Type>(&batch, "conv_rate"))
        .collect();
    got.sort_by_key(|r| r.0);
    assert_eq!(
        got,
        vec![(Some(1001), Some(1.0)), (Some(1003), Some(0.75))],
        "the one file's rows"
    );
}

/// One file `data/part.parquet` with `driver_id: Int64`, `event_timestamp` (as given) and
/// one feature column; returns the repo root.
fn single_column_file(
    event_type: DataType,
    events: ArrayRef,
    feature: &str,
    values: ArrayRef,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let n = events.len() as i64;
    let schema = Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("event_timestamp", event_type, true),
        Field::new(feature, values.data_type().clone(), true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from_iter_values(1001..1001 + n)),
            events,
            values,
        ],
    )
    .unwrap();
    write_parquet(&dir.path().join("data/part.parquet"), &batch);
    dir
}

fn microsecond_events(times: &[&str]) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from_iter_values(times.iter().map(|t| us(t)))
            .with_timezone("UTC"),
    )
}

#[tokio::test]
async fn parquet_naive_nanosecond_timestamps_are_utc_microseconds() {
    let times = [
        "2023-12-31T23:59:59.999999Z",
        "2024-01-01T00:00:00Z",
        "2024-01-01T23:59:59.999999Z",
        "2024-01-02T00:00:00Z",
    ];
    let nanos: ArrayRef = Arc::new(TimestampNanosecondArray::from_iter_values(
        times.iter().map(|t| us(t) * 1000),
    ));
    let dir = single_column_file(
        DataType::Timestamp(TimeUnit::Nanosecond, None),
        nanos,
        "conv_rate",
        Arc::new(Float32Array::from(vec![0.1, 0.2, 0.3, 0.4])),
    );
    let view = view_of(
        parquet_source("data/part.parquet", "event_timestamp", None),
        &[("conv_rate", "float32")],
    );
    let batch = read(
        &view,
        dir.path(),
        window("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(
        batch
            .schema()
            .field_with_name(EVENT_TS)
            .unwrap()
            .data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    let mut got = column::<TimestampMicrosecondType>(&batch, EVENT_TS);
    got.sort();
    assert_eq!(
        got,
        vec![Some(us(times[1])), Some(us(times[2]))],
        "naive nanoseconds read as UTC microseconds, window [2024-01-01, 2024-01-02)"
    );
    assert!(
        column::<TimestampMicrosecondType>(&batch, CREATED_TS)
            .iter()
            .all(Option::is_none),
        "no created column: created times are null"
    );
}

#[tokio::test]
async fn parquet_int32_column_is_read_as_declared_int64() {
    let times = [
        "2024-01-01T01:00:00Z",
        "2024-01-01T02:00:00Z",
        "2024-01-01T03:00:00Z",
    ];
    let dir = single_column_file(
        timestamp_type(),
        microsecond_events(&times),
        "avg_daily_trips",
        Arc::new(Int32Array::from(vec![Some(i32::MAX), None, Some(-7)])),
    );
    let view = view_of(
        parquet_source("data/part.parquet", "event_timestamp", None),
        &[("avg_daily_trips", "int64")],
    );
    let batch = read(&view, dir.path(), whole_hive_window()).await.unwrap();
    let mut got: Vec<(Option<i64>, Option<i64>)> = column::<Int64Type>(&batch, "driver_id")
        .into_iter()
        .zip(column::<Int64Type>(&batch, "avg_daily_trips"))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (Some(1001), Some(i64::from(i32::MAX))),
            (Some(1002), None),
            (Some(1003), Some(-7)),
        ],
        "int32 values widened to int64, nulls kept"
    );
}

#[tokio::test]
async fn parquet_float64_column_for_declared_float32_is_a_type_mismatch() {
    let dir = single_column_file(
        timestamp_type(),
        microsecond_events(&["2024-01-01T01:00:00Z"]),
        "conv_rate",
        Arc::new(Float64Array::from(vec![0.5])),
    );
    let view = view_of(
        parquet_source("data/part.parquet", "event_timestamp", None),
        &[("conv_rate", "float32")],
    );
    let err = read(&view, dir.path(), whole_hive_window())
        .await
        .expect_err("float64 does not fit float32");
    match err {
        OfflineError::TypeMismatch {
            source_name,
            column,
            declared,
            found,
        } => assert_eq!(
            (
                source_name.as_str(),
                column.as_str(),
                declared.as_str(),
                found.as_str()
            ),
            (SOURCE, "conv_rate", "float32", "Float64")
        ),
        other => panic!("expected TypeMismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn parquet_text_column_for_declared_int64_is_a_type_mismatch() {
    // Only hive partition values (always text) may be parsed into a declared type;
    // a text column stored in the file does not hold an int64.
    let dir = single_column_file(
        timestamp_type(),
        microsecond_events(&["2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"]),
        "avg_daily_trips",
        Arc::new(StringArray::from(vec!["12", "many"])),
    );
    let view = view_of(
        parquet_source("data/part.parquet", "event_timestamp", None),
        &[("avg_daily_trips", "int64")],
    );
    let err = read(&view, dir.path(), whole_hive_window())
        .await
        .expect_err("a Utf8 column does not fit int64");
    assert!(
        matches!(
            &err,
            OfflineError::TypeMismatch { column, declared, .. }
                if column == "avg_daily_trips" && declared == "int64"
        ),
        "expected TypeMismatch for avg_daily_trips, got {err:?}"
    );
}

// ---------------------------------------------------------------------------
// Materialization into the offline store: idempotence and overlapping windows
// ---------------------------------------------------------------------------

/// A repo root holding the generator's `data/driver_stats.parquet`, and the view over it.
fn generated_parquet_repo() -> (tempfile::TempDir, ViewSchema) {
    let dir = tempfile::tempdir().unwrap();
    generate_parquet(&dir.path().join("data"), &options()).unwrap();
    let view = view_of(
        parquet_source(
            "data/driver_stats.parquet",
            "event_timestamp",
            Some("created"),
        ),
        &DRIVER_FEATURES,
    );
    (dir, view)
}

/// Every row of every live file of the view in the store.
fn stored_in(store: &OfflineStore) -> Vec<Stored> {
    let mut rows = Vec::new();
    for file in store.files(VIEW).unwrap() {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file.path).unwrap())
                .unwrap()
                .build()
                .unwrap();
        for batch in reader {
            rows.extend(stored_rows(&batch.unwrap()));
        }
    }
    rows
}

fn rows_in(windows: &[TimeWindow]) -> Vec<Stored> {
    expected_rows(|r| windows.iter().any(|w| w.contains(r.event_timestamp)))
}

/// Spans two event days; its second half is overlapped by [`window_b`].
fn window_a() -> TimeWindow {
    window("2023-12-31T00:00:00Z", "2024-01-02T00:00:00Z")
}

fn window_b() -> TimeWindow {
    window("2024-01-01T12:00:00Z", "2024-01-03T12:00:00Z")
}

#[tokio::test]
async fn rematerializing_and_overlapping_windows_keep_each_row_once() {
    let (dir, view) = generated_parquet_repo();
    let ctx = engine(dir.path());
    let store = OfflineStore::new(dir.path().join("offline"));
    let (a, b) = (window_a(), window_b());

    let first = materialize_view(
        &ctx,
        &store,
        dir.path(),
        &view,
        a,
        |_| {},
        &mut StoreEverything,
    )
    .await
    .unwrap();
    assert_eq!(first.rows as usize, rows_in(&[a]).len(), "rows of A");
    assert_eq!(first.rows_replaced, 0, "the first run replaces nothing");
    assert_same_rows(stored_in(&store), rows_in(&[a]), "after A");

    materialize_view(
        &ctx,
        &store,
        dir.path(),
        &view,
        a,
        |_| {},
        &mut StoreEverything,
    )
    .await
    .unwrap();
    assert_same_rows(stored_in(&store), rows_in(&[a]), "after A twice");

    let overlap = rows_in(&[a])
        .into_iter()
        .filter(|r| b.contains(r.event))
        .count();
    assert!(overlap > 0, "A and B share rows");
    let third = materialize_view(
        &ctx,
        &store,
        dir.path(),
        &view,
        b,
        |_| {},
        &mut StoreEverything,
    )
    .await
    .unwrap();
    assert_eq!(third.rows as usize, rows_in(&[b]).len(), "rows of B");
    assert_eq!(
        third.rows_replaced as usize, overlap,
        "B replaces exactly the rows A stored for B's instants"
    );
    assert_same_rows(stored_in(&store), rows_in(&[a, b]), "after A, A, B");

    // A window over everything replaces everything stored so far.
    let all = window("2023-12-30T00:00:00Z", "2024-01-05T00:00:00Z");
    let last = materialize_view(
        &ctx,
        &store,
        dir.path(),
        &view,
        all,
        |_| {},
        &mut StoreEverything,
    )
    .await
    .unwrap();
    assert_eq!(
        last.rows_replaced as usize,
        rows_in(&[a, b]).len(),
        "the covering window replaces every stored row"
    );
    assert_same_rows(
        stored_in(&store),
        all_driver_rows().iter().map(Stored::from).collect(),
        "after the covering window",
    );
}

#[tokio::test]

async fn rematerializing_a_window_reports_the_rows_it_replaced() {
    let (dir, view) = generated_parquet_repo();
    let ctx = engine(dir.path());
    let store = OfflineStore::new(dir.path().join("offline"));
    let a = window_a();
    materialize_view(
        &ctx,
        &store,
        dir.path(),
        &view,
        a,
        |_| {},
        &mut StoreEverything,
    )
    .await
    .unwrap();
    let again = materialize_view(
        &ctx,
        &store,
        dir.path(),
        &view,
        a,
        |_| {},
        &mut StoreEverything,
    )
    .await
    .unwrap();
    assert_eq!(
        again.rows_replaced as usize,
        rows_in(&[a]).len(),
        "the second run of A replaces every row the first run stored"
    );
}
