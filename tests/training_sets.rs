//! End to end: materialize the example repo into the offline store and build
//! training sets with `quiver historical`, checking values against the source rows.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::Value;

fn quiver(repo: &Path, args: &[&str]) -> (i32, String, String) {
    let out = common::quiver_output(repo, args, &[("QUIVER_USER", "e2e-test")]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(repo: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = quiver(repo, args);
    assert_eq!(code, 0, "quiver {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// An applied example repo with 4 drivers over 48 hours ending at `end`.
fn applied_repo(end: DateTime<Utc>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    ok(
        Path::new("."),
        &[
            "init",
            repo.to_str().unwrap(),
            "--drivers",
            "4",
            "--customers",
            "3",
            "--hours",
            "48",
            "--days",
            "3",
        ],
    );
    // Regenerate with a fixed end so the test can compute expectations.
    let options = quiver_datagen::GenerateOptions {
        drivers: 4,
        customers: 3,
        hours: 48,
        days: 3,
        end,
        seed: 42,
    };
    quiver_datagen::generate_parquet(&repo.join("data"), &options).unwrap();
    ok(&repo, &["apply"]);
    (dir, repo)
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The expected `conv_rate` for (driver, t) straight from the generator's rows.
fn expected_conv_rate(
    end: DateTime<Utc>,
    driver: i64,
    t: DateTime<Utc>,
    ttl: Duration,
) -> Option<f32> {
    let options = quiver_datagen::GenerateOptions {
        drivers: 4,
        customers: 3,
        hours: 48,
        days: 3,
        end,
        seed: 42,
    };
    let t_us = t.timestamp_micros();
    quiver_datagen::driver_rows(&options)
        .unwrap()
        .filter(|r| {
            r.driver_id == driver
                && r.event_timestamp <= t_us
                && r.event_timestamp >= t_us - ttl.num_microseconds().unwrap()
        })
        .max_by_key(|r| (r.event_timestamp, r.created))
        .and_then(|r| r.conv_rate)
}

#[test]
fn materialize_then_build_a_training_set() {
    let end = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::days(1);
    let (dir, repo) = applied_repo(end);
    let (start_s, end_s) = (ts(end - Duration::days(3)), ts(end + Duration::hours(1)));
    let out = ok(&repo, &["materialize", &start_s, &end_s]);
    assert!(
        out.contains("driver_hourly_stats") && out.contains("customer_profile"),
        "{out}"
    );
    let all_runs: Value = serde_json::from_str(&ok(&repo, &["--json", "list", "runs"])).unwrap();
    // One offline and one online run per view.
    assert_eq!(all_runs.as_array().unwrap().len(), 4);
    let runs = Value::Array(
        all_runs
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["target"] == "offline")
            .cloned()
            .collect(),
    );
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "succeeded")
    );
    let rows_first: i64 = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rows_written"].as_i64().unwrap())
        .sum();

    // The same window again leaves one copy; an overlapping window adds nothing twice.
    ok(&repo, &["materialize", &start_s, &end_s]);
    ok(
        &repo,
        &[
            "materialize",
            &ts(end - Duration::hours(5)),
            &end_s,
            "--views",
            "driver_hourly_stats",
        ],
    );
    let stored = count_rows(&repo, "driver_hourly_stats");
    let expected_driver_rows = quiver_datagen::driver_rows(&quiver_datagen::GenerateOptions {
        drivers: 4,
        customers: 3,
        hours: 48,
        days: 3,
        end,
        seed: 42,
    })
    .unwrap()
    .count();
    assert_eq!(
        stored, expected_driver_rows,
        "each source row is stored exactly once"
    );
    assert!(rows_first as usize >= expected_driver_rows);

    // Entity rows: inside the data, exactly on an event time, before any data, past the TTL, unknown driver, duplicates.
    let times = [
        end - Duration::minutes(30),
        end - Duration::hours(10),
        end - Duration::days(5),
        end + Duration::days(4),
        end,
    ];
    let mut csv = String::from("driver_id,event_timestamp,label\n");
    let mut expectations = Vec::new();
    for (i, t) in times.iter().enumerate() {
        for driver in [1001i64, 1003, 9999] {
            csv.push_str(&format!("{driver},{},{i}\n", ts(*t)));
            expectations.push(expected_conv_rate(end, driver, *t, Duration::days(2)));
        }
    }
    csv.push_str(&format!("1001,{},dup\n", ts(times[0])));
    expectations.push(expected_conv_rate(end, 1001, times[0], Duration::days(2)));
    let entities = dir.path().join("entities.csv");
    std::fs::write(&entities, csv).unwrap();
    let training = dir.path().join("training.json");
    let out = ok(
        &repo,
        &[
            "historical",
            "--entities",
            entities.to_str().unwrap(),
            "--features",
            "driver_hourly_stats:conv_rate,driver_hourly_stats:avg_daily_trips",
            "--out",
            training.to_str().unwrap(),
            "--save",
            "first_set",
        ],
    );
    assert!(
        out.contains(&format!("Wrote {} rows x 5 columns", expectations.len())),
        "{out}"
    );
    let rows: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&training).unwrap()).unwrap();
    assert_eq!(rows.len(), expectations.len());
    assert!(expectations.iter().any(Option::is_some) && expectations.iter().any(Option::is_none));
    for (i, (row, expected)) in rows.iter().zip(&expectations).enumerate() {
        let got = row
            .get("conv_rate")
            .and_then(Value::as_f64)
            .map(|v| v as f32);
        assert_eq!(got, *expected, "row {i}: {row}");
    }
    assert_eq!(
        rows.last().unwrap()["label"],
        "dup",
        "extra columns come back untouched, in order"
    );

    // Every output format, and the feature service with full names.
    for ext in ["parquet", "csv", "arrow"] {
        let path = dir.path().join(format!("training.{ext}"));
        ok(
            &repo,
            &[
                "historical",
                "--entities",
                entities.to_str().unwrap(),
                "--service",
                "driver_activity",
                "--full-feature-names",
                "--out",
                path.to_str().unwrap(),
            ],
        );
        let table = quiver_offline::formats::read_table_file(&path).unwrap();
        assert_eq!(table.num_rows(), expectations.len());
        assert!(
            table
                .schema()
                .column_with_name("driver_hourly_stats__conv_rate")
                .is_some(),
            "{ext}: {:?}",
            table.schema()
        );
    }

    let datasets: Value =
        serde_json::from_str(&ok(&repo, &["--json", "list", "datasets"])).unwrap();
    let saved = &datasets.as_array().unwrap()[0];
    assert_eq!(saved["name"], "first_set");
    assert_eq!(saved["row_count"], expectations.len());
    assert_eq!(saved["registry_version"], 1);
    assert!(
        !saved["offline_snapshot"]["driver_hourly_stats"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (code, _, stderr) = quiver(
        &repo,
        &[
            "historical",
            "--entities",
            entities.to_str().unwrap(),
            "--features",
            "driver_hourly_stats:conv_rate",
            "--out",
            training.to_str().unwrap(),
            "--save",
            "first_set",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("already saved"), "{stderr}");
}

#[test]
fn bad_training_set_requests_are_clear_errors() {
    let end = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    let (dir, repo) = applied_repo(end);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let out = dir.path().join("out.parquet");
    let good = write(
        "good.csv",
        &format!("driver_id,event_timestamp\n1001,{}\n", ts(end)),
    );
    let cases: Vec<(PathBuf, &str, &str)> = vec![
        (
            good.clone(),
            "driver_hourly_stats:nope",
            "has no feature `nope`",
        ),
        (
            good.clone(),
            "no_view:conv_rate",
            "unknown feature view `no_view`",
        ),
        (
            write(
                "nokey.csv",
                &format!("customer_id,event_timestamp\nC00001,{}\n", ts(end)),
            ),
            "driver_hourly_stats:conv_rate",
            "lacks join key column(s) driver_id",
        ),
        (
            write("badts.csv", "driver_id,event_timestamp\n1001,yesterday\n"),
            "driver_hourly_stats:conv_rate",
            "is not an RFC 3339 timestamp",
        ),
        (
            write("empty.csv", "driver_id,event_timestamp\n"),
            "driver_hourly_stats:conv_rate",
            "no rows",
        ),
        (
            write(
                "badkey.csv",
                &format!("driver_id,event_timestamp\nabc,{}\n", ts(end)),
            ),
            "driver_hourly_stats:conv_rate",
            "is not a valid int64",
        ),
    ];
    for (entities, features, needle) in cases {
        let (code, _, stderr) = quiver(
            &repo,
            &[
                "historical",
                "--entities",
                entities.to_str().unwrap(),
                "--features",
                features,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 1, "{entities:?} {features}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(needle),
            "{entities:?} {features}: expected `{needle}` in {stderr}"
        );
    }
    let (code, _, stderr) = quiver(
        &repo,
        &[
            "historical",
            "--entities",
            good.to_str().unwrap(),
            "--features",
            "driver_hourly_stats:conv_rate",
            "--out",
            out.to_str().unwrap(),
            "--max-rows",
            "0",
        ],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("over the limit"), "{stderr}");
    assert!(!out.exists(), "a failed request writes nothing");
}

/// Rows of `view` in the offline store, as the store lists its files (files
/// replaced by a later run stay on disk a while, retired, and are no data).
fn count_rows(repo: &Path, view: &str) -> usize {
    let store = quiver_offline::OfflineStore::new(repo.join(".quiver/offline"));
    let files = store.files(view).unwrap();
    for file in &files {
        assert!(
            file.sorted,
            "materialized files are sorted: {:?}",
            file.path
        );
    }
    common::stored_batches(repo, view)
        .iter()
        .map(|b| b.num_rows())
        .sum()
}
