//! The columns a batch source actually has, read from its Parquet footers or
//! from Postgres's description of the table or query.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use quiver_core::{SourceKind, SourceSpec, ValueType, env, redact_url};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Column, Executor, SqlSafeStr, TypeInfo};

use crate::error::OfflineError;
use crate::parquet_check::checked_parquet_files;
use crate::types::{arrow_type_fits, postgres_type_fits};

/// How long to wait for a Postgres source before calling it unreadable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A column's type as the source stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredType {
    Arrow(DataType),
    /// A sqlx type name such as `INT8` or `TIMESTAMPTZ`.
    Postgres(String),
    /// A hive partition directory (`key=value`): text until parsed.
    Partition,
}

impl StoredType {
    /// Whether values of this column can be read as `declared` without loss.
    pub fn fits(&self, declared: ValueType) -> bool {
        match self {
            StoredType::Arrow(t) => arrow_type_fits(declared, t),
            StoredType::Postgres(t) => postgres_type_fits(declared, t),
            StoredType::Partition => true,
        }
    }
}

impl fmt::Display for StoredType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredType::Arrow(t) => write!(f, "{t}"),
            StoredType::Postgres(t) => write!(f, "{t}"),
            StoredType::Partition => f.write_str("partition key"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceColumn {
    pub name: String,
    pub stored: StoredType,
}

/// Reads the column list of a batch source (`None` for stream sources).
pub async fn inspect_source(
    source: &SourceSpec,
    repo_root: &Path,
) -> Result<Option<Vec<SourceColumn>>, OfflineError> {
    match &source.kind {
        SourceKind::Parquet { path } => {
            let (root, path) = (repo_root.to_path_buf(), path.clone());
            let columns = tokio::task::spawn_blocking(move || parquet_columns(&root, &path))
                .await
                .map_err(|e| OfflineError::Config(format!("schema reader failed: {e}")))??;
            Ok(Some(columns))
        }
        SourceKind::Postgres { url, table, query } => {
            let url = env::expand(url).map_err(OfflineError::Config)?;
            let relation = match (table, query) {
                (Some(table), _) => format!("SELECT * FROM {}", quote_table(table)),
                (None, Some(query)) => format!("SELECT * FROM ({query}) AS quiver_source"),
                (None, None) => {
                    return Err(OfflineError::Config(format!(
                        "source `{}` names no table or query",
                        source.name
                    )));
                }
            };
            postgres_columns(&url, &relation).await.map(Some)
        }
        SourceKind::Kafka { .. } | SourceKind::Push => Ok(None),
    }
}

fn parquet_columns(root: &Path, pattern: &str) -> Result<Vec<SourceColumn>, OfflineError> {
    // Every file must be Parquet; the first one's columns stand for the source
    // (writers keep one schema per dataset, and materialization checks every
    // file's columns again as it reads it).
    let files = checked_parquet_files(root, pattern)?;
    let first = &files[0];
    let file = std::fs::File::open(&first.path).map_err(|source| OfflineError::Io {
        path: first.path.clone(),
        source,
    })?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| OfflineError::Parquet {
            path: first.path.clone(),
            source,
        })?;
    let mut columns: Vec<SourceColumn> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| SourceColumn {
            name: f.name().clone(),
            stored: StoredType::Arrow(f.data_type().clone()),
        })
        .collect();
    for (key, _) in &first.partitions {
        if !columns.iter().any(|c| &c.name == key) {
            columns.push(SourceColumn {
                name: key.clone(),
                stored: StoredType::Partition,
            });
        }
    }
    Ok(columns)
}

async fn postgres_columns(url: &str, relation: &str) -> Result<Vec<SourceColumn>, OfflineError> {
    let display = redact_url(url);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await
        .map_err(|source| OfflineError::PostgresUnavailable {
            url: display.clone(),
            source,
        })?;
    // Describing the statement asks Postgres for the column types without running it.
    // The SQL is the definition's own query or a quoted table name, never request input.
    let sql = AssertSqlSafe(relation.to_string()).into_sql_str();
    let described = pool
        .describe(sql)
        .await
        .map_err(OfflineError::PostgresRelation);
    pool.close().await;
    Ok(described?
        .columns()
        .iter()
        .map(|c| SourceColumn {
            name: c.name().to_string(),
            stored: StoredType::Postgres(c.type_info().name().to_string()),
        })
        .collect())
}

/// `schema.table` quoted as identifiers (names were validated as identifiers at load).
pub fn quote_table(table: &str) -> String {
    table
        .split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}
