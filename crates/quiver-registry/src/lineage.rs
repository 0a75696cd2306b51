//! Lineage records: materialization runs and saved datasets.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{RegistryError, Result};
use crate::registry::Registry;

/// One materialization of one view over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaterializationRun {
    pub id: String,
    pub view: String,
    pub target: String,
    pub window_start: String,
    pub window_end: String,
    pub window_end_us: i64,
    pub registry_version: i64,
    pub status: String,
    pub rows_read: Option<i64>,
    pub rows_written: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Violations per data-quality check (`[{check, policy, violations}]`).
    pub checks: Option<serde_json::Value>,
}

/// The statistics of one feature over one run's window, or over one window
/// of streamed rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureStatistics {
    /// The run's id, or the stream window's.
    pub run_id: String,
    /// `batch` (a materialization run), `kafka` or `push` (streamed rows).
    pub source: String,
    /// The process that took the streamed rows in (none for a run).
    pub writer: Option<String>,
    /// Rows the run wrote, or the window took in.
    pub rows: Option<i64>,
    /// What the checks counted over the run or window (`[{check, policy, violations}]`).
    pub checks: Option<serde_json::Value>,
    pub view: String,
    pub feature: String,
    pub window_start: String,
    pub window_end: String,
    pub stats: serde_json::Value,
    pub computed_at: String,
}

/// How often a running materialization says it is still going.
pub const RUN_HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A running run that has not said so for this long was abandoned (its
/// process died or lost the registry), whatever host it ran on.
pub const RUN_ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    Succeeded {
        rows_read: i64,
        rows_written: i64,
        duration_ms: i64,
    },
    Failed {
        error: String,
        duration_ms: i64,
    },
}

/// A training set kept under a name, with what built it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedDataset {
    pub name: String,
    pub registry_version: i64,
    pub request: serde_json::Value,
    pub offline_snapshot: serde_json::Value,
    pub row_count: i64,
    pub path: String,
    pub created_by: String,
    pub created_at: String,
}

pub(crate) fn rfc3339(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| us.to_string())
}

pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A `feature_statistics` row, with what its run or window adds.
pub(crate) fn statistics_from(
    row: &AnyRow,
    source: String,
    writer: Option<String>,
    rows: Option<i64>,
    checks: Option<serde_json::Value>,
) -> Result<FeatureStatistics> {
    Ok(FeatureStatistics {
        run_id: row.try_get("run_id")?,
        source,
        writer,
        rows,
        checks,
        view: row.try_get("view")?,
        feature: row.try_get("feature")?,
        window_start: rfc3339(row.try_get("window_start_us")?),
        window_end: rfc3339(row.try_get("window_end_us")?),
        stats: json(row.try_get("stats")?, "feature statistics")?,
        computed_at: row.try_get("computed_at")?,
    })
}

pub(crate) fn json(text: String, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(&text).map_err(|e| RegistryError::Corrupt {
        what: what.into(),
        detail: e.to_string(),
    })
}

fn run_from(row: &AnyRow) -> Result<MaterializationRun> {
    Ok(MaterializationRun {
        id: row.try_get("id")?,
        view: row.try_get("view")?,
        target: row.try_get("target")?,
        window_start: rfc3339(row.try_get("window_start_us")?),
        window_end: rfc3339(row.try_get("window_end_us")?),
        window_end_us: row.try_get("window_end_us")?,
        registry_version: row.try_get("registry_version")?,
        status: row.try_get("status")?,
        rows_read: row.try_get("rows_read")?,
        rows_written: row.try_get("rows_written")?,
        duration_ms: row.try_get("duration_ms")?,
        error: row.try_get("error")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        checks: row
            .try_get::<Option<String>, _>("checks")?
            .map(|text| json(text, "run checks"))
            .transpose()?,
    })
}

const RUN_COLUMNS: &str = "id, view, target, window_start_us, window_end_us, registry_version, status, rows_read, \
                           rows_written, duration_ms, error, started_at, finished_at, checks";

