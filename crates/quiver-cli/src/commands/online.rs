//! `quiver online`: the latest feature values for a few entities.

use quiver_store::OnlineRequest;
use serde_json::{Map, Value};

use crate::args::{GlobalArgs, OnlineArgs};
use crate::context;
use crate::error::{CliError, CliResult};
use crate::output::{print_json, short, table};

pub async fn run(global: &GlobalArgs, args: &OnlineArgs) -> CliResult {
    let features = context::feature_selection(args.features.as_deref(), args.service.as_deref())?;
    // `--entity driver_id=1001 --entity driver_id=1002`: one row per occurrence of the first key.
    let mut entities: Map<String, Value> = Map::new();
    for pair in &args.entity {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| CliError::User(format!("--entity takes KEY=VALUE, not `{pair}`")))?;
        let column = entities
            .entry(key.to_string())
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(values) = column {
            values.push(Value::String(value.to_string()));
        }
    }
    if entities.is_empty() {
        return Err(CliError::User(
            "give at least one --entity KEY=VALUE".into(),
        ));
    }
    let store = context::store(global).await?;
    let applied = store.applied().await?;
    let request = OnlineRequest {
        features,
        entities,
        full_feature_names: args.full_feature_names,
        answers: Default::default(),
    };
    let now = quiver_online::now_us();
    let response = store
        .get_online_features(&applied, &request, now, usize::MAX)
        .await?;
    if global.json {
        return print_json(&response);
    }
    let mut header: Vec<&str> = response
        .metadata
        .feature_names
        .iter()
        .map(String::as_str)
        .collect();
    header.push("STATUS");
    let mut out = table(&header);
    let rows = response.results.first().map_or(0, |r| r.values.len());
    for row in 0..rows {
        let mut cells: Vec<String> = response
            .results
            .iter()
            .map(|r| short(&r.values[row].to_json()))
            .collect();
        let statuses: Vec<&str> = response
            .results
            .iter()
            .map(|r| r.statuses[row].as_str())
            .collect();
        let worst = ["NOT_FOUND", "OUTSIDE_MAX_AGE"]
            .into_iter()
            .find(|s| statuses.contains(s))
            .unwrap_or("PRESENT");
        cells.push(worst.to_string());
        out.add_row(cells);
    }
    println!("{out}");
    Ok(())
}
