//! The offline store: Parquet files managed by quiver, one directory per view,
//! partitioned by event date, one file per (date, materialized window):
//! `VIEW/date=YYYY-MM-DD/w_START_US_END_US.parquet`.
//!
//! Streamed rows (Kafka ingest, push) sit beside them in files named after their
//! origin (`k_TOPIC_PARTITION_FIRST_LAST.parquet`, `p_ID.parquet`, see
//! `stream_files`); batch windows never replace those.
//!
//! Files are written to hidden temporaries and renamed into place, so readers
//! never see half a file. Writing a window replaces what earlier runs stored
//! for the same instants, so each source row is kept once however often (and
//! with whatever overlapping windows) it is materialized.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, BooleanArray, RecordBatch, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::{filter_record_batch, take_record_batch};
use chrono::DateTime;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{OfflineError, Result};
use crate::lock::ViewLock;
use crate::retired::Retired;
use crate::sort_check::SortTracker;
use crate::view_schema::{EVENT_TS, ViewSchema};
use crate::window::TimeWindow;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What one materialization wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteStats {
    pub rows_written: u64,
    pub files: Vec<PathBuf>,
    /// Rows of earlier runs removed because this window replaced them.
    pub rows_replaced: u64,
}

/// Sees every batch a window write stores, before it is stored: data-quality
/// checks leave rows out or stop the write, statistics are gathered in the
/// same pass.
pub trait WindowInspector: Send {
    /// The rows of `batch` to store; an error stops the write and publishes nothing.
    fn inspect(&mut self, batch: RecordBatch) -> Result<RecordBatch>;
    /// After the last batch, before anything is published; an error publishes nothing.
    fn finish(&mut self) -> Result<()>;
}

/// Stores every row as it comes.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreEverything;

impl WindowInspector for StoreEverything {
    fn inspect(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        Ok(batch)
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct OfflineStore {
    root: PathBuf,
}

/// What wrote a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOrigin {
    /// Materializing this window of the batch source.
    Window(TimeWindow),
    /// The Kafka ingest: offsets `first_offset..=last_offset` of one partition.
    Kafka {
        topic: String,
        partition: i32,
        first_offset: i64,
        last_offset: i64,
    },
    /// One push request.
    Push { id: String },
}

/// One stored file and what wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    pub path: PathBuf,
    pub origin: FileOrigin,
    /// Rows are in storage order (keys, event time, created time): joins merge
    /// such files instead of sorting them. Named `*.unsorted.parquet` otherwise.
    pub sorted: bool,
}