impl Registry {
    /// Records a run as started, owned by this process; returns its id. The
    /// owner keeps it alive with [`Registry::heartbeat_run`]; one whose process
    /// ended without finishing it is marked by [`Registry::interrupt_abandoned_runs`].
    pub async fn start_run(
        &self,
        project: &str,
        view: &str,
        target: &str,
        window: (i64, i64),
        registry_version: i64,
    ) -> Result<String> {
        // Unique across processes (the pid) and within one, where two runs of
        // a view can start in the same microsecond (the sequence).
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let started_at = now();
        let id = format!(
            "{}-{}-{}-{view}-{target}",
            Utc::now().timestamp_micros(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::query(
            "INSERT INTO materialization_runs (id, project, view, target, window_start_us, window_end_us, registry_version, status, started_at, owner, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, $8)",
        )
        .bind(&id)
        .bind(project)
        .bind(view)
        .bind(target)
        .bind(window.0)
        .bind(window.1)
        .bind(registry_version)
        .bind(&started_at)
        .bind(quiver_core::process::owner_id())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// Says that run `id` is still going.
    pub async fn heartbeat_run(&self, id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE materialization_runs SET heartbeat_at = $2 WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks `interrupted` the project's runs still `running` whose process is
    /// known to have ended (same host, no such process) or whose heartbeat is
    /// older than `stale_after` (any host); returns them.
    pub async fn interrupt_abandoned_runs(
        &self,
        project: &str,
        stale_after: std::time::Duration,
    ) -> Result<Vec<MaterializationRun>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS}, owner, heartbeat_at FROM materialization_runs WHERE project = $1 AND status = 'running'"
        )))
        .bind(project)
        .fetch_all(self.pool())
        .await?;
        let stale_before =
            Utc::now() - chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
        let mut interrupted = Vec::new();
        for row in &rows {
            let owner: Option<String> = row.try_get("owner")?;
            let heartbeat: Option<String> = row.try_get("heartbeat_at")?;
            let last_seen = heartbeat
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            let owner_ended = owner
                .as_deref()
                .is_some_and(quiver_core::process::owner_has_ended);
            // Runs from before owners were recorded have no heartbeat: stale.
            let silent = last_seen.is_none_or(|t| t < stale_before);
            if !(owner_ended || silent) {
                continue;
            }
            let owner = owner.unwrap_or_else(|| "an unknown process".into());
            let why = if owner_ended {
                format!("its process ({owner}) ended before the run finished")
            } else {
                format!(
                    "its process ({owner}) has not reported since {}",
                    heartbeat.as_deref().unwrap_or("the run started")
                )
            };
            let mut run = run_from(row)?;
            let updated = sqlx::query(
                "UPDATE materialization_runs SET status = 'interrupted', error = $2, finished_at = $3 WHERE id = $1 AND status = 'running'",
            )
            .bind(&run.id)
            .bind(&why)
            .bind(now())
            .execute(self.pool())
            .await?;
            if updated.rows_affected() == 1 {
                run.status = "interrupted".into();
                run.error = Some(why);
                interrupted.push(run);
            }
        }
        Ok(interrupted)
    }

    pub async fn finish_run(&self, id: &str, result: &RunResult) -> Result<()> {
        let (status, rows_read, rows_written, duration_ms, error) = match result {
            RunResult::Succeeded {
                rows_read,
                rows_written,
                duration_ms,
            } => (
                "succeeded",
                Some(*rows_read),
                Some(*rows_written),
                *duration_ms,
                None,
            ),
            RunResult::Failed { error, duration_ms } => {
                ("failed", None, None, *duration_ms, Some(error.clone()))
            }
        };
        sqlx::query(
            "UPDATE materialization_runs SET status = $2, rows_read = $3, rows_written = $4, duration_ms = $5, error = $6, finished_at = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(rows_read)
        .bind(rows_written)
        .bind(duration_ms)
        .bind(error)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records what run `id`'s checks counted and its features' statistics.
    pub async fn record_run_quality(
        &self,
        id: &str,
        checks: &serde_json::Value,
        stats: &[(String, serde_json::Value)],
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE materialization_runs SET checks = $2 WHERE id = $1")
            .bind(id)
            .bind(checks.to_string())
            .execute(&mut *tx)
            .await?;
        let computed_at = now();
        for (feature, summary) in stats {
            sqlx::query(
                "INSERT INTO feature_statistics (run_id, project, view, feature, window_start_us, window_end_us, stats, computed_at) \
                 SELECT id, project, view, $2, window_start_us, window_end_us, $3, $4 FROM materialization_runs WHERE id = $1",
            )
            .bind(id)
            .bind(feature)
            .bind(summary.to_string())
            .bind(&computed_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The statistics of `view`'s features from its latest successful run that
    /// has them (or the latest one ending inside `window`), by feature.
    pub async fn latest_statistics(
        &self,
        project: &str,
        view: &str,
        window: Option<(i64, i64)>,
    ) -> Result<Vec<FeatureStatistics>> {
        let (from, to) = window.unwrap_or((i64::MIN, i64::MAX));
        let rows = sqlx::query(
            "SELECT s.run_id, s.view, s.feature, s.window_start_us, s.window_end_us, s.stats, s.computed_at, r.rows_written, r.checks \
             FROM feature_statistics s JOIN materialization_runs r ON r.id = s.run_id \
             WHERE s.project = $1 AND s.view = $2 AND r.status = 'succeeded' \
               AND s.window_end_us > $3 AND s.window_end_us <= $4 \
               AND s.run_id = (SELECT s2.run_id FROM feature_statistics s2 JOIN materialization_runs r2 ON r2.id = s2.run_id \
                               WHERE s2.project = $1 AND s2.view = $2 AND r2.status = 'succeeded' \
                                 AND s2.window_end_us > $3 AND s2.window_end_us <= $4 \
                               ORDER BY r2.started_at DESC, r2.id DESC LIMIT 1) \
             ORDER BY s.feature",
        )
        .bind(project)
        .bind(view)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let checks: Option<String> = r.try_get("checks")?;
                let checks = checks.map(|text| json(text, "run checks")).transpose()?;
                statistics_from(r, "batch".into(), None, r.try_get("rows_written")?, checks)
            })
            .collect()
    }

    /// Runs of a project (optionally of one view), newest first.
    pub async fn runs(&self, project: &str, view: Option<&str>) -> Result<Vec<MaterializationRun>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM materialization_runs WHERE project = $1 AND ($2 = '' OR view = $2) ORDER BY started_at DESC, id DESC"
        )))
        .bind(project)
        .bind(view.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_from).collect()
    }

    /// The end of the latest successful run of `view` into `target` (for
    /// incremental materialization), among runs ending no later than
    /// `not_after_us`: a run that ended in the future could not read the rows
    /// that arrived after it, so it must not hide them from the next run.
    pub async fn materialized_until(
        &self,
        project: &str,
        view: &str,
        target: &str,
        not_after_us: i64,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT MAX(window_end_us) FROM materialization_runs WHERE project = $1 AND view = $2 AND target = $3 AND status = 'succeeded' AND window_end_us <= $4",
        )
        .bind(project)
        .bind(view)
        .bind(target)
        .bind(not_after_us)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// Saves a dataset's lineage; a name is saved once.
    pub async fn save_dataset(&self, project: &str, dataset: &SavedDataset) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO saved_datasets (project, name, registry_version, request, offline_snapshot, row_count, path, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (project, name) DO NOTHING",
        )
        .bind(project)
        .bind(&dataset.name)
        .bind(dataset.registry_version)
        .bind(dataset.request.to_string())
        .bind(dataset.offline_snapshot.to_string())
        .bind(dataset.row_count)
        .bind(&dataset.path)
        .bind(&dataset.created_by)
        .bind(&dataset.created_at)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 0 {
            return Err(RegistryError::Conflict(format!(
                "a dataset named `{}` is already saved",
                dataset.name
            )));
        }
        Ok(())
    }

    /// Removes a dataset's record (a save whose file could not be published).
    pub async fn forget_dataset(&self, project: &str, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM saved_datasets WHERE project = $1 AND name = $2")
            .bind(project)
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn datasets(&self, project: &str) -> Result<Vec<SavedDataset>> {
        let rows = sqlx::query(
            "SELECT name, registry_version, request, offline_snapshot, row_count, path, created_by, created_at \
             FROM saved_datasets WHERE project = $1 ORDER BY created_at, name",
        )
        .bind(project)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SavedDataset {
                    name: r.try_get("name")?,
                    registry_version: r.try_get("registry_version")?,
                    request: json(r.try_get("request")?, "dataset request")?,
                    offline_snapshot: json(r.try_get("offline_snapshot")?, "dataset snapshot")?,
                    row_count: r.try_get("row_count")?,
                    path: r.try_get("path")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}
