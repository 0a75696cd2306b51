//! Property tests: the accumulator against direct computation on arbitrary
//! data, in arbitrary batchings, and merge against a single stream.

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::DataType;
use common::{mean_stddev, rank_within};
use proptest::prelude::*;
use quiver_quality::{FeatureStats, Quantiles, StatsSummary};

/// Column values: mostly finite floats over a wide range, some nulls, some
/// repeated small integers (ties are where quantile code goes wrong).
fn value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        6 => (-1e6f64..1e6).prop_map(Some),
        2 => (0i32..20).prop_map(|v| Some(f64::from(v))),
        1 => Just(None),
    ]
}

fn column() -> impl Strategy<Value = Vec<Option<f64>>> {
    prop::collection::vec(value(), 0..3000)
}

/// Splits `values` into batches at the given cut points.
fn batches(values: &[Option<f64>], cuts: &[prop::sample::Index]) -> Vec<ArrayRef> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(values.len() + 1)).collect();
    points.push(0);
    points.push(values.len());
    points.sort_unstable();
    points
        .windows(2)
        .map(|w| Arc::new(Float64Array::from(values[w[0]..w[1]].to_vec())) as ArrayRef)
        .collect()
}

fn observe(batches: &[ArrayRef]) -> FeatureStats {
    let mut stats = FeatureStats::new(&DataType::Float64).expect("supported");
    for batch in batches {
        stats.observe(batch.as_ref()).expect("same kind");
    }
    stats
}

/// Holds `summary` to values computed directly on `values`.
fn check(summary: &StatsSummary, values: &[Option<f64>]) -> Result<(), TestCaseError> {
    let mut finite: Vec<f64> = values.iter().flatten().copied().collect();
    finite.sort_by(f64::total_cmp);
    prop_assert_eq!(summary.count, values.len() as u64);
    prop_assert_eq!(
        summary.nulls,
        values.iter().filter(|v| v.is_none()).count() as u64
    );
    prop_assert_eq!(summary.min, finite.first().copied());
    prop_assert_eq!(summary.max, finite.last().copied());
    if finite.is_empty() {
        prop_assert!(summary.mean.is_none() && summary.quantiles.is_none());
        return Ok(());
    }
    let (mean, stddev) = mean_stddev(&finite);
    // Relative to the data's scale: a mean that cancels to ~0 has no
    // meaningful relative error of its own.
    let scale = finite.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1.0);
    let got_mean = summary.mean.unwrap_or(f64::NAN);
    let got_sd = summary.stddev.unwrap_or(f64::NAN);
    prop_assert!(
        (got_mean - mean).abs() <= 1e-12 * scale,
        "mean {} vs {}",
        got_mean,
        mean
    );
    prop_assert!(
        (got_sd - stddev).abs() <= 1e-9 * stddev + 1e-12 * scale,
        "stddev {} vs {}",
        got_sd,
        stddev
    );

    let sketch = summary
        .sketch
        .as_ref()
        .ok_or_else(|| TestCaseError::fail("no sketch"))?;
    let quantiles = summary
        .quantiles
        .ok_or_else(|| TestCaseError::fail("no quantiles"))?;
    for (rank, estimate) in Quantiles::RANKS.iter().zip(quantiles.values()) {
        prop_assert!(
            rank_within(&finite, *rank, estimate, sketch.rank_error()),
            "rank {}: {} off by more than {}",
            rank,
            estimate,
            sketch.rank_error()
        );
    }
    let histogram = summary
        .histogram
        .as_ref()
        .ok_or_else(|| TestCaseError::fail("no histogram"))?;
    prop_assert_eq!(histogram.counts.iter().sum::<u64>(), finite.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn stats_match_direct_computation_in_any_batching(
        values in column(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let summary = observe(&batches(&values, &cuts)).finish();
        check(&summary, &values)?;
    }

    #[test]
    fn merge_equals_observing_both(
        left in column(),
        right in column(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut merged = observe(&batches(&left, &cuts));
        merged.merge(&observe(&batches(&right, &cuts))).expect("same kind");
        let both: Vec<Option<f64>> = left.iter().chain(&right).copied().collect();
        let whole = observe(&batches(&both, &[])).finish();
        let merged = merged.finish();

        check(&merged, &both)?;
        prop_assert_eq!(
            (merged.count, merged.nulls, merged.min, merged.max),
            (whole.count, whole.nulls, whole.min, whole.max)
        );
        // Below the HLL's exact-mode limit both counts are exact, so equal.
        if whole.distinct.unwrap_or(0) < 200 {
            prop_assert_eq!(merged.distinct, whole.distinct);
        }
    }
}
