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
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str)
        .to_string();
    if route == "/health" {
        return next.run(request).await;
    }
    let presented = bearer(
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    match authorize(&state, presented, required_scope(&route), &route) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            let unauthenticated = error.status == StatusCode::UNAUTHORIZED;
            let mut response = error.into_response();
            if unauthenticated {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            response
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value.
pub(crate) fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The one token check, of HTTP routes and Arrow Flight calls alike: with
/// `auth:` configured, `presented` must be a token of the project holding
/// `scope` (any scope when `None`); `call` names what was called.
pub(crate) fn authorize(
    state: &AppState,
    presented: Option<&str>,
    scope: Option<Scope>,
    call: &str,
) -> Result<(), ApiError> {
    let Some(auth) = state.store.config.auth.as_ref() else {
        return Ok(());
    };
    let Some(token) = presented.and_then(|t| auth.find(t)) else {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: if presented.is_some() {
                "the bearer token is not valid for this project".into()
            } else {
                "this server needs `Authorization: Bearer <token>`".into()
            },
            missing: None,
        });
    };
    if let Some(scope) = scope
        && !token.scopes.contains(&scope)
    {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!(
                "token `{}` lacks the `{scope}` scope that {call} needs",
                token.name
            ),
            missing: None,
        });
    }
    tracing::debug!(token = %token.name, "authorized");
    Ok(())
}
