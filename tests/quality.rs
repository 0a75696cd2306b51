//! Data-quality checks and statistics on the real binary: each policy on batch
//! materialization and on push (the Kafka path is in `streaming.rs`), and the
//! statistics of a run against values computed here from the stored rows.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::AsArray;
use arrow::datatypes::Float32Type;
use chrono::Duration;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use common::{init_repo, quiver, rfc3339, start_server, this_hour};

const VIEW: &str = "driver_hourly_stats";
const LIMIT: f32 = 0.5;

/// Declares `conv_rate` at most LIMIT with `policy` (instead of the example's 1) and applies.
fn apply_with_policy(repo: &Path, policy: &str) {
    let path = repo.join("driver.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("          - { check: max, value").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    let line = format!("          - {{ check: max, value: {LIMIT}, policy: {policy} }}");
    std::fs::write(&path, format!("{}{line}{}", &text[..start], &text[end..])).unwrap();
    quiver(repo, &["apply"], &[]);
}

fn materialize(repo: &Path) -> std::process::Output {
    let now = this_hour();
    Command::new(env!("CARGO_BIN_EXE_quiver"))
        .arg("--repo")
        .arg(repo)
        .args([
            "--json",
            "materialize",
            &rfc3339(now - Duration::days(4)),
            &rfc3339(now + Duration::hours(1)),
            "--views",
            VIEW,
        ])
        .env_remove("QUIVER_REGISTRY")
        .output()
        .unwrap()
}

/// Every `conv_rate` of the Parquet files `paths` (nulls as None).
fn conv_rates(paths: impl IntoIterator<Item = PathBuf>) -> Vec<Option<f32>> {
    let mut values = Vec::new();
    for path in paths {
        let file = std::fs::File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch.column_by_name("conv_rate").unwrap();
            values.extend(column.as_primitive::<Float32Type>().iter());
        }
    }
    values
}

/// The view's stored `conv_rate`s, as the offline store lists its files.
fn stored(repo: &Path) -> Vec<Option<f32>> {
    let store = quiver_offline::OfflineStore::new(repo.join(".quiver/offline"));
    conv_rates(store.files(VIEW).unwrap().into_iter().map(|f| f.path))
}

/// The one checked count of `check` in a run report's `checks`.
fn violations(checks: &Value, check: &str) -> Option<u64> {
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .map(|c| c["violations"].as_u64().unwrap())
}

#[test]
fn each_policy_on_batch_materialization_and_the_statistics_of_the_run() {
    let (_dir, repo) = init_repo(&quiver_testkit::unique_name("quality_batch"), 20, 72);
    let source = conv_rates([repo.join("data/driver_stats.parquet")]);
    let over = source
        .iter()
        .filter(|v| v.is_some_and(|v| v > LIMIT))
        .count() as u64;
    assert!(over > 0 && over < source.len() as u64);

    // fail: the run stops, nothing is published, the record says which check.
    apply_with_policy(&repo, "fail");
    let out = materialize(&repo);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("check `conv_rate:max` failed"), "{stderr}");
    assert!(stored(&repo).is_empty(), "a failed check published rows");
    let runs: Value =
        serde_json::from_str(&quiver(&repo, &["--json", "list", "runs"], &[])).unwrap();
    let failed = &runs[0];
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("conv_rate:max"));
    assert!(violations(&failed["checks"], "conv_rate:max").unwrap() >= 1);

    // drop (the first run that publishes): the rows are left out, offline and
    // online, and counted. (A later, stricter run would not retract values
    // already online: the event-time guard keeps the newest.)
    apply_with_policy(&repo, "drop");
    let out = materialize(&repo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        violations(&report[0]["checks"], "conv_rate:max"),
        Some(over)
    );
    let kept = stored(&repo);
    assert_eq!(kept.len() as u64, source.len() as u64 - over);
    assert!(kept.iter().all(|v| v.is_none_or(|v| v <= LIMIT)));
    let online = quiver(
        &repo,
        &[
            "--json",
            "online",
            "--entity",
            "driver_id=1001",
            "--entity",
            "driver_id=1002",
            "--features",
            &format!("{VIEW}:conv_rate"),
        ],
        &[],
    );
    let online: Value = serde_json::from_str(&online).unwrap();
    for value in online["results"][1]["values"].as_array().unwrap() {
        assert!(
            value.is_null() || value.as_f64().unwrap() <= f64::from(LIMIT),
            "{online}"
        );
    }

    // The statistics of the run: exactly those of the rows it kept.
    let stats: Value =
        serde_json::from_str(&quiver(&repo, &["--json", "stats", VIEW], &[])).unwrap();
    let conv = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["feature"] == "conv_rate")
        .unwrap();
    let s = &conv["stats"];
    let values: Vec<f64> = kept.iter().flatten().map(|v| f64::from(*v)).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert_eq!(s["count"], json!(kept.len()));
    assert_eq!(s["nulls"], json!(kept.len() - values.len()));
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(s["min"].as_f64().unwrap(), min);
    assert_eq!(s["max"].as_f64().unwrap(), max);
    assert!((s["mean"].as_f64().unwrap() - mean).abs() < 1e-9, "{s}");
    let p50 = s["quantiles"]["p50"].as_f64().unwrap();
    let below = values.iter().filter(|v| **v <= p50).count() as f64 / values.len() as f64;
    assert!(
        (below - 0.5).abs() < 0.05,
        "p50 {p50} has {below} of the values below it"
    );
    let table = quiver(&repo, &["stats", VIEW], &[]);
    assert!(
        table.contains("conv_rate") && table.contains("P99"),
        "{table}"
    );

    // warn: every row is stored, the violations are counted.
    apply_with_policy(&repo, "warn");
    let out = materialize(&repo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        violations(&report[0]["checks"], "conv_rate:max"),
        Some(over)
    );
    assert_eq!(stored(&repo).len(), source.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_on_push() {
    let (_dir, repo) = init_repo(&quiver_testkit::unique_name("quality_push"), 20, 72);
    std::fs::write(
        repo.join("push.yaml"),
        "feature_views:
  - name: pushed
    entities: [driver]
    source: driver_stats_source
    stream_source: driver_stats_push
    features:
      - name: conv_rate
        dtype: float32
        checks: [{ check: max, value: 1 }]
      - name: acc_rate
        dtype: float32
        checks: [{ check: max, value: 1, policy: drop }]
      - name: avg_daily_trips
        dtype: int64
        checks: [{ check: min, value: 0, policy: warn }]
",
    )
    .unwrap();
    quiver(&repo, &["apply"], &[]);
    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    let at = rfc3339(this_hour());
    let push = |df: Value| {
        client
            .post(format!("{}/push", server.url))
            .json(&json!({"push_source_name": "driver_stats_push", "df": df, "to": "online"}))
            .send()
    };
    let online = || async {
        let body = json!({"features": ["pushed:conv_rate"], "entities": {"driver_id": [1, 2, 3]}});
        let answer: Value = client
            .post(format!("{}/get-online-features", server.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["results"][1]["statuses"].clone()
    };

    // fail: a 400 that names the check, and nothing is written.
    let response = push(json!({"driver_id": [1, 2], "event_timestamp": [at, at],
                               "conv_rate": [0.5, 1.5]}))
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("conv_rate:max") && message.contains("nothing was written"),
        "{message}"
    );
    assert_eq!(
        online().await,
        json!(["NOT_FOUND", "NOT_FOUND", "NOT_FOUND"])
    );

    // drop and warn: the dropped row is left out, both are counted.
    let response = push(
        json!({"driver_id": [1, 2, 3], "event_timestamp": [at, at, at],
                               "conv_rate": [0.1, 0.2, 0.3], "acc_rate": [0.5, 1.5, 0.5],
                               "avg_daily_trips": [1, 2, -3]}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let outcome: Value = response.json().await.unwrap();
    let counts = &outcome["checks"]["pushed"];
    assert_eq!(violations(counts, "acc_rate:max"), Some(1), "{outcome}");
    assert_eq!(
        violations(counts, "avg_daily_trips:min"),
        Some(1),
        "{outcome}"
    );
    assert_eq!(online().await, json!(["PRESENT", "NOT_FOUND", "PRESENT"]));
}
