//! Streamed rows into the feature store: the decode, convert and write path the
//! Kafka ingest and the push API share.

mod decode;
mod push;
mod stats;
mod to_arrow;
mod windows;
mod write;

use std::sync::Arc;

use quiver_core::{RepoSpec, SourceSpec};
use quiver_offline::{CompactScope, FileOrigin, STREAM_FILES_PER_DAY, ViewSchema};
use quiver_online::{OnlineRow, ViewMeta};
use serde::{Deserialize, Serialize};

pub use decode::{RejectReason, Rejected, RowDecoder};
pub use push::{PushOutcome, PushRequest};
pub use stats::{IngestSnapshot, IngestStats};
pub(crate) use windows::StreamWindows;
pub use windows::{DEFAULT_STREAM_WINDOW, StatsSource, StreamPath};
pub use write::WriteRequest;

use quiver_quality::checks::{CheckCount, CheckTally, ViewChecks, add_counts};

use crate::error::{Result, StoreError};
use crate::quality::{QualityPass, view_checks};
use crate::store::{Applied, FeatureStore};

/// Where streamed rows go (Feast's `to` of a push).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteTarget {
    #[default]
    Online,
    Offline,
    OnlineAndOffline,
}

impl WriteTarget {
    pub fn online(self) -> bool {
        matches!(self, WriteTarget::Online | WriteTarget::OnlineAndOffline)
    }
    pub fn offline(self) -> bool {
        matches!(self, WriteTarget::Offline | WriteTarget::OnlineAndOffline)
    }
}

/// A view fed by a stream source, ready to decode and write its rows.
#[derive(Debug, Clone)]
pub struct IngestView {
    /// The offline layout of the view's rows.
    pub schema: ViewSchema,
    /// What the online store needs to know (features in row order).
    pub meta: ViewMeta,
    pub decoder: RowDecoder,
    /// The view's data-quality checks (judged on the rows of each push, and
    /// of each Kafka micro-batch, together).
    pub checks: Arc<ViewChecks>,
}

impl IngestView {
    pub fn new(spec: &RepoSpec, view: &str, stream_source: &SourceSpec) -> Result<Self> {
        let schema = ViewSchema::new(spec, view)?;
        let meta = crate::online::view_meta(&schema);
        let decoder = RowDecoder::new(&schema.view, &schema.keys, stream_source);
        let checks = view_checks(&schema)?;
        Ok(IngestView {
            schema,
            meta,
            decoder,
            checks: Arc::new(checks),
        })
    }

    /// Judges streamed rows (a micro-batch's, together) with the view's
    /// per-row checks, adding what they counted to `counts`; returns, per row,
    /// why it is refused, if it is. A stream cannot stop, so a violated `fail`
    /// check refuses its rows like `drop` (the ingest dead-letters them with
    /// the check's name); `warn` checks are only counted.
    pub fn refusals(
        &self,
        rows: &[impl std::borrow::Borrow<OnlineRow>],
        counts: &mut Vec<CheckCount>,
    ) -> Vec<Option<Rejected>> {
        if self.checks.has_no_declared_checks() || rows.is_empty() {
            return vec![None; rows.len()];
        }
        let refuse = |detail: String| Rejected {
            reason: RejectReason::CheckFailed,
            detail,
        };
        let judged = to_arrow::rows_to_batch(&self.schema, rows)
            .map_err(|e| e.to_string())
            .and_then(|batch| {
                let mut tally = CheckTally::default();
                let checked = self.checks.check_each(&batch, &mut tally);
                add_counts(counts, &tally.counts());
                checked.map_err(|e| e.to_string())
            });
        match judged {
            Ok(checked) => {
                let mut refused = vec![None; rows.len()];
                for (row, check) in checked.dropped {
                    if let Some(slot) = refused.get_mut(row) {
                        *slot = Some(refuse(format!("check `{check}` refused the row")));
                    }
                }
                refused
            }
            // Rows that cannot even be judged are refused, not lost.
            Err(detail) => vec![Some(refuse(detail)); rows.len()],
        }
    }

    pub fn name(&self) -> &str {
        self.schema.name()
    }

    /// Whether the view is served online (`online: true` in its definition).
    pub fn is_online(&self) -> bool {
        self.schema.view.online
    }
}

impl Applied {
    /// The views whose `stream_source` is `source`, prepared for ingest (on
    /// the first call for `source`; later calls share them).
    pub fn stream_views(&self, source: &str) -> Result<Arc<[IngestView]>> {
        // A poisoned lock only means a thread panicked mid-insert; the map is still usable.
        let cached = self
            .stream_views
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(source)
            .cloned();
        if let Some(views) = cached {
            return Ok(views);
        }
        let spec = self
            .spec
            .source(source)
            .ok_or_else(|| StoreError::Request(format!("unknown source `{source}`")))?;
        let views: Arc<[IngestView]> = self
            .spec
            .feature_views
            .iter()
            .filter(|v| v.stream_source.as_deref() == Some(source))
            .map(|v| IngestView::new(&self.spec, &v.name, spec))
            .collect::<Result<Vec<_>>>()?
            .into();
        self.stream_views
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(source.to_string(), views.clone());
        Ok(views)
    }
}

/// What one write of streamed rows did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowsWritten {
    /// Rows stored online (newer than what was there).
    pub online: u64,
    /// Rows the online store already had a newer value for.
    pub online_dropped_older: u64,
    /// Rows appended to the offline store (after de-duplication).
    pub offline: u64,
}

impl std::ops::AddAssign for RowsWritten {
    fn add_assign(&mut self, other: Self) {
        self.online += other.online;
        self.online_dropped_older += other.online_dropped_older;
        self.offline += other.offline;
    }
}

