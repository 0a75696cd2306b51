//! Streamed rows in the offline store: each micro-batch of the Kafka ingest (or
//! each push request) becomes one sorted file per event day, named after where
//! its rows came from, so that a crashed ingest can drop exactly the files whose
//! offsets it never committed and replay them.

use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array, new_null_array};
use arrow::compute::take_record_batch;
use arrow::compute::{SortColumn, SortOptions, filter_record_batch, lexsort_to_indices};
use arrow::row::{RowConverter, SortField};

use crate::error::{OfflineError, Result};
use crate::lock::ViewLock;
use crate::retired::Retired;
use crate::store::{
    DayWriter, FileOrigin, OfflineStore, Publication, WriteStats, day_partition, file_name,
    rows_by_day, write_error,
};
use crate::view_schema::{CREATED_TS, EVENT_TS, ViewSchema};

impl OfflineStore {
    /// Appends streamed rows of `view` (in its canonical schema), sorted into
    /// storage order and de-duplicated on (keys, event time): of rows sharing
    /// both, the one with the latest created time is kept, and of those the last
    /// given, which is the row the online store's guard keeps.
    pub fn append(
        &self,
        view: &ViewSchema,
        batch: &RecordBatch,
        origin: &FileOrigin,
    ) -> Result<WriteStats> {
        let mut stats = WriteStats::default();
        if batch.num_rows() == 0 {
            return Ok(stats);
        }
        if matches!(origin, FileOrigin::Window(_)) {
            return Err(OfflineError::Config(
                "append takes streamed rows; windows are written by write_window".into(),
            ));
        }
        let rows = latest_per_key_and_time(view, batch)?;
        let stem = origin.stem();
        // All days are on disk before any is visible (see write_window).
        let mut finished = Vec::new();
        for (day, indices) in rows_by_day(&rows)? {
            let part = take_record_batch(&rows, &UInt32Array::from(indices))?;
            let dir = self.view_dir(view.name()).join(day_partition(day));
            let mut writer = DayWriter::create(&dir, &stem, &rows.schema())?;
            writer.write(&part)?;
            finished.push((writer.finish()?, dir.join(file_name(&stem, true))));
            stats.rows_written += part.num_rows() as u64;
        }
        for (file, target) in finished {
            stats.files.push(file.publish(&target)?);
        }
        Ok(stats)
    }

