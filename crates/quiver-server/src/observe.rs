//! Every request gets an id (the caller's `x-request-id`, or a new one), a
//! tracing span carrying it, the id echoed in the response, and its latency
//! recorded per route.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::metrics::method_label;
use crate::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";
/// Longer ids from callers are replaced, not logged.
const MAX_ID_LEN: usize = 128;

pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_ID_LEN)
        .map_or_else(new_request_id, str::to_string);
    // Labels and log fields from known sets only: what a client makes up
    // (a method, a path) never grows the metrics.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = method_label(request.method());
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .observe_request(&route, method, status, elapsed);
    span.in_scope(|| tracing::debug!(status, micros = elapsed.as_micros() as u64, "answered"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Unique within the process and unlikely to repeat across restarts.
fn new_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0)
    });
    format!("{start:x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}
