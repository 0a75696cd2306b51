//! Registry errors, classified so callers can map them to exit codes and HTTP statuses.

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid registry URL `{0}` (expected sqlite://PATH or postgres://USER@HOST/DB)")]
    InvalidUrl(String),
    #[error("cannot open the registry at {url}: {source}")]
    Unavailable {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot migrate the registry at {url}: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("registry query failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the registry holds an unreadable {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("{0}")]
    Conflict(String),
    #[error("cannot encode a definition: {0}")]
    Encode(#[from] serde_json::Error),
}

impl RegistryError {
    /// True when the registry could not be reached: retrying later may help.
    pub fn is_unavailable(&self) -> bool {
        match self {
            RegistryError::Unavailable { .. } => true,
            RegistryError::Database(e) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            ),
            _ => false,
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
