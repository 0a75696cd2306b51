//! A fixed-bin histogram derived from the quantile sketch at `finish()`.
//!
//! Equal-width bins need the range before the first value is binned, which a
//! one-pass accumulator does not know. Instead of guessing a range (or using
//! log-scale bins that fit neither negative values nor large offsets), the
//! histogram is read off the quantile sketch once the stream is over, when the
//! exact min and max are known: the count of bin `i` is the sketch's CDF at its
//! upper edge minus the CDF at its lower edge, times the number of values. Each
//! bin's share is thus within twice the sketch's rank error, and rounding the
//! *cumulative* counts (not each bin) makes the bins add up exactly to the
//! number of values. The histogram is for people to look at; drift works on the
//! sketch itself, which has more resolution than any fixed set of bins.

use super::quantiles::QuantileSketch;
use super::summary::Histogram;

/// Bins in [`Histogram`]: enough to see the shape, few enough to read.
pub const HISTOGRAM_BINS: usize = 20;

/// `bins` equal-width bins over `[min, max]` of the sketch's values; `None`
/// when the sketch is empty. Bins are closed on the right (`(lo, hi]`), the
/// first also on the left, so every value is in exactly one. All values equal
/// gives one bin of zero width.
pub(crate) fn from_sketch(sketch: &QuantileSketch, bins: usize) -> Option<Histogram> {
    let (min, max) = sketch.min_max()?;
    let n = sketch.count();
    if min == max || bins <= 1 {
        return Some(Histogram {
            edges: vec![min, max],
            counts: vec![n],
        });
    }
    let width = max - min;
    let mut edges: Vec<f64> = (0..=bins)
        .map(|i| min + width * (i as f64 / bins as f64))
        .collect();
    // Pin the ends exactly; the interior is `min + width·t`, monotone in `t`.
    edges[0] = min;
    edges[bins] = max;

    let cdf = sketch.cdf(&edges[1..bins])?;
    let mut counts = Vec::with_capacity(bins);
    let mut below = 0u64;
    for share in cdf.into_iter().chain(std::iter::once(1.0)) {
        let cumulative = ((share * n as f64).round() as u64).clamp(below, n);
        counts.push(cumulative - below);
        below = cumulative;
    }
    Some(Histogram { edges, counts })
}

#[cfg(test)]
mod tests {
    use super::super::quantiles::sketch_of;
    use super::*;

    #[test]
    fn empty_has_no_histogram() {
        assert_eq!(from_sketch(&sketch_of([]), HISTOGRAM_BINS), None);
    }

    #[test]
    fn constant_data_is_one_bin() {
        let h = from_sketch(&sketch_of([3.0; 7]), HISTOGRAM_BINS).expect("non-empty");
        assert_eq!(h.edges, [3.0, 3.0]);
        assert_eq!(h.counts, [7]);
    }

    #[test]
    fn bins_exactly_while_the_sketch_is_exact() {
        // 0..=99 in 4 bins over [0, 99]: edges 0, 24.75, 49.5, 74.25, 99.
        let h = from_sketch(&sketch_of((0..100).map(f64::from)), 4).expect("non-empty");
        assert_eq!(h.edges, [0.0, 24.75, 49.5, 74.25, 99.0]);
        assert_eq!(h.counts, [25, 25, 25, 25]);
    }

    #[test]
    fn counts_add_up_to_the_values_seen() {
        let values = (0..50_000).map(|i| (f64::from(i) * 0.37).sin() * 1e3);
        let sketch = sketch_of(values);
        let h = from_sketch(&sketch, HISTOGRAM_BINS).expect("non-empty");
        assert_eq!(h.counts.len(), HISTOGRAM_BINS);
        assert_eq!(h.edges.len(), HISTOGRAM_BINS + 1);
        assert_eq!(h.counts.iter().sum::<u64>(), 50_000);
    }
}
