//! Statistics and check counts of streamed rows (the Kafka ingest, push), per
//! view over fixed windows of ingest time, recorded in the registry as each
//! window closes: the stream's counterpart of a materialization run's record.
//!
//! Windows are aligned to multiples of their length (a 5-minute window starts
//! at :00, :05, ...), so the windows of every process feeding one view line
//! up. Each process records its own share (`writer`): the statistics are
//! sketches of what that process saw, not merged across processes.

use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::RecordBatch;
use quiver_online::OnlineRow;
use quiver_quality::checks::{CheckCount, add_counts};
use quiver_registry::StreamWindowRecord;

use super::{IngestView, to_arrow};
use crate::error::Result;
use crate::quality::{ViewStats, checks_json, stats_json};
use crate::store::FeatureStore;

/// The length of a window of streamed rows unless set otherwise.
pub const DEFAULT_STREAM_WINDOW: Duration = Duration::from_secs(300);

/// How streamed rows came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamPath {
    Kafka,
    Push,
}

impl StreamPath {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamPath::Kafka => "kafka",
            StreamPath::Push => "push",
        }
    }
}

/// Where the rows behind a view's statistics came from: materialization runs
/// (`batch`), or windows of rows streamed in (`kafka`, `push`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatsSource {
    #[default]
    Batch,
    Kafka,
    Push,
}

impl StatsSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Kafka => StreamPath::Kafka.as_str(),
            Self::Push => StreamPath::Push.as_str(),
        }
    }
}

impl std::str::FromStr for StatsSource {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "batch" => Ok(Self::Batch),
            "kafka" => Ok(Self::Kafka),
            "push" => Ok(Self::Push),
            other => Err(format!(
                "unknown statistics source `{other}` (batch, kafka or push)"
            )),
        }
    }
}

/// The open windows of one process, shared by its clones of the store.
#[derive(Debug, Clone)]
pub(crate) struct StreamWindows {
    length_us: i64,
    open: Arc<Mutex<BTreeMap<(StreamPath, String), OpenWindow>>>,
}

#[derive(Debug)]
struct OpenWindow {
    start_us: i64,
    rows: u64,
    checks: Vec<CheckCount>,
    stats: ViewStats,
}

/// A window to record.
#[derive(Debug)]
pub(crate) struct ClosedWindow {
    view: String,
    path: StreamPath,
    window: (i64, i64),
    rows: u64,
    checks: Vec<CheckCount>,
    stats: ViewStats,
}

impl StreamWindows {
    pub(crate) fn new(length: Duration) -> Self {
        let length_us = i64::try_from(length.as_micros()).unwrap_or(i64::MAX).max(1);
        Self {
            length_us,
            open: Arc::default(),
        }
    }

    /// Takes in rows of `view` (after its checks) and what its checks counted,
    /// at `now_us`; returns the window this closed (the view's window of an
    /// earlier instant), if any.
    pub(crate) fn observe(
        &self,
        path: StreamPath,
        view: &IngestView,
        (rows, batch): (&[impl Borrow<OnlineRow>], Option<&RecordBatch>),
        checks: &[CheckCount],
        with_stats: bool,
        now_us: i64,
    ) -> Result<Option<ClosedWindow>> {
        // The caller's batch of the rows, or one made here (only if needed).
        let batch = match batch {
            _ if !with_stats || rows.is_empty() => None,
            Some(batch) => Some(Cow::Borrowed(batch)),
            None => Some(Cow::Owned(to_arrow::rows_to_batch(&view.schema, rows)?)),
        };
        let new_stats = || {
            if with_stats {
                ViewStats::new(&view.schema)
            } else {
                Ok(ViewStats::default())
            }
        };
        self.take_in(path, view.name(), now_us, new_stats, |window| {
            window.rows += rows.len() as u64;
            add_counts(&mut window.checks, checks);
            match &batch {
                Some(batch) => window.stats.observe(batch.as_ref()),
                None => Ok(()),
            }
        })
    }

