//! Data-quality computation for quiver features: pure functions and accumulators,
//! no I/O, no services, no async.
//!
//! [`checks`] judges a view's declared data-quality checks on its rows (the
//! one implementation behind batch materialization, push and the Kafka ingest).
//! The rest has two halves that meet at one serializable type:
//!
//! * [`stats`]: a [`FeatureStats`] accumulator is fed Arrow arrays one batch at a
//!   time, can be merged with accumulators filled elsewhere (other partitions,
//!   other threads), and finishes into a [`StatsSummary`]. Everything is computed
//!   in one pass with bounded memory, so a summary of a billion-row table costs
//!   the same few kilobytes as one of a thousand rows.
//! * [`drift`]: [`detect_drift`] compares a baseline summary with a current one
//!   of the same feature (PSI and Kolmogorov–Smirnov for numbers, chi-square and
//!   PSI for categories) and returns a [`DriftVerdict`] against
//!   caller-overridable [`DriftThresholds`].
//!
//! A [`StatsSummary`] keeps the quantile sketch itself, not just the headline
//! numbers, because drift needs the whole distribution: a summary written today
//! can be compared with one written months from now.

pub mod builtin;
pub mod checks;
pub mod drift;
pub mod stats;
mod unique;

pub use drift::{
    ChiSquareTest, DriftError, DriftMetric, DriftThresholds, DriftVerdict, MetricVerdict, Side,
    detect_drift,
};
pub use stats::{
    Categories, CategoryCount, FeatureStats, Histogram, QuantileSketch, Quantiles, StatsError,
    StatsSummary, ValueKind,
};
