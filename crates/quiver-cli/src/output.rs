//! Rendering for people (tables, plans) and for scripts (`--json`).

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use quiver_core::{ChangeKind, ObjectChange};
use serde::Serialize;
use serde_json::Value;

use crate::error::{CliError, CliResult};

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> CliResult {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| CliError::Internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    table
}

/// A JSON value as a short human string (`"2h"` prints as 2h).
pub fn short(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The lines of a plan: `+ kind name`, `~ kind name` with its fields, `- kind name`.
pub fn change_lines(changes: &[ObjectChange]) -> Vec<String> {
    let mut lines = Vec::new();
    for change in changes {
        let sign = match change.change {
            ChangeKind::Added => '+',
            ChangeKind::Changed => '~',
            ChangeKind::Removed => '-',
        };
        lines.push(format!("  {sign} {} {}", change.kind, change.name));
        for field in &change.fields {
            let show = |v: &Option<Value>| {
                v.as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "(none)".into())
            };
            lines.push(format!(
                "      {}: {} -> {}",
                field.path,
                show(&field.old),
                show(&field.new)
            ));
        }
    }
    lines
}

/// `3 to add, 1 to change, 0 to remove` (or past tense once applied).
pub fn change_summary(changes: &[ObjectChange], applied: bool) -> String {
    let count = |kind| changes.iter().filter(|c| c.change == kind).count();
    let (add, change, remove) = if applied {
        ("added", "changed", "removed")
    } else {
        ("to add", "to change", "to remove")
    };
    format!(
        "{} {add}, {} {change}, {} {remove}",
        count(ChangeKind::Added),
        count(ChangeKind::Changed),
        count(ChangeKind::Removed)
    )
}
