//! Data quality over HTTP: `GET /stats` (a view's latest feature statistics)
//! and `GET /drift` (a window against a baseline), as `quiver stats` and
//! `quiver drift --json` print them.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use quiver_store::{Baseline, DriftReport, FeatureStatistics, StatsSource, parse_window};
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// The feature view.
    pub view: String,
    /// Only a run whose window ends in (START, END]: `START/END`, RFC 3339.
    pub window: Option<String>,
    /// `batch` (materialization runs, the default), `kafka` or `push` (windows of streamed rows).
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub source: StatsSource,
}

#[utoipa::path(get, path = "/stats", params(StatsParams), responses(
    (status = 200, description = "Per feature: the run, its window and the statistics (count, nulls, min, max, mean, stddev, distinct, quantiles, histogram, categories)"),
    (status = 400, description = "A bad request (an unknown parameter, a malformed window or source)", body = crate::openapi::ErrorBody),
    (status = 404, description = "No statistics of that view", body = crate::openapi::ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    Query(params): Query<StatsParams>,
) -> Result<Json<Vec<FeatureStatistics>>, ApiError> {
    let window = params
        .window
        .as_deref()
        .map(parse_window)
        .transpose()?
        .map(|w| (w.start_us, w.end_us));
    let stats = state
        .store
        .latest_statistics(&params.view, window, params.source)
        .await?;
    if stats.is_empty() {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: format!(
                "no statistics of view `{}` from {} rows",
                params.view,
                params.source.as_str()
            ),
            missing: None,
        });
    }
    Ok(Json(stats))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DriftParams {
    /// The feature view.
    pub view: String,
    /// `START/END` (RFC 3339) of the offline store, or a saved dataset's name.
    pub baseline: String,
    /// The window judged: `START/END` (RFC 3339).
    pub current: String,
}

#[utoipa::path(get, path = "/drift", params(DriftParams), responses(
    (status = 200, description = "Per feature the metrics (PSI and KS, or chi-square and PSI), their thresholds and verdicts, and `drifted`"),
    (status = 400, description = "A bad request", body = crate::openapi::ErrorBody),
    (status = 404, description = "An unknown feature view", body = crate::openapi::ErrorBody)))]
pub async fn drift(
    State(state): State<AppState>,
    Query(params): Query<DriftParams>,
) -> Result<Json<DriftReport>, ApiError> {
    let baseline = Baseline::parse(&params.baseline)?;
    let current = parse_window(&params.current)?;
    let applied = state.applied()?;
    Ok(Json(
        state
            .store
            .drift(&applied, &params.view, &baseline, current)
            .await?,
    ))
}
