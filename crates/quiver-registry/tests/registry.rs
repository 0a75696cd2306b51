//! The registry contract, run against both backends: embedded SQLite and the real Postgres.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use quiver_core::{ChangeKind, ObjectKind, RegistryObject};
use quiver_registry::Registry;
use serde_json::{Value, json};

const PROJECT: &str = "reg_test";

/// A registry database for one test, removed when dropped.
struct Fixture {
    url: String,
    base: PathBuf,
    _dir: tempfile::TempDir,
    _pg: Option<quiver_testkit::TempDatabase>,
}

impl Fixture {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: "sqlite://.quiver/registry.db".into(),
            base: dir.path().to_path_buf(),
            _dir: dir,
            _pg: None,
        }
    }

    async fn postgres() -> Self {
        let db = quiver_testkit::temp_postgres_database("quiver_registry").await;
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: db.url.clone(),
            base: dir.path().to_path_buf(),
            _dir: dir,
            _pg: Some(db),
        }
    }

    async fn connect(&self) -> Registry {
        Registry::connect(&self.url, &self.base).await.unwrap()
    }
}

/// Runs each scenario once per backend.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$scenario(super::Fixture::sqlite().await).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$scenario(super::Fixture::postgres().await).await }
        }
    )*};
}

on_both_backends!(
    apply_then_reapply_is_a_noop,
    a_changed_feature_makes_a_new_version_and_keeps_the_old,
    teardown_removes_definitions_and_keeps_history,
    concurrent_applies_end_in_one_consistent_state,
    silent_running_runs_are_marked_interrupted,
    stream_windows_keep_their_statistics_apart_from_runs,
);

fn object(kind: ObjectKind, name: &str, spec: Value) -> RegistryObject {
    RegistryObject::new(kind, name, &spec).unwrap()
}

/// A small repo; `ttl` and `extra_service` let tests make two different versions.
fn repo(ttl: &str, conv_dtype: &str, extra_service: bool) -> Vec<RegistryObject> {
    let mut objects = vec![
        object(
            ObjectKind::Entity,
            "driver",
            json!({"name": "driver", "join_keys": [{"name": "driver_id", "dtype": "int64"}]}),
        ),
        object(
            ObjectKind::Source,
            "stats",
            json!({"name": "stats", "kind": "parquet", "path": "data/s.parquet", "timestamp_field": "ts"}),
        ),
        object(
            ObjectKind::FeatureView,
            "driver_stats",
            json!({
            "name": "driver_stats", "entities": ["driver"], "source": "stats", "ttl": ttl, "online": true,
            "features": [{"name": "conv_rate", "dtype": conv_dtype}, {"name": "trips", "dtype": "int64"}]}),
        ),
        object(
            ObjectKind::FeatureService,
            "svc",
            json!({"name": "svc", "features": ["driver_stats:conv_rate"]}),
        ),
    ];
    if extra_service {
        objects.push(object(
            ObjectKind::FeatureService,
            "svc_all",
            json!({"name": "svc_all", "features": ["driver_stats"]}),
        ));
    }
    objects
}

fn current(objects: &[quiver_registry::StoredObject]) -> Vec<RegistryObject> {
    objects.iter().map(|o| o.object.clone()).collect()
}

fn sorted(mut objects: Vec<RegistryObject>) -> Vec<RegistryObject> {
    objects.sort_by_key(|a| (a.kind, a.name.clone()));
    objects
}

