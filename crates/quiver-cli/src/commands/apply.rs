//! `quiver plan` and `quiver apply`: validate, check against sources, diff, register.

use quiver_offline::check_sources;
use quiver_registry::ApplyOutcome;
use serde::Serialize;

use crate::args::GlobalArgs;
use crate::context;
use crate::error::{CliError, CliResult};
use crate::output::{change_lines, change_summary, print_json};

#[derive(Serialize)]
struct Report<'a> {
    registry: &'a str,
    applied: bool,
    #[serde(flatten)]
    outcome: &'a ApplyOutcome,
    warnings: &'a [String],
}

/// Plans (`apply == false`) or applies the repo.
pub async fn run(global: &GlobalArgs, apply: bool) -> CliResult {
    let repo = context::repo(global)?;
    let check = check_sources(&repo).await;
    let warnings: Vec<String> = check
        .unreadable
        .iter()
        .map(|u| {
            format!(
                "source `{}` was not checked against the definitions: {}",
                u.source, u.reason
            )
        })
        .collect();
    if !check.errors.is_empty() {
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
        return Err(CliError::Definitions(check.errors));
    }

    let registry = context::registry(global, &repo.config).await?;
    let objects = repo
        .spec
        .objects()
        .map_err(|e| CliError::Internal(e.to_string()))?;
    let outcome = if apply {
        registry
            .apply(&repo.config.project, &objects, &context::applied_by())
            .await?
    } else {
        registry.plan(&repo.config.project, &objects).await?
    };

    if global.json {
        return print_json(&Report {
            registry: registry.display_url(),
            applied: apply,
            outcome: &outcome,
            warnings: &warnings,
        });
    }
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "Project {} — registry {} (version {})",
        outcome.project,
        registry.display_url(),
        outcome.from_version
    );
    if outcome.is_noop() {
        println!("No changes: the registry matches the repo.");
        return Ok(());
    }
    for line in change_lines(&outcome.changes) {
        println!("{line}");
    }
    if apply {
        println!(
            "Applied: {}. Registry version {} -> {}.",
            change_summary(&outcome.changes, true),
            outcome.from_version,
            outcome.to_version
        );
    } else {
        println!(
            "Plan: {}. Run `quiver apply` to register.",
            change_summary(&outcome.changes, false)
        );
    }
    Ok(())
}
