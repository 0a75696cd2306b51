//! The online half of materialization: the latest stored row of each entity in
//! a window, written with the event-time guard (so older rows never win).

use arrow::array::{ArrayRef, RecordBatch, TimestampMicrosecondArray};
use arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use quiver_offline::{CREATED_TS, EVENT_TS, TimeWindow, ViewSchema, in_window, scan_view};
use quiver_online::{EntityKey, OnlineRow, OnlineStore, Value, ViewMeta, WriteReport};
use serde::Serialize;

use super::convert::arrow_value;
use crate::error::{Result, StoreError};
use crate::store::FeatureStore;

/// What the online store needs to know to write `view`'s rows (features in row order).
pub(crate) fn view_meta(view: &ViewSchema) -> ViewMeta {
    ViewMeta {
        name: view.name().to_string(),
        features: view.view.features.iter().map(|f| f.name.clone()).collect(),
        ttl: view.view.ttl,
    }
}

/// Rows written per call to the online store.
const WRITE_BATCH: usize = 10_000;

/// What the online half of one view's run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OnlineWrite {
    /// Entities whose latest row in the window was written.
    pub written: u64,
    /// Entities whose online value was already newer (from a stream or a later run).
    pub dropped_older: u64,
}

impl FeatureStore {
    /// Writes the latest stored row per entity with event time in `window` to the online store.
    pub(crate) async fn write_online(
        &self,
        ctx: &SessionContext,
        view: &ViewSchema,
        window: TimeWindow,
        on_rows: &(dyn Fn(u64) + Sync),
    ) -> Result<OnlineWrite> {
        let online = self.online().await?;
        let keep = in_window(window);
        let features: Vec<String> = view.view.features.iter().map(|f| f.name.clone()).collect();
        let mut stream = scan_view(ctx, &self.offline_store(), view, keep, &features, None).await?;
        let meta = view_meta(view);
        let key_names: Vec<String> = view.keys.iter().map(|k| k.name.clone()).collect();
        let fields = view
            .keys
            .iter()
            .map(|k| {
                view.schema
                    .field_with_name(&k.name)
                    .map(|f| SortField::new(f.data_type().clone()))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(quiver_offline::OfflineError::from)?;
        let converter = RowConverter::new(fields).map_err(quiver_offline::OfflineError::from)?;

        let mut latest = LatestPerKey::default();
        let mut pending_rows: Vec<OnlineRow> = Vec::with_capacity(WRITE_BATCH);
        let mut report = OnlineWrite::default();
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(quiver_offline::OfflineError::from)?;
            let keys = key_names
                .iter()
                .map(|k| column(&batch, k))
                .collect::<Result<Vec<_>>>()?;
            let rows = converter
                .convert_columns(&keys)
                .map_err(quiver_offline::OfflineError::from)?;
            for i in 0..batch.num_rows() {
                // Rows arrive sorted by key then time: the last row of a key run is its latest.
                if let Some(done) = latest.push(rows.row(i).owned(), &batch, i) {
                    pending_rows.push(online_row(&done.0, done.1, &key_names, &features)?);
                }
            }
            if pending_rows.len() >= WRITE_BATCH {
                flush(
                    online.as_ref(),
                    &meta,
                    &mut pending_rows,
                    &mut report,
                    on_rows,
                )
                .await?;
            }
        }
        if let Some((batch, row)) = latest.finish() {
            pending_rows.push(online_row(&batch, row, &key_names, &features)?);
        }
        flush(
            online.as_ref(),
            &meta,
            &mut pending_rows,
            &mut report,
            on_rows,
        )
        .await?;
        Ok(report)
    }
}

async fn flush(
    online: &dyn OnlineStore,
    meta: &ViewMeta,
    rows: &mut Vec<OnlineRow>,
    report: &mut OnlineWrite,
    on_rows: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let WriteReport {
        written,
        dropped_older,
    } = online.write(meta, rows).await?;
    report.written += written;
    report.dropped_older += dropped_older;
    on_rows(rows.len() as u64);
    rows.clear();
    Ok(())
}

/// Tracks the last row of the current key run across batches.
#[derive(Default)]
struct LatestPerKey {
    current: Option<(OwnedRow, RecordBatch, usize)>,
}

impl LatestPerKey {
    /// Notes row `i`; returns the previous key's last row when the key changes.
    fn push(
        &mut self,
        key: OwnedRow,
        batch: &RecordBatch,
        i: usize,
    ) -> Option<(RecordBatch, usize)> {
        let finished = match &self.current {
            Some((previous, _, _)) if previous.row() != key.row() => {
                self.current.take().map(|(_, b, r)| (b, r))
            }
            _ => None,
        };
        self.current = Some((key, batch.clone(), i));
        finished
    }

    fn finish(self) -> Option<(RecordBatch, usize)> {
        self.current.map(|(_, b, r)| (b, r))
    }
}

fn column(batch: &RecordBatch, name: &str) -> Result<ArrayRef> {
    batch
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| StoreError::Request(format!("offline data lacks column `{name}`")))
}

fn online_row(
    batch: &RecordBatch,
    row: usize,
    keys: &[String],
    features: &[String],
) -> Result<OnlineRow> {
    let pairs = keys
        .iter()
        .map(|k| Ok((k.clone(), arrow_value(&column(batch, k)?, row))))
        .collect::<Result<Vec<_>>>()?;
    let timestamp = |name: &str| -> Result<Option<i64>> {
        let column = column(batch, name)?;
        let array = column
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| {
                StoreError::Request(format!(
                    "offline column `{name}` is not microsecond timestamps"
                ))
            })?;
        Ok(arrow::array::Array::is_valid(array, row).then(|| array.value(row)))
    };
    let event_ts = timestamp(EVENT_TS)?
        .ok_or_else(|| StoreError::Request("a stored row has no event time".into()))?;
    let values = features
        .iter()
        .map(|f| Ok(arrow_value(&column(batch, f)?, row)))
        .collect::<Result<Vec<Value>>>()?;
    Ok(OnlineRow {
        key: EntityKey::new(pairs)?,
        event_ts,
        created_ts: timestamp(CREATED_TS)?,
        values,
    })
}
