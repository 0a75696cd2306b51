//! Online lookups, in the shape of Feast's feature server: the latest values
//! of the requested features for a batch of entities, one store round trip per
//! set of join keys.

use std::sync::Arc;

use quiver_core::{RepoSpec, ValueType};
use quiver_offline::pit::{FeatureSelection, ViewRequest, output_columns};
use quiver_online::{EntityKey, Status};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::convert::{json_value, key_from_json};
use super::plan::PlanKey;
use crate::error::{Result, StoreError};
use crate::store::{Applied, FeatureStore};
use crate::time::rfc3339;

/// `POST /get-online-features` as quiver reads it.
#[derive(Debug, Clone)]
pub struct OnlineRequest {
    pub features: FeatureSelection,
    /// Join key columns: `{"driver_id": [1001, 1002]}`.
    pub entities: Map<String, Json>,
    pub full_feature_names: bool,
    /// Where the answer may read as Feast's server answers instead.
    pub answers: FeastAnswers,
}

/// How lookups answer where quiver deliberately differs from Feast's server
/// (both off: quiver's answers). A Feast user who relies on Feast's may switch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeastAnswers {
    /// A value older than its view's TTL reads `PRESENT` with the value, as
    /// Feast serves it, instead of `OUTSIDE_MAX_AGE` with null.
    pub expired_as_present: bool,
    /// A float32 value prints as the double it widens to (`0.12189999967813492`),
    /// as Feast prints it, instead of its shortest text (`0.1219`).
    pub float32_as_double: bool,
}

