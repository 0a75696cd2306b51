//! `quiver teardown`: unregister the project and empty its online store.

use serde_json::json;

use crate::args::GlobalArgs;
use crate::context;
use crate::error::CliResult;
use crate::output::{change_lines, print_json};

pub async fn run(global: &GlobalArgs) -> CliResult {
    let store = context::store(global).await?;
    let outcome = store
        .registry
        .teardown(store.project(), &context::applied_by())
        .await?;
    // The online store holds copies only the registry's views explain: empty it too.
    // (The offline store is kept: it is history that is slow to rebuild.)
    let online_keys = store
        .online()
        .await?
        .clear()
        .await
        .map_err(quiver_store::StoreError::from)?;
    if global.json {
        return print_json(&json!({ "registry": outcome, "online_keys_removed": online_keys }));
    }
    if outcome.is_noop() {
        println!("Nothing registered for project {}.", store.project());
    } else {
        for line in change_lines(&outcome.changes) {
            println!("{line}");
        }
        println!(
            "Removed {} objects of project {}. Registry version {} -> {} (history kept).",
            outcome.changes.len(),
            store.project(),
            outcome.from_version,
            outcome.to_version
        );
    }
    println!("Online store: {online_keys} keys removed. The offline store is kept.");
    Ok(())
}
