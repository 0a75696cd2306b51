//! Errors of the statistics accumulator.

use arrow::datatypes::DataType;

use super::ValueKind;

/// Why a batch could not be observed, two accumulators could not be merged, or a
/// serialized sketch could not be read.
///
/// Every variant is about the caller's input; none is a bug to be retried.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The Arrow type has no statistics defined here (see [`ValueKind::of`] for
    /// the supported types).
    #[error("feature statistics do not support Arrow type {0}")]
    UnsupportedType(DataType),

    /// A batch of another kind than the accumulator was created for: mixing
    /// them would blend unrelated distributions.
    #[error("these statistics are of {expected} values, but the batch is of type {found}")]
    TypeMismatch {
        /// The kind the accumulator was created for.
        expected: ValueKind,
        /// The Arrow type of the batch that was refused.
        found: DataType,
    },

    /// Two accumulators of different kinds cannot be merged.
    #[error("cannot merge statistics of {ours} values with statistics of {theirs} values")]
    KindMismatch {
        /// The kind of the accumulator merged into.
        ours: ValueKind,
        /// The kind of the accumulator merged from.
        theirs: ValueKind,
    },

    /// A sketch refused its configuration or its serialized form did not decode.
    #[error("sketch error: {0}")]
    Sketch(String),
}

impl StatsError {
    /// Wraps a sketch library error without exposing the library's type in this
    /// crate's API, so the sketch crate can be upgraded without breaking callers.
    pub(crate) fn sketch(error: impl std::fmt::Display) -> Self {
        Self::Sketch(error.to_string())
    }
}
