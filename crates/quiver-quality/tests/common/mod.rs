//! Test data and exact reference computations shared by the integration tests.
#![allow(dead_code)]

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A standard normal draw (Box–Muller), so the tests need no distribution crate.
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `n` draws from N(mean, sd²).
pub fn normals(seed: u64, n: usize, mean: f64, sd: f64) -> Vec<f64> {
    let mut rng = rng(seed);
    (0..n).map(|_| mean + sd * normal(&mut rng)).collect()
}

/// Two-pass mean and population standard deviation, the reference the
/// one-pass accumulator is held to.
pub fn mean_stddev(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Whether `estimate`, returned for rank `rank`, is a value whose true rank
/// range in `sorted` (from "strictly below" to "at or below") comes within
/// `error` of `rank`.
pub fn rank_within(sorted: &[f64], rank: f64, estimate: f64, error: f64) -> bool {
    let n = sorted.len() as f64;
    let below = sorted.partition_point(|&x| x < estimate) as f64 / n;
    let at_or_below = sorted.partition_point(|&x| x <= estimate) as f64 / n;
    below - error <= rank && rank <= at_or_below + error
}

pub fn close(a: f64, b: f64, relative: f64) -> bool {
    (a - b).abs() <= relative * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}
