//! Bounded top-k category counts.
//!
//! Counting every category exactly takes memory proportional to the number of
//! categories, which for a free-text column is the number of rows. The
//! DataSketches frequent-items sketch keeps at most [`CATEGORY_MAP_SIZE`]·¾
//! counters: while a feature has fewer categories than that the counts are
//! exact; past it, the sketch purges the smallest counters and every count
//! becomes a lower bound off by at most [`Categories::max_error`]. The heavy
//! hitters, the ones that matter for drift, are never lost.

use std::fmt;

use datasketches::frequencies::{ErrorType, FrequentItemsSketch};

use super::StatsError;
use super::summary::{Categories, CategoryCount};

/// How many categories a summary names; the rest are pooled in
/// [`Categories::other`].
pub const TOP_K: usize = 64;

/// Counters the sketch keeps (a power of two). 1024 keeps counts exact up to
/// 768 categories, well past [`TOP_K`], so the top 64 are exact for any
/// feature that is categorical rather than free text.
pub const CATEGORY_MAP_SIZE: usize = 1024;

/// A mergeable, bounded counter of string categories.
#[derive(Clone)]
pub(crate) struct CategoryCounter {
    sketch: FrequentItemsSketch<String>,
}

impl fmt::Debug for CategoryCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CategoryCounter")
            .field("total", &self.sketch.total_weight())
            .field("tracked", &self.sketch.num_active_items())
            .finish()
    }
}

impl CategoryCounter {
    pub(crate) fn new() -> Result<Self, StatsError> {
        let sketch = FrequentItemsSketch::new(CATEGORY_MAP_SIZE).map_err(StatsError::sketch)?;
        Ok(Self { sketch })
    }

    /// Counts `count` occurrences of `value`; allocates only for a value the
    /// counter is not tracking yet.
    pub(crate) fn add(&mut self, value: &str, count: u64) {
        self.sketch.update_with_count_ref(value, count);
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        self.sketch.merge(&other.sketch);
    }

    /// The [`TOP_K`] most frequent categories (ties broken by value, so the
    /// output is deterministic), the rest pooled in `other`.
    ///
    /// Each count is the sketch's lower bound, so the named counts never add up
    /// to more than the total and `other` is never negative.
    pub(crate) fn summary(&self) -> Categories {
        let mut rows: Vec<CategoryCount> = self
            .sketch
            .frequent_items(ErrorType::NoFalseNegatives)
            .into_iter()
            .map(|row| CategoryCount {
                value: row.item().clone(),
                count: row.lower_bound(),
            })
            .filter(|row| row.count > 0)
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        rows.truncate(TOP_K);
        let named: u64 = rows.iter().map(|row| row.count).sum();
        Categories {
            other: self.sketch.total_weight().saturating_sub(named),
            max_error: self.sketch.maximum_error(),
            top: rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_exactly_and_orders_by_count_then_value() {
        let mut counter = CategoryCounter::new().expect("valid size");
        for (value, count) in [("b", 2), ("a", 2), ("c", 5), ("b", 1)] {
            counter.add(value, count);
        }
        let summary = counter.summary();
        let top: Vec<_> = summary
            .top
            .iter()
            .map(|c| (c.value.as_str(), c.count))
            .collect();
        assert_eq!(top, [("c", 5), ("b", 3), ("a", 2)]);
        assert_eq!((summary.other, summary.max_error), (0, 0));
    }

    #[test]
    fn pools_the_tail_in_other() {
        let mut counter = CategoryCounter::new().expect("valid size");
        for i in 0..100u64 {
            counter.add(&format!("v{i:03}"), i + 1);
        }
        let summary = counter.summary();
        assert_eq!(summary.top.len(), TOP_K);
        assert_eq!(summary.top[0].value, "v099");
        // The 36 least frequent: counts 1..=36.
        assert_eq!(summary.other, (1..=36).sum::<u64>());
    }

    #[test]
    fn stays_bounded_and_consistent_past_its_capacity() {
        let mut counter = CategoryCounter::new().expect("valid size");
        counter.add("heavy", 100_000);
        for i in 0..5000 {
            counter.add(&i.to_string(), 1);
        }
        let summary = counter.summary();
        assert_eq!(summary.top[0].value, "heavy");
        assert!(summary.max_error > 0);
        assert!(summary.top[0].count + summary.max_error >= 100_000);
        let named: u64 = summary.top.iter().map(|c| c.count).sum();
        assert_eq!(named + summary.other, 105_000);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = CategoryCounter::new().expect("valid size");
        let mut b = CategoryCounter::new().expect("valid size");
        a.add("x", 3);
        b.add("x", 4);
        b.add("y", 1);
        a.merge(&b);
        let summary = a.summary();
        assert_eq!(summary.top[0].count, 7);
        assert_eq!(summary.top[1].count, 1);
    }
}
