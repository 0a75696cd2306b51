//! Errors in the body Feast's Python client reads. Its REST error handler
//! (`feast/rest_error_handler.py`) decodes the body as JSON, then decodes the
//! resulting *string* again as `{"module", "class", "message"}` and raises
//! that class; an object body (quiver's `{"error": ...}`) only ever becomes a
//! `RuntimeError`. No single body serves both readers, so the Feast-shaped
//! routes answer Feast's client in its dialect, with quiver's error kept
//! inside it under `"error"`:
//! `"{\"module\": \"feast.errors\", \"class\": \"FeatureViewNotFoundException\", \"message\": ..., \"error\": {\"code\", \"message\"}}"`.
//!
//! Feast's client is recognized by its User-Agent (`python-requests/...`,
//! which it never changes); `X-Quiver-Error-Format: feast` or `quiver` on a
//! request decides it explicitly.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use quiver_core::ObjectKind;
use serde_json::{Value, json};

use crate::error::Missing;

/// The request header that picks the error dialect: `feast` or `quiver`.
pub const ERROR_FORMAT: &str = "x-quiver-error-format";

/// The routes whose shape is Feast's, and so may answer in Feast's dialect.
pub const FEAST_ROUTES: [&str; 5] = [
    "/get-online-features",
    "/write-to-online-store",
    "/push",
    "/materialize",
    "/materialize-incremental",
];

/// The longest error body rewritten (quiver's are far shorter).
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Whether the request's errors are answered in Feast's dialect.
fn wants_feast(path: &str, headers: &HeaderMap) -> bool {
    if !FEAST_ROUTES.contains(&path) {
        return false;
    }
    match headers.get(ERROR_FORMAT).and_then(|v| v.to_str().ok()) {
        Some(choice) => choice.trim().eq_ignore_ascii_case("feast"),
        None => headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|agent| agent.starts_with("python-requests/")),
    }
}

/// The `feast.errors` class Feast's client raises for this error.
pub fn feast_class(status: StatusCode, missing: Option<ObjectKind>) -> &'static str {
    match (missing, status) {
        (Some(ObjectKind::FeatureView), _) => "FeatureViewNotFoundException",
        (Some(ObjectKind::FeatureService), _) => "FeatureServiceNotFoundException",
        (Some(ObjectKind::Source), _) => "PushSourceNotFoundException",
        (Some(ObjectKind::Entity), _) => "EntityNotFoundException",
        (None, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => "FeastPermissionError",
        (None, _) => "FeastError",
    }
}

/// Feast's error body for quiver's error body `quiver` (a JSON string).
pub fn feast_body(status: StatusCode, missing: Option<ObjectKind>, quiver: &[u8]) -> Vec<u8> {
    let error = serde_json::from_slice::<Value>(quiver)
        .ok()
        .and_then(|mut body| body.get_mut("error").map(Value::take))
        .unwrap_or_else(|| json!({"code": "internal", "message": String::from_utf8_lossy(quiver)}));
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let detail = json!({
        "module": "feast.errors",
        "class": feast_class(status, missing),
        "message": message,
        "error": error,
    });
    Value::String(detail.to_string()).to_string().into_bytes()
}

/// Rewrites the error responses of Feast's client into its dialect.
pub async fn feast_errors(request: Request, next: Next) -> Response {
    let feast = wants_feast(request.uri().path(), request.headers());
    let response = next.run(request).await;
    let status = response.status();
    if !feast || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let missing = parts.extensions.get::<Missing>().map(|m| m.0);
    let quiver = axum::body::to_bytes(body, MAX_ERROR_BYTES)
        .await
        .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(feast_body(status, missing, &quiver)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn feast_client_is_answered_in_its_dialect_on_feast_routes_only() {
        let feast = headers(&[("user-agent", "python-requests/2.32.3")]);
        assert!(wants_feast("/get-online-features", &feast));
        assert!(wants_feast("/write-to-online-store", &feast));
        assert!(!wants_feast("/get-historical-features", &feast));
        assert!(!wants_feast(
            "/get-online-features",
            &headers(&[("user-agent", "curl/8.5")])
        ));
        assert!(!wants_feast("/push", &HeaderMap::new()));
        let forced = headers(&[
            ("user-agent", "python-requests/2"),
            (ERROR_FORMAT, "quiver"),
        ]);
        assert!(!wants_feast("/push", &forced));
        assert!(wants_feast("/push", &headers(&[(ERROR_FORMAT, "Feast")])));
    }

    #[test]
    fn body_is_a_json_string_holding_feasts_detail_and_quivers_error() {
        let quiver = br#"{"error":{"code":"not_found","message":"unknown feature view `v`"}}"#;
        let body = feast_body(StatusCode::NOT_FOUND, Some(ObjectKind::FeatureView), quiver);
        // What Feast's client does: response.json(), then json.loads of that.
        let outer: Value = serde_json::from_slice(&body).expect("json");
        let inner: Value = serde_json::from_str(outer.as_str().expect("a string")).expect("json");
        assert_eq!(inner["module"], "feast.errors");
        assert_eq!(inner["class"], "FeatureViewNotFoundException");
        assert_eq!(inner["message"], "unknown feature view `v`");
        assert_eq!(inner["error"]["code"], "not_found");
    }

    #[test]
    fn classes_follow_what_was_missing_and_the_status() {
        let class = feast_class;
        assert_eq!(
            class(StatusCode::NOT_FOUND, Some(ObjectKind::FeatureService)),
            "FeatureServiceNotFoundException"
        );
        assert_eq!(
            class(StatusCode::UNPROCESSABLE_ENTITY, Some(ObjectKind::Source)),
            "PushSourceNotFoundException"
        );
        assert_eq!(class(StatusCode::FORBIDDEN, None), "FeastPermissionError");
        assert_eq!(class(StatusCode::BAD_REQUEST, None), "FeastError");
        assert_eq!(class(StatusCode::SERVICE_UNAVAILABLE, None), "FeastError");
    }
}
