//! Reading a Postgres source (table or query) with sqlx into the view's
//! canonical layout: rows are streamed, the time window is a bound `WHERE`
//! clause, and batches are built as they arrive.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int32Builder,
    Int64Builder, ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::error::DataFusionError;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::{SinkExt, StreamExt};
use quiver_core::{ScalarType, SourceKind, ValueType, env, redact_url};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Column, Connection, Executor, Row, SqlSafeStr, TypeInfo};

use crate::error::{OfflineError, Result};
use crate::schema::quote_table;
use crate::types::postgres_type_fits;
use crate::view_schema::{CREATED_TS, ViewSchema};
use crate::window::TimeWindow;

const BATCH_ROWS: usize = 8192;
/// An unreachable source fails after this instead of the OS's TCP timeout.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The first row may wait for Postgres to filter and sort the window...
const FIRST_ROW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
/// ...after that, a source that sends nothing for this long has stalled.
const ROW_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Streams the view's rows with event time in `window` from its Postgres source.
pub async fn read_postgres_source(
    view: &ViewSchema,
    window: TimeWindow,
) -> Result<SendableRecordBatchStream> {
    let SourceKind::Postgres { url, table, query } = &view.source.kind else {
        return Err(OfflineError::Config(format!(
            "source `{}` is not a postgres source",
            view.source.name
        )));
    };
    let url = env::expand(url).map_err(OfflineError::Config)?;
    let unavailable = |source| OfflineError::PostgresUnavailable {
        url: redact_url(&url),
        source,
    };
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&url))
        .await
        .map_err(|_| unavailable(sqlx::Error::PoolTimedOut))?
        .map_err(unavailable)?;
    // Naive `timestamp` columns are UTC; comparisons with the bound window use this zone.
    conn.execute("SET TIME ZONE 'UTC'")
        .await
        .map_err(OfflineError::PostgresRelation)?;

    let relation = match (table, query) {
        (Some(table), _) => quote_table(table),
        (None, Some(query)) => format!("({query})"),
        (None, None) => {
            return Err(OfflineError::Config(format!(
                "source `{}` names no table or query",
                view.source.name
            )));
        }
    };
    let described = conn
        .describe(
            AssertSqlSafe(format!("SELECT * FROM {relation} AS quiver_source")).into_sql_str(),
        )
        .await
        .map_err(OfflineError::PostgresRelation)?;
    let found = |column: &str| -> Result<String> {
        described
            .columns()
            .iter()
            .find(|c| c.name() == column)
            .map(|c| c.type_info().name().to_string())
            .ok_or_else(|| OfflineError::MissingColumn {
                source_name: view.source.name.clone(),
                column: column.into(),
            })
    };

    // (source column, declared type) per canonical output column, in order.
    let source = &view.source;
    let timestamp = ValueType::Scalar(ScalarType::Timestamp);
    let mut columns: Vec<(String, ValueType)> = view
        .keys
        .iter()
        .map(|k| (source.column_for(&k.name).to_string(), k.dtype))
        .collect();
    columns.push((source.timestamp_field.clone(), timestamp));
    let created_column = source.created_timestamp_field.clone();
    if let Some(created) = &created_column {
        columns.push((created.clone(), timestamp));
    }
    columns.extend(
        view.view
            .features
            .iter()
            .map(|f| (source.column_for(&f.name).to_string(), f.dtype)),
    );
    let mut decoders = Vec::new();
    for (column, declared) in &columns {
        let pg_type = found(column)?;
        if !postgres_type_fits(*declared, &pg_type) {
            return Err(OfflineError::TypeMismatch {
                source_name: source.name.clone(),
                column: column.clone(),
                declared: declared.to_string(),
                found: pg_type,
            });
        }
        decoders.push(Decoder::new(*declared, &pg_type).ok_or_else(|| {
            OfflineError::TypeMismatch {
                source_name: source.name.clone(),
                column: column.clone(),
                declared: declared.to_string(),
                found: format!("{pg_type} (not readable from Postgres yet)"),
            }
        })?);
    }

    let quote = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
    let select: Vec<String> = columns.iter().map(|(c, _)| quote(c)).collect();
    let ts = quote(&source.timestamp_field);
    // Rows without an event time (in no window) or a key are read too: the
    // built-in checks drop and count them (quiver_quality::builtin).
    let filter = format!("{ts} IS NULL OR ({ts} >= $1 AND {ts} < $2)");
    // The offline store keeps files sorted by keys and time: let Postgres sort.
    let mut order: Vec<String> = view
        .keys
        .iter()
        .map(|k| quote(source.column_for(&k.name)))
        .collect();
    order.push(ts.clone());
    if let Some(created) = &created_column {
        order.push(format!("{} NULLS FIRST", quote(created)));
    }
    let sql = format!(
        "SELECT {} FROM {relation} AS quiver_source WHERE {filter} ORDER BY {}",
        select.join(", "),
        order.join(", ")
    );
    let start = DateTime::<Utc>::from_timestamp_micros(window.start_us).unwrap_or_default();
    let end = DateTime::<Utc>::from_timestamp_micros(window.end_us).unwrap_or_default();

    let schema = view.source_schema();
    let has_created = created_column.is_some();
    let (mut tx, rx) =
        futures::channel::mpsc::channel::<std::result::Result<RecordBatch, DataFusionError>>(2);
    let batch_schema = schema.clone();
    // The reader task owns the connection; the channel gives back-pressure.
    tokio::spawn(async move {
        let mut rows = sqlx::query(AssertSqlSafe(sql).into_sql_str())
            .bind(start)
            .bind(end)
            .fetch(&mut conn);
        let mut pending: Vec<PgRow> = Vec::with_capacity(BATCH_ROWS);
        let mut wait = FIRST_ROW_TIMEOUT;
        loop {
            let Ok(next) = tokio::time::timeout(wait, rows.next()).await else {
                let stalled = format!(
                    "the Postgres source sent no row for {}s; giving up on this window",
                    wait.as_secs()
                );
                let _ = tx
                    .send(Err(DataFusionError::External(stalled.into())))
                    .await;
                return;
            };
            wait = ROW_STALL_TIMEOUT;
            let done = next.is_none();
            match next {
                Some(Ok(row)) => pending.push(row),
                Some(Err(e)) => {
                    let _ = tx.send(Err(DataFusionError::External(Box::new(e)))).await;
                    return;
                }
                None => {}
            }
            if pending.len() == BATCH_ROWS || (done && !pending.is_empty()) {
                let batch = build_batch(&batch_schema, &decoders, &pending, has_created);
                pending.clear();
                if tx.send(batch).await.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
        }
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rx)))
}