impl FeastAnswers {
    fn json(self, value: &quiver_online::Value) -> Json {
        match value {
            quiver_online::Value::Float32(v) if self.float32_as_double => {
                serde_json::Number::from_f64(f64::from(*v)).map_or(Json::Null, Json::Number)
            }
            other => json_value(other),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OnlineResponse {
    pub metadata: Metadata,
    /// One entry per column of `metadata.feature_names`.
    pub results: Vec<OnlineResult>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Metadata {
    pub feature_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OnlineResult {
    /// Values of the column's type (the join key values in the first result).
    #[schema(value_type = Vec<serde_json::Value>)]
    pub values: Vec<Json>,
    /// `PRESENT`, `NOT_FOUND` or `OUTSIDE_MAX_AGE`.
    #[schema(value_type = Vec<String>)]
    pub statuses: Vec<Status>,
    #[schema(value_type = Vec<String>)]
    pub event_timestamps: Vec<EventTime>,
}

/// An event time as RFC 3339 text, formatted once per (entity, view) and
/// shared by the view's features instead of copied into each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTime(Arc<str>);

impl EventTime {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for EventTime {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// What Feast prints for "no event time".
const NO_TIME: &str = "1970-01-01T00:00:00Z";

impl FeatureStore {
    /// The latest values for each entity row, judged for TTL against `now_us`.
    pub async fn get_online_features(
        &self,
        applied: &Applied,
        request: &OnlineRequest,
        now_us: i64,
        max_entities: usize,
    ) -> Result<OnlineResponse> {
        let plan = applied.read_plan(PlanKey {
            features: request.features.clone(),
            full_feature_names: request.full_feature_names,
            ignore_ttl: request.answers.expired_as_present,
        })?;
        let views = &plan.views;
        // Every entity column sent comes back first, as Feast echoes them.
        output_columns(
            request.entities.keys().map(String::as_str),
            views,
            request.full_feature_names,
        )?;
        let columns: Vec<(&String, &Vec<Json>)> = request
            .entities
            .iter()
            .map(|(name, values)| {
                values.as_array().map(|v| (name, v)).ok_or_else(|| {
                    StoreError::Request(format!("entities.{name} must be a list of values"))
                })
            })
            .collect::<Result<_>>()?;
        let rows = columns.first().map_or(0, |(_, v)| v.len());
        if let Some((name, values)) = columns.iter().find(|(_, v)| v.len() != rows) {
            return Err(StoreError::Request(format!(
                "entities.{name} has {} values, other columns have {rows}",
                values.len()
            )));
        }
        if rows > max_entities {
            return Err(StoreError::Request(format!(
                "{rows} entities in one request, over the limit of {max_entities}"
            )));
        }

        let online = self.online().await?;
        // Per requested view, its answer for each entity row.
        let mut answers: Vec<Option<Vec<quiver_online::ViewValues>>> = vec![None; views.len()];
        for group in &plan.groups {
            let mut key_columns = Vec::with_capacity(group.keys.len());
            for (name, _) in &group.keys {
                let values = match request.entities.get(name).and_then(Json::as_array) {
                    Some(values) => values.as_slice(),
                    // No rows: nothing to look up, so no key is missing.
                    None if rows == 0 => &[],
                    None => {
                        return Err(StoreError::Request(format!(
                            "missing entity key `{name}` needed by view `{}`",
                            views[group.members[0]].view.name()
                        )));
                    }
                };
                key_columns.push(values);
            }
            let mut keys = Vec::with_capacity(rows);
            for row in 0..rows {
                let mut pairs = Vec::with_capacity(group.keys.len());
                for ((name, dtype), values) in group.keys.iter().zip(&key_columns) {
                    let value = key_from_json(&values[row], *dtype)
                        .map_err(|e| StoreError::Request(format!("entities.{name}[{row}]: {e}")))?;
                    pairs.push((name.clone(), value));
                }
                keys.push(EntityKey::new(pairs)?);
            }
            let mut per_view: Vec<Vec<quiver_online::ViewValues>> = group
                .members
                .iter()
                .map(|_| Vec::with_capacity(rows))
                .collect();
            for per_key in online.read(&keys, &group.reads, now_us).await? {
                for (list, answer) in per_view.iter_mut().zip(per_key) {
                    list.push(answer);
                }
            }
            for (&i, list) in group.members.iter().zip(per_view) {
                answers[i] = Some(list);
            }
        }

        let mut feature_names = Vec::new();
        let mut results = Vec::new();
        for (name, values) in &columns {
            feature_names.push((*name).clone());
            results.push(OnlineResult {
                values: echoed(values, key_type(&applied.spec, views, name)),
                statuses: vec![Status::Present; rows],
                event_timestamps: vec![EventTime(NO_TIME.into()); rows],
            });
        }
        for (view, answer) in views.iter().zip(&answers) {
            let Some(answer) = answer else { continue };
            // One event time per entity row, shared by the view's features.
            let times: Vec<EventTime> = answer
                .iter()
                .map(|read| {
                    EventTime(
                        read.event_ts
                            .map_or_else(|| NO_TIME.into(), |t| rfc3339(t).into()),
                    )
                })
                .collect();
            for (index, (_, output)) in view.features.iter().enumerate() {
                feature_names.push(output.clone());
                let mut result = OnlineResult {
                    values: Vec::with_capacity(rows),
                    statuses: Vec::with_capacity(rows),
                    event_timestamps: Vec::with_capacity(rows),
                };
                for (read, time) in answer.iter().zip(&times) {
                    result.values.push(
                        read.values
                            .get(index)
                            .map_or(Json::Null, |v| request.answers.json(v)),
                    );
                    result.statuses.push(read.status);
                    result.event_timestamps.push(time.clone());
                }
                results.push(result);
            }
        }
        Ok(OnlineResponse {
            metadata: Metadata { feature_names },
            results,
        })
    }
}

/// The declared type of entity column `name`: the join key of that name of a
/// requested view, else of any entity; `None` for a column that is no join key.
fn key_type(spec: &RepoSpec, views: &[ViewRequest], name: &str) -> Option<ValueType> {
    views
        .iter()
        .flat_map(|v| &v.view.keys)
        .chain(spec.entities.iter().flat_map(|e| &e.join_keys))
        .find(|k| k.name == name)
        .map(|k| k.dtype)
}

/// An entity column as it is echoed: a join key's values in the key's type
/// (`"1001"` sent for an int64 key comes back as `1001`, as Feast answers),
/// any other column, and a value that is no valid key (only possible in a
/// column no requested view reads), as sent.
fn echoed(values: &[Json], dtype: Option<ValueType>) -> Vec<Json> {
    let Some(dtype) = dtype else {
        return values.to_vec();
    };
    values
        .iter()
        .map(|value| key_from_json(value, dtype).map_or_else(|_| value.clone(), |k| json_value(&k)))
        .collect()
}
