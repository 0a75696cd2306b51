//! End to end: hostile or broken input is refused with an error that names
//! it, never a panic, a stuck run or a silently changed answer — corrupt and
//! empty Parquet sources, materialization ends in the future, entity times
//! given with a zone, and requests whose output would repeat a column name.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use chrono::Duration;
use common::{applied_repo, init_repo, parquet_batches, quiver, rfc3339, start_server, this_hour};
use serde_json::{Value, json};

const VIEW: &str = "driver_hourly_stats";
const SOURCE_FILE: &str = "data/driver_stats.parquet";

/// `quiver --repo REPO ARGS`, whatever its exit status.
fn run(repo: &Path, args: &[&str]) -> Output {
    common::quiver_output(repo, args, &[])
}

/// A way a Parquet source breaks: its name, the file's new bytes made from
/// the whole file, and what the error must say.
type Corruption = (&'static str, fn(&[u8]) -> Vec<u8>, &'static str);

fn corruptions() -> Vec<Corruption> {
    vec![
        (
            // The probe's case: the metadata length is read from the data
            // bytes, so what is wrong depends on them.
            "half a file plus a PAR1 footer",
            |whole| [&whole[..whole.len() / 2], b"PAR1"].concat(),
            "is not a valid Parquet file",
        ),
        (
            "half the data with the whole footer",
            |whole| {
                let footer = footer_len(whole);
                let data = &whole[..whole.len() - footer];
                [&data[..data.len() / 2], &whole[whole.len() - footer..]].concat()
            },
            "lies outside the file's data",
        ),
        ("an empty file", |_| Vec::new(), "the file is empty"),
    ]
}

/// The metadata block and the 8 bytes after it.
fn footer_len(whole: &[u8]) -> usize {
    let n = whole.len();
    u32::from_le_bytes(whole[n - 8..n - 4].try_into().unwrap()) as usize + 8
}

/// The runs `quiver --json list runs` shows for the driver view.
fn driver_runs(repo: &Path) -> Vec<Value> {
    let runs: Value =
        serde_json::from_str(&quiver(repo, &["--json", "list", "runs"], &[])).unwrap();
    runs.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["view"] == VIEW)
        .cloned()
        .collect()
}

fn window_args(end_hours: i64) -> (String, String) {
    (
        rfc3339(this_hour() - Duration::days(3)),
        rfc3339(this_hour() + Duration::hours(end_hours)),
    )
}

