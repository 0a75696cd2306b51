//! `POST /get-online-features` (Feast's request and response shape) and the
//! materialization endpoints.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use quiver_offline::TimeWindow;
use quiver_offline::formats::{TableFormat, write_table};
use quiver_offline::parse_timestamp;
use quiver_offline::pit::FeatureSelection;
use quiver_store::{OnlineRequest, OnlineResponse, RunReport};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, parse_json};
use crate::historical::{accepted, mime};
use crate::state::AppState;

/// Feast's `GetOnlineFeaturesRequest`, every field its client sends.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnlineBody {
    /// `view:feature` references; `[]` or `null` with a `feature_service`.
    #[serde(default)]
    features: Option<Vec<String>>,
    feature_service: Option<String>,
    /// Entity column -> one value per entity (every column is echoed back).
    #[schema(value_type = HashMap<String, Vec<serde_json::Value>>)]
    entities: Map<String, Value>,
    #[serde(default)]
    full_feature_names: bool,
    /// Feast's flag for feature view versions, which quiver does not have:
    /// accepted and ignored (no `feature_view_metadata` is answered).
    #[serde(default, rename = "include_feature_view_version_metadata")]
    _include_feature_view_version_metadata: bool,
}

impl OnlineBody {
    /// The features asked for: a list or a service, never both.
    fn selection(self) -> Result<(FeatureSelection, Map<String, Value>, bool), ApiError> {
        let features = self.features.filter(|list| !list.is_empty());
        let selection = match (features, self.feature_service) {
            (Some(list), None) => FeatureSelection::Features(list),
            (None, Some(service)) => FeatureSelection::Service(service),
            _ => {
                return Err(ApiError::bad_request(
                    "give exactly one of `features` or `feature_service`",
                ));
            }
        };
        Ok((selection, self.entities, self.full_feature_names))
    }
}

#[utoipa::path(post, path = "/get-online-features", request_body = OnlineBody,
    responses((status = 200, description = "The latest values: Feast's JSON shape, or with `Accept: application/vnd.apache.arrow.stream` (or Parquet) one table with a row per entity row and per feature its value, `__status` and `__event_timestamp` columns", body = OnlineResponse), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 404, description = "An unknown feature view or feature service", body = crate::openapi::ErrorBody), (status = 406, description = "`Accept` names no format the server writes", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn get_online_features(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = accepted(&headers)?;
    let (features, entities, full_feature_names) = parse_json::<OnlineBody>(&body)?.selection()?;
    let request = OnlineRequest {
        features,
        entities,
        full_feature_names,
        answers: state.limits.answers,
    };
    let applied = state.applied()?;
    let now = quiver_online::now_us();
    let answer = state
        .store
        .lookup_online(&applied, &request, now, state.limits.max_online_entities)
        .await?;
    if format == TableFormat::Json {
        return Ok(Json(answer.into_feast()).into_response());
    }
    // A lookup's table is small: written whole, on this task.
    let mut bytes = Vec::new();
    write_table(format, &answer.to_arrow()?, &mut bytes, usize::MAX)?;
    Ok(([(header::CONTENT_TYPE, mime(format))], bytes).into_response())
}

/// Feast's `MaterializeRequest`, every field its client sends.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterializeBody {
    /// RFC 3339, or ISO 8601 without a zone (UTC).
    start_ts: Option<String>,
    end_ts: Option<String>,
    /// The views to materialize; `null` or absent: every batch view.
    feature_views: Option<Vec<String>>,
    /// Feast's "everything": the window from 1970 to now.
    #[serde(default)]
    disable_event_timestamp: bool,
    /// Feast's flag; stored features keep their names whatever it says.
    #[serde(default, rename = "full_feature_names")]
    _full_feature_names: bool,
    /// Feast's feature view version; quiver has none, so only `null`.
    version: Option<String>,
}

/// Feast's `MaterializeIncrementalRequest`, every field its client sends.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterializeIncrementalBody {
    /// RFC 3339, or ISO 8601 without a zone (UTC).
    end_ts: String,
    feature_views: Option<Vec<String>>,
    /// Feast's flag; stored features keep their names whatever it says.
    #[serde(default, rename = "full_feature_names")]
    _full_feature_names: bool,
    version: Option<String>,
}

/// Feast's `version`: quiver keeps one definition per view.
fn no_version(version: Option<&str>) -> Result<(), ApiError> {
    match version {
        None => Ok(()),
        Some(v) => Err(ApiError::bad_request(format!(
            "`version`: quiver has no feature view versions (got `{v}`); leave it out or null"
        ))),
    }
}

