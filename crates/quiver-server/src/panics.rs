//! The last line of defence: a request whose handler panics (a bug, or a
//! library tripping on input that should have been refused) is answered with
//! a 500 JSON error instead of a dropped connection.

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

use crate::error::ApiError;

pub async fn catch_panics(request: Request, next: Next) -> Response {
    let route = request.uri().path().to_string();
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let message = quiver_core::process::panic_message(panic.as_ref());
            tracing::error!(%route, %message, "a request handler panicked");
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: "internal error: the request stopped on a panic (see the server's log)"
                    .into(),
                missing: None,
            }
            .into_response()
        }
    }
}
