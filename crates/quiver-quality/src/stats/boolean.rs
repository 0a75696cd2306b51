//! Statistics of boolean features: two counters are all the state there is,
//! and every statistic follows from them exactly (no sketch needed).

use arrow::array::{Array, AsArray};

use super::input::mismatch;
use super::summary::{Categories, CategoryCount, StatsSummary};
use super::{StatsError, ValueKind};

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BooleanStats {
    trues: u64,
    falses: u64,
}

impl BooleanStats {
    pub(crate) fn observe(&mut self, array: &dyn Array) -> Result<(), StatsError> {
        let array = array
            .as_boolean_opt()
            .ok_or_else(|| mismatch(array, ValueKind::Boolean))?;
        let valid = (array.len() - array.null_count()) as u64;
        let trues = array.true_count() as u64;
        self.trues += trues;
        self.falses += valid - trues;
        Ok(())
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        self.trues += other.trues;
        self.falses += other.falses;
    }

    /// Moments of the values as 0/1: the mean is the share of `true` and the
    /// (population) stddev is `sqrt(p·(1 − p))`.
    pub(crate) fn fill(&self, summary: &mut StatsSummary) {
        let n = self.trues + self.falses;
        if n > 0 {
            let p = self.trues as f64 / n as f64;
            summary.min = Some(if self.falses > 0 { 0.0 } else { 1.0 });
            summary.max = Some(if self.trues > 0 { 1.0 } else { 0.0 });
            summary.mean = Some(p);
            summary.stddev = Some((p * (1.0 - p)).sqrt());
        }
        summary.distinct = Some(u64::from(self.trues > 0) + u64::from(self.falses > 0));
        let mut top: Vec<CategoryCount> = [("true", self.trues), ("false", self.falses)]
            .into_iter()
            .filter(|&(_, count)| count > 0)
            .map(|(value, count)| CategoryCount {
                value: value.to_owned(),
                count,
            })
            .collect();
        top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        summary.categories = Some(Categories {
            top,
            other: 0,
            max_error: 0,
        });
    }
}