/// `POST /materialize`: Feast's request (`start_ts`, `end_ts`, `feature_views`,
/// `disable_event_timestamp`, ...). Feast's `?async=true` and `?force=true`
/// are ignored: the answer comes when the materialization is done.
#[utoipa::path(post, path = "/materialize", request_body = MaterializeBody,
    responses((status = 200, description = "One report per view", body = Vec<RunReport>), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 404, description = "An unknown feature view", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn materialize(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Vec<RunReport>>, ApiError> {
    let body: MaterializeBody = parse_json(&body)?;
    no_version(body.version.as_deref())?;
    let window = if body.disable_event_timestamp {
        TimeWindow::new(DateTime::UNIX_EPOCH, chrono::Utc::now())?
    } else {
        let required = |field: &Option<String>, name: &str| match field {
            Some(text) => named(name, text),
            None => Err(ApiError::bad_request(format!(
                "`{name}` is required (unless `disable_event_timestamp` is true)"
            ))),
        };
        TimeWindow::new(
            required(&body.start_ts, "start_ts")?,
            required(&body.end_ts, "end_ts")?,
        )?
    };
    let applied = state.applied()?;
    let views = body.feature_views.unwrap_or_default();
    let windows: Vec<_> = applied
        .batch_views(&views)?
        .into_iter()
        .map(|v| (v, window))
        .collect();
    run(&state, &applied, &windows).await
}

/// `POST /materialize-incremental`: Feast's request (`end_ts`, `feature_views`, ...).
#[utoipa::path(post, path = "/materialize-incremental", request_body = MaterializeIncrementalBody,
    responses((status = 200, description = "One report per view", body = Vec<RunReport>), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 404, description = "An unknown feature view", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn materialize_incremental(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Vec<RunReport>>, ApiError> {
    let body: MaterializeIncrementalBody = parse_json(&body)?;
    no_version(body.version.as_deref())?;
    let end = named("end_ts", &body.end_ts)?.timestamp_micros();
    let applied = state.applied()?;
    let views = body.feature_views.unwrap_or_default();
    let windows = state
        .store
        .incremental_windows(&applied, &views, end)
        .await?;
    run(&state, &applied, &windows).await
}

/// A request timestamp, or a 400 naming its field.
fn named(field: &str, text: &str) -> Result<DateTime<chrono::Utc>, ApiError> {
    parse_timestamp(text).map_err(|e| ApiError::bad_request(format!("`{field}`: {e}")))
}

/// Materializes `windows` and counts the rows in the metrics.
async fn run(
    state: &AppState,
    applied: &quiver_store::Applied,
    windows: &[(String, TimeWindow)],
) -> Result<Json<Vec<RunReport>>, ApiError> {
    let reports = state
        .store
        .materialize(applied, windows, &|_, _| {})
        .await?;
    state.metrics.observe_materialization(&reports);
    Ok(Json(reports))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ApiError> {
        parse_json(body.to_string().as_bytes())
    }

    #[test]
    fn feasts_online_request_is_read_in_full() {
        // What feast 0.67's remote online store sends, both forms.
        let (selection, entities, full) = parse::<OnlineBody>(json!({
            "entities": {"driver_id": [1001, 1002]},
            "full_feature_names": true,
            "include_feature_view_version_metadata": false,
            "features": ["driver_hourly_stats:conv_rate"],
        }))
        .unwrap()
        .selection()
        .unwrap();
        assert_eq!(
            selection,
            FeatureSelection::Features(vec!["driver_hourly_stats:conv_rate".into()])
        );
        assert_eq!(entities["driver_id"], json!([1001, 1002]));
        assert!(full);
        for features in [json!([]), json!(null)] {
            let (selection, _, full) = parse::<OnlineBody>(json!({
                "entities": {"driver_id": [1001]},
                "include_feature_view_version_metadata": true,
                "feature_service": "driver_activity",
                "features": features,
            }))
            .unwrap()
            .selection()
            .unwrap();
            assert_eq!(
                selection,
                FeatureSelection::Service("driver_activity".into())
            );
            assert!(!full);
        }
    }

    #[test]
    fn malformed_online_requests_name_what_is_wrong() {
        let message = |body: Value| match parse::<OnlineBody>(body).and_then(OnlineBody::selection)
        {
            Ok(_) => panic!("accepted"),
            Err(e) => e.message,
        };
        assert!(
            message(json!({"entities": {}, "features": ["v:f"], "extra": 1}))
                .contains("unknown field `extra`")
        );
        assert!(message(json!({"features": ["v:f"]})).contains("missing field `entities`"));
        assert!(
            message(json!({"entities": {}, "features": ["v:f"], "full_feature_names": null}))
                .contains("invalid type: null")
        );
        assert!(message(json!({"entities": {}})).contains("exactly one of"));
        assert!(
            message(json!({"entities": {}, "features": ["v:f"], "feature_service": "s"}))
                .contains("exactly one of")
        );
    }

    #[test]
    fn feasts_materialize_requests_are_read_in_full() {
        // FeatureStore.materialize(...) with a remote online store.
        let body: MaterializeBody = parse(json!({
            "start_ts": "2024-01-01T00:00:00",
            "end_ts": "2024-01-02T00:00:00+00:00",
            "feature_views": null,
            "disable_event_timestamp": false,
            "full_feature_names": false,
        }))
        .unwrap();
        assert!(body.feature_views.is_none());
        assert!(!body.disable_event_timestamp);
        assert_eq!(
            named("start_ts", body.start_ts.as_deref().unwrap())
                .unwrap()
                .timestamp(),
            1_704_067_200
        );
        let everything: MaterializeBody = parse(
            json!({"disable_event_timestamp": true, "feature_views": ["v"], "version": null}),
        )
        .unwrap();
        assert!(everything.disable_event_timestamp);
        assert!(no_version(everything.version.as_deref()).is_ok());
        let versioned: MaterializeBody =
            parse(json!({"end_ts": "2024-01-01", "version": "v2"})).unwrap();
        assert!(
            no_version(versioned.version.as_deref())
                .unwrap_err()
                .message
                .contains("no feature view versions")
        );
        // materialize_incremental(...).
        let incremental: MaterializeIncrementalBody = parse(json!({
            "end_ts": "2024-01-02 00:00:00.250000",
            "feature_views": ["driver_hourly_stats"],
            "full_feature_names": true,
            "version": null,
        }))
        .unwrap();
        assert_eq!(
            named("end_ts", &incremental.end_ts)
                .unwrap()
                .timestamp_micros(),
            1_704_153_600_250_000
        );
        assert!(
            parse::<MaterializeIncrementalBody>(json!({"end_ts": "2024-01-01", "start_ts": "x"}))
                .unwrap_err()
                .message
                .contains("unknown field `start_ts`")
        );
        assert!(
            named("end_ts", "tomorrow")
                .unwrap_err()
                .message
                .starts_with("`end_ts`: `tomorrow` is not")
        );
    }
}
