//! Shared test harness: the same scenarios run against Redis and the embedded store.
//!
//! Redis tests use the real Redis (`QUIVER_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`) and fail, never skip, when it is down. Each test works
//! in its own project names, cleared at the end (and on panic, from `Drop`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quiver_online::{
    EmbeddedStore, EntityKey, OnlineRow, OnlineStore, ReadView, RedisOptions, RedisStore, Value,
    ViewMeta,
};

/// One test's stores: every store it opens shares one backend (one Redis, or one
/// embedded directory) and differs by project.
pub struct Harness {
    backend: Backend,
    base: String,
    projects: Mutex<Vec<String>>,
    finished: bool,
}

enum Backend {
    Redis { url: String, options: RedisOptions },
    Embedded { dir: tempfile::TempDir },
}

impl Harness {
    pub fn redis(test: &str) -> Self {
        Self::redis_with(test, RedisOptions::default())
    }

    pub fn redis_with(test: &str, options: RedisOptions) -> Self {
        Harness {
            backend: Backend::Redis {
                url: quiver_testkit::redis_url(),
                options,
            },
            base: unique_project(test),
            projects: Mutex::new(Vec::new()),
            finished: false,
        }
    }

    pub fn embedded(test: &str) -> Self {
        Harness {
            backend: Backend::Embedded {
                dir: tempfile::tempdir().expect("temp dir"),
            },
            base: unique_project(test),
            projects: Mutex::new(Vec::new()),
            finished: false,
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self.backend, Backend::Redis { .. })
    }

    /// The test's main store.
    pub async fn store(&self) -> Arc<dyn OnlineStore> {
        self.store_for("a").await
    }

    /// The project name of `store_for(suffix)`.
    pub fn project(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.base)
    }

    /// A store for another project on the same backend.
    pub async fn store_for(&self, suffix: &str) -> Arc<dyn OnlineStore> {
        let project = self.project(suffix);
        let store: Arc<dyn OnlineStore> = match &self.backend {
            Backend::Redis { url, options } => Arc::new(
                RedisStore::connect(url, &project, *options)
                    .await
                    .expect("redis store"),
            ),
            Backend::Embedded { dir } => {
                Arc::new(EmbeddedStore::open(dir.path(), &project).expect("embedded store"))
            }
        };
        store.ping().await.unwrap_or_else(|e| {
            panic!(
                "the online store does not answer ({e}); for Redis set {} or run scripts/test.sh",
                quiver_testkit::REDIS_URL_ENV
            )
        });
        self.projects.lock().unwrap().push(project);
        store
    }

    /// Clears every project the test used (asserting it works).
    pub async fn finish(mut self) {
        let projects = self.projects.lock().unwrap().clone();
        for project in projects {
            let store = self.reopen(&project).await;
            store.clear().await.expect("clear");
            let left = store.clear().await.expect("clear again");
            assert_eq!(left, 0, "a second clear finds nothing");
        }
        self.finished = true;
    }

    async fn reopen(&self, project: &str) -> Arc<dyn OnlineStore> {
        match &self.backend {
            Backend::Redis { url, options } => {
                Arc::new(RedisStore::connect(url, project, *options).await.unwrap())
            }
            Backend::Embedded { dir } => {
                Arc::new(EmbeddedStore::open(dir.path(), project).unwrap())
            }
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // A failed Redis test still removes its keys; the embedded directory goes
        // with the TempDir.
        let Backend::Redis { url, options } = &self.backend else {
            return;
        };
        if self.finished {
            return;
        }
        let url = url.clone();
        let options = *options;
        let projects = self.projects.lock().map(|p| p.clone()).unwrap_or_default();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                for project in projects {
                    if let Ok(store) = RedisStore::connect(&url, &project, options).await {
                        let _ = store.clear().await;
                    }
                }
            });
        })
        .join();
    }
}

/// A project name no other test (or run) uses.
pub fn unique_project(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t_{test}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

pub fn key(id: i64) -> EntityKey {
    EntityKey::single("driver_id", Value::Int64(id)).unwrap()
}

pub fn view(name: &str, features: &[&str], ttl: Option<Duration>) -> ViewMeta {
    ViewMeta {
        name: name.to_string(),
        features: features.iter().map(|f| (*f).to_string()).collect(),
        ttl,
    }
}

pub fn read_view(meta: &ViewMeta) -> ReadView {
    ReadView {
        view: meta.name.clone(),
        features: meta.features.clone(),
        ttl: meta.ttl,
    }
}

pub fn row(
    key: EntityKey,
    event_ts: i64,
    created_ts: Option<i64>,
    values: Vec<Value>,
) -> OnlineRow {
    OnlineRow {
        key,
        event_ts,
        created_ts,
        values,
    }
}

/// 2026-01-01T00:00:00Z in µs: a fixed "now" for reads.
pub const T0: i64 = 1_767_225_600_000_000;
pub const SECOND: i64 = 1_000_000;