/// One canonical batch: the decoders fill every column but a missing created timestamp.
fn build_batch(
    schema: &arrow::datatypes::SchemaRef,
    decoders: &[Decoder],
    rows: &[PgRow],
    has_created: bool,
) -> std::result::Result<RecordBatch, DataFusionError> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let mut next = decoders.iter().enumerate();
    for field in schema.fields() {
        if !has_created && field.name() == CREATED_TS {
            arrays.push(arrow::array::new_null_array(field.data_type(), rows.len()));
            continue;
        }
        let (index, decoder) = next
            .next()
            .ok_or_else(|| DataFusionError::Internal("fewer decoders than columns".into()))?;
        arrays.push(
            decoder
                .decode(rows, index)
                .map_err(|e| DataFusionError::External(Box::new(e)))?,
        );
    }
    RecordBatch::try_new(schema.clone(), arrays).map_err(DataFusionError::from)
}

/// How one Postgres column becomes one Arrow column of the declared type.
#[derive(Debug, Clone, Copy)]
enum Decoder {
    Bool,
    Int16As32,
    Int32,
    Int16As64,
    Int32As64,
    Int64,
    Float32,
    Float32As64,
    Float64,
    Text,
    Bytes,
    TimestampTz,
    Timestamp,
    Date,
    ListInt64,
    ListFloat64,
    ListText,
}

impl Decoder {
    fn new(declared: ValueType, pg_type: &str) -> Option<Self> {
        use ScalarType as S;
        let pg = pg_type.to_ascii_uppercase();
        Some(match (declared, pg.as_str()) {
            (ValueType::Scalar(S::Bool), _) => Decoder::Bool,
            (ValueType::Scalar(S::Int32), "INT2") => Decoder::Int16As32,
            (ValueType::Scalar(S::Int32), _) => Decoder::Int32,
            (ValueType::Scalar(S::Int64), "INT2") => Decoder::Int16As64,
            (ValueType::Scalar(S::Int64), "INT4") => Decoder::Int32As64,
            (ValueType::Scalar(S::Int64), _) => Decoder::Int64,
            (ValueType::Scalar(S::Float32), _) => Decoder::Float32,
            (ValueType::Scalar(S::Float64), "FLOAT4") => Decoder::Float32As64,
            (ValueType::Scalar(S::Float64), _) => Decoder::Float64,
            (ValueType::Scalar(S::String), _) => Decoder::Text,
            (ValueType::Scalar(S::Bytes), _) => Decoder::Bytes,
            (ValueType::Scalar(S::Timestamp), "TIMESTAMPTZ") => Decoder::TimestampTz,
            (ValueType::Scalar(S::Timestamp), "TIMESTAMP") => Decoder::Timestamp,
            (ValueType::Scalar(S::Timestamp), _) => Decoder::Date,
            (ValueType::List(S::Int64), "INT8[]") => Decoder::ListInt64,
            (ValueType::List(S::Float64), "FLOAT8[]") => Decoder::ListFloat64,
            (ValueType::List(S::String), "TEXT[]" | "VARCHAR[]") => Decoder::ListText,
            (ValueType::List(_), _) => return None,
        })
    }

