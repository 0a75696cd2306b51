//! `GET /ready` (the dependencies answer) and `GET /metrics`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::state::AppState;

/// How long a dependency may take to answer a readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 when the registry and the online store answer, else 503 naming the failures.
#[utoipa::path(get, path = "/ready", responses(
    (status = 200, description = "The registry and the online store answer"),
    (status = 503, description = "A dependency does not answer; `checks` says which")))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let store = &state.store;
    let registry = tokio::time::timeout(CHECK_TIMEOUT, store.registry.version(store.project()));
    let registry = match registry.await {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
    };
    let online = tokio::time::timeout(CHECK_TIMEOUT, async {
        store.online().await?.ping().await?;
        Ok::<_, quiver_store::StoreError>(())
    });
    let online = match online.await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
    };
    let ready = registry == "ok" && online == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {"registry": registry, "online_store": online},
    });
    (status, Json(body))
}

#[utoipa::path(get, path = "/metrics", responses(
    (status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(state.ingest_stats.as_ref()),
    )
}
