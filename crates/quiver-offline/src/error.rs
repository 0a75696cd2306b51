//! Offline-tier errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("no Parquet files match `{0}`")]
    NoFiles(String),
    #[error("invalid glob `{pattern}`: {message}")]
    BadGlob { pattern: String, message: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read Parquet file {path}: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{0}")]
    Config(String),
    #[error("cannot reach Postgres source at {url}: {source}")]
    PostgresUnavailable {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("Postgres rejected the source's relation: {0}")]
    PostgresRelation(#[source] sqlx::Error),
}
