//! What each Flight call does, over the same store operations as HTTP: reads
//! answer a table, writes answer a JSON summary.

use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use quiver_core::auth::Scope;
use quiver_offline::{StoredType, TableRows};
use quiver_store::WriteTarget;
use serde_json::{Map, Value, json};

use super::command::{Call, DataSourceCommand, FeastCall, HistoricalCommand};
use super::tables::{entity_rows, entity_timestamp_column};
use crate::entities_json::entities_from_json;
use crate::error::ApiError;
use crate::historical::{HistoricalParams, training_set};
use crate::state::AppState;

/// Which API created a saved dataset.
const CREATED_BY: &str = "flight";

impl Call {
    /// The scope a token needs for this call.
    pub fn scope(&self) -> Scope {
        match self {
            Call::Feast(FeastCall::OfflineWriteBatch(_) | FeastCall::WriteLoggedFeatures(_)) => {
                Scope::Write
            }
            _ => Scope::ReadOffline,
        }
    }

    /// A call that answers a table (`do_exchange`, `do_get`), over the uploaded table if any.
    pub async fn read(
        self,
        state: &AppState,
        upload: Option<RecordBatch>,
    ) -> Result<Arc<dyn TableRows>, ApiError> {
        match self {
            Call::TrainingSet(mut params) => {
                let entities = match (params.entities.take(), upload.and_then(entity_rows)) {
                    (Some(columns), None) => {
                        entities_from_json(&columns, params.timestamp_column())?
                    }
                    (None, Some(rows)) => rows,
                    (Some(_), Some(_)) => {
                        return Err(ApiError::bad_request(
                            "give the entity rows once: as the uploaded table or as `entities`, not both",
                        ));
                    }
                    (None, None) => {
                        return Err(ApiError::bad_request(
                            "no entity rows: upload them as a table (do_exchange) or give `entities` in the ticket",
                        ));
                    }
                };
                Ok(training_set(state, &params, entities, CREATED_BY)
                    .await?
                    .rows)
            }
            Call::Feast(FeastCall::GetHistoricalFeatures(command)) => {
                feast_training_set(state, &command, upload, None).await
            }
            Call::Feast(FeastCall::PullLatestFromTableOrQuery(command)) => Ok(Arc::new(
                state
                    .store
                    .pull(&state.applied()?, &command.request(true)?)
                    .await?,
            )),
            Call::Feast(FeastCall::PullAllFromTableOrQuery(command)) => Ok(Arc::new(
                state
                    .store
                    .pull(&state.applied()?, &command.request(false)?)
                    .await?,
            )),
            Call::Feast(FeastCall::GetTableColumnNamesAndTypesFromDataSource(command)) => {
                Ok(Arc::new(column_names_and_types(state, &command).await?))
            }
            Call::Feast(other) => Err(ApiError::bad_request(format!(
                "{} writes: send it with do_put",
                api_name(&other)
            ))),
        }
    }

    /// A call that writes (`do_put`), over the uploaded table.
    pub async fn write(
        self,
        state: &AppState,
        upload: Option<RecordBatch>,
    ) -> Result<Value, ApiError> {
        let Call::Feast(call) = self else {
            return Err(ApiError::bad_request(
                "a training-set request answers rows: send it with do_exchange or do_get",
            ));
        };
        match call {
            FeastCall::OfflineWriteBatch(command) => {
                let view = command.view()?;
                let rows = upload.ok_or_else(|| {
                    ApiError::bad_request(
                        "offline_write_batch needs the rows as the uploaded table",
                    )
                })?;
                let records = records(&rows)?;
                let outcome = state
                    .store
                    .write_view_records(&state.applied()?, view, &records, WriteTarget::Offline)
                    .await?;
                for (view, checks) in &outcome.checks {
                    state.metrics.observe_checks(view, checks);
                }
                Ok(serde_json::to_value(outcome).unwrap_or(Value::Null))
            }
            FeastCall::Persist(command) => {
                let historical = command.historical()?;
                let name = command.dataset_name();
                let rows =
                    feast_training_set(state, &historical, upload, Some(name.clone())).await?;
                Ok(json!({"dataset": name, "rows": rows.num_rows()}))
            }
            FeastCall::ValidateDataSource(command) => {
                let columns = source_columns(state, &command).await?;
                Ok(json!({"source": command.source_name()?, "columns": columns.len()}))
            }
            FeastCall::WriteLoggedFeatures(_) => Err(ApiError::bad_request(
                "feature logging (write_logged_features) is not supported by quiver",
            )),
            other => Err(ApiError::bad_request(format!(
                "{} answers rows: send it with do_exchange",
                api_name(&other)
            ))),
        }
    }
}

fn api_name(call: &FeastCall) -> &'static str {
    match call {
        FeastCall::GetHistoricalFeatures(_) => "get_historical_features",
        FeastCall::PullLatestFromTableOrQuery(_) => "pull_latest_from_table_or_query",
        FeastCall::PullAllFromTableOrQuery(_) => "pull_all_from_table_or_query",
        FeastCall::GetTableColumnNamesAndTypesFromDataSource(_) => {
            "get_table_column_names_and_types_from_data_source"
        }
        FeastCall::ValidateDataSource(_) => "validate_data_source",
        FeastCall::OfflineWriteBatch(_) => "offline_write_batch",
        FeastCall::Persist(_) => "persist",
        FeastCall::WriteLoggedFeatures(_) => "write_logged_features",
    }
}

