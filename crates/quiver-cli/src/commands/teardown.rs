//! `quiver teardown`: unregister the whole project.

use crate::args::GlobalArgs;
use crate::context;
use crate::error::CliResult;
use crate::output::{change_lines, print_json};

pub async fn run(global: &GlobalArgs) -> CliResult {
    let config = context::config(global)?;
    let registry = context::registry(global, &config).await?;
    let outcome = registry
        .teardown(&config.project, &context::applied_by())
        .await?;
    if global.json {
        return print_json(&outcome);
    }
    if outcome.is_noop() {
        println!(
            "Nothing to tear down: project {} has no registered objects.",
            config.project
        );
        return Ok(());
    }
    for line in change_lines(&outcome.changes) {
        println!("{line}");
    }
    println!(
        "Removed {} objects of project {}. Registry version {} -> {} (history kept).",
        outcome.changes.len(),
        config.project,
        outcome.from_version,
        outcome.to_version
    );
    Ok(())
}
