//! Point-in-time joins: a training set from an entity frame and the offline store.
//!
//! Each requested view is joined on its own: the view's stored rows are read
//! with DataFusion (pruned to the request's time range, sorted by keys and time
//! in a memory pool that spills to disk) and merged against the entity rows in
//! one pass ([`asof`]). The answers stay in the merges' order; a writer asks
//! for the training set a slice at a time, in the entity frame's order, beside
//! all of its columns ([`answers`]).

mod answers;
mod asof;
mod columns;
mod entity;
mod features;
mod key_codes;
mod ranges;

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::take;
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, ident, lit, when};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use quiver_core::RepoSpec;

pub use answers::TrainingRows;
pub use columns::output_columns;
pub use entity::{ENTITY_TIMESTAMP, EntityFrame};
pub use features::{FeatureSelection, ViewRequest, resolve};

use crate::error::{OfflineError, Result};
use crate::scan::scan_view;
use crate::store::OfflineStore;
use crate::view_schema::{CREATED_TS, EVENT_TS, ViewSchema};

/// What a training set asks for.
#[derive(Debug, Clone)]
pub struct HistoricalRequest {
    pub features: FeatureSelection,
    /// Name output columns `view__feature` instead of `feature`.
    pub full_feature_names: bool,
    /// Count a row only if it was also known (created) by the entity row's time.
    pub as_of_known_time: bool,
}

/// Joins every requested view to the entity frame. The training set (the
/// frame's columns, then the requested features) is gathered from the answers
/// a slice at a time, when a writer asks for it.
pub async fn get_historical_features(
    ctx: &SessionContext,
    store: &OfflineStore,
    repo: &RepoSpec,
    entity: &EntityFrame,
    request: &HistoricalRequest,
) -> Result<TrainingRows> {
    let views = resolve(repo, &request.features, request.full_feature_names)?;
    let entity_schema = entity.batch.schema();
    for view in &views {
        let missing: Vec<&str> = view
            .view
            .key_names()
            .into_iter()
            .filter(|k| entity_schema.column_with_name(k).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(OfflineError::Request(format!(
                "the entity frame lacks join key column(s) {} needed by view `{}`",
                missing.join(", "),
                view.view.name()
            )));
        }
    }
    let given = entity_schema.fields().iter().map(|f| f.name().as_str());
    output_columns(given, &views, request.full_feature_names)?;

    let min_t = entity.times.iter().copied().min().unwrap_or(0);
    let max_t = entity.times.iter().copied().max().unwrap_or(0);
    let mut fields: Vec<Arc<Field>> = entity_schema.fields().iter().cloned().collect();
    let mut answers = Vec::with_capacity(views.len());
    for request_view in &views {
        let view = &request_view.view;
        let feature_names: Vec<String> = request_view
            .features
            .iter()
            .map(|(f, _)| f.clone())
            .collect();
        let feature_fields: Vec<Field> = feature_names
            .iter()
            .map(|f| view.schema.field_with_name(f).cloned())
            .collect::<std::result::Result<_, _>>()?;
        let keys = view
            .keys
            .iter()
            .map(|k| entity.key_column(&k.name, k.dtype))
            .collect::<Result<Vec<_>>>()?;
        let ttl_us = view
            .view
            .ttl
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let read = ViewRead {
            view,
            features: &feature_names,
            feature_schema: Arc::new(Schema::new(feature_fields.clone())),
            entity_times: (min_t, max_t),
            ttl_us,
            as_of_known_time: request.as_of_known_time,
        };
        answers.push(join_view(ctx, store, &read, &keys, &entity.times).await?);
        for (field, (_, output)) in feature_fields.into_iter().zip(&request_view.features) {
            fields.push(Arc::new(field.with_name(output).with_nullable(true)));
        }
    }
    Ok(TrainingRows::new(
        Arc::new(Schema::new(fields)),
        entity.batch.clone(),
        answers,
    ))
}

/// What to read of one view for a request.
struct ViewRead<'a> {
    view: &'a ViewSchema,
    features: &'a [String],
    feature_schema: SchemaRef,
    /// The earliest and latest entity time of the request.
    entity_times: (i64, i64),
    ttl_us: Option<i64>,
    as_of_known_time: bool,
}

