//! Data quality on the write paths: a view's declared checks and its
//! features' statistics, both in the one pass that writes the rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use quiver_offline::{EVENT_TS, OfflineError, ViewSchema, WindowInspector};
use quiver_quality::checks::{CheckCount, CheckTally, Checked, ViewChecks};
use quiver_quality::{FeatureStats, StatsSummary};

use crate::error::{Result, StoreError};

/// Checks and statistics of one window (or push, or micro-batch) of a view.
pub(crate) struct QualityPass {
    checks: Arc<ViewChecks>,
    tally: CheckTally,
    stats: Vec<(String, FeatureStats)>,
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
    ViewChecks::new(&view.view, &keys, EVENT_TS).map_err(|e| StoreError::Internal(e.to_string()))
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
        let mut stats = Vec::new();
        if with_stats {
            for feature in &view.view.features {
                let field = view
                    .schema
                    .field_with_name(&feature.name)
                    .map_err(OfflineError::from)?;
                // A type statistics do not cover (bytes) simply has none.
                if let Ok(accumulator) = FeatureStats::new(field.data_type()) {
                    stats.push((feature.name.clone(), accumulator));
                }
            }
        }
        Ok(Self {
            checks,
            tally: CheckTally::default(),
            stats,
            rows_read: 0,
        })
    }

    /// Whether the view declares no check (statistics may still be gathered).
    pub(crate) fn has_no_checks(&self) -> bool {
        self.checks.is_empty()
    }

    /// Judges `batch` and measures the rows kept.
    pub(crate) fn check(&mut self, batch: &RecordBatch) -> Result<Checked> {
        self.rows_read += batch.num_rows() as u64;
        let checked = self
            .checks
            .check(batch, &mut self.tally)
            .map_err(|e| OfflineError::CheckFailed(e.to_string()))?;
        for (name, accumulator) in &mut self.stats {
            if let Some(column) = checked.batch.column_by_name(name) {
                accumulator
                    .observe(column.as_ref())
                    .map_err(|e| StoreError::Internal(format!("statistics of `{name}`: {e}")))?;
            }
        }
        Ok(checked)
    }

    /// Judges the checks on the rows together.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.checks
            .finish(&mut self.tally)
            .map_err(|e| OfflineError::CheckFailed(e.to_string()).into())
    }

    pub(crate) fn report(&self) -> QualityReport {
        QualityReport {
            rows_read: self.rows_read,
            checks: self.tally.counts(),
            stats: self
                .stats
                .iter()
                .map(|(name, accumulator)| (name.clone(), accumulator.finish()))
                .collect(),
        }
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
