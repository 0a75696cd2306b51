//! Distinct-count estimate with HyperLogLog.
//!
//! An exact distinct count needs memory proportional to the number of distinct
//! values; HyperLogLog needs a fixed `2^lg_k` registers and is mergeable, which
//! is what a one-pass, partitioned accumulator needs. The sketch is Apache
//! DataSketches' HLL (8-bit registers): exact while few values have been seen
//! (it stores the hashes themselves), then with a relative standard error of
//! about `1.04 / sqrt(2^lg_k)`.

use std::fmt;
use std::hash::Hash;

use datasketches::hll::{HllSketch, HllType, HllUnion};

use super::StatsError;

/// `log2` of the number of HLL registers: 4096 registers (4 KiB) give a
/// relative standard error of about 1.6% (1.04 / 64).
pub const HLL_LG_K: u8 = 12;

/// The relative standard error of the distinct estimate for [`HLL_LG_K`]:
/// `1.04 / sqrt(4096)`. About 68% of estimates fall within one of it of the
/// true count, 99.7% within three.
pub const HLL_RELATIVE_STANDARD_ERROR: f64 = 1.04 / 64.0;

/// A mergeable distinct-count estimator.
#[derive(Clone)]
pub(crate) struct DistinctCounter {
    sketch: HllSketch,
}

impl fmt::Debug for DistinctCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DistinctCounter")
            .field("estimate", &self.estimate())
            .finish()
    }
}

impl DistinctCounter {
    pub(crate) fn new() -> Result<Self, StatsError> {
        let sketch = HllSketch::new(HLL_LG_K, HllType::Hll8).map_err(StatsError::sketch)?;
        Ok(Self { sketch })
    }

    /// Records one value. Values are told apart by their `Hash`, so callers pick
    /// one encoding per feature (all integers as `i64`, all floats canonicalised).
    pub(crate) fn insert<T: Hash>(&mut self, value: T) {
        self.sketch.update(value);
    }

    /// Takes in the values another counter saw. The union of two HLLs is the
    /// register-wise maximum, so the registers end up exactly as if one counter
    /// had seen both streams; the estimate itself can differ slightly, since a
    /// single-stream sketch uses the (more precise) HIP estimator that a union
    /// cannot keep.
    pub(crate) fn merge(&mut self, other: &Self) -> Result<(), StatsError> {
        let mut union = HllUnion::new(HLL_LG_K).map_err(StatsError::sketch)?;
        union.update(&self.sketch);
        union.update(&other.sketch);
        self.sketch = union.to_sketch(HllType::Hll8);
        Ok(())
    }

    /// The estimated number of distinct values, rounded to a whole count.
    pub(crate) fn estimate(&self) -> u64 {
        // A count, so never negative; `as` saturates at the (unreachable) top.
        self.sketch.estimate().round().max(0.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_exact_for_few_values() {
        let mut counter = DistinctCounter::new().expect("valid lg_k");
        for v in [1i64, 2, 3, 2, 1, 3, 3] {
            counter.insert(v);
        }
        assert_eq!(counter.estimate(), 3);
    }

    #[test]
    fn merge_counts_the_union() {
        let mut a = DistinctCounter::new().expect("valid lg_k");
        let mut b = DistinctCounter::new().expect("valid lg_k");
        (0i64..50).for_each(|v| a.insert(v));
        (25i64..75).for_each(|v| b.insert(v));
        a.merge(&b).expect("same lg_k");
        assert_eq!(a.estimate(), 75);
    }
}
