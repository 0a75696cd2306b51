//! `POST /push` and `POST /write-to-online-store` (Feast's shapes) and
//! `GET /ingest-stats`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use quiver_store::{IngestSnapshot, PushOutcome, PushRequest, WriteRequest};
use serde_json::{Map, Value};

use crate::error::{ApiError, parse_json};
use crate::state::AppState;

#[utoipa::path(post, path = "/push", request_body = PushRequest,
    responses((status = 200, description = "Rows written per view", body = PushOutcome), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 422, description = "An unknown push source", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn push(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<PushOutcome>, ApiError> {
    let request: PushRequest = parse_json(&body)?;
    within_push_limit(&state, &request.df)?;
    let applied = state.applied()?;
    let outcome = state.store.push(&applied, &request).await?;
    for (view, checks) in &outcome.checks {
        state.metrics.observe_checks(view, checks);
    }
    Ok(Json(outcome))
}

/// Feast's `POST /write-to-online-store`: rows of one view, written online
/// through the same decoding, checks and event-time guard as `/push`.
#[utoipa::path(post, path = "/write-to-online-store", request_body = WriteRequest,
    responses((status = 200, description = "Rows written", body = PushOutcome), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 404, description = "An unknown feature view", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn write_to_online_store(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<PushOutcome>, ApiError> {
    let request: WriteRequest = parse_json(&body)?;
    within_push_limit(&state, &request.df)?;
    let applied = state.applied()?;
    let outcome = state
        .store
        .write_to_online_store(&applied, &request)
        .await?;
    for (view, checks) in &outcome.checks {
        state.metrics.observe_checks(view, checks);
    }
    Ok(Json(outcome))
}

/// Refuses a `df` of more rows than `--max-push-rows`.
fn within_push_limit(state: &AppState, df: &Map<String, Value>) -> Result<(), ApiError> {
    let rows = df.values().find_map(Value::as_array).map_or(0, Vec::len);
    if rows > state.limits.max_push_rows {
        return Err(ApiError::bad_request(format!(
            "{rows} rows in one push; the limit is {} (split the request)",
            state.limits.max_push_rows
        )));
    }
    Ok(())
}

#[utoipa::path(get, path = "/ingest-stats",
    responses((status = 200, description = "The ingest's counters", body = IngestSnapshot),
        (status = 404, description = "No ingest runs in this server", body = crate::openapi::ErrorBody)))]
pub async fn ingest_stats(State(state): State<AppState>) -> Result<Json<IngestSnapshot>, ApiError> {
    state
        .ingest_stats
        .as_ref()
        .map(|s| Json(s.snapshot()))
        .ok_or_else(|| ApiError {
            status: axum::http::StatusCode::NOT_FOUND,
            code: "not_found",
            message: "no Kafka ingest runs in this server (start it with `quiver serve --ingest`)"
                .into(),
            missing: None,
        })
}
