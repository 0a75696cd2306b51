//! `POST /get-online-features` (Feast's request and response shape) and the
//! materialization endpoints.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use quiver_offline::TimeWindow;
use quiver_offline::parse_timestamp;
use quiver_offline::pit::FeatureSelection;
use quiver_store::{OnlineRequest, OnlineResponse, RunReport};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, parse_json};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnlineBody {
    features: Option<Vec<String>>,
    feature_service: Option<String>,
    /// Join key -> one value per entity.
    #[schema(value_type = HashMap<String, Vec<serde_json::Value>>)]
    entities: Map<String, Value>,
    #[serde(default)]
    full_feature_names: bool,
}

#[utoipa::path(post, path = "/get-online-features", request_body = OnlineBody,
    responses((status = 200, description = "The latest values, Feast's shape", body = OnlineResponse), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn get_online_features(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<OnlineResponse>, ApiError> {
    let body: OnlineBody = parse_json(&body)?;
    let features = match (body.features, body.feature_service) {
        (Some(list), None) => FeatureSelection::Features(list),
        (None, Some(service)) => FeatureSelection::Service(service),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `features` or `feature_service`",
            ));
        }
    };
    let request = OnlineRequest {
        features,
        entities: body.entities,
        full_feature_names: body.full_feature_names,
    };
    let applied = state.applied()?;
    let now = quiver_online::now_us();
    let response = state
        .store
        .get_online_features(&applied, &request, now, state.limits.max_online_entities)
        .await?;
    Ok(Json(response))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterializeBody {
    start_ts: Option<String>,
    end_ts: String,
    #[serde(default)]
    feature_views: Vec<String>,
}

/// `POST /materialize`: `{"start_ts": RFC 3339, "end_ts": RFC 3339, "feature_views": [...]}`.
#[utoipa::path(post, path = "/materialize", request_body = MaterializeBody,
    responses((status = 200, description = "One report per view", body = Vec<RunReport>), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn materialize(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Vec<RunReport>>, ApiError> {
    let body: MaterializeBody = parse_json(&body)?;
    let start = body
        .start_ts
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("`start_ts` is required"))?;
    let window = TimeWindow::new(parse_timestamp(start)?, parse_timestamp(&body.end_ts)?)?;
    let applied = state.applied()?;
    let windows: Vec<_> = applied
        .batch_views(&body.feature_views)?
        .into_iter()
        .map(|v| (v, window))
        .collect();
    run(&state, &applied, &windows).await
}

/// `POST /materialize-incremental`: `{"end_ts": RFC 3339, "feature_views": [...]}`.
#[utoipa::path(post, path = "/materialize-incremental", request_body = MaterializeBody,
    responses((status = 200, description = "One report per view", body = Vec<RunReport>), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn materialize_incremental(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Vec<RunReport>>, ApiError> {
    let body: MaterializeBody = parse_json(&body)?;
    if body.start_ts.is_some() {
        return Err(ApiError::bad_request(
            "`start_ts` does not apply: each view continues from its last run",
        ));
    }
    let end = parse_timestamp(&body.end_ts)?.timestamp_micros();
    let applied = state.applied()?;
    let windows = state
        .store
        .incremental_windows(&applied, &body.feature_views, end)
        .await?;
    run(&state, &applied, &windows).await
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