#[test]
fn corrupt_and_empty_parquet_sources_are_refused_by_name() {
    let (_dir, repo) = applied_repo("bad_input_corrupt");
    let source = repo.join(SOURCE_FILE);
    let whole = std::fs::read(&source).unwrap();
    let (start, end) = window_args(1);
    for (case, corrupt, says) in corruptions() {
        std::fs::write(&source, corrupt(&whole)).unwrap();

        // `plan` and `apply` refuse a file that is there but is not Parquet,
        // at the source's definition.
        for command in ["plan", "apply"] {
            let stderr = common::quiver_refused(&repo, &[command]);
            assert!(
                stderr.contains(SOURCE_FILE)
                    && stderr.contains("is not a valid Parquet file")
                    && stderr.contains(says)
                    && stderr.contains("driver.yaml:")
                    && stderr.contains("sources[driver_stats_source].path"),
                "{case}: {command}: {stderr}"
            );
        }

        // The run fails with the file's name and is recorded as failed.
        let stderr = common::quiver_refused(&repo, &["materialize", &start, &end, "--views", VIEW]);
        assert!(
            stderr.contains(SOURCE_FILE) && stderr.contains(says),
            "{case}: {stderr}"
        );
        let runs = driver_runs(&repo);
        assert!(
            runs.iter().all(|r| r["status"] != "running"),
            "{case}: {runs:?}"
        );
        let latest = &runs[0];
        assert_eq!(latest["status"], "failed", "{case}: {latest}");
        assert!(
            latest["error"].as_str().unwrap().contains(SOURCE_FILE),
            "{case}: {latest}"
        );
    }

    // A missing source stays a warning: a repo can be applied before its data exists.
    std::fs::remove_file(&source).unwrap();
    let out = run(&repo, &["plan"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: source `driver_stats_source`"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_source_over_http_is_a_json_error_and_a_failed_run() {
    let (_dir, repo) = applied_repo("bad_input_corrupt_http");
    let source = repo.join(SOURCE_FILE);
    let whole = std::fs::read(&source).unwrap();
    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    let (start, end) = window_args(1);
    for (case, corrupt, says) in corruptions() {
        std::fs::write(&source, corrupt(&whole)).unwrap();
        for (route, body) in [
            (
                "/materialize",
                json!({"start_ts": start, "end_ts": end, "feature_views": [VIEW]}),
            ),
            (
                "/materialize-incremental",
                json!({"end_ts": end, "feature_views": [VIEW]}),
            ),
        ] {
            let response = client
                .post(format!("{}{route}", server.url))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap();
            assert_eq!(status, 400, "{case}: {route}: {answer}");
            assert_eq!(answer["error"]["code"], "bad_request", "{case}: {answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(SOURCE_FILE) && message.contains(says),
                "{case}: {route}: {message}"
            );
        }
        let runs = driver_runs(&repo);
        assert!(
            runs.iter().all(|r| r["status"] != "running"),
            "{case}: {runs:?}"
        );
        assert_eq!(runs[0]["status"], "failed", "{case}: {runs:?}");
    }
    // The server is still serving.
    let health = client
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_materialization_may_not_end_in_the_future() {
    let (_dir, repo) = applied_repo("bad_input_future");
    let (start, _) = window_args(1);
    let far = "2099-01-01T00:00:00Z";
    let two_hours = rfc3339(chrono::Utc::now() + Duration::hours(2));
    for args in [
        vec!["materialize", &start, far],
        vec!["materialize", &start, &two_hours],
        vec!["materialize-incremental", far],
    ] {
        let stderr = common::quiver_refused(&repo, &args);
        assert!(
            stderr.contains("is more than 1 hour after now")
                && stderr.contains("materialize-incremental"),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        driver_runs(&repo).is_empty(),
        "a refused window starts no run"
    );

    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    for (route, body) in [
        ("/materialize", json!({"start_ts": start, "end_ts": far})),
        ("/materialize-incremental", json!({"end_ts": far})),
    ] {
        refused_over_http(
            &client,
            &server.url,
            route,
            &body,
            "is more than 1 hour after now",
        )
        .await;
    }
    assert!(driver_runs(&repo).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_recorded_with_a_future_end_does_not_stop_incremental_runs() {
    let project = quiver_testkit::unique_name("bad_input_poisoned");
    let (_dir, repo) = init_repo(&project, 3, 24);
    quiver(&repo, &["apply"], &[]);
    // A store poisoned by an earlier version, which accepted any end.
    let registry = quiver_registry::Registry::connect("sqlite://.quiver/registry.db", &repo)
        .await
        .unwrap();
    let start = (this_hour() - Duration::days(3)).timestamp_micros();
    let end = chrono::DateTime::parse_from_rfc3339("2099-01-01T00:00:00Z")
        .unwrap()
        .timestamp_micros();
    let poisoned = registry
        .start_run(&project, VIEW, "offline", (start, end), 1)
        .await
        .unwrap();
    let done = quiver_registry::RunResult::Succeeded {
        rows_read: 0,
        rows_written: 0,
        duration_ms: 0,
    };
    registry.finish_run(&poisoned, &done).await.unwrap();

    let end = rfc3339(this_hour() + Duration::hours(1));
    let out = quiver(
        &repo,
        &["--json", "materialize-incremental", &end, "--views", VIEW],
        &[],
    );
    let reports: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reports[0]["window_end"], end.as_str(), "{reports}");
    assert!(reports[0]["rows"].as_u64().unwrap() > 0, "{reports}");
}

/// The entity timestamp column of `historical` with `csv` as the entity file,
/// written as `out`.
fn historical_out(repo: &Path, csv: &str, out: &str) -> PathBuf {
    let entities = repo.join("entities.csv");
    std::fs::write(&entities, csv).unwrap();
    let out = repo.join(out);
    quiver(
        repo,
        &[
            "historical",
            "--entities",
            entities.to_str().unwrap(),
            "--features",
            "driver_hourly_stats:conv_rate",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_times_given_with_a_zone_come_back_utc() {
    let (_dir, repo) = applied_repo("bad_input_zones");
    let zoned =
        "driver_id,event_timestamp\n1001,2024-01-01T00:00:00Z\n1002,2024-01-01T05:30:00+05:30\n";
    // Parquet has no seconds unit: the file holds milliseconds, which every
    // reader (pyarrow, DuckDB, Spark) reads back as a UTC timestamp.
    let utc = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));

    let parquet = historical_out(&repo, zoned, "zoned.parquet");
    let batch = &parquet_batches([parquet])[0];
    let times = batch.column_by_name("event_timestamp").unwrap();
    assert_eq!(times.data_type(), &utc);
    // Both rows are the same instant, given in two zones.
    let millis = times.as_primitive::<TimestampMillisecondType>();
    assert_eq!(millis.values(), &[1_704_067_200_000, 1_704_067_200_000]);

    let csv = std::fs::read_to_string(historical_out(&repo, zoned, "zoned.csv")).unwrap();
    assert_eq!(csv.matches("2024-01-01T00:00:00Z").count(), 2, "{csv}");
    let json = std::fs::read_to_string(historical_out(&repo, zoned, "zoned.json")).unwrap();
    assert_eq!(json.matches("2024-01-01T00:00:00Z").count(), 2, "{json}");

    // Naive input stays naive.
    let naive = "driver_id,event_timestamp\n1001,2024-01-01T00:00:00\n";
    let parquet = historical_out(&repo, naive, "naive.parquet");
    let batch = &parquet_batches([parquet])[0];
    assert_eq!(
        batch.column_by_name("event_timestamp").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, None)
    );

    // A column mixing both is refused, naming the rows.
    let entities = repo.join("mixed.csv");
    std::fs::write(
        &entities,
        "driver_id,event_timestamp\n1001,2024-01-01T00:00:00Z\n1002,2024-01-01T00:00:00\n",
    )
    .unwrap();
    let out = repo.join("mixed.parquet");
    let stderr = common::quiver_refused(
        &repo,
        &[
            "historical",
            "--entities",
            entities.to_str().unwrap(),
            "--features",
            "driver_hourly_stats:conv_rate",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(stderr.contains("mixes timestamps with a zone"), "{stderr}");

    // Over HTTP, RFC 3339 strings (always zoned) make a UTC column.
    let server = start_server(&repo, &[], &[]);
    let response = reqwest::Client::new()
        .post(format!("{}/get-historical-features", server.url))
        .header("accept", "application/vnd.apache.parquet")
        .json(&json!({
            "features": ["driver_hourly_stats:conv_rate"],
            "entities": {"driver_id": [1001], "event_timestamp": ["2024-01-01T05:30:00+05:30"]},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body = response.bytes().await.unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(body).unwrap();
    let batch = reader.build().unwrap().next().unwrap().unwrap();
    let times = batch.column_by_name("event_timestamp").unwrap();
    assert_eq!(times.data_type(), &utc);
    assert_eq!(
        times.as_primitive::<TimestampMillisecondType>().value(0),
        1_704_067_200_000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_would_repeat_a_column_name_are_refused() {
    let (_dir, repo) = init_repo(&quiver_testkit::unique_name("bad_input_dups"), 3, 24);
    // A second view of the same rows, sharing the feature name `conv_rate`.
    std::fs::write(
        repo.join("copy.yaml"),
        "feature_views:\n  - name: driver_copy\n    entities: [driver]\n    source: driver_stats_source\n    features:\n      - { name: conv_rate, dtype: float32 }\n",
    )
    .unwrap();
    quiver(&repo, &["apply"], &[]);
    let historical = |csv: &str, features: &str, extra: &[&str]| {
        let entities = repo.join("entities.csv");
        std::fs::write(&entities, csv).unwrap();
        common::historical_output(&repo, &entities, features, &repo.join("out.parquet"), extra)
    };
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let t = "2024-01-01T00:00:00Z";

    let out = historical(
        &format!("driver_id,driver_id,event_timestamp\n1001,1002,{t}\n"),
        "driver_hourly_stats:conv_rate",
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("two columns named `driver_id`"),
        "{}",
        stderr(&out)
    );

    let out = historical(
        &format!("driver_id,event_timestamp,conv_rate\n1001,{t},0.5\n"),
        "driver_hourly_stats:conv_rate",
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already have a column `conv_rate`")
            && stderr(&out).contains("full_feature_names"),
        "{}",
        stderr(&out)
    );

    let csv = format!("driver_id,event_timestamp\n1001,{t}\n");
    let both = "driver_hourly_stats:conv_rate,driver_copy:conv_rate";
    let out = historical(&csv, both, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would both produce a column `conv_rate`")
            && stderr(&out).contains("full_feature_names"),
        "{}",
        stderr(&out)
    );
    // With full feature names the columns differ, and the request is answered.
    let out = historical(&csv, both, &["--full-feature-names"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Online lookups and JSON training sets resolve their columns the same way.
    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    let features = ["driver_hourly_stats:conv_rate", "driver_copy:conv_rate"];
    for (route, body) in [
        (
            "/get-online-features",
            json!({"features": features, "entities": {"driver_id": [1001]}}),
        ),
        (
            "/get-historical-features",
            json!({"features": features, "entities": {"driver_id": [1001], "event_timestamp": [t]}}),
        ),
    ] {
        refused_over_http(
            &client,
            &server.url,
            route,
            &body,
            "would both produce a column `conv_rate`",
        )
        .await;
    }
}

/// POSTs `body` to `route` and asserts a 400 whose message says `needle`.
async fn refused_over_http(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    body: &Value,
    needle: &str,
) {
    let response = client
        .post(format!("{url}{route}"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400, "{route}");
    let answer: Value = response.json().await.unwrap();
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{route}: {message}");
}
