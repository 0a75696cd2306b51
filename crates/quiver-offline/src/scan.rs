//! Reading a view's stored rows back: filtered, projected and ordered.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, SortExpr, ident, lit};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::error::Result;
use crate::store::OfflineStore;
use crate::view_schema::{CREATED_TS, EVENT_TS, ViewSchema, storage_order};
use crate::window::TimeWindow;

/// The rows whose event time is inside `window` (start included, end not).
pub fn in_window(window: TimeWindow) -> Expr {
    let at = |us: i64| {
        lit(ScalarValue::TimestampMicrosecond(
            Some(us),
            Some("UTC".into()),
        ))
    };
    ident(EVENT_TS)
        .gt_eq(at(window.start_us))
        .and(ident(EVENT_TS).lt(at(window.end_us)))
}

/// The view's stored rows matching `keep`, with its keys, both timestamps and
/// `features`, in storage order (or in `order` when given).
///
/// In storage order, sorted files are merged (one partition each) instead of
/// sorting every row, up to [`MAX_MERGED_FILES`] of them.
/// Beyond this many files (streamed micro-batches add many small ones) one
/// sort beats a merge with a partition per file.
const MAX_MERGED_FILES: usize = 64;

pub async fn scan_view(
    ctx: &SessionContext,
    store: &OfflineStore,
    view: &ViewSchema,
    keep: Expr,
    features: &[String],
    order: Option<Vec<SortExpr>>,
) -> Result<SendableRecordBatchStream> {
    let files = store.files(view.name())?;
    if files.is_empty() {
        return Ok(Box::pin(RecordBatchStreamAdapter::new(
            view.schema.clone(),
            futures::stream::empty(),
        )));
    }
    let paths: Vec<String> = files
        .iter()
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect();
    let merge_sorted_files =
        order.is_none() && files.len() <= MAX_MERGED_FILES && files.iter().all(|f| f.sorted);
    // The view's current schema: files written before a feature was added read it as null.
    let mut options = ParquetReadOptions::default().schema(&view.schema);
    let df = if merge_sorted_files {
        options = options.file_sort_order(vec![storage_order(view)]);
        let config = ctx
            .copied_config()
            .with_target_partitions(paths.len().max(1))
            .set_bool("datafusion.optimizer.repartition_file_scans", false);
        SessionContext::new_with_config_rt(config, ctx.runtime_env())
            .read_parquet(paths, options)
            .await?
    } else {
        ctx.read_parquet(paths, options).await?
    };
    let mut columns: Vec<Expr> = view.key_names().into_iter().map(ident).collect();
    columns.push(ident(EVENT_TS));
    columns.push(ident(CREATED_TS));
    columns.extend(features.iter().map(ident));
    let df = df
        .filter(keep)?
        .select(columns)?
        .sort(order.unwrap_or_else(|| storage_order(view)))?;
    if std::env::var_os("QUIVER_LOG_PLANS").is_some() {
        let plan = df.clone().create_physical_plan().await?;
        tracing::info!(view = view.name(), plan = %datafusion::physical_plan::displayable(plan.as_ref()).indent(true), "offline read plan");
    }
    Ok(df.execute_stream().await?)
}
