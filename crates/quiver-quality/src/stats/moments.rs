//! Count, min, max, mean and standard deviation in one pass, mergeable.
//!
//! The textbook one-pass formula `E[x²] − E[x]²` subtracts two large, nearly
//! equal numbers and loses every significant digit when the spread is small
//! against the magnitude (timestamps in microseconds are ~1.7e15 apart from
//! each other by seconds). Welford's update keeps a running mean and the sum of
//! squared deviations from it (`m2`) instead, and Chan et al.'s pairwise formula
//! merges two such states exactly as if one had seen both streams, so partial
//! results from batches, partitions or threads combine without a second pass.

/// Running moments of the finite values seen so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moments {
    n: u64,
    mean: f64,
    /// Sum of squared deviations from the running mean.
    m2: f64,
    min: f64,
    max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Self {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    /// Adds one value (Welford): the reference `push_all` is tested against.
    /// Callers pass finite values only: one infinity would turn the mean and
    /// every later deviation into NaN.
    #[cfg(test)]
    pub(crate) fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Adds a batch of values, as pushing each would. The batch's own moments
    /// come from two tight passes (sum, then squared deviations from the
    /// batch mean) with no division per value, and are merged in (Chan et
    /// al.). The sum is taken relative to the first value so that a large
    /// common offset (timestamps) does not eat its digits.
    pub(crate) fn push_all(&mut self, values: &[f64]) {
        let Some(&shift) = values.first() else {
            return;
        };
        let n = values.len() as f64;
        let (mut sum, mut min, mut max) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        for &x in values {
            sum += x - shift;
            min = min.min(x);
            max = max.max(x);
        }
        let mean = shift + sum / n;
        let m2 = values.iter().map(|&x| (x - mean) * (x - mean)).sum();
        self.merge(&Moments {
            n: values.len() as u64,
            mean,
            m2,
            min,
            max,
        });
    }

    /// Adds another state as if its values had been pushed here (Chan et al.).
    pub(crate) fn merge(&mut self, other: &Self) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let (na, nb, nf) = (self.n as f64, other.n as f64, n as f64);
        let delta = other.mean - self.mean;
        self.mean += delta * nb / nf;
        self.m2 += other.m2 + delta * delta * na * nb / nf;
        self.n = n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.n
    }

    pub(crate) fn min(&self) -> Option<f64> {
        (self.n > 0).then_some(self.min)
    }

    pub(crate) fn max(&self) -> Option<f64> {
        (self.n > 0).then_some(self.max)
    }

    pub(crate) fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Population standard deviation (divides by `n`, not `n − 1`): a summary
    /// describes the data it saw rather than estimating a wider population, and
    /// this keeps it defined (zero) for a single value.
    pub(crate) fn stddev(&self) -> Option<f64> {
        // Rounding can leave m2 a hair below zero for constant data.
        (self.n > 0).then(|| (self.m2.max(0.0) / self.n as f64).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[f64]) -> Moments {
        let mut m = Moments::default();
        values.iter().for_each(|&v| m.push(v));
        m
    }

    #[test]
    fn empty_has_no_moments() {
        let m = Moments::default();
        assert_eq!(m.count(), 0);
        assert_eq!(m.mean(), None);
        assert_eq!(m.stddev(), None);
        assert_eq!(m.min(), None);
    }

    #[test]
    fn matches_the_definition() {
        let m = of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m.count(), 8);
        assert_eq!(m.mean(), Some(5.0));
        assert_eq!(m.stddev(), Some(2.0));
        assert_eq!((m.min(), m.max()), (Some(2.0), Some(9.0)));
    }

    #[test]
    fn keeps_precision_with_a_large_offset() {
        // Microsecond timestamps one second apart: the naive E[x²]−E[x]²
        // formula returns garbage here.
        let base = 1.7e15;
        let m = of(&[base, base + 1e6, base + 2e6]);
        let expected = (2.0f64 / 3.0).sqrt() * 1e6;
        let got = m.stddev().expect("non-empty");
        assert!(
            (got - expected).abs() / expected < 1e-9,
            "{got} vs {expected}"
        );
    }

    #[test]
    fn merge_equals_one_stream() {
        let all = [1.0, 3.0, -2.5, 8.0, 8.0, 0.25, 11.0];
        let mut left = of(&all[..3]);
        left.merge(&of(&all[3..]));
        let whole = of(&all);
        assert_eq!(left.count(), whole.count());
        assert_eq!(left.min(), whole.min());
        assert_eq!(left.max(), whole.max());
        let close = |a: Option<f64>, b: Option<f64>| {
            let (a, b) = (a.expect("a"), b.expect("b"));
            (a - b).abs() <= 1e-12 * b.abs().max(1.0)
        };
        assert!(close(left.mean(), whole.mean()));
        assert!(close(left.stddev(), whole.stddev()));
    }

    #[test]
    fn a_batch_matches_the_definition_at_a_large_offset() {
        let base = 1.7e15;
        let offsets = [0.0, 3e6, -2e6, 1.0, 0.0];
        let values: Vec<f64> = offsets.iter().map(|o| base + o).collect();
        // The definition, on the small offsets (exact in f64 to ~1e-16).
        let n = offsets.len() as f64;
        let mean = offsets.iter().sum::<f64>() / n;
        let variance = offsets.iter().map(|o| (o - mean) * (o - mean)).sum::<f64>() / n;
        let mut batched = of(&values[..1]);
        batched.push_all(&values[1..]);
        batched.push_all(&[]);
        let one_by_one = of(&values);
        assert_eq!(batched.count(), one_by_one.count());
        assert_eq!(batched.min(), Some(base - 2e6));
        assert_eq!(batched.max(), Some(base + 3e6));
        assert_eq!(batched.mean(), Some(base + mean));
        let got = batched.stddev().expect("non-empty");
        assert!(
            (got - variance.sqrt()).abs() / variance.sqrt() < 1e-12,
            "{got} vs {}",
            variance.sqrt()
        );
    }

    #[test]
    fn merge_with_empty_is_identity() {
        let mut m = of(&[1.0, 2.0]);
        let before = m;
        m.merge(&Moments::default());
        assert_eq!(m, before);
        let mut empty = Moments::default();
        empty.merge(&before);
        assert_eq!(empty, before);
    }
}
