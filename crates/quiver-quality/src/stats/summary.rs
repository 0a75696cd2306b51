//! The serialized result of a statistics pass.
//!
//! Field names are part of the format: summaries are stored and compared with
//! summaries written by other versions, so fields are only ever added (and
//! missing ones read as absent). Every field is always written, `null` when it
//! does not apply to the feature's kind, so readers see one shape.

use serde::{Deserialize, Serialize};

use super::ValueKind;
use super::quantiles::QuantileSketch;

/// Statistics of one feature over the batches observed; see
/// [`crate::FeatureStats::finish`].
///
/// Which fields are set depends on [`StatsSummary::kind`]:
///
/// | field | numeric / timestamp | boolean | string | list |
/// | --- | --- | --- | --- | --- |
/// | `min`, `max` | value | 0 or 1 | length in characters | – |
/// | `mean`, `stddev` | value | share of `true` | – | – |
/// | `distinct` | estimate | exact | estimate | – |
/// | `quantiles`, `histogram`, `sketch` | yes | – | – | – |
/// | `categories` | – | `"true"`/`"false"` | top 64 | – |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsSummary {
    /// Which statistics apply.
    pub kind: ValueKind,
    /// Rows observed, nulls included.
    pub count: u64,
    /// Null rows.
    pub nulls: u64,
    /// NaN and ±infinity floats: counted apart and left out of every other
    /// statistic, since one of them would make the mean and stddev NaN and
    /// they have no place in a histogram.
    #[serde(default)]
    pub non_finite: u64,
    /// Smallest value (for strings: shortest length, in characters). Integers
    /// beyond ±2^53 are rounded to the nearest `f64`.
    pub min: Option<f64>,
    /// Largest value (for strings: longest length, in characters).
    pub max: Option<f64>,
    /// Arithmetic mean of the finite values.
    pub mean: Option<f64>,
    /// Population standard deviation (divided by `n`) of the finite values.
    pub stddev: Option<f64>,
    /// Estimated number of distinct values, with a relative standard error of
    /// about 1.6% (HyperLogLog, 4096 registers); exact below a few hundred.
    pub distinct: Option<u64>,
    /// Percentiles from the quantile sketch.
    pub quantiles: Option<Quantiles>,
    /// Equal-width histogram over `[min, max]`, derived from the sketch.
    pub histogram: Option<Histogram>,
    /// Most frequent categories.
    pub categories: Option<Categories>,
    /// The quantile sketch itself, for drift against later summaries.
    pub sketch: Option<QuantileSketch>,
}

impl StatsSummary {
    /// Rows with a value: neither null nor non-finite.
    pub fn valid(&self) -> u64 {
        self.count
            .saturating_sub(self.nulls)
            .saturating_sub(self.non_finite)
    }
}

/// Percentiles of the finite values, each within the sketch's rank error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// 1st percentile.
    pub p01: f64,
    /// 5th percentile.
    pub p05: f64,
    /// 25th percentile (first quartile).
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile (third quartile).
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Quantiles {
    /// The ranks of the fields, in field order.
    pub const RANKS: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

    pub(crate) fn from_values(values: &[f64]) -> Option<Self> {
        match *values {
            [p01, p05, p25, p50, p75, p95, p99] => Some(Self {
                p01,
                p05,
                p25,
                p50,
                p75,
                p95,
                p99,
            }),
            _ => None,
        }
    }

    /// The values in field order, matching [`Quantiles::RANKS`].
    pub fn values(&self) -> [f64; 7] {
        [
            self.p01, self.p05, self.p25, self.p50, self.p75, self.p95, self.p99,
        ]
    }
}

/// Bin `i` holds the values in `(edges[i], edges[i + 1]]` (the first bin also
/// holds `edges[0]`); `edges` has one more element than `counts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bin boundaries, ascending.
    pub edges: Vec<f64>,
    /// Values per bin; they add up to the number of finite values.
    pub counts: Vec<u64>,
}

/// The most frequent categories and the size of the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Categories {
    /// Most frequent first, ties by value; at most 64.
    pub top: Vec<CategoryCount>,
    /// Values not named in `top`. Zero means `top` lists every category seen.
    pub other: u64,
    /// Zero when every count is exact; otherwise the most any count in `top`
    /// can fall short of the true count (the sketch ran out of counters).
    pub max_error: u64,
}

impl Categories {
    /// Values counted: the named ones plus `other`.
    pub fn total(&self) -> u64 {
        self.top.iter().map(|c| c.count).sum::<u64>() + self.other
    }

    /// The count of `value`, if it is named in `top`.
    pub fn count_of(&self, value: &str) -> Option<u64> {
        self.top.iter().find(|c| c.value == value).map(|c| c.count)
    }
}

/// One category and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    /// The category (for booleans `"true"` or `"false"`).
    pub value: String,
    /// Occurrences (a lower bound when [`Categories::max_error`] is non-zero).
    pub count: u64,
}
