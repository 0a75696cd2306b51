//! The consistency invariant (DESIGN.md): after materializing up to `T`, for
//! every entity the online answer read at `T` equals the point-in-time join's
//! answer at `T` — same values, same nulls — for every view, on both online
//! stores (embedded, and the real Redis).

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Duration, TimeZone, Utc};
use quiver_core::OnlineStoreConfig;
use quiver_offline::pit::{EntityFrame, FeatureSelection, HistoricalRequest};
use quiver_offline::{TableRows, TimeWindow};
use quiver_online::Status;
use quiver_store::{FeatureStore, OnlineRequest, arrow_value, json_value};
use serde_json::{Map, Value, json};

const DRIVERS: usize = 30;
const CUSTOMERS: usize = 20;

fn data_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 10, 0, 0, 0).unwrap()
}

/// The example repo with generated data, applied, in a temp dir.
async fn repo(project: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../feature_repo");
    for file in ["quiver.yaml", "driver.yaml", "customer.yaml"] {
        let text = std::fs::read_to_string(example.join(file)).unwrap();
        std::fs::write(
            repo.join(file),
            text.replace("project: driver_ranking", &format!("project: {project}")),
        )
        .unwrap();
    }
    let options = quiver_datagen::GenerateOptions {
        drivers: DRIVERS,
        customers: CUSTOMERS,
        hours: 96,
        days: 10,
        end: data_end(),
        seed: 7,
    };
    quiver_datagen::generate_parquet(&repo.join("data"), &options).unwrap();
    let loaded = quiver_core::load_repo(&repo).unwrap();
    let registry = quiver_registry::Registry::connect(&loaded.config.registry, &repo)
        .await
        .unwrap();
    registry
        .apply(
            &loaded.config.project,
            &loaded.spec.objects().unwrap(),
            "test",
        )
        .await
        .unwrap();
    (dir, repo)
}

fn entity_frame(t: DateTime<Utc>) -> RecordBatch {
    let mut drivers: Vec<i64> = (0..DRIVERS as i64).map(|i| 1001 + i).collect();
    drivers.push(99_999);
    let mut customers: Vec<String> = (1..=CUSTOMERS).map(|i| format!("C{i:05}")).collect();
    customers.resize(drivers.len(), "C99999".into());
    let schema = Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Utf8, false),
        Field::new(
            "event_timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(drivers.clone())),
        Arc::new(StringArray::from(customers)),
        Arc::new(
            TimestampMicrosecondArray::from(vec![t.timestamp_micros(); drivers.len()])
                .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

/// Materializes `[start, t)`, then compares online at `t` with the join at `t`.
async fn assert_consistent(store: &FeatureStore, start: DateTime<Utc>, t: DateTime<Utc>) {
    let applied = store.applied().await.unwrap();
    let window = TimeWindow::new(start, t).unwrap();
    let views = applied.batch_views(&[]).unwrap();
    let windows: Vec<_> = views.iter().map(|v| (v.clone(), window)).collect();
    store
        .materialize(&applied, &windows, &|_, _| {})
        .await
        .unwrap();

    let features = vec![
        "driver_hourly_stats:conv_rate".to_string(),
        "driver_hourly_stats:acc_rate".to_string(),
        "driver_hourly_stats:avg_daily_trips".to_string(),
        "customer_profile:current_balance".to_string(),
        "customer_profile:avg_passenger_count".to_string(),
        "customer_profile:lifetime_trip_count".to_string(),
        "customer_profile:segment".to_string(),
    ];
    let frame = EntityFrame::new(entity_frame(t), "event_timestamp", 1000).unwrap();
    let request = HistoricalRequest {
        features: FeatureSelection::Features(features.clone()),
        full_feature_names: true,
        as_of_known_time: false,
    };
    let offline = store
        .training_set(&applied, &frame, &request)
        .await
        .unwrap()
        .rows
        .whole()
        .unwrap();

    let mut entities = Map::new();
    let drivers: Vec<Value> = frame
        .batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .iter()
        .map(|v| json!(v))
        .collect();
    let customers: Vec<Value> = frame
        .batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .iter()
        .map(|v| json!(v))
        .collect();
    entities.insert("driver_id".into(), Value::Array(drivers));
    entities.insert("customer_id".into(), Value::Array(customers));
    let online_request = OnlineRequest {
        features: FeatureSelection::Features(features.clone()),
        entities,
        full_feature_names: true,
        answers: Default::default(),
    };
    let online = store
        .get_online_features(&applied, &online_request, t.timestamp_micros(), 10_000)
        .await
        .unwrap();

    let mut present = 0;
    let mut absent = 0;
    for reference in &features {
        let name = reference.replace(':', "__");
        let column = offline.column_by_name(&name).unwrap();
        let position = online
            .metadata
            .feature_names
            .iter()
            .position(|n| n == &name)
            .unwrap();
        let result = &online.results[position];
        for row in 0..offline.num_rows() {
            let expected = json_value(&arrow_value(column, row));
            assert_eq!(
                result.values[row].to_json(),
                expected,
                "{name} row {row} at {t}: online {:?} vs point-in-time {expected}",
                result.values[row]
            );
            match result.statuses[row] {
                Status::Present => present += 1,
                _ => {
                    absent += 1;
                    assert_eq!(
                        expected,
                        Value::Null,
                        "{name} row {row}: absent online but the join found a value"
                    );
                }
            }
        }
    }
    assert!(
        present > 0 && absent > 0,
        "the comparison covers present and absent values ({present}/{absent})"
    );
}

async fn scenario(store: FeatureStore) {
    let end = data_end();
    // Off the hourly grid, inside the data: materialize a first part, then the rest.
    let t1 = end - Duration::hours(30) - Duration::minutes(30);
    assert_consistent(&store, end - Duration::days(30), t1).await;
    let t2 = end - Duration::minutes(10);
    assert_consistent(&store, t1, t2).await;
    // Long after the data: drivers (TTL 2 days) are past their TTL, customers (7 days) are not.
    let t3 = end + Duration::days(3) + Duration::minutes(5);
    assert_consistent(&store, t2, t3).await;
    // An older window materialized again afterwards changes nothing online.
    assert_consistent(&store, end - Duration::days(30), t3).await;
    store.online().await.unwrap().clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_on_the_embedded_store() {
    let (_dir, repo) = repo("consistency_embedded").await;
    let store = FeatureStore::open(&repo, None).await.unwrap();
    assert!(matches!(
        store.config.online_store,
        OnlineStoreConfig::Embedded { .. }
    ));
    scenario(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_on_redis() {
    let project = format!("consistency_redis_{}", std::process::id());
    let (_dir, repo) = repo(&project).await;
    let mut store = FeatureStore::open(&repo, None).await.unwrap();
    store.config.online_store = OnlineStoreConfig::Redis {
        url: quiver_testkit::redis_url(),
        cluster: false,
        key_expiry: false,
    };
    scenario(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_on_a_redis_cluster() {
    let url = std::env::var("QUIVER_TEST_REDIS_CLUSTER_URL")
        .expect("QUIVER_TEST_REDIS_CLUSTER_URL is not set: run scripts/test.sh, which starts a Redis Cluster");
    let project = format!("consistency_cluster_{}", std::process::id());
    let (_dir, repo) = repo(&project).await;
    let mut store = FeatureStore::open(&repo, None).await.unwrap();
    store.config.online_store = OnlineStoreConfig::Redis {
        url,
        cluster: true,
        key_expiry: false,
    };
    scenario(store).await;
}
