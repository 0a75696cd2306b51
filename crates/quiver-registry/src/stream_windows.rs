//! Windows of streamed rows (the Kafka ingest, push): what each process took
//! in over each window of ingest time, what the checks counted, and each
//! feature's statistics (in `feature_statistics`, under the window's id).

use sqlx::Row;

use crate::error::Result;
use crate::lineage::{FeatureStatistics, json, now, statistics_from};
use crate::registry::Registry;

/// One closed window of one view's streamed rows, as a process saw them.
#[derive(Debug, Clone)]
pub struct StreamWindowRecord<'a> {
    pub view: &'a str,
    /// `kafka` or `push`.
    pub path: &'a str,
    /// The process that took the rows in (`host:pid`).
    pub writer: &'a str,
    /// `[start, end)` in microseconds of ingest time.
    pub window: (i64, i64),
    pub rows: u64,
    /// `[{check, policy, violations}]`.
    pub checks: &'a serde_json::Value,
    /// Per feature, its statistics as JSON.
    pub stats: &'a [(String, serde_json::Value)],
}

impl Registry {
    /// Records a closed window of streamed rows with its features'
    /// statistics, all or nothing; returns the window's id.
    pub async fn record_stream_window(
        &self,
        project: &str,
        record: &StreamWindowRecord<'_>,
    ) -> Result<String> {
        let recorded_at = now();
        // The time of recording keeps ids apart should one process record
        // one window twice (it closed, and rows of its instant came later).
        let id = format!(
            "{}-{}-{}-{}-{}",
            record.path,
            record.window.0,
            record.writer,
            record.view,
            chrono::Utc::now().timestamp_micros()
        );
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO stream_windows (id, project, view, path, writer, window_start_us, window_end_us, rows_ingested, checks, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(project)
        .bind(record.view)
        .bind(record.path)
        .bind(record.writer)
        .bind(record.window.0)
        .bind(record.window.1)
        .bind(i64::try_from(record.rows).unwrap_or(i64::MAX))
        .bind(record.checks.to_string())
        .bind(&recorded_at)
        .execute(&mut *tx)
        .await?;
        for (feature, stats) in record.stats {
            sqlx::query(
                "INSERT INTO feature_statistics (run_id, project, view, feature, window_start_us, window_end_us, stats, computed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id)
            .bind(project)
            .bind(record.view)
            .bind(feature)
            .bind(record.window.0)
            .bind(record.window.1)
            .bind(stats.to_string())
            .bind(&recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The statistics of `view`'s features from the latest window of rows
    /// streamed in through `path` (or the latest one ending in `window`), by
    /// feature.
    pub async fn latest_stream_statistics(
        &self,
        project: &str,
        view: &str,
        path: &str,
        window: Option<(i64, i64)>,
    ) -> Result<Vec<FeatureStatistics>> {
        let (from, to) = window.unwrap_or((i64::MIN, i64::MAX));
        let rows = sqlx::query(
            "SELECT s.run_id, s.view, s.feature, s.window_start_us, s.window_end_us, s.stats, s.computed_at, w.path, w.writer, w.rows_ingested, w.checks \
             FROM feature_statistics s JOIN stream_windows w ON w.id = s.run_id \
             WHERE s.run_id = (SELECT id FROM stream_windows \
                               WHERE project = $1 AND view = $2 AND path = $3 \
                                 AND window_end_us > $4 AND window_end_us <= $5 \
                                 AND EXISTS (SELECT 1 FROM feature_statistics f WHERE f.run_id = stream_windows.id) \
                               ORDER BY window_end_us DESC, recorded_at DESC, id DESC LIMIT 1) \
             ORDER BY s.feature",
        )
        .bind(project)
        .bind(view)
        .bind(path)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let checks = json(r.try_get("checks")?, "window checks")?;
                statistics_from(
                    r,
                    r.try_get("path")?,
                    Some(r.try_get("writer")?),
                    Some(r.try_get("rows_ingested")?),
                    Some(checks),
                )
            })
            .collect()
    }
}