async fn apply_then_reapply_is_a_noop(fx: Fixture) {
    let registry = fx.connect().await;
    assert_eq!(registry.version(PROJECT).await.unwrap(), 0);
    let desired = repo("2h", "float32", false);

    let plan = registry.plan(PROJECT, &desired).await.unwrap();
    assert_eq!(plan.changes.len(), 4);
    assert!(
        registry.objects(PROJECT, None).await.unwrap().is_empty(),
        "plan must write nothing"
    );

    let first = registry.apply(PROJECT, &desired, "alice").await.unwrap();
    assert_eq!((first.from_version, first.to_version), (0, 1));
    assert!(first.changes.iter().all(|c| c.change == ChangeKind::Added));

    let again = registry.apply(PROJECT, &desired, "bob").await.unwrap();
    assert!(again.is_noop());
    assert_eq!((again.from_version, again.to_version), (1, 1));
    assert_eq!(registry.version(PROJECT).await.unwrap(), 1);
    assert_eq!(registry.versions(PROJECT).await.unwrap().len(), 1);
    let history = registry
        .history(PROJECT, ObjectKind::FeatureView, "driver_stats")
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].applied_by, "alice");

    let stored = registry.objects(PROJECT, None).await.unwrap();
    assert_eq!(sorted(current(&stored)), sorted(desired.clone()));
    assert!(
        stored
            .iter()
            .all(|o| o.version == 1 && o.registry_version == 1)
    );
    let views = registry
        .objects(PROJECT, Some(ObjectKind::FeatureView))
        .await
        .unwrap();
    assert_eq!(views.len(), 1);

    // A second connection (a new process) sees the same state.
    let reopened = fx.connect().await;
    assert!(reopened.plan(PROJECT, &desired).await.unwrap().is_noop());
}

async fn a_changed_feature_makes_a_new_version_and_keeps_the_old(fx: Fixture) {
    let registry = fx.connect().await;
    let v1 = repo("2h", "float32", false);
    let v2 = repo("2h", "float64", false);
    registry.apply(PROJECT, &v1, "alice").await.unwrap();

    let plan = registry.plan(PROJECT, &v2).await.unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].change, ChangeKind::Changed);
    assert_eq!(plan.changes[0].fields[0].path, "features[conv_rate].dtype");

    let outcome = registry.apply(PROJECT, &v2, "bob").await.unwrap();
    assert_eq!((outcome.from_version, outcome.to_version), (1, 2));
    let view = registry
        .objects(PROJECT, Some(ObjectKind::FeatureView))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((view.version, view.registry_version), (2, 2));
    assert_eq!(view.object.spec["features"][0]["dtype"], "float64");
    // Untouched objects keep their version.
    let entity = registry
        .objects(PROJECT, Some(ObjectKind::Entity))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((entity.version, entity.registry_version), (1, 1));

    let history = registry
        .history(PROJECT, ObjectKind::FeatureView, "driver_stats")
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[0].spec.as_ref().unwrap()["features"][0]["dtype"],
        "float32"
    );
    assert_eq!(
        (history[1].change.as_str(), history[1].applied_by.as_str()),
        ("changed", "bob")
    );
    assert_eq!(
        history[1].field_changes.as_ref().unwrap()[0]["path"],
        "features[conv_rate].dtype"
    );

    // Each registry version can be rebuilt exactly, for training-set lineage.
    assert_eq!(registry.snapshot(PROJECT, 1).await.unwrap(), sorted(v1));
    assert_eq!(registry.snapshot(PROJECT, 2).await.unwrap(), sorted(v2));
}

