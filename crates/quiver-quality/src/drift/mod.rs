//! Drift between a baseline summary and a current summary of one feature.
//!
//! Numeric and timestamp features are compared through their quantile
//! sketches: PSI over the baseline's deciles and the KS distance between the
//! two CDFs. Boolean and string features are compared through their category
//! counts: the chi-square test of homogeneity and PSI over categories. Each
//! metric is judged against [`DriftThresholds`] and the feature is drifted if
//! any metric is.
//!
//! ```
//! use arrow::array::Float64Array;
//! use arrow::datatypes::DataType;
//! use quiver_quality::{detect_drift, DriftThresholds, FeatureStats};
//!
//! let summary = |values: Vec<f64>| -> Result<_, quiver_quality::StatsError> {
//!     let mut stats = FeatureStats::new(&DataType::Float64)?;
//!     stats.observe(&Float64Array::from(values))?;
//!     Ok(stats.finish())
//! };
//! let baseline = summary((0..1000).map(f64::from).collect())?;
//! let current = summary((500..1500).map(f64::from).collect())?;
//! let verdict = detect_drift("fare", &baseline, &current, &DriftThresholds::default())?;
//! assert!(verdict.drifted);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod categorical;
mod error;
mod numeric;
mod psi;
mod thresholds;
mod verdict;

pub use self::categorical::{categorical_psi, chi_square_test};
pub use self::error::{DriftError, Side};
pub use self::numeric::{KS_GRID, PSI_BINS, ks_distance, numeric_psi};
pub use self::psi::PSI_EPSILON;
pub use self::thresholds::DriftThresholds;
pub use self::verdict::{ChiSquareTest, DriftMetric, DriftVerdict, MetricVerdict};

use crate::stats::{Categories, QuantileSketch, StatsSummary};

/// Compares `current` with `baseline`, two summaries of the feature `feature`
/// (the name is only carried into the verdict).
///
/// Errors say the comparison is meaningless (different kinds, a side without
/// values, invalid thresholds), never that the feature drifted.
pub fn detect_drift(
    feature: &str,
    baseline: &StatsSummary,
    current: &StatsSummary,
    thresholds: &DriftThresholds,
) -> Result<DriftVerdict, DriftError> {
    thresholds.validate()?;
    if baseline.kind != current.kind {
        return Err(DriftError::KindMismatch {
            baseline: baseline.kind,
            current: current.kind,
        });
    }
    let kind = baseline.kind;
    let metrics = if kind.is_numeric() {
        let b = sketch(baseline, Side::Baseline)?;
        let c = sketch(current, Side::Current)?;
        vec![
            above(
                DriftMetric::Psi,
                numeric_psi(b, c, PSI_BINS)?,
                thresholds.psi,
            ),
            above(DriftMetric::Ks, ks_distance(b, c)?, thresholds.ks),
        ]
    } else if kind.is_categorical() {
        let b = categories(baseline, Side::Baseline)?;
        let c = categories(current, Side::Current)?;
        let test = chi_square_test(b, c)?;
        vec![
            MetricVerdict {
                metric: DriftMetric::ChiSquare,
                value: test.p_value,
                threshold: thresholds.chi_square_p,
                drifted: test.p_value < thresholds.chi_square_p,
                chi_square: Some(test),
            },
            above(DriftMetric::Psi, categorical_psi(b, c)?, thresholds.psi),
        ]
    } else {
        return Err(DriftError::Unsupported(kind));
    };
    Ok(DriftVerdict::new(feature, kind, metrics))
}

fn above(metric: DriftMetric, value: f64, threshold: f64) -> MetricVerdict {
    MetricVerdict {
        metric,
        value,
        threshold,
        drifted: value > threshold,
        chi_square: None,
    }
}

fn sketch(summary: &StatsSummary, side: Side) -> Result<&QuantileSketch, DriftError> {
    let sketch = summary.sketch.as_ref().ok_or(DriftError::MissingState {
        side,
        what: "quantile sketch",
    })?;
    if sketch.is_empty() {
        return Err(DriftError::NoData(side));
    }
    Ok(sketch)
}

fn categories(summary: &StatsSummary, side: Side) -> Result<&Categories, DriftError> {
    let categories = summary
        .categories
        .as_ref()
        .ok_or(DriftError::MissingState {
            side,
            what: "category counts",
        })?;
    if categories.total() == 0 {
        return Err(DriftError::NoData(side));
    }
    Ok(categories)
}
