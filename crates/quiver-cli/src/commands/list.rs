//! `quiver list entities|sources|views|services`: what the registry holds.

use quiver_core::{
    EntitySpec, FeatureServiceSpec, FeatureViewSpec, ObjectKind, SourceKind, SourceSpec,
    ttl::format_ttl,
};
use quiver_registry::{Registry, StoredObject};
use serde::de::DeserializeOwned;

use crate::args::{GlobalArgs, ListArgs, ListKind};
use crate::context;
use crate::error::{CliError, CliResult};
use crate::output::{print_json, table};

pub async fn run(global: &GlobalArgs, args: &ListArgs) -> CliResult {
    let config = context::config(global)?;
    let registry = context::registry(global, &config).await?;
    let kind = match args.kind {
        ListKind::Entities => ObjectKind::Entity,
        ListKind::Sources => ObjectKind::Source,
        ListKind::Views => ObjectKind::FeatureView,
        ListKind::Services => ObjectKind::FeatureService,
        ListKind::Datasets => return datasets(global, &registry, &config.project).await,
        ListKind::Runs => return runs(global, &registry, &config.project).await,
    };
    let objects = registry.objects(&config.project, Some(kind)).await?;
    if global.json {
        return print_json(&objects);
    }
    let mut out = match kind {
        ObjectKind::Entity => table(&["NAME", "JOIN KEYS", "DESCRIPTION", "VERSION"]),
        ObjectKind::Source => table(&["NAME", "KIND", "READS", "TIMESTAMP FIELD", "VERSION"]),
        ObjectKind::FeatureView => table(&[
            "NAME",
            "ENTITIES",
            "SOURCE",
            "STREAM SOURCE",
            "TTL",
            "FEATURES",
            "VERSION",
        ]),
        ObjectKind::FeatureService => table(&["NAME", "FEATURES", "VERSION"]),
    };
    for stored in &objects {
        let version = stored.version.to_string();
        let row = match kind {
            ObjectKind::Entity => {
                let e: EntitySpec = spec(stored)?;
                let keys: Vec<String> = e
                    .join_keys
                    .iter()
                    .map(|k| format!("{}:{}", k.name, k.dtype))
                    .collect();
                vec![
                    e.name,
                    keys.join(", "),
                    e.description.unwrap_or_default(),
                    version,
                ]
            }
            ObjectKind::Source => {
                let s: SourceSpec = spec(stored)?;
                let reads = match &s.kind {
                    SourceKind::Parquet { path } => path.clone(),
                    SourceKind::Postgres {
                        table: Some(table), ..
                    } => format!("table {table}"),
                    SourceKind::Postgres { .. } => "query".into(),
                    SourceKind::Kafka { topic, .. } => format!("topic {topic}"),
                    SourceKind::Push => "POST /push".into(),
                };
                vec![
                    s.name.clone(),
                    s.kind.name().into(),
                    reads,
                    s.timestamp_field,
                    version,
                ]
            }
            ObjectKind::FeatureView => {
                let v: FeatureViewSpec = spec(stored)?;
                let features: Vec<String> = v
                    .features
                    .iter()
                    .map(|f| format!("{}:{}", f.name, f.dtype))
                    .collect();
                vec![
                    v.name,
                    v.entities.join(", "),
                    v.source,
                    v.stream_source.unwrap_or_else(|| "-".into()),
                    v.ttl.map(format_ttl).unwrap_or_else(|| "none".into()),
                    features.join(", "),
                    version,
                ]
            }
            ObjectKind::FeatureService => {
                let s: FeatureServiceSpec = spec(stored)?;
                vec![s.name, s.features.join(", "), version]
            }
        };
        out.add_row(row);
    }
    if objects.is_empty() {
        println!(
            "No {} registered in project {} (run `quiver apply`).",
            kind_plural(kind),
            config.project
        );
    } else {
        println!("{out}");
    }
    Ok(())
}

async fn datasets(global: &GlobalArgs, registry: &Registry, project: &str) -> CliResult {
    let datasets = registry.datasets(project).await?;
    if global.json {
        return print_json(&datasets);
    }
    if datasets.is_empty() {
        println!(
            "No saved datasets in project {project} (save one with `quiver historical ... --save NAME`)."
        );
        return Ok(());
    }
    let mut out = table(&["NAME", "ROWS", "REGISTRY VERSION", "CREATED", "PATH"]);
    for d in datasets {
        out.add_row(vec![
            d.name,
            d.row_count.to_string(),
            d.registry_version.to_string(),
            d.created_at,
            d.path,
        ]);
    }
    println!("{out}");
    Ok(())
}

async fn runs(global: &GlobalArgs, registry: &Registry, project: &str) -> CliResult {
    // A run a killed process left `running` is shown as what it is.
    registry
        .interrupt_abandoned_runs(project, quiver_registry::RUN_ABANDONED_AFTER)
        .await?;
    let runs = registry.runs(project, None).await?;
    if global.json {
        return print_json(&runs);
    }
    if runs.is_empty() {
        println!("No materialization runs in project {project}.");
        return Ok(());
    }
    let mut out = table(&[
        "VIEW", "TARGET", "WINDOW", "STATUS", "ROWS", "CHECKS", "MS", "STARTED",
    ]);
    for r in runs {
        let status = match &r.error {
            Some(e) => format!("{}: {e}", r.status),
            None => r.status.clone(),
        };
        out.add_row(vec![
            r.view,
            r.target,
            format!("{} .. {}", r.window_start, r.window_end),
            status,
            r.rows_written.map(|n| n.to_string()).unwrap_or_default(),
            run_checks(r.checks.as_ref()),
            r.duration_ms.map(|n| n.to_string()).unwrap_or_default(),
            r.started_at,
        ]);
    }
    println!("{out}");
    Ok(())
}

/// A run's recorded check counts as `materialize` shows them.
fn run_checks(checks: Option<&serde_json::Value>) -> String {
    checks
        .and_then(|c| serde_json::from_value::<Vec<quiver_store::CheckCount>>(c.clone()).ok())
        .map_or_else(|| "-".into(), |c| super::materialize::checks_text(&c))
}

fn kind_plural(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Entity => "entities",
        ObjectKind::Source => "sources",
        ObjectKind::FeatureView => "feature views",
        ObjectKind::FeatureService => "feature services",
    }
}

/// The typed spec of a stored object.
pub fn spec<T: DeserializeOwned>(stored: &StoredObject) -> CliResult<T> {
    serde_json::from_value(stored.object.spec.clone()).map_err(|e| {
        CliError::Internal(format!(
            "the registry's {} `{}` is unreadable: {e}",
            stored.object.kind, stored.object.name
        ))
    })
}
