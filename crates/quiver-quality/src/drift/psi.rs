//! The population stability index of two binned distributions.

/// The floor applied to each bin's share before taking logarithms.
///
/// A bin that is empty on one side would make `ln(actual / expected)`
/// infinite, so a single new or vanished bin would make PSI infinite whatever
/// happened elsewhere. Flooring shares at 0.0001 (one in ten thousand, the
/// customary choice) keeps PSI finite and caps one empty bin's contribution
/// near `share · ln(share / 0.0001)`: about 0.7 for a bin holding 10% on the
/// other side, which is still far past the 0.2 threshold, as it should be.
pub const PSI_EPSILON: f64 = 1e-4;

/// `Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)` over bins, where `eᵢ` and `aᵢ` are the shares of
/// bin `i` in the expected (baseline) and actual (current) distribution, each
/// floored at [`PSI_EPSILON`]. Every term is non-negative, so PSI is too; it is
/// the symmetric (Jeffreys) divergence of the two binned distributions.
///
/// Callers pass two share vectors of equal length that each add up to one.
pub(crate) fn population_stability_index(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_EPSILON), a.max(PSI_EPSILON));
            (a - e) * (a / e).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_distributions_have_zero_psi() {
        let shares = [0.1, 0.2, 0.3, 0.4];
        assert_eq!(population_stability_index(&shares, &shares), 0.0);
    }

    #[test]
    fn matches_a_hand_computed_value() {
        let psi = population_stability_index(&[0.5, 0.5], &[0.25, 0.75]);
        let expected = -0.25 * 0.5f64.ln() + 0.25 * 1.5f64.ln();
        assert!((psi - expected).abs() < 1e-12);
    }

    #[test]
    fn an_empty_bin_stays_finite() {
        let psi = population_stability_index(&[0.9, 0.1], &[1.0, 0.0]);
        assert!(psi.is_finite() && psi > 0.2, "{psi}");
    }
}
