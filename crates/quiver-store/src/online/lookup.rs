//! Online lookups, in the shape of Feast's feature server: the latest values
//! of the requested features for a batch of entities, one store round trip per
//! set of join keys.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, RecordBatch, RecordBatchOptions, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use quiver_core::{RepoSpec, ValueType};
use quiver_offline::pit::{FeatureSelection, ViewRequest, output_columns};
use quiver_offline::{OfflineError, arrow_type, timestamp_type};
use quiver_online::{EntityKey, Status, Value, ViewValues};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::convert::{StoredValue, json_value, key_from_json, value_column};
use super::plan::{PlanKey, ReadPlan};
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
    /// A stored value as this answer writes it.
    fn answer(self, value: Value) -> AnswerValue {
        match value {
            Value::Float32(v) if self.float32_as_double => {
                AnswerValue::Stored(Value::Float64(f64::from(v)))
            }
            other => AnswerValue::Stored(other),
        }
    }
}

/// One cell of an answer: an entity value as sent (or as its key type), or a
/// stored value, serialized straight from its type (a float32 as its shortest
/// text) with no JSON tree built per cell.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerValue {
    Json(Json),
    Stored(Value),
}

impl AnswerValue {
    /// The cell as a JSON value (what it serializes as).
    pub fn to_json(&self) -> Json {
        match self {
            AnswerValue::Json(json) => json.clone(),
            AnswerValue::Stored(value) => json_value(value),
        }
    }
}

impl Serialize for AnswerValue {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match self {
            AnswerValue::Json(json) => json.serialize(serializer),
            AnswerValue::Stored(value) => StoredValue(value).serialize(serializer),
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
    pub values: Vec<AnswerValue>,
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

/// A lookup's answer before it is written out: the entity columns as sent
/// and, per requested view, its values for each entity row. Written as Feast's
/// JSON ([`OnlineAnswer::into_feast`]) or as one Arrow table
/// ([`OnlineAnswer::to_arrow`]).
pub struct OnlineAnswer<'r> {
    request: &'r OnlineRequest,
    plan: Arc<ReadPlan>,
    /// The entity columns in the request's order, with a join key's type.
    columns: Vec<(&'r String, &'r [Json], Option<ValueType>)>,
    /// Per view of the plan, its answer for each entity row.
    answers: Vec<Vec<ViewValues>>,
    rows: usize,
}

impl FeatureStore {
    /// The latest values for each entity row, judged for TTL against `now_us`,
    /// in Feast's shape.
    pub async fn get_online_features(
        &self,
        applied: &Applied,
        request: &OnlineRequest,
        now_us: i64,
        max_entities: usize,
    ) -> Result<OnlineResponse> {
        Ok(self
            .lookup_online(applied, request, now_us, max_entities)
            .await?
            .into_feast())
    }

    /// The latest values for each entity row, judged for TTL against `now_us`.
    pub async fn lookup_online<'r>(
        &self,
        applied: &Applied,
        request: &'r OnlineRequest,
        now_us: i64,
        max_entities: usize,
    ) -> Result<OnlineAnswer<'r>> {
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
        let columns: Vec<(&String, &[Json], Option<ValueType>)> = request
            .entities
            .iter()
            .map(|(name, values)| {
                let values = values.as_array().ok_or_else(|| {
                    StoreError::Request(format!("entities.{name} must be a list of values"))
                })?;
                Ok((
                    name,
                    values.as_slice(),
                    key_type(&applied.spec, views, name),
                ))
            })
            .collect::<Result<_>>()?;
        let rows = columns.first().map_or(0, |(_, v, _)| v.len());
        if let Some((name, values, _)) = columns.iter().find(|(_, v, _)| v.len() != rows) {
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
        let mut answers: Vec<Vec<ViewValues>> = vec![Vec::new(); views.len()];
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
            for &i in &group.members {
                answers[i].reserve(rows);
            }
            for per_key in online.read(&keys, &group.reads, now_us).await? {
                for (&i, answer) in group.members.iter().zip(per_key) {
                    answers[i].push(answer);
                }
            }
        }
        Ok(OnlineAnswer {
            request,
            plan,
            columns,
            answers,
            rows,
        })
    }
}

