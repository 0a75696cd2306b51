//! `quiver historical`: a point-in-time correct training set from an entity file.

use std::time::Instant;

use quiver_offline::TableRows;
use quiver_offline::formats::read_table_file;
use quiver_offline::pit::{EntityFrame, HistoricalRequest};
use quiver_store::StoreError;
use serde::Serialize;

use crate::args::{GlobalArgs, HistoricalArgs};
use crate::context;
use crate::error::CliResult;
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
    let features = context::feature_selection(args.features.as_deref(), args.service.as_deref())?;
    let request = HistoricalRequest {
        features,
        full_feature_names: args.full_feature_names,
        as_of_known_time: args.as_of_known_time,
    };
    let store = context::store(global).await?;
    let applied = store.applied().await?;
    if let Some(name) = &args.save {
        store.check_dataset_name(name).await?;
    }
    let entities = read_table_file(&args.entities).map_err(StoreError::from)?;
    let frame = EntityFrame::new(entities, &args.timestamp_column, args.max_rows)
        .map_err(StoreError::from)?;
    let set = store.training_set(&applied, &frame, &request).await?;
    store
        .write_training_set(
            &set,
            &args.out,
            args.save.as_deref(),
            &context::applied_by(),
        )
        .await?;

    let report = Report {
        out: args.out.display().to_string(),
        rows: set.rows.num_rows(),
        columns: set
            .rows
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        seconds: started.elapsed().as_secs_f64(),
        registry_version: set.registry_version,
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
