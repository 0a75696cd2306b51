//! Opening a project: its config, its registry and the definitions applied there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::prelude::SessionContext;
use quiver_core::{ProjectConfig, RepoSpec};
use quiver_offline::{EngineConfig, OfflineStore, session};
use quiver_registry::Registry;

use crate::error::{Result, StoreError};
use crate::ingest::{DEFAULT_STREAM_WINDOW, IngestView, StreamWindows};
use crate::online::PlanCache;

/// The definitions applied in the registry at one version: what materialization
/// and training sets read (not the files on disk, which may be ahead).
#[derive(Debug, Clone)]
pub struct Applied {
    pub spec: Arc<RepoSpec>,
    pub version: i64,
    /// The views of each stream source, prepared for ingest once (schemas,
    /// decoders, compiled checks) and shared by every push that follows.
    pub(crate) stream_views: Arc<Mutex<HashMap<String, Arc<[IngestView]>>>>,
    /// Online lookups resolved against these definitions, by feature list.
    pub(crate) read_plans: Arc<PlanCache>,
}

/// One project's feature store.
#[derive(Clone)]
pub struct FeatureStore {
    pub registry: Registry,
    pub config: ProjectConfig,
    pub repo_root: PathBuf,
    pub engine: EngineConfig,
    /// Gather feature statistics while materializing (on by default).
    pub collect_statistics: bool,
    /// The open windows of rows streamed in (Kafka, push), with their statistics.
    pub(crate) stream_windows: StreamWindows,
    /// Connected on first use (commands that never touch it never connect).
    pub(crate) online: Arc<tokio::sync::OnceCell<Arc<dyn quiver_online::OnlineStore>>>,
}

impl FeatureStore {
    /// Opens the project at `repo_root`; `registry` overrides the config's registry URL.
    pub async fn open(repo_root: &Path, registry: Option<&str>) -> Result<Self> {
        let mut config = ProjectConfig::load(repo_root).map_err(StoreError::Config)?;
        // Deployments point a repo at their Redis without editing quiver.yaml.
        if let Ok(url) = std::env::var("QUIVER_ONLINE_STORE_URL")
            && !url.is_empty()
        {
            config.online_store = quiver_core::OnlineStoreConfig::Redis {
                url,
                cluster: false,
                key_expiry: false,
            };
        }
        let url = registry.unwrap_or(&config.registry);
        let registry = Registry::connect(url, repo_root).await?;
        Ok(Self {
            registry,
            config,
            repo_root: repo_root.to_path_buf(),
            engine: EngineConfig::default(),
            collect_statistics: true,
            stream_windows: StreamWindows::new(DEFAULT_STREAM_WINDOW),
            online: Arc::default(),
        })
    }

    /// Summarizes streamed rows over windows of `length` of ingest time
    /// (default [`DEFAULT_STREAM_WINDOW`]); windows already open are dropped,
    /// so set it before any row comes in.
    pub fn with_stream_window(mut self, length: std::time::Duration) -> Self {
        self.stream_windows = StreamWindows::new(length);
        self
    }

    pub fn project(&self) -> &str {
        &self.config.project
    }

    /// Reads the applied definitions; an error when nothing is applied yet.
    pub async fn applied(&self) -> Result<Applied> {
        let version = self.registry.version(self.project()).await?;
        let objects: Vec<_> = self
            .registry
            .objects(self.project(), None)
            .await?
            .into_iter()
            .map(|o| o.object)
            .collect();
        if objects.is_empty() {
            return Err(StoreError::Request(format!(
                "project {} has nothing registered; run `quiver apply` first",
                self.project()
            )));
        }
        let spec = RepoSpec::from_objects(self.project(), &objects).map_err(|e| {
            StoreError::Request(format!("the registry holds unreadable definitions: {e}"))
        })?;
        Ok(Applied {
            spec: Arc::new(spec),
            version,
            stream_views: Arc::default(),
            read_plans: Arc::default(),
        })
    }

    pub fn offline_store(&self) -> OfflineStore {
        OfflineStore::new(self.repo_root.join(&self.config.offline_store.path))
    }

    /// A query engine session with the configured memory limit, spilling to the temp dir.
    pub fn engine(&self) -> Result<SessionContext> {
        Ok(session(&self.engine, &std::env::temp_dir())?)
    }
}

impl Applied {
    /// The named views (every view with a batch source when none are named).
    pub fn batch_views(&self, names: &[String]) -> Result<Vec<String>> {
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
                let known: Vec<&str> = self
                    .spec
                    .feature_views
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect();
                return Err(StoreError::NotFound {
                    kind: quiver_core::ObjectKind::FeatureView,
                    name: name.clone(),
                    message: format!(
                        "unknown feature view `{name}` (registered views: {})",
                        known.join(", ")
                    ),
                });
            }
        }
        Ok(names.to_vec())
    }
}
