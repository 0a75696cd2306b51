//! Errors in a feature repo: each names the file, the line and the field.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a definition was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Self {
            file: file.into(),
            line,
            column,
        }
    }

    /// The start of a file, for problems that belong to no particular line.
    pub fn file_start(file: &Path) -> Self {
        Self::new(file, 1, 1)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem with a definition or with the project config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub location: Location,
    /// The path of the offending field, e.g. `feature_views[driver_hourly_stats].ttl`.
    pub field: String,
    pub message: String,
}

impl DefinitionError {
    pub fn new(location: Location, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.location, self.message)
        } else {
            write!(f, "{}: {}: {}", self.location, self.field, self.message)
        }
    }
}

/// Everything that can go wrong loading a feature repo.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_errors(.0))]
    Invalid(Vec<DefinitionError>),
}

fn render_errors(errors: &[DefinitionError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl RepoError {
    /// The individual definition errors (empty for I/O failures).
    pub fn definition_errors(&self) -> &[DefinitionError] {
        match self {
            RepoError::Invalid(errors) => errors,
            RepoError::Io { .. } => &[],
        }
    }
}
