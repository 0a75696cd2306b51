//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while generating or loading sample data.
#[derive(Debug, thiserror::Error)]
pub enum DatagenError {
    /// A file-system operation failed; `path` says on what.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// The options or arguments cannot produce a valid data set.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl DatagenError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DatagenError::Io {
            path: path.into(),
            source,
        }
    }
}
