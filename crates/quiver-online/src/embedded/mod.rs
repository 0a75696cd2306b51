//! The embedded online store: one redb file, no services needed.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    ConcurrencyMode, Database, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, TableError,
};

use crate::error::{OnlineError, Result};
use crate::key::EntityKey;
use crate::model::{
    OnlineRow, ReadView, ViewMeta, ViewValues, WriteReport, check_read, check_write, version_cmp,
};
use crate::record::{self, RecordReader, RecordWriter};
use crate::store::OnlineStore;

/// The file inside the store's directory.
pub const EMBEDDED_FILE_NAME: &str = "online.redb";

/// A local online store in a redb file (`<dir>/online.redb`), with the same
/// semantics as the Redis store.
///
/// Each project has its own table; a row is keyed by `entity key bytes ++ 0x00 ++
/// view name` (the key encoding is self-delimiting, so this is unambiguous). A write
/// runs in one write transaction (read, compare, write), and redb serializes write
/// transactions, so concurrent writers, in this process or in other quiver
/// processes sharing the file (the database is opened in redb's multi-writer
/// mode), cannot lose a newer row. Every call runs on Tokio's blocking pool.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    file: PathBuf,
    table: String,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("file", &self.inner.file)
            .field("table", &self.inner.table)
            .finish()
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed, parent directories included) the store in
    /// `dir/online.redb` for `project`.
    pub fn open(dir: &Path, project: &str) -> Result<Self> {
        if !quiver_core::is_identifier(project) {
            return Err(OnlineError::Invalid(format!(
                "project name `{project}` must be letters, digits and underscores, not starting with a digit"
            )));
        }
        std::fs::create_dir_all(dir).map_err(|source| OnlineError::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
        let file = dir.join(EMBEDDED_FILE_NAME);
        let mut builder = Database::builder();
        builder.set_concurrency_mode(ConcurrencyMode::MultiWriter);
        let db = builder.create(&file).map_err(|e| OnlineError::Open {
            path: file.clone(),
            message: e.to_string(),
        })?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                db,
                file,
                table: format!("online/{project}"),
            }),
        })
    }

    /// The redb file.
    pub fn file(&self) -> &Path {
        &self.inner.file
    }

    /// Runs `f` on the blocking pool with the store's state.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| OnlineError::Backend(format!("embedded store task failed: {e}")))?
    }
}

/// The record key of one (entity, view).
fn record_key(key: &EntityKey, view: &str) -> Vec<u8> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 1 + view.len());
    out.extend_from_slice(bytes);
    out.push(0);
    out.extend_from_slice(view.as_bytes());
    out
}

/// A row ready for the write transaction.
struct PreparedRow {
    key: Vec<u8>,
    version: (i64, Option<i64>),
    record: Vec<u8>,
}

impl Inner {
    fn def(&self) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
        TableDefinition::new(&self.table)
    }

    fn err(&self, e: impl fmt::Display) -> OnlineError {
        OnlineError::Backend(format!("embedded store {}: {e}", self.file.display()))
    }

    fn write(&self, rows: Vec<PreparedRow>) -> Result<WriteReport> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut report = WriteReport::default();
        {
            let mut table = txn.open_table(self.def()).map_err(|e| self.err(e))?;
            for row in &rows {
                let older = match table.get(row.key.as_slice()).map_err(|e| self.err(e))? {
                    Some(stored) => {
                        version_cmp(row.version, record::version(stored.value())?) == Ordering::Less
                    }
                    None => false,
                };
                if older {
                    report.dropped_older += 1;
                } else {
                    table
                        .insert(row.key.as_slice(), row.record.as_slice())
                        .map_err(|e| self.err(e))?;
                    report.written += 1;
                }
            }
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(report)
    }

    fn read(
        &self,
        keys: &[EntityKey],
        views: &[ReadView],
        now_us: i64,
    ) -> Result<Vec<Vec<ViewValues>>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(self.def()) {
            Ok(table) => Some(table),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(self.err(e)),
        };
        let mut readers: Vec<RecordReader> = views
            .iter()
            .map(|v| RecordReader::new(&v.features))
            .collect();
        keys.iter()
            .map(|key| {
                views
                    .iter()
                    .zip(readers.iter_mut())
                    .map(|(v, reader)| {
                        let n = v.features.len();
                        let Some(table) = &table else {
                            return Ok(ViewValues::not_found(n));
                        };
                        let record_key = record_key(key, &v.view);
                        let Some(stored) =
                            table.get(record_key.as_slice()).map_err(|e| self.err(e))?
                        else {
                            return Ok(ViewValues::not_found(n));
                        };
                        let bytes = stored.value();
                        let (event, _) = record::version(bytes)?;
                        ViewValues::found(event, v.ttl, now_us, n, || reader.values(bytes))
                    })
                    .collect()
            })
            .collect()
    }

    fn clear(&self) -> Result<u64> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let removed = {
            let table = txn.open_table(self.def()).map_err(|e| self.err(e))?;
            table.len().map_err(|e| self.err(e))?
        };
        txn.delete_table(self.def()).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))?;
        Ok(removed)
    }
}

#[async_trait::async_trait]
impl OnlineStore for EmbeddedStore {
    async fn write(&self, view: &ViewMeta, rows: &[OnlineRow]) -> Result<WriteReport> {
        check_write(view, rows)?;
        if rows.is_empty() {
            return Ok(WriteReport::default());
        }
        let writer = RecordWriter::new(&view.features);
        let prepared: Vec<PreparedRow> = rows
            .iter()
            .map(|r| PreparedRow {
                key: record_key(&r.key, &view.name),
                version: (r.event_ts, r.created_ts),
                record: writer.encode(r.event_ts, r.created_ts, &r.values),
            })
            .collect();
        self.blocking(move |inner| inner.write(prepared)).await
    }

    async fn read(
        &self,
        keys: &[EntityKey],
        views: &[ReadView],
        now_us: i64,
    ) -> Result<Vec<Vec<ViewValues>>> {
        check_read(views)?;
        if keys.is_empty() || views.is_empty() {
            return Ok(vec![Vec::new(); keys.len()]);
        }
        let keys = keys.to_vec();
        let views = views.to_vec();
        self.blocking(move |inner| inner.read(&keys, &views, now_us))
            .await
    }

    async fn clear(&self) -> Result<u64> {
        self.blocking(Inner::clear).await
    }

    async fn ping(&self) -> Result<()> {
        self.blocking(|inner| {
            inner.db.begin_read().map_err(|e| inner.err(e))?;
            Ok(())
        })
        .await
    }
}
