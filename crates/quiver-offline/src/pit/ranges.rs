//! Splitting one view's join into key ranges that run side by side.
//!
//! Stored rows are sorted by the view's keys, the first key most significant,
//! so a range of the first key is a contiguous run of every file: a range's
//! scan reads its own row groups (pruned by their statistics) and its merge
//! sees only its own entity rows. Each entity key falls in exactly one range,
//! and every row of that key in the store falls in the same one, so the ranges
//! together give the answer one merge would.

use arrow::array::{ArrayRef, Scalar, UInt32Array};
use arrow::compute::kernels::cmp::gt_eq;
use arrow::compute::{SortOptions, sort, take};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, ident, lit};

use crate::error::Result;

/// Fewer entity rows than this per range are not worth a range of their own.
const MIN_ROWS_PER_RANGE: usize = 16 * 1024;
/// Entity rows sampled to place the bounds: enough for ranges within a few
/// percent of each other in size.
const SAMPLE_ROWS: usize = 64 * 1024;

/// One range of the first join key and the entity rows inside it.
#[derive(Debug)]
pub struct KeyRange {
    /// Inclusive lower bound; `None` below everything (nulls included).
    pub lower: Option<ScalarValue>,
    /// Exclusive upper bound; `None` above everything.
    pub upper: Option<ScalarValue>,
    /// Entity row indices in the range.
    pub rows: UInt32Array,
}

impl KeyRange {
    /// The filter that keeps a stored row inside this range, on key column `key`.
    pub fn filter(&self, key: &str) -> Option<Expr> {
        let lower = self.lower.clone().map(|b| ident(key).gt_eq(lit(b)));
        let upper = self.upper.clone().map(|b| {
            // The first range also keeps null keys, as a single merge would see them.
            let below = ident(key).lt(lit(b));
            if self.lower.is_none() {
                below.or(ident(key).is_null())
            } else {
                below
            }
        });
        match (lower, upper) {
            (Some(l), Some(u)) => Some(l.and(u)),
            (one, None) | (None, one) => one,
        }
    }
}

/// Up to `parts` ranges of `first_key` holding similar numbers of entity rows;
/// one unbounded range when the rows are too few to share out.
///
/// The bounds are quantiles of an evenly spaced sample of the keys, so no
/// key is split (a bound is a key value) and nothing is sorted but the sample.
pub fn key_ranges(first_key: &ArrayRef, parts: usize) -> Result<Vec<KeyRange>> {
    let n = first_key.len();
    let parts = parts.min(n / MIN_ROWS_PER_RANGE).max(1);
    let bounds = if parts == 1 {
        Vec::new()
    } else {
        bounds(first_key, parts)?
    };
    // Each row's range: how many bounds lie at or below its key (nulls: none).
    let mut range_of = vec![0u8; n];
    for bound in &bounds {
        let at_or_above = gt_eq(first_key, &Scalar::new(bound.to_array()?))?;
        for (row, above) in at_or_above.iter().enumerate() {
            if above == Some(true) {
                range_of[row] += 1;
            }
        }
    }
    let mut rows: Vec<Vec<u32>> =
        vec![Vec::with_capacity(n / (bounds.len() + 1)); bounds.len() + 1];
    for (row, &range) in range_of.iter().enumerate() {
        rows[usize::from(range)].push(row as u32);
    }
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, rows)| KeyRange {
            lower: i.checked_sub(1).map(|b| bounds[b].clone()),
            upper: bounds.get(i).cloned(),
            rows: UInt32Array::from(rows),
        })
        .collect())
}

/// Up to `parts - 1` distinct ascending key values cutting the keys into
/// parts of similar size (at most 255, as a row's range is kept in a byte).
fn bounds(first_key: &ArrayRef, parts: usize) -> Result<Vec<ScalarValue>> {
    let n = first_key.len();
    let step = (n / SAMPLE_ROWS).max(1);
    let picks = UInt32Array::from_iter_values((0..n).step_by(step).map(|i| i as u32));
    let sample = sort(
        &take(first_key, &picks, None)?,
        Some(SortOptions {
            descending: false,
            nulls_first: true,
        }),
    )?;
    let nulls = sample.null_count();
    let valid = sample.len() - nulls;
    let mut bounds: Vec<ScalarValue> = Vec::new();
    for part in 1..parts.min(256) {
        let position = nulls + valid * part / parts;
        // A bound at the smallest key would leave the first range nulls only.
        if position == nulls || position >= sample.len() {
            continue;
        }
        let bound = ScalarValue::try_from_array(&sample, position)?;
        if bounds.last() != Some(&bound) {
            bounds.push(bound);
        }
    }
    Ok(bounds)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, Int64Array, StringArray};

    use super::*;

    fn covered(ranges: &[KeyRange], n: usize) -> Vec<u32> {
        let mut all: Vec<u32> = ranges
            .iter()
            .flat_map(|r| r.rows.values().to_vec())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..n as u32).collect::<Vec<_>>());
        all
    }

    #[test]
    fn few_rows_stay_in_one_unbounded_range() {
        let keys: ArrayRef = Arc::new(Int64Array::from(vec![3, 1, 2]));
        let ranges = key_ranges(&keys, 8).unwrap();
        assert_eq!(ranges.len(), 1);
        assert!(ranges[0].filter("k").is_none());
        covered(&ranges, 3);
    }

    #[test]
    fn every_row_lands_in_one_range_and_no_key_is_split() {
        // 100k rows over 1000 keys, in scrambled order, with nulls.
        let n = 100_000;
        let keys: ArrayRef = Arc::new(Int64Array::from(
            (0..n)
                .map(|i| (i % 997 != 0).then_some((i * 7919 % 1000) as i64))
                .collect::<Vec<_>>(),
        ));
        let ranges = key_ranges(&keys, 4).unwrap();
        assert_eq!(ranges.len(), 4);
        covered(&ranges, n);
        let keys = keys.as_any().downcast_ref::<Int64Array>().unwrap();
        for range in &ranges {
            for &row in range.rows.values() {
                let row = row as usize;
                if keys.is_null(row) {
                    assert!(range.lower.is_none(), "nulls belong to the first range");
                    continue;
                }
                let key = ScalarValue::Int64(Some(keys.value(row)));
                assert!(range.lower.as_ref().is_none_or(|l| &key >= l));
                assert!(range.upper.as_ref().is_none_or(|u| &key < u));
            }
        }
    }

    #[test]
    fn one_dominant_key_gives_fewer_ranges_instead_of_splitting_it() {
        let n = 64 * 1024;
        let keys: ArrayRef = Arc::new(StringArray::from(
            (0..n)
                .map(|i| if i < n - 10 { "hot" } else { "cold" })
                .collect::<Vec<_>>(),
        ));
        let ranges = key_ranges(&keys, 4).unwrap();
        covered(&ranges, n);
        assert!(ranges.len() <= 2);
        let hot = ranges
            .iter()
            .filter(|r| {
                r.rows.values().iter().any(|&i| {
                    keys.as_any()
                        .downcast_ref::<StringArray>()
                        .unwrap()
                        .value(i as usize)
                        == "hot"
                })
            })
            .count();
        assert_eq!(hot, 1);
    }
}
