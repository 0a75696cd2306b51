//! `quiver describe NAME`: one object's definition, version and history.

use serde::Serialize;

use quiver_registry::{ObjectVersion, StoredObject};

use crate::args::{DescribeArgs, GlobalArgs};
use crate::context;
use crate::error::{CliError, CliResult};
use crate::output::{print_json, short};

#[derive(Serialize)]
struct Description<'a> {
    #[serde(flatten)]
    object: &'a StoredObject,
    history: &'a [ObjectVersion],
}

pub async fn run(global: &GlobalArgs, args: &DescribeArgs) -> CliResult {
    let config = context::config(global)?;
    let registry = context::registry(global, &config).await?;
    let objects = registry.objects(&config.project, None).await?;
    let Some(stored) = objects.iter().find(|o| o.object.name == args.name) else {
        let mut names: Vec<&str> = objects.iter().map(|o| o.object.name.as_str()).collect();
        names.sort_unstable();
        return Err(CliError::User(format!(
            "no object named `{}` in project {} (registered: {})",
            args.name,
            config.project,
            if names.is_empty() {
                "none; run `quiver apply`".to_string()
            } else {
                names.join(", ")
            }
        )));
    };
    let history = registry
        .history(&config.project, stored.object.kind, &stored.object.name)
        .await?;
    if global.json {
        return print_json(&Description {
            object: stored,
            history: &history,
        });
    }

    println!("{} {}", stored.object.kind, stored.object.name);
    println!("  version:          {}", stored.version);
    println!("  registry version: {}", stored.registry_version);
    println!("  updated at:       {}", stored.updated_at);
    println!("  content hash:     {}", stored.object.hash);
    println!("definition:");
    if let Some(fields) = stored.object.spec.as_object() {
        for (key, value) in fields {
            match value {
                serde_json::Value::Array(items) => {
                    println!("  {key}:");
                    for item in items {
                        println!("    - {}", compact(item));
                    }
                }
                other => println!("  {key}: {}", compact(other)),
            }
        }
    }
    println!("history:");
    for entry in &history {
        println!(
            "  v{} {} at {} by {} (registry version {})",
            entry.version, entry.change, entry.applied_at, entry.applied_by, entry.registry_version
        );
        for change in entry
            .field_changes
            .as_ref()
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
        {
            println!(
                "      {}: {} -> {}",
                short(&change["path"]),
                change["old"],
                change["new"]
            );
        }
    }
    Ok(())
}

/// One line per value: objects as `key: value` pairs.
fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", short(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => short(other),
    }
}
