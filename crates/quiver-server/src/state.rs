//! What every handler shares: the feature store and a cached copy of the
//! applied definitions, refreshed in the background when the registry changes
//! (never read per request; kept when the registry is unreachable).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use quiver_store::{Applied, FeastAnswers, FeatureStore, IngestStats};

use crate::connections::ConnectionLimits;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Limits on what one request may ask, and on the connections they come on.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Entity rows per training-set request.
    pub max_entity_rows: usize,
    /// Entities per online lookup.
    pub max_online_entities: usize,
    /// Rows per push request.
    pub max_push_rows: usize,
    pub max_body_bytes: usize,
    /// Open connections and their timeouts.
    pub connections: ConnectionLimits,
    /// Online answers in Feast's way where quiver's differ (`--expired-as-present`,
    /// `--float32-as-double`).
    pub answers: FeastAnswers,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entity_rows: 1_000_000,
            max_online_entities: 10_000,
            max_push_rows: 100_000,
            max_body_bytes: 256 << 20,
            connections: ConnectionLimits::default(),
            answers: FeastAnswers::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<FeatureStore>,
    pub limits: Limits,
    /// The counters of the Kafka ingest running beside the API, if any.
    pub ingest_stats: Option<IngestStats>,
    pub metrics: Arc<Metrics>,
    applied: Arc<RwLock<Option<Applied>>>,
}

impl AppState {
    pub async fn new(store: FeatureStore, limits: Limits) -> Self {
        let applied = store.applied().await.ok();
        Self {
            store: Arc::new(store),
            limits,
            ingest_stats: None,
            metrics: Arc::new(Metrics::new()),
            applied: Arc::new(RwLock::new(applied)),
        }
    }

    /// The cached definitions; a 400 when nothing is applied yet.
    pub fn applied(&self) -> Result<Applied, ApiError> {
        self.applied
            .read()
            .ok()
            .and_then(|guard| guard.clone())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "project {} has nothing registered; run `quiver apply` first",
                    self.store.project()
                ))
            })
    }

    /// Polls the registry version and reloads the definitions when it moves;
    /// records the windows of pushed rows that ended.
    pub fn spawn_refresh(&self, every: Duration) {
        let state = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                // Windows of pushed rows that ended while no push came.
                state.store.record_ended_stream_windows().await;
                let current = state
                    .applied
                    .read()
                    .ok()
                    .and_then(|g| g.as_ref().map(|a| a.version));
                match state.store.registry.version(state.store.project()).await {
                    Ok(version) if Some(version) != current => match state.store.applied().await {
                        Ok(applied) => {
                            tracing::info!(version, "registry changed; definitions reloaded");
                            if let Ok(mut guard) = state.applied.write() {
                                *guard = Some(applied);
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot reload definitions; serving the cached ones")
                        }
                    },
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "registry unreachable; serving the cached definitions")
                    }
                }
            }
        });
    }
}
