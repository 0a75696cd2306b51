//! A view's feature statistics gathered on a thread of their own, beside the
//! write they measure.
//!
//! Statistics never change which rows are written, so unlike the checks they
//! need not hold up the write: the rows a pass keeps are handed over (cheap,
//! Arrow arrays are shared, not copied) and the writer goes on. On a machine
//! with a core to spare, statistics then cost a materialization little wall
//! time; the pass still waits for them before the run is published, so every
//! kept row is counted and a run's duration includes them.

use std::collections::BTreeMap;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use quiver_quality::StatsSummary;

use crate::error::{Result, StoreError};
use crate::quality::ViewStats;

/// Batches handed over but not yet taken in: the memory the thread may lag
/// behind the writer by (with 8192-row batches, some 64k rows).
const QUEUED_BATCHES: usize = 8;

pub(crate) struct StatsThread {
    state: State,
}

enum State {
    /// Nothing to gather, or gathering is over.
    Done(ViewStats),
    Running {
        batches: SyncSender<RecordBatch>,
        thread: JoinHandle<Result<ViewStats>>,
    },
    /// The thread failed; the error was returned once.
    Failed,
}

impl StatsThread {
    /// Starts gathering `stats` of view `view` (no thread when there is
    /// nothing to gather).
    pub(crate) fn spawn(view: &str, stats: ViewStats) -> Result<Self> {
        if stats.is_empty() {
            return Ok(Self {
                state: State::Done(stats),
            });
        }
        let (batches, received) = sync_channel::<RecordBatch>(QUEUED_BATCHES);
        let thread = std::thread::Builder::new()
            .name(format!("stats-{view}"))
            .spawn(move || {
                let mut stats = stats;
                for batch in received {
                    stats.observe(&batch)?;
                }
                Ok(stats)
            })
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the statistics thread: {e}"))
            })?;
        Ok(Self {
            state: State::Running { batches, thread },
        })
    }

    /// Hands `batch` over; blocks only while the thread is [`QUEUED_BATCHES`]
    /// behind.
    pub(crate) fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        if let State::Running { batches, .. } = &self.state
            && batches.send(batch.clone()).is_err()
        {
            // The thread stopped early: only an error does that.
            return self.finish();
        }
        Ok(())
    }

    /// Waits until every batch handed over is taken in.
    pub(crate) fn finish(&mut self) -> Result<()> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Running { batches, thread } => {
                drop(batches);
                let stats = thread
                    .join()
                    .map_err(|_| StoreError::Internal("the statistics thread panicked".into()))??;
                self.state = State::Done(stats);
                Ok(())
            }
            done => {
                self.state = done;
                Ok(())
            }
        }
    }

    /// The statistics of the rows taken in (none before [`StatsThread::finish`]).
    pub(crate) fn summaries(&self) -> BTreeMap<String, StatsSummary> {
        match &self.state {
            State::Done(stats) => stats.summaries(),
            State::Running { .. } | State::Failed => BTreeMap::new(),
        }
    }
}
