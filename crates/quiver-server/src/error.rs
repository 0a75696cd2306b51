//! The API's one error type and the one place errors become HTTP statuses.

use crate::openapi::{ErrorBody, ErrorDetail};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quiver_core::ObjectKind;
use quiver_store::{ErrorClass, StoreError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// What kind of definition the request named that is not applied, when
    /// that is the error (Feast's client raises a typed exception for it).
    pub missing: Option<ObjectKind>,
}

/// The response extension that carries [`ApiError::missing`] to the layers.
#[derive(Debug, Clone, Copy)]
pub struct Missing(pub ObjectKind);

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            missing: None,
        }
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: message.into(),
            missing: None,
        }
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_ACCEPTABLE,
            code: "not_acceptable",
            message: message.into(),
            missing: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        // Feast's statuses: 404 for an unknown view or service, 422 for an
        // unknown push source.
        if let Some((kind, _)) = error.not_found() {
            let status = match kind {
                ObjectKind::Source => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::NOT_FOUND,
            };
            return Self {
                status,
                code: "not_found",
                message: error.to_string(),
                missing: Some(kind),
            };
        }
        let (status, code) = match error.class() {
            ErrorClass::User => (StatusCode::BAD_REQUEST, "bad_request"),
            ErrorClass::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorClass::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ErrorClass::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(%error, "request failed");
        }
        Self {
            status,
            code,
            message: error.to_string(),
            missing: None,
        }
    }
}

impl From<quiver_offline::OfflineError> for ApiError {
    fn from(error: quiver_offline::OfflineError) -> Self {
        StoreError::from(error).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: self.code.to_string(),
                    message: self.message,
                },
            }),
        )
            .into_response();
        if let Some(kind) = self.missing {
            response.extensions_mut().insert(Missing(kind));
        }
        response
    }
}

/// A JSON request body, or a 400 that says what is wrong with it.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON request: {e}")))
}
