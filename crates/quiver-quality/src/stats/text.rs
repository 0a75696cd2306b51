//! Statistics of string features: length range, distinct count and top-k
//! categories. Moments of strings are meaningless, so there are none.

use arrow::array::{Array, AsArray};

use super::categories::CategoryCounter;
use super::distinct::DistinctCounter;
use super::input::{Strings, mismatch};
use super::summary::StatsSummary;
use super::{StatsError, ValueKind};

#[derive(Debug, Clone)]
pub(crate) struct TextStats {
    /// Shortest and longest value, in characters (what a `VARCHAR(n)` limit
    /// counts), not bytes.
    lengths: Option<(u64, u64)>,
    distinct: DistinctCounter,
    categories: CategoryCounter,
}

impl TextStats {
    pub(crate) fn new() -> Result<Self, StatsError> {
        Ok(Self {
            lengths: None,
            distinct: DistinctCounter::new()?,
            categories: CategoryCounter::new()?,
        })
    }

    pub(crate) fn observe(&mut self, array: &dyn Array) -> Result<(), StatsError> {
        if let Some(strings) = Strings::of(array) {
            for index in 0..strings.len() {
                if let Some(value) = strings.get(index) {
                    self.add(value, 1);
                }
            }
            return Ok(());
        }
        self.observe_dictionary(array)
    }

    /// Dictionary-encoded categories are counted per dictionary entry and each
    /// entry is then looked at once: a batch of a million rows over ten
    /// categories costs ten hash-map updates, not a million.
    fn observe_dictionary(&mut self, array: &dyn Array) -> Result<(), StatsError> {
        let dictionary = array
            .as_any_dictionary_opt()
            .ok_or_else(|| mismatch(array, ValueKind::String))?;
        let values = Strings::of(dictionary.values().as_ref())
            .ok_or_else(|| mismatch(array, ValueKind::String))?;
        if values.len() == 0 {
            // No entries: every key is null (`normalized_keys` would panic).
            return Ok(());
        }
        let keys = dictionary.keys();
        let mut uses = vec![0u64; values.len()];
        for (row, key) in dictionary.normalized_keys().into_iter().enumerate() {
            if keys.is_valid(row)
                && let Some(slot) = uses.get_mut(key)
            {
                *slot += 1;
            }
        }
        for (key, count) in uses.into_iter().enumerate() {
            if count > 0
                && let Some(value) = values.get(key)
            {
                self.add(value, count);
            }
        }
        Ok(())
    }

    fn add(&mut self, value: &str, count: u64) {
        let length = value.chars().count() as u64;
        self.lengths = Some(match self.lengths {
            None => (length, length),
            Some((min, max)) => (min.min(length), max.max(length)),
        });
        self.distinct.insert(value);
        self.categories.add(value, count);
    }

    pub(crate) fn merge(&mut self, other: &Self) -> Result<(), StatsError> {
        self.lengths = match (self.lengths, other.lengths) {
            (Some((a_min, a_max)), Some((b_min, b_max))) => {
                Some((a_min.min(b_min), a_max.max(b_max)))
            }
            (a, b) => a.or(b),
        };
        self.distinct.merge(&other.distinct)?;
        self.categories.merge(&other.categories);
        Ok(())
    }

    pub(crate) fn fill(&self, summary: &mut StatsSummary) {
        if let Some((min, max)) = self.lengths {
            summary.min = Some(min as f64);
            summary.max = Some(max as f64);
        }
        summary.distinct = Some(self.distinct.estimate());
        summary.categories = Some(self.categories.summary());
    }
}
