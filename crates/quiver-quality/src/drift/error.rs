//! Errors of drift detection.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stats::ValueKind;

/// Which of the two summaries an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The reference summary (training data, last week).
    Baseline,
    /// The summary being checked against it.
    Current,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Baseline => "baseline",
            Self::Current => "current",
        })
    }
}

/// Why two summaries could not be compared.
///
/// None of these is "drift": they say the comparison itself is meaningless, so
/// callers report them separately from a drifted verdict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriftError {
    /// The summaries are of different kinds of values (a type change is a
    /// schema problem, not a distribution shift).
    #[error("cannot compare a {baseline} baseline with a {current} current summary")]
    KindMismatch {
        /// The baseline's kind.
        baseline: ValueKind,
        /// The current summary's kind.
        current: ValueKind,
    },

    /// Drift is not defined for this kind (lists).
    #[error("drift is not defined for {0} features")]
    Unsupported(ValueKind),

    /// A summary has no values to compare (every row null, or no rows).
    #[error("the {0} summary has no values")]
    NoData(Side),

    /// A summary lacks the state drift needs (its quantile sketch or its
    /// category counts), e.g. one written by hand or by an older writer.
    #[error("the {side} summary has no {what}")]
    MissingState {
        /// Which summary.
        side: Side,
        /// What is missing.
        what: &'static str,
    },

    /// A threshold is NaN or outside its range.
    #[error("invalid {name} threshold {value}")]
    InvalidThreshold {
        /// Which threshold.
        name: &'static str,
        /// The refused value.
        value: f64,
    },

    /// PSI needs at least two bins.
    #[error("PSI needs at least 2 bins, got {0}")]
    InvalidBins(usize),

    /// The chi-square distribution could not be built (a bug, reported rather
    /// than panicking).
    #[error("chi-square distribution: {0}")]
    Distribution(String),
}
