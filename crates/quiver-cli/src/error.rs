//! CLI errors and the one place they become exit codes.

use std::process::ExitCode;

use quiver_core::{DefinitionError, RepoError};
use quiver_registry::RegistryError;
use quiver_store::{ErrorClass, StoreError};

/// Exit codes, documented in the README.
pub mod exit {
    /// Bad input: invalid definitions, an unknown name, a directory in the way.
    pub const USER: u8 = 1;
    /// Command-line usage errors (clap's own code).
    pub const USAGE: u8 = 2;
    /// A service quiver needs (registry database, source) could not be reached.
    pub const UNAVAILABLE: u8 = 3;
    /// Anything else: an I/O failure or a bug.
    pub const INTERNAL: u8 = 4;
    /// `quiver drift`: a feature drifted over its thresholds.
    pub const DRIFT: u8 = 5;
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{} definition error(s)", .0.len())]
    Definitions(Vec<DefinitionError>),
    #[error("{0}")]
    User(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
    /// Not a failure of the command: what it measured crossed a threshold.
    #[error("{0}")]
    Drifted(String),
}

impl From<StoreError> for CliError {
    fn from(error: StoreError) -> Self {
        match (error.class(), error) {
            (_, StoreError::Config(errors)) => CliError::Definitions(errors),
            (_, StoreError::Registry(e)) => CliError::Registry(e),
            (ErrorClass::User | ErrorClass::Conflict, e) => CliError::User(e.to_string()),
            (ErrorClass::Unavailable, e) => CliError::Unavailable(e.to_string()),
            (ErrorClass::Internal, e) => CliError::Internal(e.to_string()),
        }
    }
}

impl From<RepoError> for CliError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::Invalid(errors) => CliError::Definitions(errors),
            RepoError::Io { .. } => CliError::User(error.to_string()),
        }
    }
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Definitions(_) | CliError::User(_) => exit::USER,
            CliError::Registry(RegistryError::Conflict(_)) => exit::USER,
            CliError::Registry(e) if e.is_unavailable() => exit::UNAVAILABLE,
            CliError::Unavailable(_) => exit::UNAVAILABLE,
            CliError::Registry(_) | CliError::Internal(_) => exit::INTERNAL,
            CliError::Drifted(_) => exit::DRIFT,
        })
    }

    /// The lines for stderr: one per definition error, otherwise one.
    pub fn lines(&self) -> Vec<String> {
        match self {
            CliError::Definitions(errors) => errors.iter().map(|e| format!("error: {e}")).collect(),
            other => vec![format!("error: {}", one_line(&other.to_string()))],
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub type CliResult<T = ()> = Result<T, CliError>;
