//! Drift of a view's features: the statistics of a baseline (a window of the
//! offline store, or a saved training set) against those of a current window,
//! judged with the view's thresholds.

use std::collections::BTreeMap;
use std::path::Path;

use futures::StreamExt;
use quiver_offline::{TimeWindow, ViewSchema, in_window, scan_view};
use quiver_quality::{DriftThresholds, DriftVerdict, StatsSummary, detect_drift};
use serde::Serialize;

use crate::error::{Result, StoreError};
use crate::quality::ViewStats;
use crate::store::{Applied, FeatureStore};
use crate::time::rfc3339;

/// What the current window is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    Window(TimeWindow),
    /// A saved training set (`historical --save NAME`).
    Dataset(String),
}

impl Baseline {
    /// `START/END` (RFC 3339) is a window of the offline store; anything else
    /// names a saved dataset.
    pub fn parse(text: &str) -> Result<Self> {
        if text.contains('/') {
            parse_window(text).map(Baseline::Window)
        } else {
            Ok(Baseline::Dataset(text.to_string()))
        }
    }
}

/// `START/END`, both RFC 3339.
pub fn parse_window(text: &str) -> Result<TimeWindow> {
    let (start, end) = text.split_once('/').ok_or_else(|| {
        StoreError::Request(format!(
            "`{text}` is not a window: START/END, both RFC 3339"
        ))
    })?;
    let start = quiver_offline::parse_timestamp(start)?;
    let end = quiver_offline::parse_timestamp(end)?;
    Ok(TimeWindow::new(start, end)?)
}

/// The verdict per feature.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub view: String,
    pub baseline: String,
    pub current: String,
    pub thresholds: DriftThresholds,
    pub features: Vec<DriftVerdict>,
    /// Whether any feature crossed a threshold.
    pub drifted: bool,
}

impl FeatureStore {
    /// Compares `view`'s features in `current` with `baseline`.
    pub async fn drift(
        &self,
        applied: &Applied,
        view: &str,
        baseline: &Baseline,
        current: TimeWindow,
    ) -> Result<DriftReport> {
        let schema = ViewSchema::new(&applied.spec, view)?;
        let thresholds = thresholds_of(&schema);
        let (base, base_name) = match baseline {
            Baseline::Window(window) => (
                self.window_summaries(&schema, *window).await?,
                window_name(*window),
            ),
            Baseline::Dataset(name) => (
                self.dataset_summaries(&schema, name).await?,
                format!("dataset {name}"),
            ),
        };
        let now = self.window_summaries(&schema, current).await?;
        let mut features = Vec::new();
        for feature in &schema.view.features {
            let (Some(b), Some(c)) = (base.get(&feature.name), now.get(&feature.name)) else {
                continue;
            };
            let verdict = detect_drift(&feature.name, b, c, &thresholds)
                .map_err(|e| StoreError::Request(format!("drift of `{}`: {e}", feature.name)))?;
            features.push(verdict);
        }
        Ok(DriftReport {
            view: view.to_string(),
            baseline: base_name,
            current: window_name(current),
            thresholds,
            drifted: features.iter().any(|f| f.drifted),
            features,
        })
    }

    /// The statistics of the rows stored for `view` in `window`.
    async fn window_summaries(
        &self,
        view: &ViewSchema,
        window: TimeWindow,
    ) -> Result<BTreeMap<String, StatsSummary>> {
        let ctx = self.engine()?;
        let keep = in_window(window);
        let names: Vec<String> = view.view.features.iter().map(|f| f.name.clone()).collect();
        let mut stream = scan_view(&ctx, &self.offline_store(), view, keep, &names, None).await?;
        let mut stats = ViewStats::new(view)?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(quiver_offline::OfflineError::from)?;
            stats.observe(&batch)?;
        }
        finish(
            stats,
            &format!("{} in {}", view.name(), window_name(window)),
        )
    }

    /// The statistics of `view`'s features in the saved training set `name`.
    async fn dataset_summaries(
        &self,
        view: &ViewSchema,
        name: &str,
    ) -> Result<BTreeMap<String, StatsSummary>> {
        let datasets = self.registry.datasets(self.project()).await?;
        let dataset = datasets
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| StoreError::Request(format!("no saved dataset named `{name}`")))?;
        let full_names = dataset.request["full_feature_names"] == true;
        let path = Path::new(&dataset.path).to_path_buf();
        let batch =
            tokio::task::spawn_blocking(move || quiver_offline::formats::read_table_file(&path))
                .await
                .map_err(|e| {
                    StoreError::Internal(format!("reading the dataset failed to run: {e}"))
                })??;
        let column = |feature: &str| {
            if full_names {
                format!("{}__{feature}", view.name())
            } else {
                feature.to_string()
            }
        };
        let mut stats = ViewStats::reading(view, column)?;
        stats.observe(&batch)?;
        finish(stats, &format!("dataset {name}"))
    }
}

/// The view's thresholds, the defaults where it declares none.
fn thresholds_of(view: &ViewSchema) -> DriftThresholds {
    let mut thresholds = DriftThresholds::default();
    if let Some(drift) = view.view.drift {
        thresholds.psi = drift.psi.unwrap_or(thresholds.psi);
        thresholds.ks = drift.ks.unwrap_or(thresholds.ks);
        thresholds.chi_square_p = drift.chi_square_p.unwrap_or(thresholds.chi_square_p);
    }
    thresholds
}

fn window_name(window: TimeWindow) -> String {
    format!("{} .. {}", rfc3339(window.start_us), rfc3339(window.end_us))
}

fn finish(stats: ViewStats, what: &str) -> Result<BTreeMap<String, StatsSummary>> {
    if stats.has_no_rows() {
        return Err(StoreError::Request(format!("{what} holds no rows")));
    }
    Ok(stats.summaries())
}