/// Feast's `get_historical_features`: the client's entity rows and the
/// references it resolved, through the same training-set path as HTTP.
async fn feast_training_set(
    state: &AppState,
    command: &HistoricalCommand,
    upload: Option<RecordBatch>,
    save_as: Option<String>,
) -> Result<Arc<dyn TableRows>, ApiError> {
    command.check()?;
    let rows = upload.and_then(entity_rows).ok_or_else(|| {
        ApiError::bad_request(
            "get_historical_features needs entity rows: quiver does not retrieve by a date range alone",
        )
    })?;
    let params = HistoricalParams {
        features: Some(command.feature_refs.clone()),
        full_feature_names: command.full_feature_names,
        timestamp_column: Some(entity_timestamp_column(&rows)?),
        save_as,
        ..HistoricalParams::default()
    };
    Ok(training_set(state, &params, rows, CREATED_BY).await?.rows)
}

async fn source_columns(
    state: &AppState,
    command: &DataSourceCommand,
) -> Result<Vec<quiver_offline::SourceColumn>, ApiError> {
    let name = command.source_name()?;
    Ok(state.store.source_columns(&state.applied()?, &name).await?)
}

/// Feast's column listing: `name` and `type`, types as pyarrow (or Postgres) names them.
async fn column_names_and_types(
    state: &AppState,
    command: &DataSourceCommand,
) -> Result<RecordBatch, ApiError> {
    let columns = source_columns(state, command).await?;
    let names: StringArray = columns.iter().map(|c| Some(c.name.as_str())).collect();
    let types: StringArray = columns.iter().map(|c| Some(type_name(&c.stored))).collect();
    let schema = Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(Arc::new(schema), vec![Arc::new(names), Arc::new(types)])
        .map_err(|e| ApiError::bad_request(format!("cannot list the columns: {e}")))
}

/// A stored type as Feast's client maps it (pyarrow's names for Parquet).
fn type_name(stored: &StoredType) -> String {
    match stored {
        StoredType::Arrow(data_type) => pyarrow_name(data_type),
        StoredType::Postgres(name) => name.to_lowercase(),
        StoredType::Partition => "string".into(),
    }
}

fn pyarrow_name(data_type: &DataType) -> String {
    let unit = |unit: &TimeUnit| match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    };
    match data_type {
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "halffloat".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::Utf8View => "string".into(),
        DataType::LargeUtf8 => "large_string".into(),
        DataType::Binary | DataType::BinaryView => "binary".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::Date32 => "date32[day]".into(),
        DataType::Timestamp(u, None) => format!("timestamp[{}]", unit(u)),
        DataType::Timestamp(u, Some(zone)) => format!("timestamp[{}, tz={zone}]", unit(u)),
        DataType::List(item) | DataType::LargeList(item) => {
            format!("list<item: {}>", pyarrow_name(item.data_type()))
        }
        other => other.to_string().to_lowercase(),
    }
}

/// An uploaded table as one JSON record per row (nulls kept), for the
/// decoding and checks every written row goes through.
fn records(rows: &RecordBatch) -> Result<Vec<Map<String, Value>>, ApiError> {
    let rows = entity_rows(rows.clone())
        .ok_or_else(|| ApiError::bad_request("the uploaded table holds no rows"))?;
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::JsonArray>(Vec::new());
    writer
        .write(&rows)
        .and_then(|()| writer.finish())
        .map_err(|e| ApiError::bad_request(format!("the uploaded rows: {e}")))?;
    serde_json::from_slice(&writer.into_inner())
        .map_err(|e| ApiError::bad_request(format!("the uploaded rows: {e}")))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Float32Array, Int64Array, TimestampNanosecondArray};

    use super::*;

    #[test]
    fn types_are_named_as_pyarrow_names_them() {
        assert_eq!(pyarrow_name(&DataType::Float32), "float");
        assert_eq!(pyarrow_name(&DataType::Int64), "int64");
        assert_eq!(
            pyarrow_name(&DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            )),
            "timestamp[us, tz=UTC]"
        );
        assert_eq!(type_name(&StoredType::Postgres("INT8".into())), "int8");
    }

    #[test]
    fn uploaded_rows_become_records_with_their_nulls() {
        let schema = Schema::new(vec![
            Field::new("driver_id", DataType::Int64, true),
            Field::new("conv_rate", DataType::Float32, true),
            Field::new(
                "event_timestamp",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                true,
            ),
            Field::new(
                "created",
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                true,
            ),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![1001])),
                Arc::new(Float32Array::from(vec![0.1])),
                Arc::new(
                    TimestampNanosecondArray::from(vec![1_700_000_000_000_000_000])
                        .with_timezone("UTC"),
                ),
                Arc::new(TimestampNanosecondArray::from(vec![None::<i64>])),
            ],
        )
        .unwrap();
        let records = records(&batch).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["driver_id"], 1001);
        assert!(records[0]["created"].is_null());
        let time = records[0]["event_timestamp"].as_str().unwrap();
        assert_eq!(
            quiver_offline::parse_instant(time).unwrap().timestamp(),
            1_700_000_000
        );
        // float32 printed short reads back as the same float32.
        assert_eq!(records[0]["conv_rate"].as_f64().unwrap() as f32, 0.1f32);
    }
}
