//! Drift of a numeric feature, computed from two quantile sketches.

use crate::stats::QuantileSketch;

use super::psi::population_stability_index;
use super::{DriftError, Side};

/// PSI bins: deciles of the baseline. Ten equally populated bins is the
/// customary PSI setup; each holds enough of the population that the sketch's
/// ~1.3% rank error barely moves its share.
pub const PSI_BINS: usize = 10;

/// Points per sketch at which the KS distance looks for the largest CDF gap:
/// each sketch's quantiles at ranks `0, 1/1000, …, 1`. Between two neighbouring
/// points a CDF rises by about 1/1000, so the gap found is within ~0.002 of
/// the true largest gap between the two sketched CDFs.
pub const KS_GRID: usize = 1000;

/// PSI over `bins` bins cut at the baseline's quantiles `1/bins, 2/bins, …`.
///
/// Quantile bins make every baseline bin equally important (about `1/bins` of
/// the population each) whatever the distribution's shape, where equal-width
/// bins would put most of a skewed feature in one bin and see nothing. Bins
/// are `(edgeᵢ, edgeᵢ₊₁]`, open-ended at both extremes so current values
/// outside the baseline's range still land somewhere. Repeated edges (a value
/// that fills more than one decile) are merged, so discrete features get
/// fewer, wider bins rather than empty ones.
pub fn numeric_psi(
    baseline: &QuantileSketch,
    current: &QuantileSketch,
    bins: usize,
) -> Result<f64, DriftError> {
    if bins < 2 {
        return Err(DriftError::InvalidBins(bins));
    }
    let ranks: Vec<f64> = (1..bins).map(|i| i as f64 / bins as f64).collect();
    let mut edges = baseline
        .quantiles(&ranks)
        .ok_or(DriftError::NoData(Side::Baseline))?;
    edges.dedup();
    let expected = shares(baseline, &edges).ok_or(DriftError::NoData(Side::Baseline))?;
    let actual = shares(current, &edges).ok_or(DriftError::NoData(Side::Current))?;
    Ok(population_stability_index(&expected, &actual))
}

/// The share of `sketch`'s values in each bin `(-∞, e₀], (e₀, e₁], …, (eₙ, ∞)`.
fn shares(sketch: &QuantileSketch, edges: &[f64]) -> Option<Vec<f64>> {
    let cdf = sketch.cdf(edges)?;
    let mut below = 0.0;
    let mut shares = Vec::with_capacity(cdf.len() + 1);
    for cumulative in cdf.into_iter().chain(std::iter::once(1.0)) {
        shares.push((cumulative - below).max(0.0));
        below = cumulative;
    }
    Some(shares)
}

/// The Kolmogorov–Smirnov distance `max |F_baseline(x) − F_current(x)|`.
///
/// Both CDFs are step functions that only change at values their sketches
/// hold, so the largest gap is at one of those values. The sketch does not
/// list them, but its quantiles on a fine rank grid ([`KS_GRID`]) find them
/// all up to a rise of 1/1000; the gap is evaluated on the union of both
/// sketches' grids. The result carries each sketch's rank error (~1.3%) on top
/// of the sampling noise of the data itself.
pub fn ks_distance(baseline: &QuantileSketch, current: &QuantileSketch) -> Result<f64, DriftError> {
    let grid: Vec<f64> = (0..=KS_GRID).map(|i| i as f64 / KS_GRID as f64).collect();
    let mut points = baseline
        .quantiles(&grid)
        .ok_or(DriftError::NoData(Side::Baseline))?;
    points.extend(
        current
            .quantiles(&grid)
            .ok_or(DriftError::NoData(Side::Current))?,
    );
    points.sort_by(f64::total_cmp);
    points.dedup();
    let f = baseline
        .cdf(&points)
        .ok_or(DriftError::NoData(Side::Baseline))?;
    let g = current
        .cdf(&points)
        .ok_or(DriftError::NoData(Side::Current))?;
    Ok(f.iter()
        .zip(&g)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max))
}
