//! Data quality on the write paths: a view's declared checks and its
//! features' statistics, both in the one pass that writes the rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use quiver_offline::{CREATED_TS, EVENT_TS, OfflineError, ViewSchema, WindowInspector};
use quiver_quality::checks::{CheckCount, CheckTally, Checked, ViewChecks};
use quiver_quality::{FeatureStats, StatsSummary};

use crate::error::{Result, StoreError};
use crate::stats_thread::StatsThread;

/// Checks and statistics of one window (or push, or micro-batch) of a view.
pub(crate) struct QualityPass {
    checks: Arc<ViewChecks>,
    tally: CheckTally,
    stats: StatsThread,
    /// Rows judged, before any was dropped.
    rows_read: u64,
}

/// What a pass counted and measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct QualityReport {
    pub rows_read: u64,
    pub checks: Vec<CheckCount>,
    pub stats: BTreeMap<String, StatsSummary>,
}

/// `view`'s declared checks, compiled (regexes included) once.
pub(crate) fn view_checks(view: &ViewSchema) -> Result<ViewChecks> {
    let keys: Vec<String> = view.keys.iter().map(|k| k.name.clone()).collect();
    ViewChecks::new(&view.view, &keys, EVENT_TS, CREATED_TS)
        .map_err(|e| StoreError::Internal(e.to_string()))
}

impl QualityPass {
    /// The checks of `view`; with `with_stats`, also its features' statistics.
    pub(crate) fn new(view: &ViewSchema, with_stats: bool) -> Result<Self> {
        Self::with_checks(view, Arc::new(view_checks(view)?), with_stats)
    }

    /// As [`QualityPass::new`], with `view`'s checks already compiled.
    pub(crate) fn with_checks(
        view: &ViewSchema,
        checks: Arc<ViewChecks>,
        with_stats: bool,
    ) -> Result<Self> {
        let stats = if with_stats {
            ViewStats::new(view)?
        } else {
            ViewStats::default()
        };
        let stats = StatsThread::spawn(view.name(), stats)?;
        Ok(Self {
            checks,
            tally: CheckTally::default(),
            stats,
            rows_read: 0,
        })
    }

    /// Whether the view declares no check (statistics may still be gathered).
    pub(crate) fn has_no_checks(&self) -> bool {
        self.checks.has_no_declared_checks()
    }

    /// Judges `batch` and measures the rows kept.
    pub(crate) fn check(&mut self, batch: &RecordBatch) -> Result<Checked> {
        self.rows_read += batch.num_rows() as u64;
        let checked = self
            .checks
            .check(batch, &mut self.tally)
            .map_err(|e| OfflineError::CheckFailed(e.to_string()))?;
        self.stats.observe(&checked.batch)?;
        Ok(checked)
    }

    /// Judges the checks on the rows together, and waits for the statistics
    /// of every row kept.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.checks
            .finish(&mut self.tally)
            .map_err(|e| StoreError::from(OfflineError::CheckFailed(e.to_string())))?;
        self.stats.finish()
    }

    pub(crate) fn report(&self) -> QualityReport {
        QualityReport {
            rows_read: self.rows_read,
            checks: self.tally.counts(),
            stats: self.stats.summaries(),
        }
    }
}

/// The statistics accumulators of a view's features (those of a type that
/// statistics cover; none at all when statistics are off), each with the
/// column it reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct ViewStats(Vec<FeatureColumn>);

#[derive(Debug, Clone)]
struct FeatureColumn {
    feature: String,
    column: String,
    stats: FeatureStats,
}

impl ViewStats {
    /// Statistics of rows in the view's layout.
    pub(crate) fn new(view: &ViewSchema) -> Result<Self> {
        Self::reading(view, str::to_string)
    }

    /// Statistics of rows whose column for a feature is `column(feature)`
    /// (a training set's `view__feature`).
    pub(crate) fn reading(view: &ViewSchema, column: impl Fn(&str) -> String) -> Result<Self> {
        let mut features = Vec::new();
        for feature in &view.view.features {
            let field = view
                .schema
                .field_with_name(&feature.name)
                .map_err(OfflineError::from)?;
            // A type statistics do not cover (bytes) simply has none.
            if let Ok(stats) = FeatureStats::new(field.data_type()) {
                features.push(FeatureColumn {
                    feature: feature.name.clone(),
                    column: column(&feature.name),
                    stats,
                });
            }
        }
        Ok(Self(features))
    }

    /// Whether there is no feature to gather statistics of.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether no row was taken in yet.
    pub(crate) fn has_no_rows(&self) -> bool {
        self.0.iter().all(|f| f.stats.count() == 0)
    }

    /// Takes in the features' columns of `batch`.
    pub(crate) fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        for FeatureColumn {
            feature,
            column,
            stats,
        } in &mut self.0
        {
            let values = batch.column_by_name(column).ok_or_else(|| {
                StoreError::Request(format!(
                    "the rows have no column `{column}` for `{feature}`"
                ))
            })?;
            stats
                .observe(values.as_ref())
                .map_err(|e| StoreError::Request(format!("statistics of `{feature}`: {e}")))?;
        }
        Ok(())
    }

    pub(crate) fn summaries(&self) -> BTreeMap<String, StatsSummary> {
        self.0
            .iter()
            .map(|f| (f.feature.clone(), f.stats.finish()))
            .collect()
    }
}

impl WindowInspector for QualityPass {
    fn inspect(&mut self, batch: RecordBatch) -> quiver_offline::Result<RecordBatch> {
        self.check(&batch)
            .map(|checked| checked.batch)
            .map_err(into_offline)
    }

    fn finish(&mut self) -> quiver_offline::Result<()> {
        QualityPass::finish(self).map_err(into_offline)
    }
}

fn into_offline(error: StoreError) -> OfflineError {
    match error {
        StoreError::Offline(error) => error,
        other => OfflineError::CheckFailed(other.to_string()),
    }
}

/// Check counts as the registry keeps them.
pub(crate) fn checks_json(checks: &[CheckCount]) -> Result<serde_json::Value> {
    serde_json::to_value(checks).map_err(|e| StoreError::Internal(format!("check counts: {e}")))
}

/// Feature statistics as the registry keeps them.
pub(crate) fn stats_json(
    stats: &BTreeMap<String, StatsSummary>,
) -> Result<Vec<(String, serde_json::Value)>> {
    stats
        .iter()
        .map(|(feature, summary)| {
            serde_json::to_value(summary)
                .map(|json| (feature.clone(), json))
                .map_err(|e| StoreError::Internal(format!("statistics of `{feature}`: {e}")))
        })
        .collect()
}