    fn decode(self, rows: &[PgRow], i: usize) -> std::result::Result<ArrayRef, sqlx::Error> {
        fn collect<T, B, F>(
            rows: &[PgRow],
            i: usize,
            mut builder: B,
            mut push: F,
        ) -> std::result::Result<B, sqlx::Error>
        where
            T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
            F: FnMut(&mut B, Option<T>),
        {
            for row in rows {
                push(&mut builder, row.try_get::<Option<T>, _>(i)?);
            }
            Ok(builder)
        }
        let n = rows.len();
        let us = |t: DateTime<Utc>| t.timestamp_micros();
        let utc = || TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        Ok(match self {
            Decoder::Bool => Arc::new(
                collect::<bool, _, _>(rows, i, BooleanBuilder::with_capacity(n), |b, v| {
                    b.append_option(v)
                })?
                .finish(),
            ),
            Decoder::Int16As32 => Arc::new(
                collect::<i16, _, _>(rows, i, Int32Builder::with_capacity(n), |b, v| {
                    b.append_option(v.map(i32::from))
                })?
                .finish(),
            ),
            Decoder::Int32 => Arc::new(
                collect::<i32, _, _>(rows, i, Int32Builder::with_capacity(n), |b, v| {
                    b.append_option(v)
                })?
                .finish(),
            ),
            Decoder::Int16As64 => Arc::new(
                collect::<i16, _, _>(rows, i, Int64Builder::with_capacity(n), |b, v| {
                    b.append_option(v.map(i64::from))
                })?
                .finish(),
            ),
            Decoder::Int32As64 => Arc::new(
                collect::<i32, _, _>(rows, i, Int64Builder::with_capacity(n), |b, v| {
                    b.append_option(v.map(i64::from))
                })?
                .finish(),
            ),
            Decoder::Int64 => Arc::new(
                collect::<i64, _, _>(rows, i, Int64Builder::with_capacity(n), |b, v| {
                    b.append_option(v)
                })?
                .finish(),
            ),
            Decoder::Float32 => Arc::new(
                collect::<f32, _, _>(rows, i, Float32Builder::with_capacity(n), |b, v| {
                    b.append_option(v)
                })?
                .finish(),
            ),
            Decoder::Float32As64 => Arc::new(
                collect::<f32, _, _>(rows, i, Float64Builder::with_capacity(n), |b, v| {
                    b.append_option(v.map(f64::from))
                })?
                .finish(),
            ),
            Decoder::Float64 => Arc::new(
                collect::<f64, _, _>(rows, i, Float64Builder::with_capacity(n), |b, v| {
                    b.append_option(v)
                })?
                .finish(),
            ),
            Decoder::Text => Arc::new(
                collect::<String, _, _>(
                    rows,
                    i,
                    StringBuilder::with_capacity(n, n * 8),
                    |b, v| b.append_option(v),
                )?
                .finish(),
            ),
            Decoder::Bytes => Arc::new(
                collect::<Vec<u8>, _, _>(
                    rows,
                    i,
                    BinaryBuilder::with_capacity(n, n * 8),
                    |b, v| b.append_option(v),
                )?
                .finish(),
            ),
            Decoder::TimestampTz => Arc::new(
                collect::<DateTime<Utc>, _, _>(rows, i, utc(), |b, v| b.append_option(v.map(us)))?
                    .finish(),
            ),
            Decoder::Timestamp => Arc::new(
                collect::<NaiveDateTime, _, _>(rows, i, utc(), |b, v| {
                    b.append_option(v.map(|t| us(t.and_utc())))
                })?
                .finish(),
            ),
            Decoder::Date => Arc::new(
                collect::<NaiveDate, _, _>(rows, i, utc(), |b, v| {
                    b.append_option(
                        v.and_then(|d| d.and_hms_opt(0, 0, 0))
                            .map(|t| us(t.and_utc())),
                    )
                })?
                .finish(),
            ),
            Decoder::ListInt64 => Arc::new(
                collect::<Vec<Option<i64>>, _, _>(
                    rows,
                    i,
                    ListBuilder::new(Int64Builder::new()),
                    |b, v| b.append_option(v),
                )?
                .finish(),
            ),
            Decoder::ListFloat64 => Arc::new(
                collect::<Vec<Option<f64>>, _, _>(
                    rows,
                    i,
                    ListBuilder::new(Float64Builder::new()),
                    |b, v| b.append_option(v),
                )?
                .finish(),
            ),
            Decoder::ListText => Arc::new(
                collect::<Vec<Option<String>>, _, _>(
                    rows,
                    i,
                    ListBuilder::new(StringBuilder::new()),
                    |b, v| b.append_option(v),
                )?
                .finish(),
            ),
        })
    }
}
