//! What most commands need: the loaded repo and a registry connection.

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;
use quiver_core::{ProjectConfig, Repo, RepoSpec, load_repo};
use quiver_offline::{EngineConfig, OfflineError, session};
use quiver_registry::Registry;

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

/// The applied definitions of the project, as the registry holds them: what
/// materialization and training sets read (not the files on disk).
pub struct Applied {
    pub registry: Registry,
    pub project: String,
    pub config: ProjectConfig,
    pub spec: RepoSpec,
    pub version: i64,
    pub repo_root: PathBuf,
}

pub async fn applied(global: &GlobalArgs) -> CliResult<Applied> {
    let config = config(global)?;
    let registry = registry(global, &config).await?;
    let version = registry.version(&config.project).await?;
    let objects: Vec<_> = registry
        .objects(&config.project, None)
        .await?
        .into_iter()
        .map(|o| o.object)
        .collect();
    if objects.is_empty() {
        return Err(CliError::User(format!(
            "project {} has nothing registered; run `quiver apply` first",
            config.project
        )));
    }
    let spec = RepoSpec::from_objects(&config.project, &objects)
        .map_err(|e| CliError::Internal(e.to_string()))?;
    Ok(Applied {
        registry,
        project: config.project.clone(),
        config,
        spec,
        version,
        repo_root: global.repo.clone(),
    })
}

impl Applied {
    /// The named views (all views with a batch source when none are named).
    pub fn batch_views(&self, names: &[String]) -> CliResult<Vec<String>> {
        if names.is_empty() {
            return Ok(self
                .spec
                .feature_views
                .iter()
                .filter(|v| {
                    self.spec
                        .source(&v.source)
                        .is_some_and(|s| s.kind.is_batch())
                })
                .map(|v| v.name.clone())
                .collect());
        }
        for name in names {
            if self.spec.feature_view(name).is_none() {
                return Err(CliError::User(format!(
                    "unknown feature view `{name}` (registered views: {})",
                    self.view_names()
                )));
            }
        }
        Ok(names.to_vec())
    }

    fn view_names(&self) -> String {
        self.spec
            .feature_views
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The query engine, spilling to the system temp directory.
pub fn engine() -> CliResult<SessionContext> {
    session(&EngineConfig::default(), &std::env::temp_dir()).map_err(offline_error)
}

/// Maps an offline-tier error to the CLI's classes.
pub fn offline_error(error: OfflineError) -> CliError {
    if error.is_user_error() {
        CliError::User(error.to_string())
    } else if error.is_unavailable() {
        CliError::Unavailable(error.to_string())
    } else {
        CliError::Internal(error.to_string())
    }
}

pub fn rfc3339(us: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| us.to_string())
}
