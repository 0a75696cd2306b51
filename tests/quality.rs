//! Data-quality checks and statistics on the real binary: each policy on batch
//! materialization and on push (the Kafka path is in `streaming.rs`), and the
//! statistics of a run against values computed here from the stored rows.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use arrow::array::AsArray;
use arrow::datatypes::Float32Type;
use chrono::Duration;
use serde_json::{Value, json};

use common::{historical, init_repo, quiver, rfc3339, start_server, this_hour};

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

/// Every `conv_rate` of `batches` (nulls as None).
fn conv_rates(batches: Vec<arrow::array::RecordBatch>) -> Vec<Option<f32>> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name("conv_rate").unwrap();
            column
                .as_primitive::<Float32Type>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The report of a materialization that must succeed.
fn published(repo: &Path) -> Value {
    let out = materialize(repo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The view's stored `conv_rate`s, as the offline store lists its files.
fn stored(repo: &Path) -> Vec<Option<f32>> {
    conv_rates(common::stored_batches(repo, VIEW))
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
    let source = conv_rates(common::parquet_batches([
        repo.join("data/driver_stats.parquet")
    ]));
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
    let report = published(&repo);
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
    let report = published(&repo);
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
    let server = start_server(&repo, &["--stats-window", "1s"], &[]);
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
    let metrics = common::metrics(&server).await;
    assert!(
        metrics.contains(
            r#"quiver_check_violations_total{view="pushed",check="acc_rate:max",policy="drop"} 1"#
        ),
        "{metrics}"
    );

    // The window of pushed rows is recorded once it ended (1 s here; the
    // server looks every 2 s): the statistics of the two rows kept, and what
    // the checks counted; over HTTP and from the CLI.
    let started = std::time::Instant::now();
    loop {
        let response = client
            .get(format!("{}/stats?view=pushed&source=push", server.url))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 404);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the window of pushed rows was never recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let conv_rate = common::feature_statistics(&repo, "pushed", "push", "conv_rate");
    assert_eq!(
        (&conv_rate["source"], &conv_rate["rows"]),
        (&json!("push"), &json!(2)),
        "{conv_rate}"
    );
    let s = &conv_rate["stats"];
    assert_eq!(s["count"], 2, "{s}");
    assert_eq!(s["min"].as_f64(), Some(f64::from(0.1f32)), "{s}");
    assert_eq!(s["max"].as_f64(), Some(f64::from(0.3f32)), "{s}");
    assert_eq!(
        conv_rate["checks"],
        json!([{"check": "acc_rate:max", "policy": "drop", "violations": 1},
               {"check": "avg_daily_trips:min", "policy": "warn", "violations": 1}])
    );
    // The table names the window's writer.
    let table = quiver(&repo, &["stats", "pushed", "--source", "push"], &[]);
    assert!(table.contains("push rows streamed in by"), "{table}");
}

/// `quiver drift` between two windows of the same data, and against a saved
/// training set: no drift with the defaults; a view's own (strict) thresholds
/// are honoured and make the command exit 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_between_windows_and_against_a_saved_dataset() {
    let (_dir, repo) = init_repo(&quiver_testkit::unique_name("quality_drift"), 200, 72);
    quiver(&repo, &["apply"], &[]);
    let out = materialize(&repo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let now = this_hour();
    let window = |from: i64, to: i64| {
        format!(
            "{}/{}",
            rfc3339(now - Duration::hours(from)),
            rfc3339(now - Duration::hours(to))
        )
    };
    let drift = |baseline: &str| {
        Command::new(env!("CARGO_BIN_EXE_quiver"))
            .arg("--repo")
            .arg(&repo)
            .args(["--json", "drift", "--view", VIEW, "--baseline", baseline])
            .args(["--current", &window(36, -1)])
            .env_remove("QUIVER_REGISTRY")
            .output()
            .unwrap()
    };

    let out = drift(&window(72, 36));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["drifted"], false, "{report}");
    let features: Vec<&str> = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(features, ["conv_rate", "acc_rate", "avg_daily_trips"]);

    // The same over HTTP, and the statistics.
    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let response = client.get(path).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, answer) = get(format!(
        "{}/drift?view={VIEW}&baseline={}&current={}",
        server.url,
        window(72, 36),
        window(36, -1)
    ))
    .await;
    assert_eq!(status, 200, "{answer}");
    // The quantile sketch flips coins: the metrics differ a little run to run,
    // the verdicts do not.
    let verdicts = |report: &Value| -> Vec<(String, bool)> {
        report["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["feature"].as_str().unwrap().to_string(),
                    f["drifted"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&answer), verdicts(&report));
    let (status, answer) = get(format!("{}/stats?view={VIEW}", server.url)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer.as_array().unwrap().len(), 3);
    let (status, answer) = get(format!(
        "{}/drift?view={VIEW}&baseline=yesterday/today&current={}",
        server.url,
        window(36, -1)
    ))
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].is_string());
    let (status, _) = get(format!("{}/stats?view=nope", server.url)).await;
    assert_eq!(status, 404);

    // A saved training set as the baseline.
    let entities = repo.join("entities.csv");
    let mut csv = String::from("driver_id,event_timestamp\n");
    for driver in 1001..1201 {
        for hours in [40, 50, 60] {
            csv.push_str(&format!(
                "{driver},{}\n",
                rfc3339(now - Duration::hours(hours))
            ));
        }
    }
    std::fs::write(&entities, csv).unwrap();
    let training = repo.join("training.parquet");
    historical(
        &repo,
        &entities,
        &format!("{VIEW}:conv_rate,{VIEW}:acc_rate,{VIEW}:avg_daily_trips"),
        &training,
        &["--save", "baseline_set"],
    );
    let out = drift("baseline_set");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["baseline"], "dataset baseline_set");
    assert_eq!(report["drifted"], false, "{report}");

    // The view's own thresholds: a KS distance no two samples stay under.
    let path = repo.join("driver.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "    ttl: 2d\n",
            "    ttl: 2d\n    drift: { ks: 0.000001 }\n",
        ),
    )
    .unwrap();
    quiver(&repo, &["apply"], &[]);
    let out = drift(&window(72, 36));
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["drifted"], true);
    assert_eq!(report["thresholds"]["ks"], 0.000001);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("drift over the thresholds"), "{stderr}");
}