    /// Removes the files the Kafka ingest wrote for `topic`/`partition` from
    /// `from_offset` on: batches written but never committed, which the consumer
    /// is about to read again. Returns how many files were removed.
    pub fn remove_uncommitted(
        &self,
        view: &str,
        topic: &str,
        partition: i32,
        from_offset: i64,
    ) -> Result<usize> {
        let mut removed = 0;
        for file in self.files(view)? {
            if let FileOrigin::Kafka {
                topic: t,
                partition: p,
                first_offset,
                ..
            } = &file.origin
                && t == topic
                && *p == partition
                && *first_offset >= from_offset
            {
                std::fs::remove_file(&file.path).map_err(|e| write_error(&file.path, e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Streamed files of one kind a view may hold per day before they are merged.
pub const STREAM_FILES_PER_DAY: usize = 32;

/// Files this large are not merged again.
const MERGED_FILE_BYTES: u64 = 8 << 20;

/// Which streamed files of a view [`OfflineStore::compact`] merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactScope {
    /// Every push file.
    Pushes,
    /// The Kafka files of one partition whose offsets are all below
    /// `committed`, so no restart will remove them.
    Kafka {
        topic: String,
        partition: i32,
        committed: i64,
    },
}

impl OfflineStore {
    /// Merges the streamed files of `scope` into one sorted, de-duplicated file
    /// per event day, for each day holding more than `max_files` of them, so
    /// that small micro-batch and push files do not pile up. Returns how many
    /// files were merged. Readers see the old files or the merged one (it is
    /// renamed into place before the old ones are removed; a crash in between
    /// leaves identical rows twice, merged again next time).
    pub fn compact(
        &self,
        view: &ViewSchema,
        scope: &CompactScope,
        max_files: usize,
    ) -> Result<usize> {
        // One writer at a time per view: two merges must not merge (and
        // retire) the same files twice. A merge can as well happen later, so
        // it never waits for a materialization.
        let view_dir = self.view_dir(view.name());
        let Some(_lock) = ViewLock::try_acquire(&view_dir)? else {
            return Ok(0);
        };
        let mut by_day: std::collections::BTreeMap<std::path::PathBuf, Vec<crate::StoredFile>> =
            Default::default();
        for file in self.files(view.name())? {
            let matches = match (&file.origin, scope) {
                (FileOrigin::Push { .. }, CompactScope::Pushes) => true,
                (
                    FileOrigin::Kafka {
                        topic,
                        partition,
                        last_offset,
                        ..
                    },
                    CompactScope::Kafka {
                        topic: t,
                        partition: p,
                        committed,
                    },
                ) => topic == t && partition == p && last_offset < committed,
                _ => false,
            };
            // Files already merged up to a good size are left alone: merging
            // only the small ones keeps the rewriting proportional to new data.
            let small = std::fs::metadata(&file.path).is_ok_and(|m| m.len() < MERGED_FILE_BYTES);
            if matches
                && small
                && let Some(day) = file.path.parent()
            {
                by_day.entry(day.to_path_buf()).or_default().push(file);
            }
        }
        Retired::tidy(&view_dir, crate::retired::GRACE)?;
        let mut merged = 0;
        for (dir, files) in by_day {
            if files.len() <= max_files {
                continue;
            }
            let mut batches = Vec::new();
            for file in &files {
                let open = std::fs::File::open(&file.path).map_err(|source| OfflineError::Io {
                    path: file.path.clone(),
                    source,
                })?;
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open)
                        .and_then(|b| b.build())
                        .map_err(|source| OfflineError::Parquet {
                            path: file.path.clone(),
                            source,
                        })?;
                for batch in reader {
                    // Files written before a feature was added lack it: read as null.
                    batches.push(in_view_schema(&batch?, &view.schema)?);
                }
            }
            let all = arrow::compute::concat_batches(&view.schema, &batches)?;
            let rows = latest_per_key_and_time(view, &all)?;
            let origin = match scope {
                CompactScope::Pushes => FileOrigin::Push { id: push_id() },
                CompactScope::Kafka {
                    topic, partition, ..
                } => FileOrigin::Kafka {
                    topic: topic.clone(),
                    partition: *partition,
                    first_offset: files.iter().filter_map(kafka_first).min().unwrap_or(0),
                    last_offset: files.iter().filter_map(kafka_last).max().unwrap_or(0),
                },
            };
            let stem = origin.stem();
            let mut writer = DayWriter::create(&dir, &stem, &rows.schema())?;
            writer.write(&rows)?;
            // The merged file and the retirement of its parts are one step:
            // readers see the parts or the merged file, never both or neither.
            let mut publication = Publication::default();
            publication.add(writer.finish()?, &dir, &stem, true);
            merged += files.len();
            for file in files {
                publication.replace(file.path);
            }
            publication.publish(&view_dir)?;
        }
        Ok(merged)
    }
}

/// `batch` in the view's current schema: columns by name, missing ones null,
/// removed ones dropped.
fn in_view_schema(
    batch: &RecordBatch,
    schema: &arrow::datatypes::SchemaRef,
) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) if column.data_type() == field.data_type() => Ok(column.clone()),
            Some(column) => Ok(arrow::compute::cast(column, field.data_type())?),
            None => Ok(new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn kafka_first(file: &crate::StoredFile) -> Option<i64> {
    match file.origin {
        FileOrigin::Kafka { first_offset, .. } => Some(first_offset),
        _ => None,
    }
}

fn kafka_last(file: &crate::StoredFile) -> Option<i64> {
    match file.origin {
        FileOrigin::Kafka { last_offset, .. } => Some(last_offset),
        _ => None,
    }
}

/// A name for a push request's files, unique within and across processes.
pub fn push_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!(
        "{now}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `batch` in storage order with one row per (keys, event time): the greatest
/// (created time, position in `batch`).
fn latest_per_key_and_time(view: &ViewSchema, batch: &RecordBatch) -> Result<RecordBatch> {
    let column = |name: &str| -> Result<ArrayRef> {
        batch.column_by_name(name).cloned().ok_or_else(|| {
            OfflineError::Config(format!(
                "rows of view `{}` have no column `{name}`",
                view.name()
            ))
        })
    };
    let mut identity: Vec<ArrayRef> = view
        .key_names()
        .into_iter()
        .map(column)
        .collect::<Result<_>>()?;
    identity.push(column(EVENT_TS)?);
    let created = match batch.column_by_name(CREATED_TS) {
        Some(c) => c.clone(),
        None => new_null_array(&crate::timestamp_type(), batch.num_rows()),
    };
    let position: ArrayRef =
        std::sync::Arc::new(UInt32Array::from_iter_values(0..batch.num_rows() as u32));
    let ascending = SortOptions {
        descending: false,
        nulls_first: true,
    };
    let sort_columns: Vec<SortColumn> = identity
        .iter()
        .chain([&created, &position])
        .map(|values| SortColumn {
            values: values.clone(),
            options: Some(ascending),
        })
        .collect();
    let order = lexsort_to_indices(&sort_columns, None)?;
    let sorted = take_record_batch(batch, &order)?;

    // Keep the last row of each run of equal (keys, event time).
    let sorted_identity: Vec<ArrayRef> = identity
        .iter()
        .map(|c| arrow::compute::take(c.as_ref(), &order, None))
        .collect::<std::result::Result<_, _>>()?;
    let converter = RowConverter::new(
        sorted_identity
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = converter.convert_columns(&sorted_identity)?;
    let n = sorted.num_rows();
    let keep: BooleanArray = (0..n)
        .map(|i| Some(i + 1 == n || rows.row(i) != rows.row(i + 1)))
        .collect();
    if keep.true_count() == n {
        return Ok(sorted);
    }
    Ok(filter_record_batch(&sorted, &keep)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, TimestampMicrosecondArray};
    use quiver_core::{
        EntitySpec, FeatureSpec, FeatureViewSpec, JoinKey, RepoSpec, ScalarType, SourceKind,
        SourceSpec, ValueType,
    };

    use super::*;

    fn view() -> ViewSchema {
        let repo = RepoSpec {
            project: "p".into(),
            entities: vec![EntitySpec {
                name: "driver".into(),
                description: None,
                join_keys: vec![JoinKey {
                    name: "driver_id".into(),
                    dtype: ValueType::Scalar(ScalarType::Int64),
                }],
                tags: Default::default(),
            }],
            sources: vec![SourceSpec {
                name: "s".into(),
                kind: SourceKind::Push,
                timestamp_field: "ts".into(),
                created_timestamp_field: None,
                field_mapping: Default::default(),
                description: None,
                tags: Default::default(),
            }],
            feature_views: vec![FeatureViewSpec {
                name: "v".into(),
                entities: vec!["driver".into()],
                source: "s".into(),
                stream_source: None,
                ttl: None,
                online: true,
                features: vec![FeatureSpec {
                    name: "x".into(),
                    dtype: ValueType::Scalar(ScalarType::Int64),
                    description: None,
                    checks: Vec::new(),
                }],
                description: None,
                checks: Vec::new(),
                drift: None,
                tags: Default::default(),
            }],
            feature_services: vec![],
        };
        ViewSchema::new(&repo, "v").expect("view")
    }

    fn batch(view: &ViewSchema, rows: &[(i64, i64, Option<i64>, i64)]) -> RecordBatch {
        let ts = |v: Vec<Option<i64>>| TimestampMicrosecondArray::from(v).with_timezone("UTC");
        RecordBatch::try_new(
            view.schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(ts(rows.iter().map(|r| Some(r.1)).collect())),
                Arc::new(ts(rows.iter().map(|r| r.2).collect())),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
            ],
        )
        .expect("batch")
    }

    fn column(batch: &RecordBatch, i: usize) -> Vec<Option<i64>> {
        let c = batch.column(i);
        (0..c.len())
            .map(|r| {
                (!c.is_null(r)).then(|| {
                    arrow::array::cast::as_primitive_array::<arrow::datatypes::Int64Type>(
                        &arrow::compute::cast(c, &arrow::datatypes::DataType::Int64).expect("cast"),
                    )
                    .value(r)
                })
            })
            .collect()
    }

    #[test]
    fn keeps_the_latest_created_then_the_last_given() {
        let view = view();
        let rows = batch(
            &view,
            &[
                (2, 10, None, 1),
                (1, 10, Some(5), 2),
                (1, 10, Some(9), 3),
                (1, 10, Some(1), 4),
                (2, 10, None, 5),
                (1, 5, None, 6),
            ],
        );
        let out = latest_per_key_and_time(&view, &rows).expect("dedup");
        assert_eq!(column(&out, 0), vec![Some(1), Some(1), Some(2)]);
        assert_eq!(column(&out, 1), vec![Some(5), Some(10), Some(10)]);
        assert_eq!(column(&out, 3), vec![Some(6), Some(3), Some(5)]);
    }

    #[test]
    fn compaction_merges_small_files_per_day_and_keeps_the_latest_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = OfflineStore::new(dir.path());
        let view = view();
        for i in 0..5 {
            // The same key and time each push: only the last value survives.
            let rows = batch(&view, &[(1, 10, Some(i), i), (2, 20 + i, None, i)]);
            let push = FileOrigin::Push { id: push_id() };
            store.append(&view, &rows, &push).expect("append");
        }
        let kafka = |first_offset, last_offset| FileOrigin::Kafka {
            topic: "t".into(),
            partition: 0,
            first_offset,
            last_offset,
        };
        for (first, last) in [(0, 9), (10, 19), (20, 29)] {
            let rows = batch(&view, &[(3, first, None, first)]);
            store
                .append(&view, &rows, &kafka(first, last))
                .expect("append");
        }
        assert_eq!(
            store
                .compact(&view, &CompactScope::Pushes, 8)
                .expect("compact"),
            0
        );
        assert_eq!(
            store
                .compact(&view, &CompactScope::Pushes, 2)
                .expect("compact"),
            5
        );
        let committed = CompactScope::Kafka {
            topic: "t".into(),
            partition: 0,
            committed: 20,
        };
        assert_eq!(store.compact(&view, &committed, 1).expect("compact"), 2);
        let origins: Vec<FileOrigin> = store
            .files("v")
            .expect("files")
            .into_iter()
            .map(|f| f.origin)
            .collect();
        assert_eq!(origins.len(), 3, "{origins:?}");
        // The merged-away files stay on disk, unlisted, until their grace is over.
        let on_disk = || {
            std::fs::read_dir(dir.path().join("v/date=1970-01-01"))
                .expect("day dir")
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                })
                .count()
        };
        assert_eq!(on_disk(), 3 + 5 + 2);
        crate::retired::Retired::tidy(&dir.path().join("v"), std::time::Duration::ZERO)
            .expect("tidy");
        assert_eq!(on_disk(), 3);
        assert!(origins.contains(&kafka(0, 19)) && origins.contains(&kafka(20, 29)));
        let push = store
            .files("v")
            .expect("files")
            .into_iter()
            .find(|f| matches!(f.origin, FileOrigin::Push { .. }))
            .expect("the merged push file");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&push.path).expect("open"),
        )
        .and_then(|b| b.build())
        .expect("reader");
        let merged: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
        let merged = arrow::compute::concat_batches(&view.schema, &merged).expect("concat");
        assert_eq!(
            column(&merged, 0),
            vec![Some(1), Some(2), Some(2), Some(2), Some(2), Some(2)]
        );
        assert_eq!(column(&merged, 3)[0], Some(4), "the latest created wins");
    }

