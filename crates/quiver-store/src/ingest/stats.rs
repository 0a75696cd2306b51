//! Counters of a running ingest, shared with whoever reports them (the log
//! line, `GET /ingest-stats`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use quiver_quality::checks::CheckCount;

use super::{RejectReason, RowsWritten};

/// What the ingest has done since it started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IngestSnapshot {
    /// Messages consumed (good and bad).
    pub messages: u64,
    /// Micro-batches written and committed.
    pub batches: u64,
    /// Messages whose batch is fully written and whose offsets were handed to
    /// the broker to commit (asynchronously; refusals are `commit_errors`).
    pub committed_messages: u64,
    pub commit_errors: u64,
    pub rows: RowsWritten,
    /// Rows not appended offline because an earlier run already stored their offsets.
    pub offline_replayed_skipped: u64,
    /// Bad messages per reason; each went to the dead-letter topic.
    #[schema(value_type = HashMap<String, u64>)]
    pub rejected: BTreeMap<RejectReason, u64>,
    /// Per view, violations of its data-quality checks in committed batches
    /// (refused rows included).
    pub checks: BTreeMap<String, Vec<CheckCount>>,
    /// Failed write or commit attempts (each retried).
    pub retries: u64,
    pub rebalances: u64,
    /// Consumer lag per `topic/partition`, from the client's statistics.
    pub lag: BTreeMap<String, i64>,
    /// The sum of `lag`.
    pub total_lag: i64,
}

/// A handle to one ingest's counters.
#[derive(Debug, Clone, Default)]
pub struct IngestStats(Arc<Mutex<IngestSnapshot>>);

impl IngestStats {
    pub fn update(&self, change: impl FnOnce(&mut IngestSnapshot)) {
        // A poisoned lock only means a reader panicked; the counters are still usable.
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut guard);
    }

    pub fn snapshot(&self) -> IngestSnapshot {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
