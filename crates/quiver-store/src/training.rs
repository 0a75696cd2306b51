//! Training sets: the point-in-time join plus the lineage of saved datasets.

use arrow::array::RecordBatch;
use quiver_offline::FileOrigin;
use quiver_offline::pit::{
    EntityFrame, FeatureSelection, HistoricalRequest, get_historical_features, resolve,
};
use quiver_registry::SavedDataset;
use serde_json::{Value, json};

use crate::error::{Result, StoreError};
use crate::store::{Applied, FeatureStore};
use crate::time::{now_rfc3339, rfc3339};

/// A training set and what it was built from.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    pub batch: RecordBatch,
    pub registry_version: i64,
    /// Per view, the offline-store files the join read.
    pub offline_snapshot: Value,
    pub request: Value,
}

impl FeatureStore {
    /// Fails early when `name` is already a saved dataset.
    pub async fn check_dataset_name(&self, name: &str) -> Result<()> {
        if self
            .registry
            .datasets(self.project())
            .await?
            .iter()
            .any(|d| d.name == name)
        {
            return Err(StoreError::Request(format!(
                "a dataset named `{name}` is already saved"
            )));
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
        let batch = get_historical_features(&ctx, &store, &applied.spec, entity, request).await?;
        let request = json!({
            "features": match &request.features {
                FeatureSelection::Features(list) => json!(list),
                FeatureSelection::Service(service) => json!({ "feature_service": service }),
            },
            "full_feature_names": request.full_feature_names,
            "as_of_known_time": request.as_of_known_time,
        });
        Ok(TrainingSet {
            batch,
            registry_version: applied.version,
            offline_snapshot,
            request,
        })
    }

    /// Records a training set written to `path` as the saved dataset `name`.
    pub async fn save_dataset(
        &self,
        name: &str,
        path: &str,
        set: &TrainingSet,
        created_by: &str,
    ) -> Result<SavedDataset> {
        let dataset = SavedDataset {
            name: name.to_string(),
            registry_version: set.registry_version,
            request: set.request.clone(),
            offline_snapshot: set.offline_snapshot.clone(),
            row_count: set.batch.num_rows() as i64,
            path: path.to_string(),
            created_by: created_by.to_string(),
            created_at: now_rfc3339(),
        };
        self.registry.save_dataset(self.project(), &dataset).await?;
        Ok(dataset)
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