impl OfflineStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn view_dir(&self, view: &str) -> PathBuf {
        self.root.join(view)
    }

    /// Every live file of a view (temporaries excluded), sorted by path.
    ///
    /// Files replaced by others are not listed (they are only deleted a
    /// while later: a query that listed them may still read them), nor are
    /// files a writer is still publishing. The view's record is read before
    /// and after listing the directories; when a writer changed it in
    /// between, the listing is taken again, so it is always one writer's
    /// whole change or none of it.
    pub fn files(&self, view: &str) -> Result<Vec<StoredFile>> {
        let dir = self.view_dir(view);
        let mut record = Retired::text(&dir)?;
        for _ in 0..LISTING_ATTEMPTS {
            let mut files = list_stored(&dir)?;
            let again = Retired::text(&dir)?;
            if again == record {
                let hidden = Retired::parse(&dir, &record);
                files.retain(|f| !hidden.contains(&f.path));
                files.sort_by(|a, b| a.path.cmp(&b.path));
                return Ok(files);
            }
            record = again;
        }
        Err(OfflineError::Io {
            path: dir,
            source: std::io::Error::other("the view's files changed during every listing"),
        })
    }

    /// Stores the canonical rows of `stream` that `inspector` keeps as
    /// `view`'s data for `window`, replacing what earlier runs stored for
    /// instants inside it.
    pub async fn write_window(
        &self,
        view: &ViewSchema,
        mut stream: SendableRecordBatchStream,
        window: TimeWindow,
        mut on_rows: impl FnMut(u64),
        inspector: &mut dyn WindowInspector,
    ) -> Result<WriteStats> {
        let removed = remove_abandoned_temporaries(&self.view_dir(view.name()))?;
        if removed > 0 {
            tracing::info!(
                view = view.name(),
                removed,
                "removed temporaries of ended processes"
            );
        }
        let view_dir = self.view_dir(view.name());
        let stem = FileOrigin::Window(window).stem();
        let mut writers: BTreeMap<i64, (DayWriter, SortTracker)> = BTreeMap::new();
        let mut stats = WriteStats::default();
        while let Some(batch) = stream.next().await {
            let batch = inspector.inspect(batch?)?;
            for (day, indices) in rows_by_day(&batch)? {
                let part = take_record_batch(&batch, &UInt32Array::from(indices))?;
                let writer = match writers.get_mut(&day) {
                    Some(w) => w,
                    None => {
                        let dir = view_dir.join(day_partition(day));
                        let created = (
                            DayWriter::create(&dir, &stem, &view.schema)?,
                            SortTracker::new(view)?,
                        );
                        writers.entry(day).or_insert(created)
                    }
                };
                writer.1.observe(&part)?;
                writer.0.write(&part)?;
                stats.rows_written += part.num_rows() as u64;
                on_rows(part.num_rows() as u64);
            }
        }
        inspector.finish()?;
        // Every day's file is finished and synced before any is renamed into
        // place, so a failure while writing (a full disk) publishes nothing.
        let mut finished = Vec::with_capacity(writers.len());
        for (_, (writer, order)) in writers {
            let dir = writer.dir.clone();
            finished.push((writer.finish()?, dir, order.is_sorted()));
        }
        // Listing, trimming and publishing run under the view's lock: a run
        // that overlaps this window in another task, process or host waits
        // (only for this part, not while it reads its source), then sees and
        // trims what the other published.
        let _lock = ViewLock::acquire(&view_dir).await?;
        Retired::tidy(&view_dir, crate::retired::GRACE)?;
        let before = self.files(view.name())?;
        let mut publication = Publication::default();
        for (file, dir, sorted) in finished {
            publication.add(file, &dir, &stem, sorted);
        }
        // The trimmed copies of older windows' files are written before
        // anything is published (a re-run of this very window covers, and so
        // replaces, its earlier files).
        for old in before {
            // Streamed rows are not the batch source's: a window never replaces them.
            if let FileOrigin::Window(old_window) = &old.origin
                && old_window.overlaps(&window)
            {
                stats.rows_replaced +=
                    plan_trim(&old, old_window, &window)?.apply(&mut publication);
            }
        }
        stats.files = publication.publish(&view_dir)?;
        Ok(stats)
    }
}

/// How often [`OfflineStore::files`] lists a view that writers keep changing.
const LISTING_ATTEMPTS: usize = 50;

