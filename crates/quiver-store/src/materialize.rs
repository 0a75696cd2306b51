//! Materialization runs: source rows into the offline store, one recorded run per view.

use std::time::Instant;

use quiver_offline::{TimeWindow, ViewSchema, materialize_view};
use quiver_quality::checks::CheckCount;
use quiver_registry::{RUN_ABANDONED_AFTER, RunResult};
use serde::Serialize;

use crate::error::{Result, StoreError};
use crate::heartbeat::Heartbeat;
use crate::online::OnlineWrite;
use crate::quality::{self, QualityPass, QualityReport};
use crate::store::{Applied, FeatureStore};
use crate::time::rfc3339;

/// What one view's run did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    pub view: String,
    pub run_id: String,
    pub window_start: String,
    pub window_end: String,
    /// Source rows read for the window (rows without keys or an event time,
    /// which are in no window, included).
    pub rows_read: u64,
    /// Rows stored: those read less those the checks dropped (built-in ones
    /// included: `null_join_key`, `null_event_timestamp`, `timestamp_out_of_range`).
    pub rows: u64,
    pub rows_replaced: u64,
    pub files: usize,
    pub duration_ms: u64,
    /// Violations per data-quality check (a `drop` check's rows were left out).
    pub checks: Vec<CheckCount>,
    /// The online half (views with `online: true`).
    pub online: Option<OnlineWrite>,
}

