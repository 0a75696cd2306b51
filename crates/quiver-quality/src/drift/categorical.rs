//! Drift of a categorical feature, computed from two category-count lists.

use std::collections::BTreeSet;

use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::stats::Categories;

use super::psi::population_stability_index;
use super::{ChiSquareTest, DriftError, Side};

/// The two summaries' counts over one shared set of columns.
#[derive(Debug, PartialEq)]
struct Table {
    baseline: Vec<u64>,
    current: Vec<u64>,
}

/// Lines up two category lists so that each column means the same thing on
/// both sides.
///
/// A category named on one side but not the other is a column of its own when
/// the other side's count is known to be zero (that side lists every category
/// it saw, `other == 0`). When it is unknown (hidden in the other side's
/// `other`), the category is pooled into a shared "rest" column instead, on
/// both sides, so no count is invented. Columns empty on both sides are
/// dropped.
fn align(baseline: &Categories, current: &Categories) -> Table {
    let known = |side: &Categories, value: &str| match side.count_of(value) {
        Some(count) => Some(count),
        None if side.other == 0 => Some(0),
        None => None,
    };
    let values: BTreeSet<&str> = baseline
        .top
        .iter()
        .chain(&current.top)
        .map(|c| c.value.as_str())
        .collect();
    let mut table = Table {
        baseline: Vec::new(),
        current: Vec::new(),
    };
    for value in values {
        if let (Some(b), Some(c)) = (known(baseline, value), known(current, value))
            && b + c > 0
        {
            table.baseline.push(b);
            table.current.push(c);
        }
    }
    let rest_b = baseline.total().saturating_sub(table.baseline.iter().sum());
    let rest_c = current.total().saturating_sub(table.current.iter().sum());
    if rest_b + rest_c > 0 {
        table.baseline.push(rest_b);
        table.current.push(rest_c);
    }
    table
}

fn totals(table: &Table) -> Result<(u64, u64), DriftError> {
    let b: u64 = table.baseline.iter().sum();
    let c: u64 = table.current.iter().sum();
    if b == 0 {
        return Err(DriftError::NoData(Side::Baseline));
    }
    if c == 0 {
        return Err(DriftError::NoData(Side::Current));
    }
    Ok((b, c))
}

/// The chi-square test of homogeneity on the 2 × k table of category counts.
///
/// Homogeneity (both samples from one distribution) rather than goodness of fit
/// against the baseline's shares, because the baseline is a sample too: a
/// category the baseline never saw gets a positive expected count instead of a
/// division by zero. Note that with millions of rows the test finds
/// practically negligible shifts significant; PSI beside it says how large the
/// shift is.
pub fn chi_square_test(
    baseline: &Categories,
    current: &Categories,
) -> Result<ChiSquareTest, DriftError> {
    let table = align(baseline, current);
    let (nb, nc) = totals(&table)?;
    let columns = table.baseline.len();
    if columns < 2 {
        // One category on both sides: nothing can have shifted.
        return Ok(ChiSquareTest {
            statistic: 0.0,
            degrees_of_freedom: 0,
            p_value: 1.0,
        });
    }
    let n = (nb + nc) as f64;
    let statistic: f64 = table
        .baseline
        .iter()
        .zip(&table.current)
        .map(|(&ob, &oc)| {
            let column = (ob + oc) as f64;
            let (eb, ec) = (nb as f64 * column / n, nc as f64 * column / n);
            (ob as f64 - eb).powi(2) / eb + (oc as f64 - ec).powi(2) / ec
        })
        .sum();
    let degrees_of_freedom = (columns - 1) as u64;
    let distribution = ChiSquared::new(degrees_of_freedom as f64)
        .map_err(|e| DriftError::Distribution(e.to_string()))?;
    Ok(ChiSquareTest {
        statistic,
        degrees_of_freedom,
        p_value: distribution.sf(statistic).clamp(0.0, 1.0),
    })
}

/// PSI over the categories (aligned as for [`chi_square_test`]), the baseline's
/// shares as expected, with the same empty-bin floor as numeric PSI.
pub fn categorical_psi(baseline: &Categories, current: &Categories) -> Result<f64, DriftError> {
    let table = align(baseline, current);
    let (nb, nc) = totals(&table)?;
    let shares = |counts: &[u64], total: u64| -> Vec<f64> {
        counts.iter().map(|&c| c as f64 / total as f64).collect()
    };
    Ok(population_stability_index(
        &shares(&table.baseline, nb),
        &shares(&table.current, nc),
    ))
}

#[cfg(test)]
mod tests {
    use crate::stats::CategoryCount;

    use super::*;

    fn categories(counts: &[(&str, u64)], other: u64) -> Categories {
        Categories {
            top: counts
                .iter()
                .map(|&(value, count)| CategoryCount {
                    value: value.to_owned(),
                    count,
                })
                .collect(),
            other,
            max_error: 0,
        }
    }

    #[test]
    fn aligns_known_zeros_as_columns_and_unknowns_into_the_rest() {
        // Complete baseline: "c" is truly absent there, so it is a column.
        let b = categories(&[("a", 5), ("b", 3)], 0);
        let c = categories(&[("a", 4), ("c", 2)], 0);
        let t = align(&b, &c);
        assert_eq!(t.baseline, [5, 3, 0]);
        assert_eq!(t.current, [4, 0, 2]);

        // Current pools a tail of 6: "b" may hide in it, so "b" goes to the
        // rest column on both sides.
        let c = categories(&[("a", 4)], 6);
        let t = align(&b, &c);
        assert_eq!(t.baseline, [5, 3]);
        assert_eq!(t.current, [4, 6]);
    }

    #[test]
    fn chi_square_matches_a_hand_computed_table() {
        // 2×2 table [[10, 20], [20, 10]]: expected 15 everywhere,
        // statistic 4·25/15, one degree of freedom.
        let b = categories(&[("x", 10), ("y", 20)], 0);
        let c = categories(&[("x", 20), ("y", 10)], 0);
        let test = chi_square_test(&b, &c).expect("comparable");
        assert!((test.statistic - 100.0 / 15.0).abs() < 1e-12);
        assert_eq!(test.degrees_of_freedom, 1);
        // P(χ²₁ > 6.667) = 0.00982 (tables).
        assert!((test.p_value - 0.009_823).abs() < 1e-5, "{}", test.p_value);
    }

    #[test]
    fn a_single_shared_category_cannot_drift() {
        let b = categories(&[("only", 10)], 0);
        let c = categories(&[("only", 99)], 0);
        let test = chi_square_test(&b, &c).expect("comparable");
        assert_eq!((test.degrees_of_freedom, test.p_value), (0, 1.0));
        assert_eq!(categorical_psi(&b, &c), Ok(0.0));
    }

    #[test]
    fn empty_sides_are_errors() {
        let b = categories(&[("a", 1)], 0);
        let empty = categories(&[], 0);
        assert_eq!(
            chi_square_test(&b, &empty),
            Err(DriftError::NoData(Side::Current))
        );
        assert_eq!(
            categorical_psi(&empty, &b),
            Err(DriftError::NoData(Side::Baseline))
        );
    }
}
