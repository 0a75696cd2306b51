//! `quiver materialize START END` and `quiver materialize-incremental END`.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use quiver_offline::{TimeWindow, parse_timestamp};
use quiver_store::{Applied, FeatureStore, RunReport, StoreError};

use crate::args::{GlobalArgs, MaterializeArgs, MaterializeIncrementalArgs};
use crate::context;
use crate::error::CliResult;
use crate::output::{print_json, table};

pub async fn run(global: &GlobalArgs, args: &MaterializeArgs) -> CliResult {
    let start = parse_timestamp(&args.start).map_err(StoreError::from)?;
    let end = parse_timestamp(&args.end).map_err(StoreError::from)?;
    let window = TimeWindow::new(start, end).map_err(StoreError::from)?;
    let mut store = context::store(global).await?;
    store.collect_statistics = !args.no_stats;
    let applied = store.applied().await?;
    let windows: Vec<_> = applied
        .batch_views(&args.views)?
        .into_iter()
        .map(|v| (v, window))
        .collect();
    materialize(global, &store, &applied, &windows).await
}

pub async fn run_incremental(global: &GlobalArgs, args: &MaterializeIncrementalArgs) -> CliResult {
    let end = parse_timestamp(&args.end)
        .map_err(StoreError::from)?
        .timestamp_micros();
    let mut store = context::store(global).await?;
    store.collect_statistics = !args.no_stats;
    let applied = store.applied().await?;
    let windows = store
        .incremental_windows(&applied, &args.views, end)
        .await?;
    if windows.is_empty() && !global.json {
        println!("Every view is already materialized up to {}.", args.end);
        return Ok(());
    }
    materialize(global, &store, &applied, &windows).await
}

async fn materialize(
    global: &GlobalArgs,
    store: &FeatureStore,
    applied: &Applied,
    windows: &[(String, TimeWindow)],
) -> CliResult {
    let bars = MultiProgress::new();
    let bar_for: std::collections::HashMap<&str, ProgressBar> = windows
        .iter()
        .map(|(view, _)| (view.as_str(), progress(global, &bars, view)))
        .collect();
    let on_rows = |view: &str, rows: u64| {
        if let Some(bar) = bar_for.get(view) {
            bar.inc(rows);
        }
    };
    let reports = store.materialize(applied, windows, &on_rows).await;
    for bar in bar_for.values() {
        bar.finish_and_clear();
    }
    let reports = reports?;
    if global.json {
        return print_json(&reports);
    }
    print_reports(&reports);
    Ok(())
}

fn print_reports(reports: &[RunReport]) {
    let mut out = table(&[
        "VIEW", "WINDOW", "ROWS", "REPLACED", "FILES", "ONLINE", "CHECKS", "SECONDS",
    ]);
    for r in reports {
        let online = match &r.online {
            Some(w) if w.dropped_older > 0 => {
                format!("{} (+{} older kept)", w.written, w.dropped_older)
            }
            Some(w) => w.written.to_string(),
            None => "-".into(),
        };
        out.add_row(vec![
            r.view.clone(),
            format!("{} .. {}", r.window_start, r.window_end),
            r.rows.to_string(),
            r.rows_replaced.to_string(),
            r.files.to_string(),
            online,
            checks(r),
            format!("{:.2}", r.duration_ms as f64 / 1000.0),
        ]);
    }
    println!("{out}");
}

fn checks(report: &RunReport) -> String {
    checks_text(&report.checks)
}

/// The checks that were violated, with how often and what that did (the
/// built-in ones, such as `null_join_key`, included).
pub(crate) fn checks_text(checks: &[quiver_store::CheckCount]) -> String {
    if checks.is_empty() {
        return "-".into();
    }
    let shown: Vec<String> = checks
        .iter()
        .map(|c| {
            let done = match c.policy {
                quiver_core::CheckPolicy::Drop => "dropped",
                _ => "warned",
            };
            format!("{} {} {done}", c.check, c.violations)
        })
        .collect();
    shown.join(", ")
}

/// A row counter on stderr (hidden with --json).
fn progress(global: &GlobalArgs, bars: &MultiProgress, view: &str) -> ProgressBar {
    if global.json {
        return ProgressBar::hidden();
    }
    let bar = bars.add(ProgressBar::new_spinner());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {prefix}: {human_pos} rows ({per_sec}) {elapsed}")
    {
        bar.set_style(style);
    }
    bar.set_prefix(view.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
