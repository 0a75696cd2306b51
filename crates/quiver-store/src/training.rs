//! Training sets: the point-in-time join plus the lineage of saved datasets.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quiver_offline::formats::write_table_file;
use quiver_offline::pit::{
    EntityFrame, FeatureSelection, HistoricalRequest, TrainingRows, get_historical_features,
    resolve,
};
use quiver_offline::{FileOrigin, TableRows};
use quiver_registry::{RegistryError, SavedDataset};
use serde_json::{Value, json};

use crate::error::{Result, StoreError};
use crate::store::{Applied, FeatureStore};
use crate::time::{now_rfc3339, rfc3339};

/// A training set and what it was built from.
#[derive(Clone)]
pub struct TrainingSet {
    /// The rows, gathered a slice at a time by whoever writes them.
    pub rows: Arc<TrainingRows>,
    pub registry_version: i64,
    /// Per view, the offline-store files the join read.
    pub offline_snapshot: Value,
    pub request: Value,
}

impl FeatureStore {
    /// Fails early when `name` cannot name a dataset or is already saved.
    pub async fn check_dataset_name(&self, name: &str) -> Result<()> {
        if let Some(reason) = quiver_core::identifier_error(name) {
            return Err(StoreError::Request(format!(
                "a dataset's name (`save_as`, `--save`) {reason}"
            )));
        }
        if self
            .registry
            .datasets(self.project())
            .await?
            .iter()
            .any(|d| d.name == name)
        {
            return Err(StoreError::Registry(RegistryError::Conflict(format!(
                "a dataset named `{name}` is already saved"
            ))));
        }
        Ok(())
    }

    /// Builds a point-in-time correct training set for `entity`.
    pub async fn training_set(
        &self,
        applied: &Applied,
        entity: &EntityFrame,
        request: &HistoricalRequest,
    ) -> Result<TrainingSet> {
        let store = self.offline_store();
        // The snapshot is taken before the join reads, so it names every file the join could see.
        let offline_snapshot = snapshot(&store, applied, request)?;
        let ctx = self.engine()?;
        let rows = get_historical_features(&ctx, &store, &applied.spec, entity, request).await?;
        let request = json!({
            "features": match &request.features {
                FeatureSelection::Features(list) => json!(list),
                FeatureSelection::Service(service) => json!({ "feature_service": service }),
            },
            "full_feature_names": request.full_feature_names,
            "as_of_known_time": request.as_of_known_time,
        });
        Ok(TrainingSet {
            rows: Arc::new(rows),
            registry_version: applied.version,
            offline_snapshot,
            request,
        })
    }

    /// Keeps a training set as saved dataset `name`, with its lineage, in the
    /// offline store's `_datasets/` (a directory no view can be named).
    pub async fn save_training_set(
        &self,
        set: &TrainingSet,
        name: &str,
        created_by: &str,
    ) -> Result<Option<SavedDataset>> {
        let path = self
            .offline_store()
            .root()
            .join("_datasets")
            .join(format!("{name}.parquet"));
        self.write_training_set(set, &path, Some(name), created_by)
            .await
    }

    /// Writes a training set to `path` and, when `save_as` names it, records
    /// it as that saved dataset with its lineage.
    ///
    /// The file is written aside (a hidden temporary beside `path`) and
    /// renamed into place only once the record is in: of concurrent saves
    /// under one name the registry admits exactly one, and the others leave
    /// no trace (a `Conflict`), so the file always holds the recorded rows.
    pub async fn write_training_set(
        &self,
        set: &TrainingSet,
        path: &Path,
        save_as: Option<&str>,
        created_by: &str,
    ) -> Result<Option<SavedDataset>> {
        let temp = temporary_beside(path);
        let rows = set.rows.clone();
        let written = temp.clone();
        let wrote = tokio::task::spawn_blocking(move || write_table_file(&written, rows.as_ref()))
            .await
            .map_err(|e| StoreError::Internal(format!("writing the training set failed: {e}")));
        let temp = TemporaryFile(temp);
        wrote??;
        let Some(name) = save_as else {
            temp.publish(path)?;
            return Ok(None);
        };
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let dataset = SavedDataset {
            name: name.to_string(),
            registry_version: set.registry_version,
            request: set.request.clone(),
            offline_snapshot: set.offline_snapshot.clone(),
            row_count: set.rows.num_rows() as i64,
            path: path.display().to_string(),
            created_by: created_by.to_string(),
            created_at: now_rfc3339(),
        };
        self.registry.save_dataset(self.project(), &dataset).await?;
        if let Err(error) = temp.publish(&path) {
            // The record must not name a file that is not there.
            if let Err(forget) = self.registry.forget_dataset(self.project(), name).await {
                tracing::error!(dataset = name, %forget, "a saved dataset's record names no file");
            }
            return Err(error);
        }
        Ok(Some(dataset))
    }
}

/// A hidden name beside `path` for writing it aside, keeping its extension
/// (which says the format): `.NAME.PID.SEQ.tmp.EXT`.
fn temporary_beside(path: &Path) -> PathBuf {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("tmp");
    path.with_file_name(format!(".{name}.{}.{seq}.tmp.{ext}", std::process::id()))
}

/// A written file under its temporary name, removed unless published.
struct TemporaryFile(PathBuf);

impl TemporaryFile {
    fn publish(self, target: &Path) -> Result<()> {
        std::fs::rename(&self.0, target)
            .map_err(|e| StoreError::Internal(format!("cannot write {}: {e}", target.display())))
    }
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        // After a publish there is nothing left to remove.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Lineage names a batch file by its window and a streamed one by its origin.
fn origin_field(origin: &FileOrigin) -> &'static str {
    match origin {
        FileOrigin::Window(_) => "window",
        FileOrigin::Kafka { .. } => "kafka",
        FileOrigin::Push { .. } => "push",
    }
}

fn origin_json(origin: &FileOrigin) -> Value {
    match origin {
        FileOrigin::Window(w) => json!([rfc3339(w.start_us), rfc3339(w.end_us)]),
        FileOrigin::Kafka {
            topic,
            partition,
            first_offset,
            last_offset,
        } => {
            json!({"topic": topic, "partition": partition, "offsets": [first_offset, last_offset]})
        }
        FileOrigin::Push { id } => json!(id),
    }
}

fn snapshot(
    store: &quiver_offline::OfflineStore,
    applied: &Applied,
    request: &HistoricalRequest,
) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for view in resolve(&applied.spec, &request.features, request.full_feature_names)? {
        let files = store.files(view.view.name())?;
        let listed: Vec<Value> = files
            .iter()
            .map(|f| {
                let mut entry = json!({
                    "path": f.path.strip_prefix(store.root()).unwrap_or(&f.path).display().to_string(),
                    "bytes": std::fs::metadata(&f.path).ok().map(|m| m.len()),
                });
                entry[origin_field(&f.origin)] = origin_json(&f.origin);
                entry
            })
            .collect();
        out.insert(view.view.name().to_string(), json!(listed));
    }
    Ok(Value::Object(out))
}
