//! Lineage queries: what a saved training set was built from (the definition
//! version of each view, the materialization runs behind the files it read,
//! the streamed files), and what a view fed (its runs and the datasets).

use chrono::{DateTime, Utc};
use quiver_core::ObjectKind;
use quiver_registry::{MaterializationRun, SavedDataset};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Result, StoreError};
use crate::store::FeatureStore;

/// A saved training set and what built it.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetLineage {
    pub dataset: SavedDataset,
    pub views: Vec<ViewInDataset>,
}

/// One view a training set read.
#[derive(Debug, Clone, Serialize)]
pub struct ViewInDataset {
    pub view: String,
    /// The view's own version (and content hash) at the dataset's registry version.
    pub definition_version: Option<i64>,
    pub definition_hash: Option<String>,
    /// The successful runs that wrote the batch files it read (window,
    /// rows, checks), the latest per window before the dataset was saved.
    pub runs: Vec<MaterializationRun>,
    /// Batch files no recorded run explains (written before runs were kept).
    pub unexplained_files: Vec<String>,
    /// Streamed files it read (Kafka offsets, pushes).
    pub streamed_files: Vec<Value>,
}

/// What a view fed: its runs and the training sets that read it.
#[derive(Debug, Clone, Serialize)]
pub struct ViewLineage {
    pub view: String,
    pub runs: Vec<MaterializationRun>,
    pub datasets: Vec<String>,
}

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl FeatureStore {
    pub async fn dataset_lineage(&self, name: &str) -> Result<DatasetLineage> {
        let project = self.project();
        let dataset = self
            .registry
            .datasets(project)
            .await?
            .into_iter()
            .find(|d| d.name == name)
            .ok_or_else(|| StoreError::Request(format!("no saved dataset named `{name}`")))?;
        let saved_at = instant(&dataset.created_at);
        let snapshot = dataset
            .offline_snapshot
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut views = Vec::new();
        for (view, files) in snapshot {
            let definition = self
                .registry
                .history(project, ObjectKind::FeatureView, &view)
                .await?
                .into_iter()
                .rfind(|v| v.registry_version <= dataset.registry_version);
            let runs = self.registry.runs(project, Some(&view)).await?;
            let mut behind: Vec<MaterializationRun> = Vec::new();
            let mut unexplained = Vec::new();
            let mut streamed = Vec::new();
            for file in files.as_array().cloned().unwrap_or_default() {
                let Some(window) = file["window"].as_array() else {
                    streamed.push(file);
                    continue;
                };
                let bounds: Vec<_> = window
                    .iter()
                    .filter_map(|t| t.as_str())
                    .filter_map(instant)
                    .collect();
                // Runs are newest first: the first match is the latest.
                let run = runs.iter().find(|r| {
                    r.target == "offline"
                        && r.status == "succeeded"
                        && bounds.len() == 2
                        && instant(&r.window_start) == Some(bounds[0])
                        && instant(&r.window_end) == Some(bounds[1])
                        && match (instant(&r.started_at), saved_at) {
                            (Some(started), Some(saved)) => started <= saved,
                            _ => true,
                        }
                });
                match run {
                    Some(run) if !behind.iter().any(|b| b.id == run.id) => behind.push(run.clone()),
                    Some(_) => {}
                    None => unexplained.push(file["path"].as_str().unwrap_or_default().to_string()),
                }
            }
            views.push(ViewInDataset {
                view,
                definition_version: definition.as_ref().map(|d| d.version),
                definition_hash: definition.and_then(|d| d.hash),
                runs: behind,
                unexplained_files: unexplained,
                streamed_files: streamed,
            });
        }
        Ok(DatasetLineage { dataset, views })
    }

    pub async fn view_lineage(&self, view: &str) -> Result<ViewLineage> {
        let project = self.project();
        let runs = self.registry.runs(project, Some(view)).await?;
        let datasets = self
            .registry
            .datasets(project)
            .await?
            .into_iter()
            .filter(|d| d.offline_snapshot.get(view).is_some())
            .map(|d| d.name)
            .collect::<Vec<_>>();
        if runs.is_empty() && datasets.is_empty() {
            return Err(StoreError::Request(format!(
                "`{view}` is neither a saved dataset nor a view with runs or datasets"
            )));
        }
        Ok(ViewLineage {
            view: view.to_string(),
            runs,
            datasets,
        })
    }
}