/// `quiver lineage` of a dataset saved after two definition versions and
/// several runs, and of the view; a later version does not change it.
#[test]
fn lineage_of_a_saved_dataset_and_of_a_view() {
    let (_dir, repo) = init_repo(&quiver_testkit::unique_name("quality_lineage"), 5, 72);
    quiver(&repo, &["apply"], &[]);
    let now = this_hour();
    let span = |from: i64, to: i64| {
        [
            rfc3339(now - Duration::hours(from)),
            rfc3339(now - Duration::hours(to)),
        ]
    };
    let run = |[start, end]: [String; 2]| {
        quiver(&repo, &["materialize", &start, &end, "--views", VIEW], &[]);
    };
    run(span(80, 40));
    // A second version of the view: one more check.
    apply_with_policy(&repo, "warn");
    run(span(40, -1));
    let entities = repo.join("entities.csv");
    std::fs::write(
        &entities,
        format!(
            "driver_id,event_timestamp\n1001,{}\n1002,{}\n",
            rfc3339(now - Duration::hours(50)),
            rfc3339(now - Duration::hours(2))
        ),
    )
    .unwrap();
    let out = repo.join("set.parquet");
    historical(
        &repo,
        &entities,
        &format!("{VIEW}:conv_rate"),
        &out,
        &["--save", "ds"],
    );
    // A third version after the dataset was saved.
    apply_with_policy(&repo, "drop");

    let lineage: Value =
        serde_json::from_str(&quiver(&repo, &["--json", "lineage", "ds"], &[])).unwrap();
    let view = &lineage["views"][0];
    assert_eq!(view["view"], VIEW);
    assert_eq!(view["definition_version"], 2, "{lineage}");
    let windows: Vec<(String, String)> = view["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["window_start"].as_str().unwrap().to_string(),
                r["window_end"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let [a0, a1] = span(80, 40);
    let [b0, b1] = span(40, -1);
    assert_eq!(windows.len(), 2, "{lineage}");
    assert!(
        windows.contains(&(a0, a1)) && windows.contains(&(b0, b1)),
        "{windows:?}"
    );
    assert_eq!(view["unexplained_files"], json!([]));
    for r in view["runs"].as_array().unwrap() {
        assert_eq!(r["status"], "succeeded");
        assert!(r["checks"].is_array(), "{r}");
    }

    let usage: Value =
        serde_json::from_str(&quiver(&repo, &["--json", "lineage", VIEW], &[])).unwrap();
    assert_eq!(usage["datasets"], json!(["ds"]));
    assert_eq!(usage["runs"].as_array().unwrap().len(), 4, "{usage}"); // offline + online, twice
    let table = quiver(&repo, &["lineage", "ds"], &[]);
    assert!(table.contains("definition version 2"), "{table}");
}
