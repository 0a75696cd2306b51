//! The one error type of the online tier.

use std::path::PathBuf;

/// Result with [`OnlineError`].
pub type Result<T, E = OnlineError> = std::result::Result<T, E>;

/// What can go wrong talking to an online store.
#[derive(Debug, thiserror::Error)]
pub enum OnlineError {
    /// The store cannot be reached or did not answer in time (Redis down, timeout,
    /// failover in progress). Transient: the server answers 503.
    #[error("online store unavailable: {0}")]
    Unavailable(String),
    /// Stored bytes that do not decode (written by something else, or damaged).
    #[error("online store data is corrupt: {0}")]
    Corrupt(String),
    /// A bad key, value, row or name from the caller.
    #[error("invalid online store request: {0}")]
    Invalid(String),
    /// A local file operation of the embedded store failed.
    #[error("online store I/O error ({context}): {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The embedded database refused to open (for example another program holds it).
    #[error("cannot open the embedded online store at {}: {message}", path.display())]
    Open { path: PathBuf, message: String },
    /// Any other failure reported by the backend (a Redis server error that is not
    /// about availability, an embedded database error).
    #[error("online store error: {0}")]
    Backend(String),
}

impl OnlineError {
    /// True when retrying later may succeed: the store is down or slow (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, OnlineError::Unavailable(_))
    }

    /// True when the caller sent something invalid (HTTP 400).
    pub fn is_user_error(&self) -> bool {
        matches!(self, OnlineError::Invalid(_))
    }
}
