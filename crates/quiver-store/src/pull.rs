//! Rows of a batch source as Feast's offline store API returns them
//! (`pull_latest_from_table_or_query`, `pull_all_from_table_or_query`): the
//! source read and converted as materialization reads it, then either every
//! row in the window or each entity's latest, under the columns' source names.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Field, Schema};
use futures::TryStreamExt;
use quiver_core::ObjectKind;
use quiver_core::ranges::{MAX_TIMESTAMP_US, MIN_TIMESTAMP_US};
use quiver_offline::{
    CREATED_TS, EVENT_TS, SourceColumn, TimeWindow, ViewSchema, inspect_source, latest_per_key,
    read_source,
};

use crate::error::{Result, StoreError};
use crate::store::{Applied, FeatureStore};

/// What to pull from a source.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub source: String,
    pub join_keys: Vec<String>,
    pub features: Vec<String>,
    /// The name the event time column is answered under.
    pub timestamp_field: String,
    /// The name the created time column is answered under, if wanted.
    pub created_field: Option<String>,
    /// Event times in `[start, end)`; every row when absent.
    pub window: Option<TimeWindow>,
    /// Only each entity's latest row (the point-in-time rule's order).
    pub latest: bool,
}

impl FeatureStore {
    /// The rows of `request.source` (see [`PullRequest`]).
    pub async fn pull(&self, applied: &Applied, request: &PullRequest) -> Result<RecordBatch> {
        let view = reading_view(applied, request)?;
        let window = request.window.unwrap_or(TimeWindow {
            start_us: MIN_TIMESTAMP_US,
            end_us: MAX_TIMESTAMP_US,
        });
        let ctx = self.engine()?;
        let stream = read_source(&ctx, &view, &self.repo_root, window).await?;
        let schema = stream.schema();
        let batches: Vec<RecordBatch> = stream
            .try_collect()
            .await
            .map_err(quiver_offline::OfflineError::from)?;
        let mut rows =
            concat_batches(&schema, &batches).map_err(quiver_offline::OfflineError::from)?;
        if request.latest {
            let keys: Vec<&str> = request.join_keys.iter().map(String::as_str).collect();
            rows = latest_per_key(&rows, &keys)?;
        }
        answer_columns(&rows, request)
    }

    /// The columns of batch source `name` and their stored types.
    pub async fn source_columns(&self, applied: &Applied, name: &str) -> Result<Vec<SourceColumn>> {
        let source = applied
            .spec
            .source(name)
            .ok_or_else(|| unknown_source(name))?;
        inspect_source(source, &self.repo_root)
            .await?
            .ok_or_else(|| {
                StoreError::Request(format!(
                    "source `{name}` is a {} source: it has no stored columns to list",
                    source.kind.name()
                ))
            })
    }
}

fn unknown_source(name: &str) -> StoreError {
    StoreError::NotFound {
        kind: ObjectKind::Source,
        name: name.to_string(),
        message: format!("unknown data source `{name}`"),
    }
}

/// A view that reads `request.source` with every requested key and feature:
/// it says how the source's rows are typed.
fn reading_view(applied: &Applied, request: &PullRequest) -> Result<ViewSchema> {
    let name = &request.source;
    let source = applied
        .spec
        .source(name)
        .ok_or_else(|| unknown_source(name))?;
    if !source.kind.is_batch() {
        return Err(StoreError::Request(format!(
            "source `{name}` is a {} source; only parquet and postgres sources can be pulled",
            source.kind.name()
        )));
    }
    let mut readers = applied
        .spec
        .feature_views
        .iter()
        .filter(|v| &v.source == name);
    let view = readers
        .find(|v| {
            let keys = applied.spec.join_keys(v);
            request
                .join_keys
                .iter()
                .all(|k| keys.iter().any(|j| &j.name == k))
                && request.features.iter().all(|f| v.feature(f).is_some())
        })
        .ok_or_else(|| {
            StoreError::Request(format!(
                "no feature view reads source `{name}` with join keys [{}] and features [{}]",
                request.join_keys.join(", "),
                request.features.join(", ")
            ))
        })?;
    Ok(ViewSchema::new(&applied.spec, &view.name)?)
}

/// The requested columns of canonical `rows`, the timestamps renamed.
fn answer_columns(rows: &RecordBatch, request: &PullRequest) -> Result<RecordBatch> {
    let mut wanted: Vec<(&str, &str)> = request
        .join_keys
        .iter()
        .chain(&request.features)
        .map(|c| (c.as_str(), c.as_str()))
        .collect();
    wanted.push((EVENT_TS, request.timestamp_field.as_str()));
    if let Some(created) = &request.created_field {
        wanted.push((CREATED_TS, created.as_str()));
    }
    let mut fields = Vec::with_capacity(wanted.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(wanted.len());
    for (canonical, answered) in wanted {
        let (index, field) = rows
            .schema()
            .column_with_name(canonical)
            .map(|(i, f)| (i, f.clone()))
            .ok_or_else(|| {
                StoreError::Internal(format!("the source's rows lack column `{canonical}`"))
            })?;
        fields.push(Field::new(answered, field.data_type().clone(), true));
        columns.push(rows.column(index).clone());
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| StoreError::Request(format!("cannot answer the pulled columns: {e}")))
}