/// The stored files under `dir`'s day directories, whatever the record says.
fn list_stored(dir: &Path) -> Result<Vec<StoredFile>> {
    let mut files = Vec::new();
    let Ok(days) = std::fs::read_dir(dir) else {
        return Ok(files);
    };
    for day in days {
        let day = day
            .map_err(|source| OfflineError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        let Ok(entries) = std::fs::read_dir(&day) else {
            continue;
        };
        for entry in entries {
            let path = entry
                .map_err(|source| OfflineError::Io {
                    path: day.clone(),
                    source,
                })?
                .path();
            if let Some((origin, sorted)) = origin_of(&path) {
                files.push(StoredFile {
                    path,
                    origin,
                    sorted,
                });
            }
        }
    }
    Ok(files)
}

/// `date=YYYY-MM-DD` of a day number since the epoch.
pub(crate) fn day_partition(day: i64) -> String {
    let date = DateTime::from_timestamp_micros(day * MICROS_PER_DAY)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_default();
    format!("date={date}")
}

/// A stored file's name: sorted files are plain, others say so.
pub(crate) fn file_name(stem: &str, sorted: bool) -> String {
    if sorted {
        format!("{stem}.parquet")
    } else {
        format!("{stem}.unsorted.parquet")
    }
}

/// The origin encoded in a stored file's name, and whether its rows are sorted.
fn origin_of(path: &Path) -> Option<(FileOrigin, bool)> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".parquet")?;
    let (stem, sorted) = match stem.strip_suffix(".unsorted") {
        Some(stem) => (stem, false),
        None => (stem, true),
    };
    let stem = without_revision(stem);
    if let Some(bounds) = stem.strip_prefix("w_") {
        // `_` separates the bounds: they may be negative (before 1970).
        let (start, end) = bounds.split_once('_')?;
        let window = TimeWindow {
            start_us: start.parse().ok()?,
            end_us: end.parse().ok()?,
        };
        return Some((FileOrigin::Window(window), sorted));
    }
    if let Some(id) = stem.strip_prefix("p_") {
        return Some((FileOrigin::Push { id: id.to_string() }, sorted));
    }
    // The topic may itself contain `_`: the numbers are read from the right.
    let mut parts = stem.strip_prefix("k_")?.rsplitn(4, '_');
    let last_offset = parts.next()?.parse().ok()?;
    let first_offset = parts.next()?.parse().ok()?;
    let partition = parts.next()?.parse().ok()?;
    let topic = parts.next().filter(|t| !t.is_empty())?.to_string();
    Some((
        FileOrigin::Kafka {
            topic,
            partition,
            first_offset,
            last_offset,
        },
        sorted,
    ))
}

impl FileOrigin {
    /// The file stem that encodes this origin (see [`origin_of`]).
    pub(crate) fn stem(&self) -> String {
        match self {
            FileOrigin::Window(w) => format!("w_{}_{}", w.start_us, w.end_us),
            FileOrigin::Kafka {
                topic,
                partition,
                first_offset,
                last_offset,
            } => format!("k_{topic}_{partition}_{first_offset}_{last_offset}"),
            FileOrigin::Push { id } => format!("p_{id}"),
        }
    }
}

/// Row indices of a canonical batch grouped by event day.
pub(crate) fn rows_by_day(batch: &RecordBatch) -> Result<BTreeMap<i64, Vec<u32>>> {
    let ts = event_times(batch)?;
    let mut days: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for (i, t) in ts.values().iter().enumerate() {
        days.entry(t.div_euclid(MICROS_PER_DAY))
            .or_default()
            .push(i as u32);
    }
    Ok(days)
}

pub(crate) fn event_times(batch: &RecordBatch) -> Result<&TimestampMicrosecondArray> {
    batch
        .column_by_name(EVENT_TS)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| {
            OfflineError::Config(format!("batch without a microsecond `{EVENT_TS}` column"))
        })
}

pub(crate) fn write_error(
    path: &Path,
    e: impl std::error::Error + Send + Sync + 'static,
) -> OfflineError {
    OfflineError::Write {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(128 * 1024))
        .build()
}

/// A Parquet file being written under a hidden temporary name
/// (`.STEM.PID.tmp`); dropped unfinished, the temporary is removed.
pub(crate) struct DayWriter {
    pub(crate) dir: PathBuf,
    temp: PathBuf,
    writer: Option<ArrowWriter<File>>,
}

