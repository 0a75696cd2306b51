//! What a Flight call asks for: the JSON of its descriptor command (or
//! ticket). An object with `"api"` is Feast's remote offline store protocol
//! (`feast/infra/offline_stores/remote.py`); any other object is quiver's own
//! training-set request, with the fields of `POST /get-historical-features`.
//!
//! Feast's fields that quiver does not need are accepted and ignored:
//! `command_id`, `project` (one server serves one project), `feature_view_names`
//! (the references name the views), `timeout`, `progress`, `allow_overwrite` (a saved dataset is
//! never overwritten).

use quiver_store::PullRequest;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::historical::HistoricalParams;

/// One Flight call's request.
#[derive(Debug)]
pub enum Call {
    Feast(FeastCall),
    TrainingSet(HistoricalParams),
}

/// Feast's calls, by their `api`.
#[derive(Debug, Deserialize)]
#[serde(tag = "api", rename_all = "snake_case")]
pub enum FeastCall {
    GetHistoricalFeatures(HistoricalCommand),
    PullLatestFromTableOrQuery(PullCommand),
    PullAllFromTableOrQuery(PullCommand),
    GetTableColumnNamesAndTypesFromDataSource(DataSourceCommand),
    ValidateDataSource(DataSourceCommand),
    OfflineWriteBatch(WriteBatchCommand),
    Persist(PersistCommand),
    WriteLoggedFeatures(serde::de::IgnoredAny),
}

/// `get_historical_features`: the `view:feature` references the client
/// resolved from its registry (they name the views, so `feature_view_names`
/// is not read); the entity rows come as the upload.
#[derive(Debug, Deserialize)]
pub struct HistoricalCommand {
    pub feature_refs: Vec<String>,
    #[serde(default)]
    pub full_feature_names: bool,
    #[serde(default)]
    pub name_aliases: Vec<Option<String>>,
    /// Entity-less retrieval (a date range instead of entity rows).
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub entity_df_sql: Option<String>,
}

/// `pull_latest_from_table_or_query` and `pull_all_from_table_or_query`.
#[derive(Debug, Deserialize)]
pub struct PullCommand {
    pub data_source_name: String,
    pub join_key_columns: Vec<String>,
    pub feature_name_columns: Vec<String>,
    pub timestamp_field: String,
    pub created_timestamp_column: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

/// A data source as Feast's client sends it: `str(DataSource)`, the JSON of
/// its protobuf message.
#[derive(Debug, Deserialize)]
pub struct DataSourceCommand {
    pub data_source_proto: String,
}

/// `offline_write_batch`: rows of one view, as the upload.
#[derive(Debug, Deserialize)]
pub struct WriteBatchCommand {
    pub feature_view_names: Vec<String>,
    #[serde(default)]
    pub name_aliases: Vec<Option<String>>,
}

/// `persist`: a retrieval (its command's fields beside these) kept as a saved dataset.
#[derive(Debug, Clone, Deserialize)]
pub struct PersistCommand {
    pub retrieve_func: String,
    pub data_source_name: String,
    pub command_id: Option<String>,
    #[serde(flatten)]
    pub retrieval: Map<String, Value>,
}

/// Parses a descriptor command or ticket.
pub fn parse(bytes: &[u8]) -> Result<Call, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the Flight command is not JSON ({e}); send a JSON object"
        ))
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::bad_request(
            "the Flight command must be a JSON object",
        ));
    };
    if object.contains_key("api") {
        serde_json::from_value(Value::Object(object))
            .map(Call::Feast)
            .map_err(|e| ApiError::bad_request(format!("Feast's command: {e}")))
    } else {
        serde_json::from_value(Value::Object(object))
            .map(Call::TrainingSet)
            .map_err(|e| ApiError::bad_request(format!("the training-set request: {e}")))
    }
}

