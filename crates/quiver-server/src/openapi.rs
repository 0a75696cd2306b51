//! The API's OpenAPI 3 document, generated from the handlers and their types
//! (`GET /openapi.json`).

use axum::Json;
use utoipa::OpenApi;

/// Every error: `{"error": {"code": ..., "message": ...}}` (what
/// [`ApiError`](crate::ApiError) answers).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unavailable`, `not_found`, `not_acceptable`, ...
    pub code: String,
    pub message: String,
}

/// Liveness.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "This document")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "quiver",
        description = "quiver's feature server: training sets, online lookups, materialization, push, and the ingest's counters. Request and response shapes follow Feast's feature server where it has one."
    ),
    paths(
        health,
        openapi_json,
        crate::health::ready,
        crate::health::metrics,
        crate::online::get_online_features,
        crate::online::materialize,
        crate::online::materialize_incremental,
        crate::historical::get_historical_features,
        crate::push::push,
        crate::push::ingest_stats,
        crate::quality::stats,
        crate::quality::drift,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The paths `router` serves, read from its source.
    fn routed_paths() -> BTreeSet<String> {
        include_str!("lib.rs")
            .split(".route(")
            .skip(1)
            .filter_map(|rest| {
                let start = rest.find('"')? + 1;
                let len = rest[start..].find('"')?;
                Some(rest[start..start + len].to_string())
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_every_documented_path_is_routed() {
        let doc = ApiDoc::openapi();
        let documented: BTreeSet<String> = doc.paths.paths.keys().cloned().collect();
        let routed = routed_paths();
        assert!(routed.len() >= 10, "{routed:?}");
        assert_eq!(routed, documented);
        let json = serde_json::to_value(&doc).expect("serializes");
        assert!(json["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
        for schema in ["OnlineResponse", "PushRequest", "RunReport", "ErrorBody"] {
            assert!(
                json["components"]["schemas"][schema].is_object(),
                "{schema}"
            );
        }
    }
}
