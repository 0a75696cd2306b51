//! `load_postgres` against a real server: $QUIVER_TEST_POSTGRES_URL, or the local default.
//! These tests fail (they do not skip) when Postgres is unreachable.
// Helpers outside #[test] fns are test code too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use common::{DriverTuple, driver_tuples, options, read};
use quiver_datagen::{DRIVER_STATS_FILE, DatagenError, generate_parquet, load_postgres};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool};

fn url() -> String {
    std::env::var("QUIVER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn unique_table(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

async fn pool() -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(&url())
        .await
        .unwrap_or_else(|e| panic!("Postgres at {} is unreachable: {e}", url()))
}

type PgRow = (
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<f32>,
    Option<f32>,
    Option<i64>,
);

/// All rows of `table` in file order, then drops it (before any assertion can fail).
async fn take_rows(pool: &PgPool, table: &str) -> Vec<DriverTuple> {
    let rows: Result<Vec<PgRow>, _> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT driver_id, event_timestamp, created, conv_rate, acc_rate, avg_daily_trips \
         FROM {table} ORDER BY driver_id, event_timestamp, created"
    )))
    .fetch_all(pool)
    .await;
    sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(pool)
        .await
        .unwrap();
    rows.unwrap()
        .into_iter()
        .map(|(id, ev, cr, conv, acc, trips)| {
            (
                id,
                ev.timestamp_micros(),
                cr.timestamp_micros(),
                conv,
                acc,
                trips,
            )
        })
        .collect()
}

#[tokio::test]
async fn loads_the_same_rows_as_the_parquet_file() {
    // 250 drivers x 100 hours: more than one INSERT chunk.
    let opts = options(250, 100, 3, 2);
    let dir = tempfile::tempdir().unwrap();
    generate_parquet(dir.path(), &opts).unwrap();
    let expected = driver_tuples(&read(&dir.path().join(DRIVER_STATS_FILE)));

    let table = unique_table("datagen_test");
    let loaded = load_postgres(&url(), &table, &opts).await.unwrap();
    let pool = pool().await;
    let actual = take_rows(&pool, &table).await;

    assert_eq!(loaded, expected.len() as u64);
    assert_eq!(actual.len(), expected.len());
    assert!(actual.len() > 25_000);
    assert_eq!(actual.first(), expected.first());
    assert_eq!(actual.last(), expected.last());
    assert_eq!(actual, expected);
    assert!(actual.iter().any(|r| r.3.is_none()) && actual.iter().any(|r| r.5.is_none()));
}

#[tokio::test]
async fn replaces_a_schema_qualified_table() {
    let opts = options(4, 6, 1, 1);
    let table = format!("public.{}", unique_table("datagen_test_q"));
    load_postgres(&url(), &table, &options(9, 9, 1, 1))
        .await
        .unwrap();
    // Loading again replaces the old rows instead of appending to them.
    let loaded = load_postgres(&url(), &table, &opts).await.unwrap();
    let pool = pool().await;
    let actual = take_rows(&pool, &table).await;
    assert_eq!(actual.len() as u64, loaded);
    assert!(loaded >= 24);
    assert!(actual.iter().all(|r| (1001..=1004).contains(&r.0)));
}

#[tokio::test]
async fn rejects_unsafe_table_names() {
    for bad in ["x; DROP TABLE y", "a.b.c", "\"quoted\"", "9lives", ""] {
        let err = load_postgres(&url(), bad, &options(1, 1, 1, 1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatagenError::InvalidArgument(_)),
            "{bad:?}: {err}"
        );
    }
}

#[tokio::test]
async fn the_test_server_is_reachable() {
    // An explicit check, so a missing server shows up as its own failure.
    let pool = pool().await;
    let one: (i32,) = sqlx::query_as("SELECT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(one.0, 1);
}
