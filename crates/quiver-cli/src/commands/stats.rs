//! `quiver stats VIEW [--window START END]`: the statistics of a view's
//! features from its latest materialization run (or the latest one ending in
//! the window); with `--source kafka|push`, of its latest window of streamed rows.

use quiver_offline::parse_timestamp;
use quiver_store::StatsSource;
use serde_json::Value;

use crate::args::{GlobalArgs, StatsArgs};
use crate::context;
use crate::error::{CliError, CliResult};
use crate::output::{print_json, table};

pub async fn run(global: &GlobalArgs, args: &StatsArgs) -> CliResult {
    let store = context::store(global).await?;
    // clap takes exactly two values for --window.
    let window = match args.window.as_slice() {
        [start, end] => Some((time(start)?, time(end)?)),
        _ => None,
    };
    let stats = store
        .latest_statistics(&args.view, window, args.source)
        .await?;
    if stats.is_empty() {
        return Err(CliError::User(format!(
            "no statistics of view `{}`{}: {}",
            args.view,
            if window.is_some() {
                " ending in that window"
            } else {
                ""
            },
            match args.source {
                StatsSource::Batch => "materialize it first",
                StatsSource::Kafka | StatsSource::Push =>
                    "a window of streamed rows is recorded once it closes (--stats-window) or its process stops",
            }
        )));
    }
    if global.json {
        return print_json(&stats);
    }
    let first = &stats[0];
    match &first.writer {
        None => println!(
            "View {} over {} .. {} (run {})",
            args.view, first.window_start, first.window_end, first.run_id
        ),
        Some(writer) => println!(
            "View {} over {} .. {} ({} rows streamed in by {writer})",
            args.view, first.window_start, first.window_end, first.source
        ),
    }
    let mut out = table(&[
        "FEATURE", "COUNT", "NULLS", "MIN", "MAX", "MEAN", "STDDEV", "DISTINCT", "P50", "P99",
    ]);
    for feature in &stats {
        let s = &feature.stats;
        out.add_row(vec![
            feature.feature.clone(),
            number(&s["count"]),
            number(&s["nulls"]),
            number(&s["min"]),
            number(&s["max"]),
            number(&s["mean"]),
            number(&s["stddev"]),
            number(&s["distinct"]),
            number(&s["quantiles"]["p50"]),
            number(&s["quantiles"]["p99"]),
        ]);
    }
    println!("{out}");
    Ok(())
}

fn time(text: &str) -> CliResult<i64> {
    parse_timestamp(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| CliError::User(e.to_string()))
}

/// A statistic for the table: integers as they are, others to 4 significant places.
fn number(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x != 0.0 && (x.abs() >= 1e6 || x.abs() < 1e-3) {
                format!("{x:.3e}")
            } else {
                format!("{}", (x * 1e4).round() / 1e4)
            }
        }
        other => other.to_string(),
    }
}
