//! Offline-tier errors, classified: the caller's fault (a bad request or
//! definition) or not, and whether a retry can help.

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
    /// A source file that exists but cannot be Parquet (empty, truncated, corrupt).
    #[error("{path} is not a valid Parquet file: {reason}")]
    NotParquet { path: PathBuf, reason: String },
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
    #[error(
        "source `{source_name}` column `{column}` is {found}, which does not hold the declared {declared}"
    )]
    TypeMismatch {
        source_name: String,
        column: String,
        declared: String,
        found: String,
    },
    #[error("source `{source_name}` has no column `{column}`")]
    MissingColumn { source_name: String, column: String },
    /// The request itself is wrong (unknown feature, bad entity frame, over a limit).
    #[error("{0}")]
    Request(String),
    /// The request names a definition that is not applied.
    #[error("{message}")]
    NotFound {
        kind: quiver_core::ObjectKind,
        name: String,
        message: String,
    },
    #[error("query engine: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A data-quality check with policy `fail` was violated.
    #[error("{0}")]
    CheckFailed(String),
    #[error("cannot write the offline store at {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl OfflineError {
    /// True when the caller sent something wrong (HTTP 400, CLI exit 1).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            OfflineError::Request(_)
                | OfflineError::NotFound { .. }
                | OfflineError::CheckFailed(_)
                | OfflineError::TypeMismatch { .. }
                | OfflineError::MissingColumn { .. }
                | OfflineError::NotParquet { .. }
        )
    }

    /// True when a dependency is down and a retry later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, OfflineError::PostgresUnavailable { .. })
    }
}

pub type Result<T, E = OfflineError> = std::result::Result<T, E>;