impl DayWriter {
    pub(crate) fn create(
        dir: &Path,
        stem: &str,
        schema: &arrow::datatypes::SchemaRef,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        let temp = dir.join(temporary_name(stem));
        let file = File::create(&temp).map_err(|e| write_error(&temp, e))?;
        match ArrowWriter::try_new(file, schema.clone(), Some(writer_properties())) {
            Ok(writer) => Ok(Self {
                dir: dir.to_path_buf(),
                temp,
                writer: Some(writer),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(write_error(&temp, e))
            }
        }
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self.writer.as_mut() {
            Some(writer) => writer.write(batch).map_err(|e| write_error(&self.temp, e)),
            None => Err(OfflineError::Config(format!(
                "{} is already finished",
                self.temp.display()
            ))),
        }
    }

    /// Finishes the file and syncs it, still under its temporary name: every
    /// byte is on disk (a full disk fails here), nothing is visible yet.
    pub(crate) fn finish(mut self) -> Result<FinishedFile> {
        let finished = FinishedFile {
            temp: self.temp.clone(),
            published: false,
        };
        if let Some(writer) = self.writer.take() {
            let file = writer
                .into_inner()
                .map_err(|e| write_error(&finished.temp, e))?;
            file.sync_all()
                .map_err(|e| write_error(&finished.temp, e))?;
        }
        Ok(finished)
    }
}

impl Drop for DayWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A complete, synced file under its temporary name, waiting to be renamed
/// into place; dropped unpublished, it is removed.
pub(crate) struct FinishedFile {
    temp: PathBuf,
    published: bool,
}

impl FinishedFile {
    pub(crate) fn publish(mut self, target: &Path) -> Result<PathBuf> {
        std::fs::rename(&self.temp, target).map_err(|e| write_error(target, e))?;
        self.published = true;
        Ok(target.to_path_buf())
    }
}

impl Drop for FinishedFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// The end of every temporary's name.
const TEMP_SUFFIX: &str = ".tmp";

/// `.STEM.HOST.PID.SEQ.tmp`: whose it is (a store may be shared by hosts or
/// containers, and one process may write the same stem twice at once).
fn temporary_name(stem: &str) -> String {
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        ".{stem}.{}.{}.{seq}{TEMP_SUFFIX}",
        name_safe_host(),
        std::process::id()
    )
}

/// This host's name as it can stand between dots in a file name.
fn name_safe_host() -> String {
    quiver_core::process::hostname().replace(['.', '/'], "_")
}

/// Removes the temporaries that processes of this machine which have ended
/// left in `view_dir` (a killed materialization or ingest); returns how many.
/// Temporaries of live processes, or of unknown ones, are left alone.
pub(crate) fn remove_abandoned_temporaries(view_dir: &Path) -> Result<usize> {
    let Ok(days) = std::fs::read_dir(view_dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for day in days.flatten() {
        let Ok(entries) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some((host, pid)) = temporary_owner(&path) else {
                continue;
            };
            if host == name_safe_host() && quiver_core::process::is_alive(pid) == Some(false) {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    // Another process cleaned it up first.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(write_error(&path, e)),
                }
            }
        }
    }
    Ok(removed)
}

/// The host and process id in a temporary's name (`.STEM.HOST.PID.SEQ.tmp`).
fn temporary_owner(path: &Path) -> Option<(String, u32)> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let mut parts = rest.rsplitn(4, '.');
    let _seq: u64 = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    let host = parts.next()?.to_string();
    parts.next()?; // the stem
    Some((host, pid))
}

/// New files and the files they replace, made data in one step under the
/// view's lock (see [`Retired`]): readers see all of it or none of it, and a
/// writer killed midway leaves the old data.
#[derive(Default)]
pub(crate) struct Publication {
    files: Vec<(FinishedFile, PathBuf)>,
    replaced: Vec<PathBuf>,
}

impl Publication {
    /// Adds a finished file of `stem` to publish in `dir` under a name of its own.
    pub(crate) fn add(&mut self, file: FinishedFile, dir: &Path, stem: &str, sorted: bool) {
        let taken: Vec<&Path> = self.files.iter().map(|(_, t)| t.as_path()).collect();
        let target = unused_name(dir, stem, sorted, &taken);
        self.files.push((file, target));
    }

    /// Retires `path` when the new files are published.
    pub(crate) fn replace(&mut self, path: PathBuf) {
        self.replaced.push(path);
    }

    /// Names the new files pending, renames them into place, then commits:
    /// they become data and what they replace is retired. Returns their paths.
    pub(crate) fn publish(self, view_dir: &Path) -> Result<Vec<PathBuf>> {
        if self.files.is_empty() && self.replaced.is_empty() {
            return Ok(Vec::new());
        }
        let targets: Vec<PathBuf> = self.files.iter().map(|(_, t)| t.clone()).collect();
        Retired::begin(view_dir, &targets)?;
        for (file, target) in self.files {
            file.publish(&target)?;
        }
        Retired::commit(view_dir, &targets, &self.replaced)?;
        Ok(targets)
    }
}

