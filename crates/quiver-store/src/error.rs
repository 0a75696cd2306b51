//! Errors of feature-store operations, classified once for every front end.

use quiver_core::DefinitionError;
use quiver_offline::OfflineError;
use quiver_registry::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Config(Vec<DefinitionError>),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Offline(#[from] OfflineError),
    #[error(transparent)]
    Online(#[from] quiver_online::OnlineError),
    /// The request is wrong: a name already taken, nothing applied, bad values.
    #[error("{0}")]
    Request(String),
    /// The request names a definition that is not applied.
    #[error("{message}")]
    NotFound {
        kind: quiver_core::ObjectKind,
        name: String,
        message: String,
    },
    /// A bug or a crashed task: not the caller's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Who is at fault, for exit codes and HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input: fix the request or the definitions.
    User,
    /// The request collides with what another request did first (a name
    /// already taken): the same request cannot succeed.
    Conflict,
    /// A dependency is down; retrying later may help.
    Unavailable,
    /// Anything else.
    Internal,
}

impl StoreError {
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Config(_) | StoreError::Request(_) | StoreError::NotFound { .. } => {
                ErrorClass::User
            }
            StoreError::Registry(RegistryError::Conflict(_)) => ErrorClass::Conflict,
            StoreError::Registry(e) if e.is_unavailable() => ErrorClass::Unavailable,
            StoreError::Offline(e) if e.is_user_error() => ErrorClass::User,
            StoreError::Offline(e) if e.is_unavailable() => ErrorClass::Unavailable,
            StoreError::Online(e) if e.is_user_error() => ErrorClass::User,
            StoreError::Online(e) if e.is_unavailable() => ErrorClass::Unavailable,
            _ => ErrorClass::Internal,
        }
    }
}

impl StoreError {
    /// The kind and name of the unknown definition the request named, if that
    /// is what is wrong with it.
    pub fn not_found(&self) -> Option<(quiver_core::ObjectKind, &str)> {
        match self {
            StoreError::NotFound { kind, name, .. }
            | StoreError::Offline(OfflineError::NotFound { kind, name, .. }) => {
                Some((*kind, name.as_str()))
            }
            _ => None,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
