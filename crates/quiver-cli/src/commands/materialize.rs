//! `quiver materialize START END` and `quiver materialize-incremental END`:
//! source rows into the offline store, with a run record per view.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use quiver_offline::{OfflineStore, TimeWindow, ViewSchema, materialize_view, parse_timestamp};
use quiver_registry::RunResult;
use serde::Serialize;

use crate::args::{GlobalArgs, MaterializeArgs, MaterializeIncrementalArgs};
use crate::context::{self, Applied};
use crate::error::{CliError, CliResult};
use crate::output::{print_json, table};

#[derive(Serialize)]
struct ViewReport {
    view: String,
    run_id: String,
    window_start: String,
    window_end: String,
    rows: u64,
    rows_replaced: u64,
    files: usize,
    duration_ms: u128,
}

pub async fn run(global: &GlobalArgs, args: &MaterializeArgs) -> CliResult {
    let start = parse_timestamp(&args.start).map_err(context::offline_error)?;
    let end = parse_timestamp(&args.end).map_err(context::offline_error)?;
    let window = TimeWindow::new(start, end).map_err(context::offline_error)?;
    let applied = context::applied(global).await?;
    let views = applied.batch_views(&args.views)?;
    let windows = views.iter().map(|v| (v.clone(), window)).collect();
    materialize(global, &applied, windows).await
}

pub async fn run_incremental(global: &GlobalArgs, args: &MaterializeIncrementalArgs) -> CliResult {
    let end = parse_timestamp(&args.end)
        .map_err(context::offline_error)?
        .timestamp_micros();
    let applied = context::applied(global).await?;
    let mut windows = Vec::new();
    for view in applied.batch_views(&args.views)? {
        let last = applied
            .registry
            .materialized_until(&applied.project, &view, "offline")
            .await?;
        let spec = applied
            .spec
            .feature_view(&view)
            .ok_or_else(|| CliError::User(format!("unknown view `{view}`")))?;
        // First run: as far back as the TTL reaches (everything when there is none).
        let start = last.unwrap_or_else(|| match spec.ttl {
            Some(ttl) => end.saturating_sub(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX)),
            None => 0,
        });
        if start < end {
            windows.push((
                view,
                TimeWindow {
                    start_us: start,
                    end_us: end,
                },
            ));
        } else if !global.json {
            println!("{view}: already materialized up to {}", args.end);
        }
    }
    materialize(global, &applied, windows).await
}

async fn materialize(
    global: &GlobalArgs,
    applied: &Applied,
    windows: Vec<(String, TimeWindow)>,
) -> CliResult {
    let store = OfflineStore::new(applied.repo_root.join(&applied.config.offline_store.path));
    let ctx = context::engine()?;
    let mut reports = Vec::new();
    for (name, window) in windows {
        let view = ViewSchema::new(&applied.spec, &name).map_err(context::offline_error)?;
        let run_id = applied
            .registry
            .start_run(
                &applied.project,
                &name,
                "offline",
                (window.start_us, window.end_us),
                applied.version,
            )
            .await?;
        let bar = progress(global, &name);
        let started = Instant::now();
        let result = materialize_view(&ctx, &store, &applied.repo_root, &view, window, |rows| {
            bar.inc(rows)
        })
        .await;
        bar.finish_and_clear();
        let duration_ms = started.elapsed().as_millis();
        match result {
            Ok(outcome) => {
                let rows = i64::try_from(outcome.rows).unwrap_or(i64::MAX);
                let result = RunResult::Succeeded {
                    rows_read: rows,
                    rows_written: rows,
                    duration_ms: duration_ms as i64,
                };
                applied.registry.finish_run(&run_id, &result).await?;
                reports.push(ViewReport {
                    view: name,
                    run_id,
                    window_start: context::rfc3339(window.start_us),
                    window_end: context::rfc3339(window.end_us),
                    rows: outcome.rows,
                    rows_replaced: outcome.rows_replaced,
                    files: outcome.files.len(),
                    duration_ms,
                });
            }
            Err(error) => {
                let failed = RunResult::Failed {
                    error: error.to_string(),
                    duration_ms: duration_ms as i64,
                };
                applied.registry.finish_run(&run_id, &failed).await?;
                return Err(context::offline_error(error));
            }
        }
    }
    if global.json {
        return print_json(&reports);
    }
    let mut out = table(&["VIEW", "WINDOW", "ROWS", "REPLACED", "FILES", "SECONDS"]);
    for r in &reports {
        out.add_row(vec![
            r.view.clone(),
            format!("{} .. {}", r.window_start, r.window_end),
            r.rows.to_string(),
            r.rows_replaced.to_string(),
            r.files.to_string(),
            format!("{:.2}", r.duration_ms as f64 / 1000.0),
        ]);
    }
    println!("{out}");
    Ok(())
}

/// A row counter on stderr (hidden for --json or when stderr is not a terminal).
fn progress(global: &GlobalArgs, view: &str) -> ProgressBar {
    if global.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {prefix}: {human_pos} rows ({per_sec}) {elapsed}")
    {
        bar.set_style(style);
    }
    bar.set_prefix(view.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