impl HistoricalCommand {
    /// Refuses what quiver cannot answer: view aliases and entity-less (SQL
    /// or date range) retrieval. `project` is not compared: one server serves
    /// one project, whatever the client's registry calls it (as over HTTP).
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(alias) = self.name_aliases.iter().flatten().next() {
            return Err(ApiError::bad_request(format!(
                "feature view aliases (`{alias}`) are not supported; request the view by its name"
            )));
        }
        if self.entity_df_sql.is_some() {
            return Err(ApiError::bad_request(
                "entity rows as SQL are not supported: send the entity rows as a table (a DataFrame)",
            ));
        }
        if self.start_date.is_some() || self.end_date.is_some() {
            return Err(ApiError::bad_request(
                "retrieval by `start_date`/`end_date` is not supported: send entity rows with their times",
            ));
        }
        Ok(())
    }
}

impl PullCommand {
    pub fn request(&self, latest: bool) -> Result<PullRequest, ApiError> {
        let instant = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    quiver_offline::parse_instant(t)
                        .map_err(|e| ApiError::bad_request(format!("`{field}`: {e}")))
                })
                .transpose()
        };
        let start = instant("start_date", &self.start_date)?;
        let end = instant("end_date", &self.end_date)?;
        let window = match (start, end) {
            (Some(start), Some(end)) => Some(quiver_offline::TimeWindow::new(start, end)?),
            (None, None) if !latest => None,
            _ => {
                return Err(ApiError::bad_request(
                    "give both `start_date` and `end_date`",
                ));
            }
        };
        Ok(PullRequest {
            source: self.data_source_name.clone(),
            join_keys: self.join_key_columns.clone(),
            features: self.feature_name_columns.clone(),
            timestamp_field: self.timestamp_field.clone(),
            created_field: self.created_timestamp_column.clone(),
            window,
            latest,
        })
    }
}

impl DataSourceCommand {
    /// The name in the data source's JSON.
    pub fn source_name(&self) -> Result<String, ApiError> {
        serde_json::from_str::<Value>(&self.data_source_proto)
            .ok()
            .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
            .filter(|name| !name.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "`data_source_proto` must be a data source's JSON with its `name`",
                )
            })
    }
}

impl WriteBatchCommand {
    pub fn view(&self) -> Result<&str, ApiError> {
        match (
            self.feature_view_names.as_slice(),
            self.name_aliases.iter().flatten().next(),
        ) {
            (_, Some(alias)) => Err(ApiError::bad_request(format!(
                "feature view aliases (`{alias}`) are not supported"
            ))),
            ([view], None) => Ok(view),
            _ => Err(ApiError::bad_request(
                "`feature_view_names` must name exactly one view",
            )),
        }
    }
}

impl PersistCommand {
    /// The retrieval to keep; only training sets can be saved datasets.
    pub fn historical(&self) -> Result<HistoricalCommand, ApiError> {
        if self.retrieve_func != "get_historical_features" {
            return Err(ApiError::bad_request(format!(
                "only get_historical_features can be persisted as a saved dataset, not {}",
                self.retrieve_func
            )));
        }
        serde_json::from_value(Value::Object(self.retrieval.clone()))
            .map_err(|e| ApiError::bad_request(format!("Feast's persist command: {e}")))
    }

