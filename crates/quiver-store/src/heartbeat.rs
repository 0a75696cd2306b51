//! A running materialization keeps saying so, so that a run whose process dies
//! is recognized as abandoned (see `Registry::interrupt_abandoned_runs`).

use quiver_registry::{RUN_HEARTBEAT_EVERY, Registry};
use tokio::task::JoinHandle;

/// Beats for one run until dropped.
pub(crate) struct Heartbeat(JoinHandle<()>);

impl Heartbeat {
    pub(crate) fn start(registry: &Registry, run_id: &str) -> Self {
        let registry = registry.clone();
        let run_id = run_id.to_string();
        Self(tokio::spawn(async move {
            let mut every = tokio::time::interval(RUN_HEARTBEAT_EVERY);
            every.tick().await; // the first tick is immediate; start_run just beat
            loop {
                every.tick().await;
                // A missed beat is harmless unless the registry stays away
                // long enough for the run to be called abandoned.
                if let Err(error) = registry.heartbeat_run(&run_id).await {
                    tracing::warn!(%run_id, %error, "materialization heartbeat failed");
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}
