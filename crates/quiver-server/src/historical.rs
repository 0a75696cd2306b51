//! `POST /get-historical-features`: a training set for entity rows sent inline
//! as JSON or uploaded as Arrow IPC / Parquet, answered as Arrow IPC stream,
//! Parquet or JSON according to `Accept`.

use arrow::array::RecordBatch;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use quiver_offline::formats::{TableFormat, read_table};
use quiver_offline::pit::{ENTITY_TIMESTAMP, EntityFrame, FeatureSelection, HistoricalRequest};
use quiver_store::TrainingSet;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::body::streamed;
use crate::entities_json::entities_from_json;
use crate::error::{ApiError, parse_json};
use crate::state::AppState;

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";
pub const ARROW_FILE: &str = "application/vnd.apache.arrow.file";
pub const PARQUET: &str = "application/vnd.apache.parquet";
pub const JSON: &str = "application/json";

/// The request as JSON (entities inline) or as query parameters (entities uploaded).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoricalParams {
    /// `view:feature` references; in a query string, comma separated.
    #[serde(default, deserialize_with = "list_or_csv")]
    pub features: Option<Vec<String>>,
    pub feature_service: Option<String>,
    #[serde(default)]
    pub full_feature_names: bool,
    #[serde(default)]
    pub as_of_known_time: bool,
    /// Keep the result as a saved dataset with its lineage.
    pub save_as: Option<String>,
    /// The entity timestamp column (default `event_timestamp`).
    pub timestamp_column: Option<String>,
    /// JSON bodies only: entity rows as columns.
    #[schema(value_type = Option<HashMap<String, Vec<serde_json::Value>>>)]
    #[param(value_type = Option<Object>)]
    pub entities: Option<Map<String, Value>>,
}

fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(Option::<ListOrCsv>::deserialize(d)?.map(|v| match v {
        ListOrCsv::List(list) => list,
        ListOrCsv::Csv(text) => text
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    }))
}

#[utoipa::path(post, path = "/get-historical-features",
    params(HistoricalParams),
    request_body(description = "Entity rows: JSON (`HistoricalParams` with `entities`), or an Arrow IPC or Parquet upload with the options as query parameters",
        content((HistoricalParams = "application/json"), (crate::openapi::Binary = "application/vnd.apache.arrow.stream"), (crate::openapi::Binary = "application/vnd.apache.arrow.file"), (crate::openapi::Binary = "application/vnd.apache.parquet"))),
    responses((status = 200, description = "The training set, in the format `Accept` asks for",
        content((Vec<Object> = "application/json"), (crate::openapi::Binary = "application/vnd.apache.arrow.stream"), (crate::openapi::Binary = "application/vnd.apache.parquet"))),
        (status = 400, description = "A bad request", body = crate::openapi::ErrorBody),
        (status = 404, description = "An unknown feature view or feature service", body = crate::openapi::ErrorBody),
        (status = 409, description = "`save_as` names a dataset already saved (or saved by a concurrent request first)", body = crate::openapi::ErrorBody),
        (status = 406, description = "`Accept` names no format the server writes", body = crate::openapi::ErrorBody),
        (status = 415, description = "`Content-Type` names no format the server reads", body = crate::openapi::ErrorBody),
        (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn get_historical_features(
    State(state): State<AppState>,
    Query(query): Query<HistoricalParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let response_format = accepted(&headers)?;
    let (params, entities) = match content_type(&headers)? {
        TableFormat::Json => {
            let mut params: HistoricalParams = parse_json(&body)?;
            let columns = params
                .entities
                .take()
                .ok_or_else(|| ApiError::bad_request("the request has no `entities`"))?;
            let entities = entities_from_json(&columns, params.timestamp_column())?;
            (params, entities)
        }
        format => (query, read_table(format, body)?),
    };
    let set = training_set(&state, &params, entities, "http").await?;

    let mut response = streamed(response_format, set.rows).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime(response_format)),
    );
    response.headers_mut().insert(
        "x-quiver-registry-version",
        HeaderValue::from(set.registry_version),
    );
    Ok(response)
}

impl HistoricalParams {
    /// What the request asks for: exactly one of `features` or `feature_service`.
    pub(crate) fn request(&self) -> Result<HistoricalRequest, ApiError> {
        let features = match (&self.features, &self.feature_service) {
            (Some(list), None) => FeatureSelection::Features(list.clone()),
            (None, Some(service)) => FeatureSelection::Service(service.clone()),
            _ => {
                return Err(ApiError::bad_request(
                    "give exactly one of `features` or `feature_service`",
                ));
            }
        };
        Ok(HistoricalRequest {
            features,
            full_feature_names: self.full_feature_names,
            as_of_known_time: self.as_of_known_time,
        })
    }

    pub(crate) fn timestamp_column(&self) -> &str {
        self.timestamp_column.as_deref().unwrap_or(ENTITY_TIMESTAMP)
    }
}

/// The training set `params` ask for over the entity rows `entities`, kept
/// as a saved dataset when `save_as` names one (`created_by` says through
/// which API): the one path of HTTP and Arrow Flight.
pub(crate) async fn training_set(
    state: &AppState,
    params: &HistoricalParams,
    entities: RecordBatch,
    created_by: &str,
) -> Result<TrainingSet, ApiError> {
    let request = params.request()?;
    let frame = EntityFrame::new(
        entities,
        params.timestamp_column(),
        state.limits.max_entity_rows,
    )?;
    let applied = state.applied()?;
    if let Some(name) = &params.save_as {
        state.store.check_dataset_name(name).await?;
    }
    let set = state.store.training_set(&applied, &frame, &request).await?;
    if let Some(name) = &params.save_as {
        state
            .store
            .save_training_set(&set, name, created_by)
            .await?;
    }
    Ok(set)
}

/// The upload's format, from `Content-Type` (JSON when absent).
fn content_type(headers: &HeaderMap) -> Result<TableFormat, ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(JSON);
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        JSON => Ok(TableFormat::Json),
        ARROW_STREAM => Ok(TableFormat::ArrowStream),
        ARROW_FILE => Ok(TableFormat::ArrowFile),
        PARQUET | "application/x-parquet" | "application/parquet" => Ok(TableFormat::Parquet),
        other => Err(ApiError::unsupported_media_type(format!(
            "entity rows as `{other}` are not supported; send {JSON}, {ARROW_STREAM}, {ARROW_FILE} or {PARQUET}"
        ))),
    }
}

/// The media type a table is answered as.
pub(crate) fn mime(format: TableFormat) -> &'static str {
    match format {
        TableFormat::ArrowStream => ARROW_STREAM,
        TableFormat::Parquet => PARQUET,
        _ => JSON,
    }
}

/// The response format, from `Accept` (JSON for `*/*` or none).
pub(crate) fn accepted(headers: &HeaderMap) -> Result<TableFormat, ApiError> {
    let value = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(JSON);
    for candidate in value.split(',') {
        let mime = candidate
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            ARROW_STREAM => return Ok(TableFormat::ArrowStream),
            PARQUET | "application/x-parquet" | "application/parquet" => {
                return Ok(TableFormat::Parquet);
            }
            JSON | "*/*" | "application/*" => return Ok(TableFormat::Json),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(format!(
        "cannot answer as `{value}`; accept {ARROW_STREAM}, {PARQUET} or {JSON}"
    )))
}