    /// Updates `view`'s window of `now_us` with `update`, opening it (with
    /// `new_stats`) if need be and closing the view's earlier one.
    fn take_in(
        &self,
        path: StreamPath,
        view: &str,
        now_us: i64,
        new_stats: impl FnOnce() -> Result<ViewStats>,
        update: impl FnOnce(&mut OpenWindow) -> Result<()>,
    ) -> Result<Option<ClosedWindow>> {
        let start_us = now_us - now_us.rem_euclid(self.length_us);
        // A poisoned lock only means another thread panicked mid-update; the
        // counts are still usable.
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let key = (path, view.to_string());
        let closed = match open.get(&key) {
            Some(window) if window.start_us < start_us => open
                .remove(&key)
                .map(|window| self.close(key.clone(), window, None)),
            _ => None,
        };
        let window = match open.entry(key) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(OpenWindow {
                start_us,
                rows: 0,
                checks: Vec::new(),
                stats: new_stats()?,
            }),
        };
        update(window)?;
        Ok(closed)
    }

    /// Closes the windows that ended by `now_us` (with no row since), or with
    /// `stopping` every open window, ending those still open at `now_us`.
    pub(crate) fn close_ended(&self, now_us: i64, stopping: bool) -> Vec<ClosedWindow> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let ended: Vec<_> = open
            .iter()
            .filter(|(_, w)| stopping || w.start_us.saturating_add(self.length_us) <= now_us)
            .map(|(key, _)| key.clone())
            .collect();
        ended
            .into_iter()
            .filter_map(|key| {
                let window = open.remove(&key)?;
                Some(self.close(key, window, Some(now_us)))
            })
            .collect()
    }

    /// A window ends at its nominal end, or at `stopped_us` when the process
    /// stopped before that.
    fn close(
        &self,
        (path, view): (StreamPath, String),
        window: OpenWindow,
        stopped_us: Option<i64>,
    ) -> ClosedWindow {
        let nominal_end = window.start_us.saturating_add(self.length_us);
        let end = stopped_us.map_or(nominal_end, |at| at.clamp(window.start_us + 1, nominal_end));
        ClosedWindow {
            view,
            path,
            window: (window.start_us, end),
            rows: window.rows,
            checks: window.checks,
            stats: window.stats,
        }
    }
}

impl FeatureStore {
    /// Takes streamed rows of `view` (those its checks kept; `batch`: the
    /// same rows as a batch, if the caller has one) and what the checks
    /// counted into the current window, recording the window before it once
    /// that has closed. Best effort: the rows are written already, so
    /// statistics that cannot be taken or recorded cost only themselves (logged).
    pub async fn observe_stream(
        &self,
        path: StreamPath,
        view: &IngestView,
        rows: &[impl Borrow<OnlineRow>],
        batch: Option<&RecordBatch>,
        checks: &[CheckCount],
    ) {
        let observed = self.stream_windows.observe(
            path,
            view,
            (rows, batch),
            checks,
            self.collect_statistics,
            quiver_online::now_us(),
        );
        match observed {
            Ok(Some(closed)) => self.record_stream_window(&closed).await,
            Ok(None) => {}
            Err(error) => tracing::warn!(view = view.name(), path = path.as_str(), %error,
                "could not take streamed rows into their window's statistics"),
        }
    }

    /// Records the windows of streamed rows that ended with no row since (a
    /// quiet stream's), so they need not wait for the next row: what an
    /// ingest or server does every little while.
    pub async fn record_ended_stream_windows(&self) {
        for window in self
            .stream_windows
            .close_ended(quiver_online::now_us(), false)
        {
            self.record_stream_window(&window).await;
        }
    }

    /// Records every open window of streamed rows, ending it now: what a
    /// stopping ingest or server does last.
    pub async fn flush_stream_windows(&self) {
        for window in self
            .stream_windows
            .close_ended(quiver_online::now_us(), true)
        {
            self.record_stream_window(&window).await;
        }
    }

