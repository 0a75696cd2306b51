//! What drift detection returns.

use serde::{Deserialize, Serialize};

use crate::stats::ValueKind;

/// The drift metrics computed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftMetric {
    /// Population stability index (numeric bins or categories).
    Psi,
    /// Kolmogorov–Smirnov distance between the two CDFs (numeric only).
    Ks,
    /// Chi-square test of homogeneity over the categories.
    ChiSquare,
}

/// The outcome of one metric against its threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    /// Which metric.
    pub metric: DriftMetric,
    /// The number compared with `threshold`: the index for PSI, the distance
    /// for KS, the p-value for chi-square.
    pub value: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// `value > threshold` for PSI and KS, `value < threshold` for the
    /// chi-square p-value.
    pub drifted: bool,
    /// The test behind a chi-square p-value; `None` for other metrics.
    pub chi_square: Option<ChiSquareTest>,
}

/// A chi-square test of homogeneity: could both samples come from one
/// categorical distribution?
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquareTest {
    /// Σ (observed − expected)² / expected over both samples' cells.
    pub statistic: f64,
    /// Categories compared, minus one.
    pub degrees_of_freedom: u64,
    /// Probability of a statistic at least this large if nothing changed.
    /// 1 when there is nothing to compare (fewer than two categories).
    pub p_value: f64,
}

/// Whether a feature drifted, with every metric that was computed for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftVerdict {
    /// The feature compared, as the caller named it.
    pub feature: String,
    /// The kind of its values, which decided the metrics.
    pub kind: ValueKind,
    /// PSI and KS for numeric features, chi-square and PSI for categorical.
    pub metrics: Vec<MetricVerdict>,
    /// Whether any metric drifted.
    pub drifted: bool,
}

impl DriftVerdict {
    pub(crate) fn new(feature: &str, kind: ValueKind, metrics: Vec<MetricVerdict>) -> Self {
        let drifted = metrics.iter().any(|m| m.drifted);
        Self {
            feature: feature.to_owned(),
            kind,
            metrics,
            drifted,
        }
    }

    /// The verdict of `metric`, if it was computed for this feature's kind.
    pub fn metric(&self, metric: DriftMetric) -> Option<&MetricVerdict> {
        self.metrics.iter().find(|m| m.metric == metric)
    }
}
