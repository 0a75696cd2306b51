//! `quiver historical`: a point-in-time correct training set from an entity file.

use std::path::Path;
use std::time::Instant;

use quiver_offline::OfflineStore;
use quiver_offline::formats::{read_table_file, write_table_file};
use quiver_offline::pit::{
    EntityFrame, FeatureSelection, HistoricalRequest, get_historical_features,
};
use quiver_registry::SavedDataset;
use serde::Serialize;
use serde_json::json;

use crate::args::{GlobalArgs, HistoricalArgs};
use crate::context;
use crate::error::{CliError, CliResult};
use crate::output::print_json;

/// Entity frames larger than this are refused (memory is proportional to the frame).
pub const DEFAULT_MAX_ENTITY_ROWS: usize = 10_000_000;

#[derive(Serialize)]
struct Report {
    out: String,
    rows: usize,
    columns: Vec<String>,
    seconds: f64,
    registry_version: i64,
    saved_as: Option<String>,
}

pub async fn run(global: &GlobalArgs, args: &HistoricalArgs) -> CliResult {
    let started = Instant::now();
    let features = match (&args.features, &args.service) {
        (Some(list), None) => FeatureSelection::Features(
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ),
        (None, Some(service)) => FeatureSelection::Service(service.clone()),
        _ => {
            return Err(CliError::User(
                "give exactly one of --features or --service".into(),
            ));
        }
    };
    let request = HistoricalRequest {
        features,
        full_feature_names: args.full_feature_names,
        as_of_known_time: args.as_of_known_time,
    };
    let applied = context::applied(global).await?;
    if let Some(name) = &args.save {
        // Fail before the work, not after it.
        if applied
            .registry
            .datasets(&applied.project)
            .await?
            .iter()
            .any(|d| &d.name == name)
        {
            return Err(CliError::User(format!(
                "a dataset named `{name}` is already saved"
            )));
        }
    }
    let store = OfflineStore::new(applied.repo_root.join(&applied.config.offline_store.path));
    let entities = read_table_file(&args.entities).map_err(context::offline_error)?;
    let frame = EntityFrame::new(entities, &args.timestamp_column, args.max_rows)
        .map_err(context::offline_error)?;
    let ctx = context::engine()?;
    let training_set = get_historical_features(&ctx, &store, &applied.spec, &frame, &request)
        .await
        .map_err(context::offline_error)?;
    write_table_file(&args.out, &training_set).map_err(context::offline_error)?;

    if let Some(name) = &args.save {
        let dataset = SavedDataset {
            name: name.clone(),
            registry_version: applied.version,
            request: json!({
                "features": match &request.features {
                    FeatureSelection::Features(list) => json!(list),
                    FeatureSelection::Service(service) => json!({ "feature_service": service }),
                },
                "full_feature_names": request.full_feature_names,
                "as_of_known_time": request.as_of_known_time,
                "entities": args.entities.display().to_string(),
            }),
            offline_snapshot: snapshot(&store, &applied.spec, &request)?,
            row_count: training_set.num_rows() as i64,
            path: std::path::absolute(&args.out)
                .unwrap_or_else(|_| args.out.clone())
                .display()
                .to_string(),
            created_by: context::applied_by(),
            created_at: context::rfc3339(chrono::Utc::now().timestamp_micros()),
        };
        applied
            .registry
            .save_dataset(&applied.project, &dataset)
            .await?;
    }

    let report = Report {
        out: args.out.display().to_string(),
        rows: training_set.num_rows(),
        columns: training_set
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        seconds: started.elapsed().as_secs_f64(),
        registry_version: applied.version,
        saved_as: args.save.clone(),
    };
    if global.json {
        return print_json(&report);
    }
    println!(
        "Wrote {} rows x {} columns to {} in {:.2}s (definitions: registry version {}){}",
        report.rows,
        report.columns.len(),
        report.out,
        report.seconds,
        report.registry_version,
        report
            .saved_as
            .as_ref()
            .map(|n| format!("; saved as dataset `{n}`"))
            .unwrap_or_default()
    );
    Ok(())
}

/// The offline files each requested view had when the set was built.
fn snapshot(
    store: &OfflineStore,
    spec: &quiver_core::RepoSpec,
    request: &HistoricalRequest,
) -> CliResult<serde_json::Value> {
    let views = quiver_offline::pit::resolve(spec, &request.features, request.full_feature_names)
        .map_err(context::offline_error)?;
    let mut out = serde_json::Map::new();
    for view in views {
        let files = store
            .files(view.view.name())
            .map_err(context::offline_error)?;
        let listed: Vec<serde_json::Value> = files
            .iter()
            .map(|f| {
                let meta = std::fs::metadata(&f.path).ok();
                json!({
                    "path": relative(store.root(), &f.path),
                    "bytes": meta.as_ref().map(|m| m.len()),
                    "window": [context::rfc3339(f.window.start_us), context::rfc3339(f.window.end_us)],
                })
            })
            .collect();
        out.insert(view.view.name().to_string(), json!(listed));
    }
    Ok(serde_json::Value::Object(out))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
