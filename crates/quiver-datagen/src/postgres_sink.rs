//! driver_stats rows to a Postgres table: replaced in one transaction, inserted in chunks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres, Transaction};

use crate::DatagenError;
use crate::driver_rows::DriverRow;

/// How long to wait for the server before giving up (an unroutable host would hang for minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows per INSERT: large enough to amortise round trips, small enough to keep statements modest.
const INSERT_ROWS: usize = 20_000;

/// Checks `name` is `table` or `schema.table` (each `[A-Za-z_][A-Za-z0-9_]*`) and returns it
/// quoted for SQL (`"schema"."table"`), so it can be spliced into a statement safely.
pub fn quote_table_name(name: &str) -> Result<String, DatagenError> {
    let is_identifier = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 || !parts.iter().all(|p| is_identifier(p)) {
        return Err(DatagenError::InvalidArgument(format!(
            "table name {name:?} is not `table` or `schema.table` made of letters, digits and _"
        )));
    }
    Ok(parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join("."))
}

/// Replaces `table` with `rows`; returns the number of rows inserted.
pub(crate) async fn load_driver_stats(
    url: &str,
    table: &str,
    mut rows: impl Iterator<Item = DriverRow>,
) -> Result<u64, DatagenError> {
    let table = quote_table_name(table)?;
    // One transaction needs one connection; a plain connection (not a pool) also reports
    // why connecting failed instead of a bare "pool timed out".
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url))
        .await
        .map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from the server within {CONNECT_TIMEOUT:?}"),
            ))
        })??;
    let mut tx = conn.begin().await?;
    sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(&mut *tx)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {table} (driver_id BIGINT NOT NULL, event_timestamp TIMESTAMPTZ NOT NULL, \
         created TIMESTAMPTZ NOT NULL, conv_rate REAL, acc_rate REAL, avg_daily_trips BIGINT)"
    )))
    .execute(&mut *tx)
    .await?;

    let insert = format!(
        "INSERT INTO {table} (driver_id, event_timestamp, created, conv_rate, acc_rate, avg_daily_trips) \
         SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::timestamptz[], $4::float4[], $5::float4[], $6::int8[])"
    );
    let mut chunk = Vec::with_capacity(INSERT_ROWS);
    let mut total = 0u64;
    loop {
        chunk.clear();
        chunk.extend(rows.by_ref().take(INSERT_ROWS));
        if chunk.is_empty() {
            break;
        }
        insert_chunk(&mut tx, &insert, &chunk).await?;
        total += chunk.len() as u64;
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(total)
}

async fn insert_chunk(
    tx: &mut Transaction<'_, Postgres>,
    insert: &str,
    rows: &[DriverRow],
) -> Result<(), DatagenError> {
    let event_timestamps = rows
        .iter()
        .map(|r| micros_to_time(r.event_timestamp))
        .collect::<Result<Vec<_>, _>>()?;
    let created = rows
        .iter()
        .map(|r| micros_to_time(r.created))
        .collect::<Result<Vec<_>, _>>()?;
    sqlx::query(AssertSqlSafe(insert))
        .bind(rows.iter().map(|r| r.driver_id).collect::<Vec<_>>())
        .bind(event_timestamps)
        .bind(created)
        .bind(rows.iter().map(|r| r.conv_rate).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.acc_rate).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.avg_daily_trips).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn micros_to_time(us: i64) -> Result<DateTime<Utc>, DatagenError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| DatagenError::InvalidArgument(format!("time {us} µs is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_checked_and_quoted() {
        assert_eq!(
            quote_table_name("driver_stats").unwrap(),
            "\"driver_stats\""
        );
        assert_eq!(quote_table_name("_s1.T_2").unwrap(), "\"_s1\".\"T_2\"");
        for bad in [
            "",
            "1abc",
            "a.b.c",
            "a.",
            ".a",
            "a-b",
            "a b",
            "a\"b",
            "drop;table",
            "é",
        ] {
            assert!(quote_table_name(bad).is_err(), "{bad:?}");
        }
    }
}
