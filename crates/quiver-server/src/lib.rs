//! quiver's HTTP API on axum. One server answers training-set retrieval (and,
//! with the online tier, online lookups); errors are JSON
//! `{"error": {"code", "message"}}` with the right 4xx/5xx status.

mod auth;
mod body;
mod connections;
mod entities_json;
mod error;
mod feast_errors;
mod flight;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod historical;
mod json_errors;
mod metrics;
mod observe;
mod online;
mod openapi;
mod panics;
mod push;
mod quality;
mod state;
mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use futures::FutureExt;
use quiver_store::{FeatureStore, IngestStats};

pub use connections::ConnectionLimits;
pub use error::ApiError;
pub use feast_errors::{ERROR_FORMAT, FEAST_ROUTES};
pub use historical::{ARROW_FILE, ARROW_STREAM, JSON, PARQUET};
pub use metrics::Metrics;
pub use observe::REQUEST_ID;
pub use openapi::ApiDoc;
pub use state::{AppState, Limits};
pub use tls::{HANDSHAKE_TIMEOUT, PemFile, Tls, TlsError};

/// How often the server checks the registry for new definitions.
pub const REGISTRY_REFRESH: Duration = Duration::from_secs(2);

/// The API's routes over `state`.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/health", get(openapi::health))
        .route("/openapi.json", get(openapi::openapi_json))
        .route(
            "/get-historical-features",
            post(historical::get_historical_features),
        )
        .route("/get-online-features", post(online::get_online_features))
        .route("/materialize", post(online::materialize))
        .route(
            "/materialize-incremental",
            post(online::materialize_incremental),
        )
        .route("/push", post(push::push))
        .route("/write-to-online-store", post(push::write_to_online_store))
        .route("/ingest-stats", get(push::ingest_stats))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/stats", get(quality::stats))
        .route("/drift", get(quality::drift))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .fallback(json_errors::not_found)
        // Layers run outside in: every request is observed (id, latency),
        // those the token check refuses and those no route serves included.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(json_errors::json_errors))
        .layer(axum::middleware::from_fn(panics::catch_panics))
        // Outermost: Feast's client reads every error of its routes in its dialect.
        .layer(axum::middleware::from_fn(feast_errors::feast_errors))
        .with_state(state)
}

/// Where the server listens: HTTP, and Arrow Flight unless `None`.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    pub http: SocketAddr,
    pub flight: Option<SocketAddr>,
}

/// Serves the API on `addresses` until `stop` completes (see [`shutdown_signal`]),
/// over HTTPS (and Flight over TLS) with `tls`; `ingest_stats` are the counters
/// of an ingest running beside it. Either way, `stop` ends accepting and the
/// open connections are drained; the HTTP connections are limited and timed
/// as `limits.connections` says.
pub async fn serve(
    store: FeatureStore,
    addresses: Addresses,
    limits: Limits,
    ingest_stats: Option<IngestStats>,
    tls: Option<Tls>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut state = AppState::new(store, limits).await;
    state.ingest_stats = ingest_stats;
    state.spawn_refresh(REGISTRY_REFRESH);
    let listener = tokio::net::TcpListener::bind(addresses.http).await?;
    let flight_listener = match addresses.flight {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
        None => None,
    };
    let stop = stop.shared();
    // Flight's line comes first: whoever waits for "serving on" knows both.
    let flight = match flight_listener {
        Some(listener) => {
            let url = flight::url(listener.local_addr()?, tls.is_some());
            tracing::info!(%url, "Arrow Flight serving");
            eprintln!("quiver: Arrow Flight on {url}");
            Some(flight::serve(
                state.clone(),
                listener,
                tls.clone(),
                stop.clone(),
            ))
        }
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %addresses.http, scheme, "quiver serving");
    eprintln!("quiver: serving on {scheme}://{}", listener.local_addr()?);
    let store = state.store.clone();
    let metrics = state.metrics.clone();
    let connections = state.limits.connections;
    let app = router(state);
    let http = async move {
        match tls {
            None => {
                connections::serve(
                    listener,
                    connections::Plain,
                    app,
                    connections,
                    metrics,
                    stop,
                )
                .await;
            }
            Some(tls) => {
                let handshake = tls::TlsHandshake::new(tls);
                connections::serve(listener, handshake, app, connections, metrics, stop).await;
            }
        }
    };
    let flight = async move {
        match flight {
            Some(flight) => flight.await,
            None => Ok(()),
        }
    };
    let ((), flight) = tokio::join!(http, flight);
    // The pushes of the windows still open are summarized too.
    store.flush_stream_windows().await;
    flight
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
