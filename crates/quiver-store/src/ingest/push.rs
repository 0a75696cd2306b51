//! The push API (Feast's `POST /push`): rows for a push source, as columns,
//! written to the views that stream from it. A request is all or nothing: one
//! bad row refuses the whole request before anything is written.

use std::collections::BTreeMap;

use quiver_core::SourceKind;
use quiver_offline::{FileOrigin, push_id};
use quiver_online::{OnlineRow, now_us};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use quiver_quality::checks::CheckCount;

use super::{IngestView, RowsWritten, StreamPath, WriteTarget, check_rows};
use crate::error::{ErrorClass, Result, StoreError};
use crate::store::{Applied, FeatureStore};

/// Rejections listed in an error before the rest are summarized.
const LISTED_REJECTIONS: usize = 5;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub push_source_name: String,
    /// Column name -> one value per row.
    #[schema(value_type = HashMap<String, Vec<serde_json::Value>>)]
    pub df: Map<String, Json>,
    #[serde(default)]
    pub to: WriteTarget,
    /// Feast's flag; quiver always reads the current registry.
    #[serde(default)]
    pub allow_registry_cache: Option<bool>,
    /// Feast's flag for on-demand transformations, which quiver does not have:
    /// accepted and ignored.
    #[serde(default)]
    pub transform_on_write: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PushOutcome {
    pub rows: usize,
    /// Per view fed by the source: `[view, rows written]` pairs.
    #[schema(schema_with = view_rows_schema)]
    pub views: Vec<(String, RowsWritten)>,
    /// Per view, the data-quality checks its rows violated (a `drop` check's
    /// rows were left out; none listed: every check passed).
    pub checks: BTreeMap<String, Vec<CheckCount>>,
}

/// `PushOutcome::views` in the API document: `[view, rows written]` pairs.
fn view_rows_schema() -> utoipa::openapi::schema::Array {
    use utoipa::PartialSchema;
    use utoipa::openapi::schema::{ArrayBuilder, ArrayItems, Schema, Type};
    use utoipa::openapi::{ObjectBuilder, RefOr};
    let rows = match RowsWritten::schema() {
        RefOr::T(schema) => schema,
        RefOr::Ref(_) => Schema::Object(ObjectBuilder::new().build()),
    };
    let pair = ArrayBuilder::new()
        .prefix_items([
            Schema::Object(ObjectBuilder::new().schema_type(Type::String).build()),
            rows,
        ])
        .items(ArrayItems::False)
        .min_items(Some(2))
        .max_items(Some(2))
        .build();
    ArrayBuilder::new()
        .items(RefOr::T(Schema::Array(pair)))
        .build()
}

impl FeatureStore {
    /// Validates every row for every view, then writes them.
    pub async fn push(&self, applied: &Applied, request: &PushRequest) -> Result<PushOutcome> {
        let name = &request.push_source_name;
        let source = applied
            .spec
            .source(name)
            .ok_or_else(|| StoreError::NotFound {
                kind: quiver_core::ObjectKind::Source,
                name: name.clone(),
                message: format!("unknown push source `{name}`"),
            })?;
        if source.kind != SourceKind::Push {
            return Err(StoreError::Request(format!(
                "source `{name}` is a {} source, not a push source",
                source.kind.name()
            )));
        }
        let views = applied.stream_views(name)?;
        if views.is_empty() {
            return Err(StoreError::Request(format!(
                "no feature view has `stream_source: {name}`; nothing would receive the rows"
            )));
        }
        if request.to == WriteTarget::Online
            && let Some(view) = views.iter().find(|v| !v.is_online())
        {
            return Err(StoreError::Request(format!(
                "view `{}` is not online (`online: false`); push with \"to\": \"offline\"",
                view.name()
            )));
        }
        let records = records(&request.df)?;
        self.write_records(&views, &records, request.to).await
    }

    /// Decodes `records` for every view, judges them with each view's checks,
    /// and only then writes them to `to`: all or nothing before the first write.
    pub(crate) async fn write_records(
        &self,
        views: &[IngestView],
        records: &[Map<String, Json>],
        to: WriteTarget,
    ) -> Result<PushOutcome> {
        let received = now_us();
        let decoded = views
            .iter()
            .map(|view| decode_all(view, records, received))
            .collect::<Result<Vec<_>>>()?;
        let mut outcome = PushOutcome {
            rows: records.len(),
            views: Vec::with_capacity(views.len()),
            checks: BTreeMap::new(),
        };
        // Every view's checks pass (or drop rows) before anything is written.
        let mut checked = Vec::with_capacity(views.len());
        for (view, rows) in views.iter().zip(decoded) {
            let checked_rows = check_rows(view, rows).map_err(|e| match e.class() {
                ErrorClass::User => {
                    StoreError::Request(format!("view `{}`: {e}; nothing was written", view.name()))
                }
                _ => e,
            })?;
            checked.push(checked_rows);
        }
        for (view, checked) in views.iter().zip(checked) {
            let origin = FileOrigin::Push { id: push_id() };
            let written = self.write_rows(view, &checked.rows, to, origin).await?;
            if to.offline() {
                self.compact_stream_files(view, quiver_offline::CompactScope::Pushes)
                    .await?;
            }
            self.observe_stream(
                StreamPath::Push,
                view,
                &checked.rows,
                checked.batch.as_ref(),
                &checked.counts,
            )
            .await;
            outcome.views.push((view.name().to_string(), written));
            if !checked.counts.is_empty() {
                outcome
                    .checks
                    .insert(view.name().to_string(), checked.counts);
            }
        }
        Ok(outcome)
    }
}

/// The columns of `df` as one record per row.
pub(crate) fn records(df: &Map<String, Json>) -> Result<Vec<Map<String, Json>>> {
    let mut len = None;
    for (column, values) in df {
        let Json::Array(values) = values else {
            return Err(StoreError::Request(format!(
                "df column `{column}` must be an array of values (one per row)"
            )));
        };
        match len {
            None => len = Some((column, values.len())),
            Some((first, n)) if n != values.len() => {
                return Err(StoreError::Request(format!(
                    "df columns have different lengths: `{first}` has {n} values, `{column}` has {}",
                    values.len()
                )));
            }
            Some(_) => {}
        }
    }
    let rows = len.map_or(0, |(_, n)| n);
    if rows == 0 {
        return Err(StoreError::Request("df holds no rows".into()));
    }
    Ok((0..rows)
        .map(|i| {
            df.iter()
                .map(|(column, values)| (column.clone(), values[i].clone()))
                .collect()
        })
        .collect())
}

/// Every record as a row of `view`, or an error naming the bad rows.
fn decode_all(
    view: &IngestView,
    records: &[Map<String, Json>],
    received: i64,
) -> Result<Vec<OnlineRow>> {
    let mut rows = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match view.decoder.decode(record, Some(received)) {
            Ok(row) => rows.push(row),
            Err(e) => rejected.push(format!("row {i}: {e}")),
        }
    }
    if rejected.is_empty() {
        return Ok(rows);
    }
    let more = rejected.len().saturating_sub(LISTED_REJECTIONS);
    let mut message = format!(
        "{} of {} rows are invalid for view `{}`, nothing was written: {}",
        rejected.len(),
        records.len(),
        view.name(),
        rejected[..rejected.len().min(LISTED_REJECTIONS)].join("; ")
    );
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    Err(StoreError::Request(message))
}
