//! The quantile sketch: KLL over `f64`, kept in the summary for drift.
//!
//! KLL (Karnin–Lang–Liberty, as implemented by Apache DataSketches) was chosen
//! over t-digest and DDSketch because its error is a *rank* error with a stated
//! bound, independent of the data's scale: with `k = 200`, any quantile or CDF
//! value it returns is within about 1.3% of the true rank (at 99% confidence).
//! That is the error that matters for PSI and KS, which compare CDFs. DDSketch
//! bounds *relative value* error instead, which is useless for data with a
//! large offset (a 1% error on microsecond timestamps is months); t-digest has
//! no stated bound at all. KLL is randomised (its compactions flip coins), so
//! two sketches of the same data can differ within that bound.
//!
//! The sketch serializes to the DataSketches compact binary format, readable by
//! the Java, C++ and Python DataSketches libraries too; in JSON it is that image
//! in hex.

use datasketches::common::SearchCriteria;
use datasketches::kll::{KllFloat, KllSketch};
use serde::{Deserialize, Serialize};

use super::StatsError;

/// The KLL accuracy parameter. 200 is the DataSketches default: about 1.3%
/// single-sided rank error at 99% confidence, ~600 retained values (~5 KiB).
pub const KLL_K: u16 = 200;

/// A mergeable quantile sketch of the finite values of a numeric feature.
///
/// It answers quantile and CDF queries with the rank error
/// [`QuantileSketch::rank_error`], and is what [`crate::drift`] compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SketchRepr", into = "SketchRepr")]
pub struct QuantileSketch {
    kll: KllSketch<KllFloat<f64>>,
}

impl QuantileSketch {
    pub(crate) fn new() -> Result<Self, StatsError> {
        let kll = KllSketch::new(KLL_K).map_err(StatsError::sketch)?;
        Ok(Self { kll })
    }

    /// Adds a value; NaN is skipped (it has no rank), so callers count it
    /// elsewhere.
    pub(crate) fn update(&mut self, value: f64) {
        if let Ok(value) = KllFloat::<f64>::new(value) {
            self.kll.update(value);
        }
    }

    pub(crate) fn merge(&mut self, other: &Self) -> Result<(), StatsError> {
        self.kll.merge(&other.kll).map_err(StatsError::sketch)
    }

    /// How many values the sketch summarizes.
    pub fn count(&self) -> u64 {
        self.kll.n()
    }

    /// Whether the sketch has seen no value.
    pub fn is_empty(&self) -> bool {
        self.kll.is_empty()
    }

    /// The normalized single-sided rank error at 99% confidence: a quantile at
    /// rank `r` returns a value whose true rank is within `r ± rank_error()`, and
    /// [`QuantileSketch::cdf`] values are within `± rank_error()` of the truth.
    pub fn rank_error(&self) -> f64 {
        self.kll.normalized_rank_error()
    }

    /// The smallest and largest value seen, exactly.
    pub fn min_max(&self) -> Option<(f64, f64)> {
        let min = self.kll.min_item()?;
        let max = self.kll.max_item()?;
        Some((**min, **max))
    }

    /// The value at each normalized rank in `ranks` (inclusive: the smallest
    /// value whose rank is at least `r`). Ranks 0 and 1 give the exact min and
    /// max. `None` when the sketch is empty or a rank is outside `[0, 1]`.
    pub fn quantiles(&self, ranks: &[f64]) -> Option<Vec<f64>> {
        let values = self
            .kll
            .quantiles(ranks, SearchCriteria::Inclusive)
            .ok()
            .flatten()?;
        Some(values.into_iter().map(KllFloat::into_inner).collect())
    }

    /// The estimated fraction of values `<= p` for each `p` in `points`, in any
    /// order (ties are counted as at or below, which is what a CDF is). `None`
    /// when the sketch is empty or a point is NaN.
    pub fn cdf(&self, points: &[f64]) -> Option<Vec<f64>> {
        if self.kll.is_empty() {
            return None;
        }
        let view = self.kll.sorted_view();
        points
            .iter()
            .map(|&p| {
                let p = KllFloat::<f64>::new(p).ok()?;
                view.rank(&p, SearchCriteria::Inclusive)
            })
            .collect()
    }

    /// The DataSketches compact binary image of the sketch.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.kll.serialize()
    }

    /// Reads a DataSketches compact binary image of a KLL sketch of doubles.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StatsError> {
        let kll = KllSketch::deserialize(bytes).map_err(StatsError::sketch)?;
        Ok(Self { kll })
    }
}

/// The JSON form: `{"kll": "<hex of the DataSketches image>"}`. The field is
/// named after the algorithm so that another sketch can be added beside it
/// without breaking readers of this one.
#[derive(Serialize, Deserialize)]
struct SketchRepr {
    kll: String,
}

impl From<QuantileSketch> for SketchRepr {
    fn from(sketch: QuantileSketch) -> Self {
        Self {
            kll: hex::encode(sketch.to_bytes()),
        }
    }
}

impl TryFrom<SketchRepr> for QuantileSketch {
    type Error = StatsError;

    fn try_from(repr: SketchRepr) -> Result<Self, Self::Error> {
        let bytes = hex::decode(repr.kll).map_err(StatsError::sketch)?;
        Self::from_bytes(&bytes)
    }
}

/// A sketch of `values`, for tests.
#[cfg(test)]
pub(crate) fn sketch_of(values: impl IntoIterator<Item = f64>) -> QuantileSketch {
    let mut sketch = QuantileSketch::new().expect("valid k");
    values.into_iter().for_each(|v| sketch.update(v));
    sketch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_answers_nothing() {
        let sketch = sketch_of([]);
        assert!(sketch.is_empty());
        assert_eq!(sketch.quantiles(&[0.5]), None);
        assert_eq!(sketch.cdf(&[0.0]), None);
        assert_eq!(sketch.min_max(), None);
    }

    #[test]
    fn is_exact_while_small() {
        let sketch = sketch_of((1..=100).map(f64::from));
        assert_eq!(
            sketch.quantiles(&[0.0, 0.5, 1.0]),
            Some(vec![1.0, 50.0, 100.0])
        );
        assert_eq!(
            sketch.cdf(&[0.0, 25.0, 25.5, 1000.0]),
            Some(vec![0.0, 0.25, 0.25, 1.0])
        );
        assert_eq!(sketch.min_max(), Some((1.0, 100.0)));
    }

    #[test]
    fn skips_nan_and_refuses_nan_points() {
        let sketch = sketch_of([1.0, f64::NAN, 2.0]);
        assert_eq!(sketch.count(), 2);
        assert_eq!(sketch.cdf(&[f64::NAN]), None);
        assert_eq!(sketch.quantiles(&[1.5]), None);
    }

    #[test]
    fn round_trips_through_json() {
        let sketch = sketch_of((0..5000).map(|i| f64::from(i) * 0.5));
        let json = serde_json::to_string(&sketch).expect("serialize");
        assert!(json.starts_with("{\"kll\":\""), "{json:.40}");
        let back: QuantileSketch = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back.count(), sketch.count());
        assert_eq!(back.quantiles(&[0.1, 0.9]), sketch.quantiles(&[0.1, 0.9]));
    }

    #[test]
    fn refuses_a_corrupt_image() {
        let bad: Result<QuantileSketch, _> = serde_json::from_str("{\"kll\":\"0102zz\"}");
        assert!(bad.is_err());
        let bad: Result<QuantileSketch, _> = serde_json::from_str("{\"kll\":\"0102\"}");
        assert!(bad.is_err());
    }
}