impl FeatureStore {
    /// Writes decoded rows of `view`: online with the event-time guard (an older
    /// row never replaces a newer one), then appended offline as a file of
    /// `origin`. Retried with the same `origin` (the Kafka ingest's offsets) both
    /// writes are idempotent; a push retried by its client is a new file.
    pub async fn write_rows(
        &self,
        view: &IngestView,
        rows: &[OnlineRow],
        target: WriteTarget,
        origin: FileOrigin,
    ) -> Result<RowsWritten> {
        let mut written = RowsWritten::default();
        if target.online() {
            written += self.write_online_rows(view, rows).await?;
        }
        if target.offline() {
            written += self.append_offline_rows(view, rows, origin).await?;
        }
        Ok(written)
    }

    /// The online half of [`write_rows`](Self::write_rows) (nothing for a view
    /// that is not online).
    pub async fn write_online_rows(
        &self,
        view: &IngestView,
        rows: &[OnlineRow],
    ) -> Result<RowsWritten> {
        if rows.is_empty() || !view.is_online() {
            return Ok(RowsWritten::default());
        }
        // Only each entity's latest row can win the guard: send just those.
        let latest = latest_per_entity(rows);
        let superseded = (rows.len() - latest.len()) as u64;
        let report = self.online().await?.write(&view.meta, &latest).await?;
        Ok(RowsWritten {
            online: report.written,
            online_dropped_older: report.dropped_older + superseded,
            offline: 0,
        })
    }

    /// Merges `view`'s small streamed files of `scope` once there are more than
    /// [`STREAM_FILES_PER_DAY`] of them in a day.
    pub async fn compact_stream_files(
        &self,
        view: &IngestView,
        scope: CompactScope,
    ) -> Result<usize> {
        let store = self.offline_store();
        let schema = view.schema.clone();
        Ok(tokio::task::spawn_blocking(move || {
            store.compact(&schema, &scope, STREAM_FILES_PER_DAY)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("compaction failed to run: {e}")))??)
    }

    /// The offline half of [`write_rows`](Self::write_rows).
    pub async fn append_offline_rows(
        &self,
        view: &IngestView,
        rows: &[OnlineRow],
        origin: FileOrigin,
    ) -> Result<RowsWritten> {
        if rows.is_empty() {
            return Ok(RowsWritten::default());
        }
        let batch = to_arrow::rows_to_batch(&view.schema, rows)?;
        let store = self.offline_store();
        let schema = view.schema.clone();
        let stats = tokio::task::spawn_blocking(move || store.append(&schema, &batch, &origin))
            .await
            .map_err(|e| StoreError::Internal(format!("offline append failed to run: {e}")))??;
        Ok(RowsWritten {
            offline: stats.rows_written,
            ..RowsWritten::default()
        })
    }
}

/// What a view's checks keep of a push's rows.
pub(crate) struct CheckedRows {
    pub rows: Vec<OnlineRow>,
    pub counts: Vec<CheckCount>,
    /// The kept rows as a batch, when the checks built one.
    pub batch: Option<arrow::array::RecordBatch>,
}

/// The rows of `view` that its checks keep, judged together, with what the
/// checks counted; a violated `fail` check is an error.
pub(crate) fn check_rows(view: &IngestView, rows: Vec<OnlineRow>) -> Result<CheckedRows> {
    let mut pass = QualityPass::with_checks(&view.schema, view.checks.clone(), false)?;
    if pass.has_no_checks() || rows.is_empty() {
        return Ok(CheckedRows {
            rows,
            counts: Vec::new(),
            batch: None,
        });
    }
    let batch = to_arrow::rows_to_batch(&view.schema, &rows)?;
    let checked = pass.check(&batch)?;
    pass.finish()?;
    let dropped: std::collections::HashSet<usize> =
        checked.dropped.iter().map(|(row, _)| *row).collect();
    let kept = rows
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, row)| row)
        .collect();
    Ok(CheckedRows {
        rows: kept,
        counts: pass.report().checks,
        batch: Some(checked.batch),
    })
}

/// The row with the greatest (event time, created time) per entity, the later
/// given on a tie: what the online store's guard would keep of `rows`.
fn latest_per_entity(rows: &[OnlineRow]) -> Vec<OnlineRow> {
    let mut best: std::collections::HashMap<&[u8], usize> =
        std::collections::HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        best.entry(row.key.as_bytes())
            .and_modify(|kept| {
                let current = &rows[*kept];
                if (row.event_ts, row.created_ts) >= (current.event_ts, current.created_ts) {
                    *kept = i;
                }
            })
            .or_insert(i);
    }
    let mut keep: Vec<usize> = best.into_values().collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| rows[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use quiver_online::{EntityKey, Value};

    use super::*;

    fn row(key: i64, event_ts: i64, created_ts: Option<i64>, value: i64) -> OnlineRow {
        OnlineRow {
            key: EntityKey::single("id", Value::Int64(key)).expect("key"),
            event_ts,
            created_ts,
            values: vec![Value::Int64(value)],
        }
    }

    #[test]
    fn only_the_row_the_guard_keeps_is_sent() {
        let rows = [
            row(1, 10, None, 1),
            row(2, 5, None, 2),
            row(1, 20, None, 3),
            row(1, 20, Some(1), 4),
            row(1, 15, Some(9), 5),
            row(2, 5, None, 6),
        ];
        let values: Vec<Value> = latest_per_entity(&rows)
            .into_iter()
            .map(|r| r.values[0].clone())
            .collect();
        assert_eq!(values, vec![Value::Int64(4), Value::Int64(6)]);
    }
}