impl FeatureStore {
    /// Windows for `materialize-incremental`: from each view's last successful run
    /// (or, the first time, as far back as its TTL reaches) up to `end_us`.
    pub async fn incremental_windows(
        &self,
        applied: &Applied,
        views: &[String],
        end_us: i64,
    ) -> Result<Vec<(String, TimeWindow)>> {
        let mut windows = Vec::new();
        for view in applied.batch_views(views)? {
            let last = self
                .registry
                .materialized_until(self.project(), &view, "offline")
                .await?;
            let ttl = applied.spec.feature_view(&view).and_then(|v| v.ttl);
            let start = last.unwrap_or_else(|| match ttl {
                Some(ttl) => {
                    end_us.saturating_sub(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX))
                }
                None => 0,
            });
            if start < end_us {
                windows.push((
                    view,
                    TimeWindow {
                        start_us: start,
                        end_us,
                    },
                ));
            }
        }
        Ok(windows)
    }

    /// Materializes each (view, window) into the offline store, recording a run per view.
    /// `on_rows(view, rows)` reports progress.
    pub async fn materialize(
        &self,
        applied: &Applied,
        windows: &[(String, TimeWindow)],
        on_rows: &(dyn Fn(&str, u64) + Sync),
    ) -> Result<Vec<RunReport>> {
        let ctx = self.engine()?;
        let store = self.offline_store();
        self.interrupt_abandoned_runs().await?;
        let mut reports = Vec::new();
        for (name, window) in windows {
            let view = ViewSchema::new(&applied.spec, name)?;
            let run_id = self
                .registry
                .start_run(
                    self.project(),
                    name,
                    "offline",
                    (window.start_us, window.end_us),
                    applied.version,
                )
                .await?;
            let started = Instant::now();
            let beat = Heartbeat::start(&self.registry, &run_id);
            let mut quality = QualityPass::new(&view, self.collect_statistics)?;
            let outcome = materialize_view(
                &ctx,
                &store,
                &self.repo_root,
                &view,
                *window,
                |rows| on_rows(name, rows),
                &mut quality,
            )
            .await;
            drop(beat);
            let quality = quality.report();
            // Best effort: the run's outcome is recorded whatever happens here.
            if let Err(error) = self.record_quality(&run_id, &quality).await {
                tracing::warn!(run = %run_id, %error, "the run's checks and statistics were not recorded");
            }
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match outcome {
                Ok(outcome) => {
                    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                    let result = RunResult::Succeeded {
                        rows_read: count(quality.rows_read),
                        rows_written: count(outcome.rows),
                        duration_ms: duration_ms as i64,
                    };
                    self.registry.finish_run(&run_id, &result).await?;
                    reports.push(RunReport {
                        view: name.clone(),
                        run_id,
                        window_start: rfc3339(window.start_us),
                        window_end: rfc3339(window.end_us),
                        rows_read: quality.rows_read,
                        rows: outcome.rows,
                        rows_replaced: outcome.rows_replaced,
                        files: outcome.files.len(),
                        duration_ms,
                        checks: quality.checks,
                        online: None,
                    });
                }
                Err(error) => {
                    let failed = RunResult::Failed {
                        error: error.to_string(),
                        duration_ms: duration_ms as i64,
                    };
                    self.registry.finish_run(&run_id, &failed).await?;
                    return Err(error.into());
                }
            }
        }
        for report in &mut reports {
            let spec = applied.spec.feature_view(&report.view);
            if !spec.is_some_and(|v| v.online) {
                continue;
            }
            let window = windows
                .iter()
                .find(|(v, _)| v == &report.view)
                .map(|(_, w)| *w)
                .ok_or_else(|| {
                    StoreError::Request(format!("no window for view `{}`", report.view))
                })?;
            let view = ViewSchema::new(&applied.spec, &report.view)?;
            report.online = Some(
                self.online_run(&ctx, applied, &view, window, on_rows)
                    .await?,
            );
        }
        Ok(reports)
    }

    /// Keeps what a run's checks counted and its statistics in its record.
    async fn record_quality(&self, run_id: &str, quality: &QualityReport) -> Result<()> {
        let checks = quality::checks_json(&quality.checks)?;
        let stats = quality::stats_json(&quality.stats)?;
        self.registry
            .record_run_quality(run_id, &checks, &stats)
            .await?;
        Ok(())
    }

    /// Marks the runs a killed process left `running` as `interrupted` (their
    /// windows were never recorded as materialized, so re-running them is safe).
    pub async fn interrupt_abandoned_runs(&self) -> Result<()> {
        let interrupted = self
            .registry
            .interrupt_abandoned_runs(self.project(), RUN_ABANDONED_AFTER)
            .await?;
        for run in interrupted {
            tracing::warn!(
                run = %run.id,
                view = %run.view,
                target = %run.target,
                window_start = %run.window_start,
                window_end = %run.window_end,
                "an earlier materialization run was interrupted; its window is materialized again when asked"
            );
        }
        Ok(())
    }

    /// The online half of one view's run, recorded as its own run.
    async fn online_run(
        &self,
        ctx: &datafusion::prelude::SessionContext,
        applied: &Applied,
        view: &ViewSchema,
        window: TimeWindow,
        on_rows: &(dyn Fn(&str, u64) + Sync),
    ) -> Result<OnlineWrite> {
        let run_id = self
            .registry
            .start_run(
                self.project(),
                view.name(),
                "online",
                (window.start_us, window.end_us),
                applied.version,
            )
            .await?;
        let started = Instant::now();
        let name = view.name().to_string();
        let beat = Heartbeat::start(&self.registry, &run_id);
        let result = self
            .write_online(ctx, view, window, &|rows| on_rows(&name, rows))
            .await;
        drop(beat);
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match result {
            Ok(write) => {
                let rows = i64::try_from(write.written + write.dropped_older).unwrap_or(i64::MAX);
                let written = i64::try_from(write.written).unwrap_or(i64::MAX);
                self.registry
                    .finish_run(
                        &run_id,
                        &RunResult::Succeeded {
                            rows_read: rows,
                            rows_written: written,
                            duration_ms,
                        },
                    )
                    .await?;
                Ok(write)
            }
            Err(error) => {
                self.registry
                    .finish_run(
                        &run_id,
                        &RunResult::Failed {
                            error: error.to_string(),
                            duration_ms,
                        },
                    )
                    .await?;
                Err(error)
            }
        }
    }
}