async fn teardown_removes_definitions_and_keeps_history(fx: Fixture) {
    let registry = fx.connect().await;
    let desired = repo("2h", "float32", true);
    registry.apply(PROJECT, &desired, "alice").await.unwrap();
    // Removing one object from the repo removes it from the registry.
    let fewer = repo("2h", "float32", false);
    let outcome = registry.apply(PROJECT, &fewer, "alice").await.unwrap();
    assert_eq!(outcome.changes.len(), 1);
    assert_eq!(
        (outcome.changes[0].change, outcome.changes[0].name.as_str()),
        (ChangeKind::Removed, "svc_all")
    );

    let down = registry.teardown(PROJECT, "carol").await.unwrap();
    assert_eq!(down.changes.len(), 4);
    assert!(down.changes.iter().all(|c| c.change == ChangeKind::Removed));
    assert!(registry.objects(PROJECT, None).await.unwrap().is_empty());
    assert_eq!(registry.version(PROJECT).await.unwrap(), 3);
    assert!(registry.teardown(PROJECT, "carol").await.unwrap().is_noop());
    let log = registry.versions(PROJECT).await.unwrap();
    assert_eq!(
        log.iter().map(|v| v.operation.as_str()).collect::<Vec<_>>(),
        ["apply", "apply", "teardown"]
    );
    assert_eq!(log[2].removed, 4);

    let history = registry
        .history(PROJECT, ObjectKind::FeatureView, "driver_stats")
        .await
        .unwrap();
    assert_eq!(history.last().unwrap().change, "removed");
    assert!(registry.snapshot(PROJECT, 3).await.unwrap().is_empty());

    // Applying again continues each object's version numbering.
    registry.apply(PROJECT, &desired, "alice").await.unwrap();
    let view = registry
        .objects(PROJECT, Some(ObjectKind::FeatureView))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(view.version, 3);
    // Another project is untouched by all of this.
    assert!(
        registry
            .objects("other_project", None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_applies_end_in_one_consistent_state(fx: Fixture) {
    // Two writers with their own connection pools, as two processes would have.
    let a = fx.connect().await;
    let b = fx.connect().await;
    let repo_a = repo("2h", "float32", false);
    let repo_b = repo("3h", "float64", true);
    for round in 0..6 {
        let (ra, rb) = (repo_a.clone(), repo_b.clone());
        let (a2, b2) = (a.clone(), b.clone());
        let first = tokio::spawn(async move { a2.apply(PROJECT, &ra, "writer_a").await });
        let second = tokio::spawn(async move { b2.apply(PROJECT, &rb, "writer_b").await });
        let (first, second) = (
            first.await.unwrap().unwrap(),
            second.await.unwrap().unwrap(),
        );

        let state = sorted(current(&a.objects(PROJECT, None).await.unwrap()));
        assert!(
            state == sorted(repo_a.clone()) || state == sorted(repo_b.clone()),
            "round {round}: the registry mixes two applies: {state:#?}"
        );
        // The two applies were serialized: one started from the other's result.
        let mut transitions = [
            (first.from_version, first.to_version),
            (second.from_version, second.to_version),
        ];
        transitions.sort();
        assert_eq!(
            transitions[0].1, transitions[1].0,
            "round {round}: {transitions:?}"
        );
        // The history replays to exactly the current state.
        let version = a.version(PROJECT).await.unwrap();
        assert_eq!(
            a.snapshot(PROJECT, version).await.unwrap(),
            state,
            "round {round}"
        );
    }
    let log = a.versions(PROJECT).await.unwrap();
    let numbers: Vec<i64> = log.iter().map(|v| v.version).collect();
    assert_eq!(
        numbers,
        (1..=numbers.len() as i64).collect::<Vec<_>>(),
        "registry versions are gapless"
    );
}

#[tokio::test]
async fn an_unreachable_postgres_registry_is_reported_as_unavailable() {
    let err = Registry::connect(
        "postgres://nobody:hunter2@127.0.0.1:1/none?connect_timeout=2",
        std::path::Path::new("."),
    )
    .await
    .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("127.0.0.1:1") && !message.contains("hunter2"),
        "{message}"
    );
}

/// A run whose owner still reports stays `running`; one silent for longer than
/// the staleness bound is marked `interrupted`, once; finished runs are untouched.
async fn silent_running_runs_are_marked_interrupted(fixture: Fixture) {
    use quiver_registry::RunResult;
    use std::time::Duration;
    let registry = fixture.connect().await;
    let finished = registry
        .start_run(PROJECT, "v", "offline", (0, 10), 1)
        .await
        .unwrap();
    registry
        .finish_run(
            &finished,
            &RunResult::Succeeded {
                rows_read: 1,
                rows_written: 1,
                duration_ms: 1,
            },
        )
        .await
        .unwrap();
    let running = registry
        .start_run(PROJECT, "v", "offline", (10, 20), 1)
        .await
        .unwrap();
    registry.heartbeat_run(&running).await.unwrap();
    let none = registry
        .interrupt_abandoned_runs(PROJECT, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    tokio::time::sleep(Duration::from_millis(20)).await;
    let marked = registry
        .interrupt_abandoned_runs(PROJECT, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert_eq!(marked[0].id, running);
    let runs = registry.runs(PROJECT, Some("v")).await.unwrap();
    let status = |id: &str| {
        let run = runs.iter().find(|r| r.id == id).unwrap();
        (run.status.clone(), run.error.clone())
    };
    assert_eq!(status(&finished), ("succeeded".to_string(), None));
    let (state, error) = status(&running);
    assert_eq!(state, "interrupted");
    assert!(error.unwrap().contains("has not reported since"));
    // Only once: it is no longer running.
    let again = registry
        .interrupt_abandoned_runs(PROJECT, Duration::ZERO)
        .await
        .unwrap();
    assert!(again.is_empty());
    // The interrupted window does not count as materialized.
    assert_eq!(
        registry
            .materialized_until(PROJECT, "v", "offline", i64::MAX)
            .await
            .unwrap(),
        Some(10)
    );
    // A run that ends later than the caller's bound does not count.
    assert_eq!(
        registry
            .materialized_until(PROJECT, "v", "offline", 9)
            .await
            .unwrap(),
        None
    );
}

/// Windows of streamed rows are recorded with their statistics; the latest
/// (or the latest ending in a window) of one path is read back, never a run's
/// statistics nor another path's.
async fn stream_windows_keep_their_statistics_apart_from_runs(fixture: Fixture) {
    use quiver_registry::{RunResult, StreamWindowRecord};
    let registry = fixture.connect().await;
    let run = registry
        .start_run(PROJECT, "v", "offline", (0, 100), 1)
        .await
        .unwrap();
    registry
        .finish_run(
            &run,
            &RunResult::Succeeded {
                rows_read: 3,
                rows_written: 3,
                duration_ms: 1,
            },
        )
        .await
        .unwrap();
    registry
        .record_run_quality(&run, &json!([]), &[("f".into(), json!({"count": 3}))])
        .await
        .unwrap();
    let checks = json!([{"check": "f:min", "policy": "warn", "violations": 1}]);
    for (path, start, count) in [("kafka", 100, 5), ("kafka", 200, 7), ("push", 300, 9)] {
        let stats = [("f".to_string(), json!({ "count": count }))];
        let record = StreamWindowRecord {
            view: "v",
            path,
            writer: "host:1",
            window: (start, start + 100),
            rows: count,
            checks: &checks,
            stats: &stats,
        };
        registry
            .record_stream_window(PROJECT, &record)
            .await
            .unwrap();
    }
    let latest = |path: &'static str, window: Option<(i64, i64)>| {
        let registry = &registry;
        async move {
            registry
                .latest_stream_statistics(PROJECT, "v", path, window)
                .await
                .unwrap()
        }
    };
    let kafka = latest("kafka", None).await;
    assert_eq!(kafka.len(), 1, "{kafka:?}");
    assert_eq!(
        (kafka[0].stats["count"].as_i64(), kafka[0].rows),
        (Some(7), Some(7))
    );
    assert_eq!(
        (kafka[0].source.as_str(), kafka[0].writer.as_deref()),
        ("kafka", Some("host:1"))
    );
    assert_eq!(kafka[0].checks.as_ref(), Some(&checks));
    let earlier = latest("kafka", Some((150, 250))).await;
    assert_eq!(earlier[0].stats["count"], 5);
    assert_eq!(latest("push", None).await[0].stats["count"], 9);
    // The run's statistics are where they were.
    let batch = registry
        .latest_statistics(PROJECT, "v", None)
        .await
        .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(
        (batch[0].source.as_str(), batch[0].stats["count"].as_i64()),
        ("batch", Some(3))
    );
    assert_eq!(batch[0].rows, Some(3));
}
