//! The online half of materialization: the latest stored row of each entity in
//! a window, written with the event-time guard (so older rows never win).

use arrow::array::{ArrayRef, RecordBatch, TimestampMicrosecondArray};
use arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use quiver_offline::{CREATED_TS, EVENT_TS, TimeWindow, ViewSchema, in_window, scan_view};
use quiver_online::{EntityKey, OnlineRow, OnlineStore, ViewMeta, WriteReport};
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

        // The last row of the key run that reached the end of the previous
        // batch: the run may go on in the next one.
        let mut carried: Option<(OwnedRow, RecordBatch, usize)> = None;
        let mut pending_rows: Vec<OnlineRow> = Vec::with_capacity(WRITE_BATCH);
        let mut writes = Writes::new(online.as_ref(), &meta, on_rows);
        let mut columns: Option<Columns> = None;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(quiver_offline::OfflineError::from)?;
            let n = batch.num_rows();
            if n == 0 {
                continue;
            }
            if columns.is_none() {
                columns = Some(Columns::find(&batch, &key_names, &features)?);
            }
            let Some(columns) = columns.as_ref() else {
                continue;
            };
            let keys: Vec<ArrayRef> = columns
                .keys
                .iter()
                .map(|&i| batch.column(i).clone())
                .collect();
            let rows = converter
                .convert_columns(&keys)
                .map_err(quiver_offline::OfflineError::from)?;
            // Rows arrive sorted by key then time: the last row of a key run is its latest.
            if let Some((key, previous, row)) = carried.take()
                && key.row() != rows.row(0)
            {
                pending_rows.push(columns.online_row(&previous, row, &key_names)?);
            }
            for i in 0..n - 1 {
                if rows.row(i) != rows.row(i + 1) {
                    pending_rows.push(columns.online_row(&batch, i, &key_names)?);
                }
            }
            carried = Some((rows.row(n - 1).owned(), batch, n - 1));
            if pending_rows.len() >= WRITE_BATCH {
                writes.start(std::mem::take(&mut pending_rows)).await?;
            }
        }
        if let (Some((_, batch, row)), Some(columns)) = (carried, &columns) {
            pending_rows.push(columns.online_row(&batch, row, &key_names)?);
        }
        writes.start(pending_rows).await?;
        writes.finish().await
    }
}

/// Writes in flight to the online store. Each entity's latest row appears in
/// exactly one batch of a run, so batches may be written in any order: a few go
/// at once, which keeps the store busy while the next batch is read and encoded.
struct Writes<'a> {
    online: &'a dyn OnlineStore,
    meta: &'a ViewMeta,
    on_rows: &'a (dyn Fn(u64) + Sync),
    in_flight: FuturesUnordered<BoxFuture<'a, quiver_online::Result<(u64, WriteReport)>>>,
    report: OnlineWrite,
}

/// Batches written at once by one materialization of one view.
const WRITES_IN_FLIGHT: usize = 4;

impl<'a> Writes<'a> {
    fn new(
        online: &'a dyn OnlineStore,
        meta: &'a ViewMeta,
        on_rows: &'a (dyn Fn(u64) + Sync),
    ) -> Self {
        Writes {
            online,
            meta,
            on_rows,
            in_flight: FuturesUnordered::new(),
            report: OnlineWrite::default(),
        }
    }

    /// Starts writing `rows`, first waiting for a write to finish when enough are in flight.
    async fn start(&mut self, rows: Vec<OnlineRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        while self.in_flight.len() >= WRITES_IN_FLIGHT {
            self.finish_one().await?;
        }
        let (online, meta) = (self.online, self.meta);
        self.in_flight.push(Box::pin(async move {
            let report = online.write(meta, &rows).await?;
            Ok((rows.len() as u64, report))
        }));
        Ok(())
    }

    async fn finish_one(&mut self) -> Result<()> {
        if let Some(done) = self.in_flight.next().await {
            let (
                rows,
                WriteReport {
                    written,
                    dropped_older,
                },
            ) = done?;
            self.report.written += written;
            self.report.dropped_older += dropped_older;
            (self.on_rows)(rows);
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<OnlineWrite> {
        while !self.in_flight.is_empty() {
            self.finish_one().await?;
        }
        Ok(self.report)
    }
}

/// Where a scanned batch holds what an online row needs (found once: every
/// batch of a scan has the same schema).
struct Columns {
    keys: Vec<usize>,
    event: usize,
    created: usize,
    features: Vec<usize>,
}

impl Columns {
    fn find(batch: &RecordBatch, keys: &[String], features: &[String]) -> Result<Self> {
        let schema = batch.schema();
        let index = |name: &str| {
            schema
                .index_of(name)
                .map_err(|_| StoreError::Request(format!("offline data lacks column `{name}`")))
        };
        Ok(Columns {
            keys: keys.iter().map(|k| index(k)).collect::<Result<_>>()?,
            event: index(EVENT_TS)?,
            created: index(CREATED_TS)?,
            features: features.iter().map(|f| index(f)).collect::<Result<_>>()?,
        })
    }

    fn online_row(
        &self,
        batch: &RecordBatch,
        row: usize,
        key_names: &[String],
    ) -> Result<OnlineRow> {
        let pairs = key_names
            .iter()
            .zip(&self.keys)
            .map(|(name, &i)| (name.clone(), arrow_value(batch.column(i), row)))
            .collect();
        let timestamp = |i: usize, name: &str| -> Result<Option<i64>> {
            let array = batch
                .column(i)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| {
                    StoreError::Request(format!(
                        "offline column `{name}` is not microsecond timestamps"
                    ))
                })?;
            Ok(arrow::array::Array::is_valid(array, row).then(|| array.value(row)))
        };
        let event_ts = timestamp(self.event, EVENT_TS)?
            .ok_or_else(|| StoreError::Request("a stored row has no event time".into()))?;
        let values = self
            .features
            .iter()
            .map(|&i| arrow_value(batch.column(i), row))
            .collect();
        Ok(OnlineRow {
            key: EntityKey::new(pairs)?,
            event_ts,
            created_ts: timestamp(self.created, CREATED_TS)?,
            values,
        })
    }
}
