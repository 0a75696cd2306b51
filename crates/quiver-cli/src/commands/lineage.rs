//! `quiver lineage NAME`: for a saved dataset, the definition version of each
//! view and the materialization runs behind the files it read; for a view, its
//! runs and the datasets that read it.

use quiver_registry::MaterializationRun;

use crate::args::{GlobalArgs, LineageArgs};
use crate::context;
use crate::error::CliResult;
use crate::output::{print_json, table};

pub async fn run(global: &GlobalArgs, args: &LineageArgs) -> CliResult {
    let store = context::store(global).await?;
    let is_dataset = store
        .registry
        .datasets(store.project())
        .await?
        .iter()
        .any(|d| d.name == args.name);
    if is_dataset {
        let lineage = store.dataset_lineage(&args.name).await?;
        if global.json {
            return print_json(&lineage);
        }
        let d = &lineage.dataset;
        println!(
            "Dataset {}: {} rows, registry version {}, saved {} by {} at {}",
            d.name, d.row_count, d.registry_version, d.created_at, d.created_by, d.path
        );
        for view in &lineage.views {
            println!(
                "\nView {} (definition version {}, hash {})",
                view.view,
                view.definition_version
                    .map_or("-".into(), |v| v.to_string()),
                view.definition_hash
                    .as_deref()
                    .map_or("-", |h| &h[..h.len().min(12)])
            );
            print_runs(&view.runs);
            if !view.streamed_files.is_empty() {
                println!(
                    "and {} streamed file(s) (Kafka, push)",
                    view.streamed_files.len()
                );
            }
            if !view.unexplained_files.is_empty() {
                println!(
                    "and {} file(s) no recorded run explains",
                    view.unexplained_files.len()
                );
            }
        }
        return Ok(());
    }
    let lineage = store.view_lineage(&args.name).await?;
    if global.json {
        return print_json(&lineage);
    }
    println!("View {}", lineage.view);
    print_runs(&lineage.runs);
    println!(
        "Datasets that read it: {}",
        if lineage.datasets.is_empty() {
            "none".to_string()
        } else {
            lineage.datasets.join(", ")
        }
    );
    Ok(())
}

fn print_runs(runs: &[MaterializationRun]) {
    let mut out = table(&[
        "RUN", "TARGET", "WINDOW", "STATUS", "ROWS", "CHECKS", "VERSION",
    ]);
    for r in runs {
        let checks = r
            .checks
            .as_ref()
            .and_then(|c| c.as_array())
            .map(|c| {
                c.iter()
                    .map(|c| format!("{} {}", c["check"].as_str().unwrap_or("?"), c["violations"]))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "-".into());
        out.add_row(vec![
            r.id.clone(),
            r.target.clone(),
            format!("{} .. {}", r.window_start, r.window_end),
            r.status.clone(),
            r.rows_written.map_or("-".into(), |n| n.to_string()),
            checks,
            r.registry_version.to_string(),
        ]);
    }
    println!("{out}");
}