    /// The statistics of `view`'s features from its latest run or window of
    /// streamed rows (per `source`), or the latest one ending in `window`.
    pub async fn latest_statistics(
        &self,
        view: &str,
        window: Option<(i64, i64)>,
        source: StatsSource,
    ) -> Result<Vec<quiver_registry::FeatureStatistics>> {
        let registry = &self.registry;
        let project = self.project();
        Ok(match source {
            StatsSource::Batch => registry.latest_statistics(project, view, window).await?,
            StatsSource::Kafka => {
                registry
                    .latest_stream_statistics(project, view, StreamPath::Kafka.as_str(), window)
                    .await?
            }
            StatsSource::Push => {
                registry
                    .latest_stream_statistics(project, view, StreamPath::Push.as_str(), window)
                    .await?
            }
        })
    }

    async fn record_stream_window(&self, window: &ClosedWindow) {
        let recorded = async {
            let checks = checks_json(&window.checks)?;
            let stats = stats_json(&window.stats.summaries())?;
            let writer = quiver_core::process::owner_id();
            let record = StreamWindowRecord {
                view: &window.view,
                path: window.path.as_str(),
                writer: &writer,
                window: window.window,
                rows: window.rows,
                checks: &checks,
                stats: &stats,
            };
            self.registry
                .record_stream_window(self.project(), &record)
                .await?;
            Ok::<_, crate::error::StoreError>(())
        };
        if let Err(error) = recorded.await {
            tracing::warn!(view = %window.view, path = window.path.as_str(), %error,
                "could not record the statistics of a window of streamed rows");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn add(windows: &StreamWindows, view: &str, now_us: i64, rows: u64) -> Option<ClosedWindow> {
        windows
            .take_in(
                StreamPath::Push,
                view,
                now_us,
                || Ok(ViewStats::default()),
                |w| {
                    w.rows += rows;
                    Ok(())
                },
            )
            .expect("take in")
    }

    #[test]
    fn a_window_closes_when_a_later_one_opens() {
        let windows = StreamWindows::new(Duration::from_secs(10));
        assert!(add(&windows, "v", 100 * SECOND, 2).is_none());
        assert!(add(&windows, "v", 109 * SECOND + 999_999, 3).is_none());
        assert!(add(&windows, "other", 125 * SECOND, 1).is_none());
        let closed = add(&windows, "v", 110 * SECOND, 4).expect("the first window closed");
        assert_eq!(closed.window, (100 * SECOND, 110 * SECOND));
        assert_eq!((closed.view.as_str(), closed.rows), ("v", 5));
    }

    #[test]
    fn stopping_closes_every_window_at_the_stop() {
        let windows = StreamWindows::new(Duration::from_secs(10));
        add(&windows, "v", 101 * SECOND, 1);
        add(&windows, "w", 95 * SECOND, 1);
        let mut closed = windows.close_ended(103 * SECOND, true);
        closed.sort_by(|a, b| a.view.cmp(&b.view));
        let ends: Vec<_> = closed.iter().map(|c| (c.view.as_str(), c.window)).collect();
        // A window of an earlier instant keeps its nominal end.
        assert_eq!(
            ends,
            [
                ("v", (100 * SECOND, 103 * SECOND)),
                ("w", (90 * SECOND, 100 * SECOND))
            ]
        );
        assert!(windows.close_ended(104 * SECOND, true).is_empty());
    }

    #[test]
    fn a_quiet_window_closes_once_it_ended() {
        let windows = StreamWindows::new(Duration::from_secs(10));
        add(&windows, "v", 101 * SECOND, 1);
        assert!(windows.close_ended(109 * SECOND, false).is_empty());
        let closed = windows.close_ended(110 * SECOND, false);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].window, (100 * SECOND, 110 * SECOND));
        assert!(windows.close_ended(200 * SECOND, true).is_empty());
    }

    #[test]
    fn sources_parse_from_their_names() {
        for source in [StatsSource::Batch, StatsSource::Kafka, StatsSource::Push] {
            assert_eq!(source.as_str().parse::<StatsSource>(), Ok(source));
        }
        assert!("stream".parse::<StatsSource>().is_err());
    }
}