    /// The saved dataset's name (Feast keeps the name given to
    /// `create_saved_dataset` in its own registry and never sends it): the
    /// storage's data source name, a file storage's file name without its
    /// extension (`saved.parquet` → `saved`), else `feast_<command_id>`.
    pub fn dataset_name(&self) -> String {
        let file_name = self.data_source_name.rsplit('/').next().unwrap_or_default();
        let stem = file_name.split('.').next().unwrap_or_default();
        if quiver_core::is_identifier(stem) {
            return stem.to_string();
        }
        let id = self.command_id.as_deref().unwrap_or("unnamed");
        let id: String = id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("feast_{id}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn feast(value: Value) -> FeastCall {
        match parse(value.to_string().as_bytes()).unwrap() {
            Call::Feast(call) => call,
            other => panic!("not Feast's: {other:?}"),
        }
    }

    #[test]
    fn feasts_historical_command_is_read_in_full() {
        // What feast 0.67's RemoteOfflineStore sends.
        let call = feast(json!({
            "command_id": "5f0c", "api": "get_historical_features",
            "feature_view_names": ["driver_hourly_stats"],
            "feature_refs": ["driver_hourly_stats:conv_rate"],
            "project": "driver_ranking", "full_feature_names": true,
            "name_aliases": [null], "start_date": null,
        }));
        let FeastCall::GetHistoricalFeatures(command) = call else {
            panic!("{call:?}")
        };
        assert!(command.full_feature_names);
        command.check().unwrap();
    }

    #[test]
    fn aliases_and_sql_entities_are_refused_by_name() {
        let call = feast(json!({
            "api": "get_historical_features", "feature_view_names": ["v"], "feature_refs": ["v:f"],
            "project": "p", "full_feature_names": false, "name_aliases": ["w"],
            "entity_df_sql": "SELECT 1",
        }));
        let FeastCall::GetHistoricalFeatures(command) = call else {
            panic!("{call:?}")
        };
        assert!(
            command
                .check()
                .unwrap_err()
                .message
                .contains("aliases (`w`)")
        );
    }

    #[test]
    fn pulls_read_their_window_naive_times_as_utc() {
        let call = feast(json!({
            "command_id": "x", "api": "pull_latest_from_table_or_query",
            "data_source_name": "driver_stats_source", "join_key_columns": ["driver_id"],
            "feature_name_columns": ["conv_rate"], "timestamp_field": "event_timestamp",
            "created_timestamp_column": "created",
            "start_date": "2024-01-01T00:00:00", "end_date": "2024-01-02T00:00:00+00:00",
        }));
        let FeastCall::PullLatestFromTableOrQuery(command) = call else {
            panic!("{call:?}")
        };
        let request = command.request(true).unwrap();
        let window = request.window.unwrap();
        assert_eq!(window.end_us - window.start_us, 86_400_000_000);
        assert_eq!(request.created_field.as_deref(), Some("created"));
        let all = feast(json!({
            "api": "pull_all_from_table_or_query", "data_source_name": "s",
            "join_key_columns": [], "feature_name_columns": [], "timestamp_field": "ts",
            "created_timestamp_column": null, "start_date": null, "end_date": null,
        }));
        let FeastCall::PullAllFromTableOrQuery(command) = all else {
            panic!("{all:?}")
        };
        assert!(command.request(false).unwrap().window.is_none());
        assert!(command.request(true).is_err());
    }

    #[test]
    fn a_data_source_is_named_by_its_json() {
        let command = DataSourceCommand {
            data_source_proto: json!({"name": "driver_stats_source", "type": "BATCH_FILE"})
                .to_string(),
        };
        assert_eq!(command.source_name().unwrap(), "driver_stats_source");
        let nameless = DataSourceCommand {
            data_source_proto: "not json".into(),
        };
        assert!(nameless.source_name().is_err());
    }

    #[test]
    fn persist_keeps_the_retrievals_fields() {
        let call = feast(json!({
            "command_id": "ab-12", "api": "persist", "data_source_name": "",
            "allow_overwrite": false, "timeout": null, "retrieve_func": "get_historical_features",
            "feature_view_names": ["v"], "feature_refs": ["v:f"], "project": "p",
            "full_feature_names": false, "name_aliases": [null],
        }));
        let FeastCall::Persist(command) = call else {
            panic!("{call:?}")
        };
        assert_eq!(command.historical().unwrap().feature_refs, vec!["v:f"]);
        assert_eq!(command.dataset_name(), "feast_ab_12");
        let named = |name: &str| PersistCommand {
            data_source_name: name.into(),
            ..command.clone()
        };
        assert_eq!(named("/tmp/w/saved.parquet").dataset_name(), "saved");
        assert_eq!(named("training_set").dataset_name(), "training_set");
        assert_eq!(named("s3://b/2024.parquet").dataset_name(), "feast_ab_12");
    }

    #[test]
    fn other_objects_are_quivers_training_set_request() {
        let call = parse(br#"{"features": ["v:f"], "full_feature_names": true}"#).unwrap();
        let Call::TrainingSet(params) = call else {
            panic!("{call:?}")
        };
        assert!(params.full_feature_names);
        let error = parse(br#"{"feature": ["v:f"]}"#).unwrap_err();
        assert!(
            error.message.contains("unknown field `feature`"),
            "{}",
            error.message
        );
        let error = parse(br#"{"api": "drop_everything"}"#).unwrap_err();
        assert!(
            error.message.contains("unknown variant `drop_everything`"),
            "{}",
            error.message
        );
        assert!(parse(b"[1]").is_err());
    }
}
