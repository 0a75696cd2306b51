//! The API's OpenAPI 3 document, generated from the handlers and their types
//! (`GET /openapi.json`).

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

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

/// A binary body (Arrow IPC or Parquet).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(#[allow(dead_code)] Vec<u8>);

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// Liveness; needs no token.
#[utoipa::path(get, path = "/health", security(()), responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Health)))]
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
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
        crate::push::write_to_online_store,
        crate::push::ingest_stats,
        crate::quality::stats,
        crate::quality::drift,
    ),
    components(schemas(ErrorBody, ErrorDetail, Health)),
    modifiers(&Layers)
)]
pub struct ApiDoc;

/// What the layers around the handlers add to every operation: the bearer
/// token check (401, and 403 for the routes that need a scope), the body
/// limit and timeout (413, 408) of routes with a body, and internal errors
/// (500) of routes that can fail.
struct Layers;

impl Modify for Layers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`quiver token`), when quiver.yaml configures `auth.tokens`",
                    ))
                    .build(),
            ),
        );
        openapi.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
        for (path, item) in &mut openapi.paths.paths {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                add_layer_responses(path, operation);
            }
        }
    }
}

const BEARER: &str = "bearer";

fn add_layer_responses(path: &str, operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    let answers_errors = !responses.is_empty()
        && responses
            .keys()
            .any(|status| status.starts_with('4') || status.starts_with('5'));
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description).into());
    };
    if path != "/health" {
        add(
            "401",
            "No bearer token, or one this server does not know (`WWW-Authenticate: Bearer`)",
        );
    }
    if crate::auth::required_scope(path).is_some() {
        add("403", "The token lacks the scope this route needs");
    }
    if operation.request_body.is_some() {
        add(
            "408",
            "The body did not arrive within the server's `--body-timeout`",
        );
        add(
            "413",
            "The body is larger than the server's `--max-body-bytes`",
        );
    }
    if answers_errors {
        add("500", "An internal error");
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

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
