//! `quiver drift --view V --baseline (START/END | DATASET) --current START/END`:
//! per feature PSI and KS (numbers) or chi-square and PSI (categories) against
//! the view's thresholds; exits 5 when a feature drifted, so it can gate a pipeline.

use quiver_store::{Baseline, DriftReport, parse_window};

use crate::args::{DriftArgs, GlobalArgs};
use crate::context;
use crate::error::{CliError, CliResult};
use crate::output::{print_json, table};

pub async fn run(global: &GlobalArgs, args: &DriftArgs) -> CliResult {
    let baseline = Baseline::parse(&args.baseline)?;
    let current = parse_window(&args.current)?;
    let store = context::store(global).await?;
    let applied = store.applied().await?;
    let report = store
        .drift(&applied, &args.view, &baseline, current)
        .await?;
    if global.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    if report.drifted {
        let drifted: Vec<&str> = report
            .features
            .iter()
            .filter(|f| f.drifted)
            .map(|f| f.feature.as_str())
            .collect();
        return Err(CliError::Drifted(format!(
            "drift over the thresholds in {}",
            drifted.join(", ")
        )));
    }
    Ok(())
}

fn print_report(report: &DriftReport) {
    println!(
        "View {}: {} against {}",
        report.view, report.current, report.baseline
    );
    let mut out = table(&["FEATURE", "METRIC", "VALUE", "THRESHOLD", "VERDICT"]);
    for feature in &report.features {
        for metric in &feature.metrics {
            let name = serde_json::to_value(metric.metric)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            out.add_row(vec![
                feature.feature.clone(),
                name,
                format!("{:.4}", metric.value),
                format!("{}", metric.threshold),
                if metric.drifted { "DRIFTED" } else { "ok" }.to_string(),
            ]);
        }
    }
    println!("{out}");
}
