//! `POST /push` (Feast's shape) and `GET /ingest-stats`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use quiver_store::{IngestSnapshot, PushOutcome, PushRequest};
use serde_json::Value;

use crate::error::{ApiError, parse_json};
use crate::state::AppState;

#[utoipa::path(post, path = "/push", request_body = PushRequest,
    responses((status = 200, description = "Rows written per view", body = PushOutcome), (status = 400, description = "A bad request", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down", body = crate::openapi::ErrorBody)))]
pub async fn push(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<PushOutcome>, ApiError> {
    let request: PushRequest = parse_json(&body)?;
    let rows = request
        .df
        .values()
        .find_map(Value::as_array)
        .map_or(0, Vec::len);
    if rows > state.limits.max_push_rows {
        return Err(ApiError::bad_request(format!(
            "{rows} rows in one push; the limit is {} (split the request)",
            state.limits.max_push_rows
        )));
    }
    let applied = state.applied()?;
    let outcome = state.store.push(&applied, &request).await?;
    for (view, checks) in &outcome.checks {
        state.metrics.observe_checks(view, checks);
    }
    Ok(Json(outcome))
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
        })
}