impl OnlineAnswer<'_> {
    /// Feast's JSON shape: per column its values, statuses and event times.
    pub fn into_feast(self) -> OnlineResponse {
        let rows = self.rows;
        let mut feature_names = Vec::new();
        let mut results = Vec::new();
        for (name, values, dtype) in &self.columns {
            feature_names.push((*name).clone());
            results.push(OnlineResult {
                values: echoed(values, *dtype),
                statuses: vec![Status::Present; rows],
                event_timestamps: vec![EventTime(NO_TIME.into()); rows],
            });
        }
        let feast = self.request.answers;
        for (view, mut answer) in self.plan.views.iter().zip(self.answers) {
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
                for (read, time) in answer.iter_mut().zip(&times) {
                    // Each value is read once: moved out, not copied.
                    let value = read
                        .values
                        .get_mut(index)
                        .map_or(Value::Null, |v| std::mem::replace(v, Value::Null));
                    result.values.push(feast.answer(value));
                    result.statuses.push(read.status);
                    result.event_timestamps.push(time.clone());
                }
                results.push(result);
            }
        }
        OnlineResponse {
            metadata: Metadata { feature_names },
            results,
        }
    }

    /// One table, a row per entity row: the entity columns (a join key in its
    /// declared type, any other column as its JSON text), then per feature
    /// `NAME` in its declared type, `NAME__status` and `NAME__event_timestamp`
    /// (UTC, null where nothing was found).
    pub fn to_arrow(&self) -> Result<RecordBatch> {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (name, values, dtype) in &self.columns {
            let (field, array) = entity_column(name, values, *dtype)?;
            fields.push(field);
            arrays.push(array);
        }
        let utc = timestamp_type();
        for (view, answer) in self.plan.views.iter().zip(&self.answers) {
            let statuses: ArrayRef = Arc::new(StringArray::from_iter_values(
                answer.iter().map(|read| read.status.as_str()),
            ));
            let times: ArrayRef = Arc::new(
                TimestampMicrosecondArray::from_iter(answer.iter().map(|read| read.event_ts))
                    .with_data_type(utc.clone()),
            );
            for (index, (feature, output)) in view.features.iter().enumerate() {
                let data_type = view
                    .view
                    .schema
                    .field_with_name(feature)
                    .map_err(OfflineError::from)?
                    .data_type();
                let values: Vec<Value> = answer
                    .iter()
                    .map(|read| read.values.get(index).cloned().unwrap_or(Value::Null))
                    .collect();
                fields.push(Field::new(output, data_type.clone(), true));
                arrays.push(value_column(&values, data_type)?);
                fields.push(Field::new(
                    format!("{output}__status"),
                    DataType::Utf8,
                    false,
                ));
                arrays.push(statuses.clone());
                fields.push(Field::new(
                    format!("{output}__event_timestamp"),
                    utc.clone(),
                    true,
                ));
                arrays.push(times.clone());
            }
        }
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        Ok(
            RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
                .map_err(OfflineError::from)?,
        )
    }
}

/// An entity column as a typed Arrow column: a join key in its type where
/// every value is a valid key, otherwise each value's JSON text.
fn entity_column(
    name: &str,
    values: &[Json],
    dtype: Option<ValueType>,
) -> Result<(Field, ArrayRef)> {
    if let Some(dtype) = dtype {
        let keys: std::result::Result<Vec<Value>, String> =
            values.iter().map(|v| key_from_json(v, dtype)).collect();
        if let Ok(keys) = keys {
            let data_type = arrow_type(dtype);
            let array = value_column(&keys, &data_type)?;
            return Ok((Field::new(name, data_type, true), array));
        }
    }
    let text = StringArray::from_iter(values.iter().map(|v| match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }));
    Ok((Field::new(name, DataType::Utf8, true), Arc::new(text)))
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
fn echoed(values: &[Json], dtype: Option<ValueType>) -> Vec<AnswerValue> {
    values
        .iter()
        .map(
            |value| match dtype.map(|dtype| key_from_json(value, dtype)) {
                Some(Ok(key)) => AnswerValue::Stored(key),
                _ => AnswerValue::Json(value.clone()),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written straight from the value, a cell is the same text as its JSON tree.
    #[test]
    fn stored_values_serialize_as_their_json() {
        let mut values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int32(-7),
            Value::Int64(i64::MIN),
            Value::Float64(0.1),
            Value::Float64(f64::NAN),
            Value::Float32(f32::INFINITY),
            Value::String("a \"quoted\"\n line".into()),
            Value::Bytes(vec![0, 1, 255]),
            Value::Timestamp(1_704_067_200_123_456),
            Value::List(vec![Value::Float32(0.1), Value::Null, Value::Int64(3)]),
        ];
        // Floats of every magnitude, including ones whose shortest text has an exponent.
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let float = f32::from_bits(x);
            if float.is_finite() {
                values.push(Value::Float32(float));
            }
        }
        values.extend([1e-7f32, 3.402_823_5e38, 0.1219, 1.0, -0.0].map(Value::Float32));
        for value in values {
            let written = serde_json::to_string(&AnswerValue::Stored(value.clone())).unwrap();
            let tree = json_value(&value);
            assert_eq!(written, serde_json::to_string(&tree).unwrap(), "{value:?}");
        }
    }
}