/// One view's answers for every entity row.
///
/// The entity rows are split into ranges of the first join key
/// ([`ranges::key_ranges`], one per target partition); each range scans its own
/// part of the store and merges on its own task, so the join uses every core.
async fn join_view(
    ctx: &SessionContext,
    store: &OfflineStore,
    read: &ViewRead<'_>,
    keys: &[ArrayRef],
    times: &[i64],
) -> Result<answers::ViewAnswers> {
    let parts = ctx.copied_config().target_partitions();
    let ranges = ranges::key_ranges(&keys[0], parts)?;
    let first_key = read.view.keys[0].name.as_str();
    // The ranges are the parallelism: each range's own query gets its share of
    // the partitions, so sorts do not multiply past the memory pool.
    let config = ctx
        .copied_config()
        .with_target_partitions((parts / ranges.len()).max(1));
    let range_ctx = SessionContext::new_with_config_rt(config, ctx.runtime_env());
    // Dropping the set (a request given up) stops every range's work.
    let mut tasks = tokio::task::JoinSet::new();
    for (part, range) in ranges.iter().enumerate() {
        let entity = if ranges.len() == 1 {
            // One range is every row: no need to copy them out.
            asof::EntitySide {
                keys: keys.to_vec(),
                times: times.to_vec(),
            }
        } else {
            asof::EntitySide {
                keys: keys
                    .iter()
                    .map(|k| take(k, &range.rows, None))
                    .collect::<std::result::Result<_, _>>()?,
                times: range
                    .rows
                    .values()
                    .iter()
                    .map(|&i| times[i as usize])
                    .collect(),
            }
        };
        let stream = view_rows(&range_ctx, store, read, range.filter(first_key)).await?;
        let view = asof::ViewSide {
            stream,
            key_names: read
                .view
                .key_names()
                .into_iter()
                .map(String::from)
                .collect(),
            feature_names: read.features.to_vec(),
            feature_schema: read.feature_schema.clone(),
            ttl_us: read.ttl_us,
            as_of_known_time: read.as_of_known_time,
        };
        tasks.spawn(async move { (part, asof::merge(entity, view).await) });
    }
    let mut merged: Vec<Option<asof::Merged>> = (0..ranges.len()).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        // A panic in a range's merge is the caller's panic, as it was on one task.
        let (part, answer) = done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        merged[part] = Some(answer?);
    }
    let single = ranges.len() == 1;
    let merged = merged
        .into_iter()
        .zip(&ranges)
        .map(|(m, range)| {
            let m = m.ok_or_else(|| OfflineError::Config("a key range was not joined".into()))?;
            Ok((m, (!single).then_some(&range.rows)))
        })
        .collect::<Result<Vec<_>>>()?;
    let types = read
        .feature_schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    answers::ViewAnswers::new(merged, times.len(), types)
}

/// The view's stored rows that can answer the request's entity times (and pass
/// `range`, a filter on the first key), sorted by keys, then effective time.
async fn view_rows(
    ctx: &SessionContext,
    store: &OfflineStore,
    read: &ViewRead<'_>,
    range: Option<Expr>,
) -> Result<SendableRecordBatchStream> {
    let ViewRead {
        view,
        features,
        entity_times: (min_t, max_t),
        ttl_us,
        as_of_known_time,
        ..
    } = *read;
    let at = |us: i64| {
        lit(ScalarValue::TimestampMicrosecond(
            Some(us),
            Some("UTC".into()),
        ))
    };
    let mut keep = ident(EVENT_TS).lt_eq(at(max_t));
    if let Some(ttl) = ttl_us {
        keep = keep.and(ident(EVENT_TS).gt_eq(at(min_t.saturating_sub(ttl))));
    }
    if let Some(range) = range {
        keep = keep.and(range);
    }
    let order = if as_of_known_time {
        // Rows become usable when they are known: order by the later of the two times.
        let effective = when(ident(CREATED_TS).gt(ident(EVENT_TS)), ident(CREATED_TS))
            .otherwise(ident(EVENT_TS))?;
        let mut order: Vec<_> = view
            .key_names()
            .into_iter()
            .map(|k| ident(k).sort(true, true))
            .collect();
        order.push(effective.sort(true, true));
        Some(order)
    } else {
        None
    };
    scan_view(ctx, store, view, keep, features, order).await
}
