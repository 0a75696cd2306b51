//! Materialization runs: source rows into the offline store, one recorded run per view.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;

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

/// How far past the present a materialization may end: room for clocks a
/// little apart and rows stamped slightly ahead, no more. A run can only read
/// the rows that exist when it runs, and `materialize-incremental` continues
/// after the latest run's end, so a later end would skip every row that
/// arrives with an earlier time.
pub const END_ALLOWANCE_SECS: i64 = 3600;

/// Refuses a window end more than [`END_ALLOWANCE_SECS`] after `now_us`.
pub fn check_window_end(end_us: i64, now_us: i64) -> Result<()> {
    let latest = now_us.saturating_add(END_ALLOWANCE_SECS * 1_000_000);
    if end_us <= latest {
        return Ok(());
    }
    Err(StoreError::Request(format!(
        "the end {} is more than {} after now ({}): a run can only store the rows that exist \
         when it runs, and `materialize-incremental` would continue after that end, skipping \
         the rows that arrive until then; end at {} or earlier",
        rfc3339(end_us),
        allowance_text(),
        rfc3339(now_us),
        rfc3339(latest)
    )))
}

fn allowance_text() -> String {
    match END_ALLOWANCE_SECS {
        3600 => "1 hour".into(),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{s} s"),
    }
}

impl FeatureStore {
    /// Windows for `materialize-incremental`: from each view's last successful run
    /// (or, the first time, as far back as its TTL reaches) up to `end_us`.
    ///
    /// Runs recorded with an end beyond now (plus the allowance), which older
    /// versions accepted, do not count: they could not have read the rows that
    /// arrived since, so the next run takes those up again.
    pub async fn incremental_windows(
        &self,
        applied: &Applied,
        views: &[String],
        end_us: i64,
    ) -> Result<Vec<(String, TimeWindow)>> {
        let now_us = chrono::Utc::now().timestamp_micros();
        check_window_end(end_us, now_us)?;
        let not_after = now_us.saturating_add(END_ALLOWANCE_SECS * 1_000_000);
        let mut windows = Vec::new();
        for view in applied.batch_views(views)? {
            let last = self
                .registry
                .materialized_until(self.project(), &view, "offline", not_after)
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
        let now_us = chrono::Utc::now().timestamp_micros();
        for (_, window) in windows {
            check_window_end(window.end_us, now_us)?;
        }
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
            let outcome = unless_panicked(materialize_view(
                &ctx,
                &store,
                &self.repo_root,
                &view,
                *window,
                |rows| on_rows(name, rows),
                &mut quality,
            ))
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
                    return Err(error);
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
        let result =
            unless_panicked(self.write_online(ctx, view, window, &|rows| on_rows(&name, rows)))
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

/// Runs a run's work so that a panic in it (a bug, or a library tripping on
/// input that should have been refused) fails the run with an error instead
/// of killing the process or the request and leaving the run `running`.
async fn unless_panicked<T, E: Into<StoreError>>(
    work: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result.map_err(Into::into),
        Err(panic) => Err(StoreError::Internal(format!(
            "the run stopped on a panic: {}",
            quiver_core::process::panic_message(panic.as_ref())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_beyond_the_allowance_is_refused() {
        let now = 1_700_000_000_000_000;
        let allowance = END_ALLOWANCE_SECS * 1_000_000;
        assert!(check_window_end(now + allowance, now).is_ok());
        let error = check_window_end(now + allowance + 1, now).unwrap_err();
        assert!(matches!(error, StoreError::Request(_)), "{error}");
        assert!(
            error.to_string().contains("more than 1 hour after now"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_panic_in_a_run_becomes_an_error() {
        let work = async {
            if END_ALLOWANCE_SECS > 0 {
                panic!("boom");
            }
            Ok::<(), StoreError>(())
        };
        let error = unless_panicked(work).await.unwrap_err();
        assert!(matches!(error, StoreError::Internal(_)), "{error}");
        assert!(error.to_string().contains("boom"), "{error}");
    }
}
