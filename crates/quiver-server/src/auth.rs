//! Bearer tokens and their scopes, when `auth:` is configured: every route but
//! `/health` needs a token; the data routes need the scope they touch.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quiver_core::auth::Scope;

use crate::error::ApiError;
use crate::state::AppState;

/// The scope a route needs; `None`: any valid token.
pub(crate) fn required_scope(route: &str) -> Option<Scope> {
    match route {
        "/get-online-features" => Some(Scope::ReadOnline),
        "/get-historical-features" | "/stats" | "/drift" => Some(Scope::ReadOffline),
        "/push" | "/write-to-online-store" | "/materialize" | "/materialize-incremental" => {
            Some(Scope::Write)
        }
        _ => None,
    }
}

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(auth) = state.store.config.auth.as_ref() else {
        return next.run(request).await;
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str)
        .to_string();
    if route == "/health" {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = presented.and_then(|t| auth.find(t)) else {
        let mut response = ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: if presented.is_some() {
                "the bearer token is not valid for this project".into()
            } else {
                "this server needs `Authorization: Bearer <token>`".into()
            },
            missing: None,
        }
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return response;
    };
    if let Some(scope) = required_scope(&route)
        && !token.scopes.contains(&scope)
    {
        return ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!(
                "token `{}` lacks the `{scope}` scope that {route} needs",
                token.name
            ),
            missing: None,
        }
        .into_response();
    }
    tracing::debug!(token = %token.name, "authorized");
    next.run(request).await
}