    #[test]
    fn uncommitted_kafka_files_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = OfflineStore::new(dir.path());
        let view = view();
        let day = 86_400_000_000;
        let kafka = |partition, first_offset, last_offset| FileOrigin::Kafka {
            topic: "t".into(),
            partition,
            first_offset,
            last_offset,
        };
        let rows = batch(&view, &[(1, 10, None, 1), (1, day + 10, None, 2)]);
        let written = store.append(&view, &rows, &kafka(0, 0, 9)).expect("append");
        assert_eq!((written.rows_written, written.files.len()), (2, 2));
        store
            .append(&view, &rows, &kafka(0, 10, 19))
            .expect("append");
        store
            .append(&view, &rows, &kafka(1, 10, 19))
            .expect("append");
        let push = FileOrigin::Push { id: push_id() };
        store.append(&view, &rows, &push).expect("append");
        assert_eq!(store.files("v").expect("files").len(), 8);
        assert_eq!(store.remove_uncommitted("v", "t", 0, 10).expect("rm"), 2);
        let left: Vec<FileOrigin> = store
            .files("v")
            .expect("files")
            .into_iter()
            .map(|f| f.origin)
            .collect();
        assert!(!left.contains(&kafka(0, 10, 19)));
        assert!(left.contains(&kafka(0, 0, 9)) && left.contains(&kafka(1, 10, 19)));
        assert!(left.contains(&push));
    }
}