/// What replacing a window does to an older window's file, prepared (any
/// trimmed copy already written and synced) before anything is published.
enum Trim {
    Untouched,
    Retire {
        path: PathBuf,
        rows: u64,
    },
    Replace {
        copy: FinishedFile,
        stem: String,
        sorted: bool,
        path: PathBuf,
        removed: u64,
    },
}

impl Trim {
    /// Adds it to `publication`; returns the rows it removes.
    fn apply(self, publication: &mut Publication) -> u64 {
        match self {
            Trim::Untouched => 0,
            Trim::Retire { path, rows } => {
                publication.replace(path);
                rows
            }
            Trim::Replace {
                copy,
                stem,
                sorted,
                path,
                removed,
            } => {
                let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
                publication.add(copy, &dir, &stem, sorted);
                publication.replace(path);
                removed
            }
        }
    }
}

/// Prepares removing the rows of `old` (written for `old_window`) that lie
/// inside `window`.
fn plan_trim(old: &StoredFile, old_window: &TimeWindow, window: &TimeWindow) -> Result<Trim> {
    let path = &old.path;
    let open = File::open(path).map_err(|source| OfflineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(open).map_err(|source| OfflineError::Parquet {
            path: path.to_path_buf(),
            source,
        })?;
    if window.covers(old_window) {
        let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        return Ok(Trim::Retire {
            path: path.to_path_buf(),
            rows,
        });
    }
    let reader = builder.build().map_err(|source| OfflineError::Parquet {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = FileOrigin::Window(*old_window).stem();
    let mut writer: Option<DayWriter> = None;
    let mut removed = 0u64;
    for batch in reader {
        let batch = batch?;
        let ts = event_times(&batch)?;
        let keep: BooleanArray = ts
            .iter()
            .map(|t| Some(!t.is_some_and(|t| window.contains(t))))
            .collect();
        removed += (keep.len() - keep.true_count()) as u64;
        let kept = filter_record_batch(&batch, &keep)?;
        if kept.num_rows() > 0 {
            if writer.is_none() {
                // The file keeps its own schema: the view may have changed since it was written.
                writer = Some(DayWriter::create(dir, &stem, &kept.schema())?);
            }
            if let Some(w) = writer.as_mut() {
                w.write(&kept)?;
            }
        }
    }
    Ok(match writer {
        // Nothing of this file is inside the window: it stays as it is (the
        // unfinished copy removes itself).
        _ if removed == 0 => Trim::Untouched,
        // Filtering keeps the order, so the copy keeps the file's sortedness;
        // it gets a name of its own (the old file stays readable until retired).
        Some(w) => Trim::Replace {
            copy: w.finish()?,
            stem,
            sorted: old.sorted,
            path: path.to_path_buf(),
            removed,
        },
        None => Trim::Retire {
            path: path.to_path_buf(),
            rows: removed,
        },
    })
}

/// A name in `dir` for a file of `stem` that no file on disk has (retired
/// files are still there) and that is not `taken`: `STEM.parquet`, else
/// `STEM.v2.parquet`, `.v3`... Published files are never renamed over
/// another, so a query that listed a file reads what it listed. Called under
/// the view's lock.
pub(crate) fn unused_name(dir: &Path, stem: &str, sorted: bool, taken: &[&Path]) -> PathBuf {
    let mut revision = 1u64;
    loop {
        let name = match revision {
            1 => file_name(stem, sorted),
            n => file_name(&format!("{stem}{REVISION}{n}"), sorted),
        };
        let path = dir.join(name);
        if !path.exists() && !taken.contains(&path.as_path()) {
            return path;
        }
        revision += 1;
    }
}

/// Separates a stem from its revision (see [`unused_name`]).
const REVISION: &str = ".v";

/// `stem` without a revision suffix (`.v` and digits).
fn without_revision(stem: &str) -> &str {
    match stem.rsplit_once(REVISION) {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_windows_before_and_after_1970() {
        for (start_us, end_us) in [(-5_000_000, 10), (0, 86_400_000_000), (-20, -10)] {
            let name = format!("w_{start_us}_{end_us}.parquet");
            let window = FileOrigin::Window(TimeWindow { start_us, end_us });
            assert_eq!(origin_of(Path::new(&name)), Some((window.clone(), true)));
            assert_eq!(format!("{}.parquet", window.stem()), name);
            let unsorted = format!("w_{start_us}_{end_us}.unsorted.parquet");
            assert_eq!(origin_of(Path::new(&unsorted)), Some((window, false)));
        }
        assert_eq!(origin_of(Path::new(".w_1_2.parquet.7.tmp")), None);
        // A revision (a name taken while an older file of the stem is on disk).
        let window = FileOrigin::Window(TimeWindow {
            start_us: -5,
            end_us: 10,
        });
        assert_eq!(
            origin_of(Path::new("w_-5_10.v3.unsorted.parquet")),
            Some((window.clone(), false))
        );
        assert_eq!(
            origin_of(Path::new("w_-5_10.v12.parquet")),
            Some((window, true))
        );
        let host = |h: &str| Some((h.to_string(), 4321));
        assert_eq!(
            temporary_owner(Path::new(".w_-5_10.box.4321.0.tmp")),
            host("box")
        );
        assert_eq!(
            temporary_owner(Path::new(".k_a.b_0_1_2.node_1.4321.9.tmp")),
            host("node_1")
        );
        assert_eq!(temporary_owner(Path::new(".w_1_2.4321.tmp")), None);
        assert_eq!(temporary_owner(Path::new("w_1_2.parquet")), None);
        let name = temporary_name("w_1_2.unsorted");
        assert_eq!(
            temporary_owner(Path::new(&name)),
            Some((name_safe_host(), std::process::id()))
        );
        assert_ne!(temporary_name("w_1_2"), temporary_name("w_1_2"));
    }

    #[test]
    fn unused_names_never_reuse_a_file_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = unused_name(dir.path(), "w_1_2", true, &[]);
        assert_eq!(first, dir.path().join("w_1_2.parquet"));
        std::fs::write(&first, b"").expect("write");
        let second = unused_name(dir.path(), "w_1_2", true, &[]);
        assert_eq!(second, dir.path().join("w_1_2.v2.parquet"));
        std::fs::write(&second, b"").expect("write");
        assert_eq!(
            unused_name(dir.path(), "w_1_2", true, &[]),
            dir.path().join("w_1_2.v3.parquet")
        );
        assert_eq!(
            unused_name(dir.path(), "w_1_2", false, &[]),
            dir.path().join("w_1_2.unsorted.parquet")
        );
        // A name chosen for another file of the same publication is taken too.
        let third = dir.path().join("w_1_2.v3.parquet");
        assert_eq!(
            unused_name(dir.path(), "w_1_2", true, &[third.as_path()]),
            dir.path().join("w_1_2.v4.parquet")
        );
    }

    #[test]
    fn stream_file_names_round_trip() {
        for origin in [
            FileOrigin::Kafka {
                topic: "driver_stats_v2".into(),
                partition: 2,
                first_offset: 0,
                last_offset: 41,
            },
            FileOrigin::Kafka {
                topic: "a.b-c".into(),
                partition: 0,
                first_offset: 7,
                last_offset: 7,
            },
            FileOrigin::Push {
                id: "1700000000000000-12-3".into(),
            },
        ] {
            let name = format!("{}.parquet", origin.stem());
            assert_eq!(origin_of(Path::new(&name)), Some((origin, true)));
        }
        let dotted = FileOrigin::Kafka {
            topic: "t.v2".into(),
            partition: 0,
            first_offset: 1,
            last_offset: 2,
        };
        assert_eq!(
            origin_of(Path::new("k_t.v2_0_1_2.v4.parquet")),
            Some((dotted.clone(), true))
        );
        assert_eq!(
            origin_of(Path::new("k_t.v2_0_1_2.parquet")),
            Some((dotted, true))
        );
        assert_eq!(origin_of(Path::new("k__1_2_3.parquet")), None);
        assert_eq!(origin_of(Path::new("k_t_x_2_3.parquet")), None);
        assert_eq!(day_partition(0), "date=1970-01-01");
        assert_eq!(day_partition(-1), "date=1969-12-31");
    }
}
