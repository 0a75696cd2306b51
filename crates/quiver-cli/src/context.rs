//! What most commands need: the loaded repo and a registry connection.

use std::path::Path;

use quiver_core::{ProjectConfig, Repo, load_repo};
use quiver_offline::pit::FeatureSelection;
use quiver_registry::Registry;
use quiver_store::FeatureStore;

use crate::args::GlobalArgs;
use crate::error::{CliError, CliResult};

/// Loads and validates the repo named by `--repo`.
pub fn repo(global: &GlobalArgs) -> CliResult<Repo> {
    Ok(load_repo(&global.repo)?)
}

/// Only the project config: enough for commands that must work even when the
/// definitions do not validate (teardown, list, describe).
pub fn config(global: &GlobalArgs) -> CliResult<ProjectConfig> {
    ProjectConfig::load(&global.repo).map_err(CliError::Definitions)
}

/// Connects to `--registry` if given, else to the registry named in quiver.yaml.
pub async fn registry(global: &GlobalArgs, config: &ProjectConfig) -> CliResult<Registry> {
    let url = global.registry.as_deref().unwrap_or(&config.registry);
    Ok(Registry::connect(url, Path::new(&global.repo)).await?)
}

/// Who is applying, for the registry's history.
pub fn applied_by() -> String {
    ["QUIVER_USER", "USER", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The project's feature store (config, registry) for commands that use applied definitions.
pub async fn store(global: &GlobalArgs) -> CliResult<FeatureStore> {
    Ok(FeatureStore::open(&global.repo, global.registry.as_deref()).await?)
}

/// `--features v:f,...` or `--service NAME` (exactly one).
pub fn feature_selection(
    features: Option<&str>,
    service: Option<&str>,
) -> CliResult<FeatureSelection> {
    match (features, service) {
        (Some(list), None) => Ok(FeatureSelection::Features(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        )),
        (None, Some(service)) => Ok(FeatureSelection::Service(service.to_string())),
        _ => Err(CliError::User(
            "give exactly one of --features or --service".into(),
        )),
    }
}
