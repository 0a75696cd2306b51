//! End to end: the built `quiver` binary on a fresh copy of the example repo.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn quiver(repo: &Path, args: &[&str]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env("QUIVER_USER", "e2e-test")
        .env_remove("QUIVER_REGISTRY")
        .output()
        .expect("the quiver binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(repo: &Path, args: &[&str]) -> String {
    let run = quiver(repo, args);
    assert_eq!(
        run.code, 0,
        "quiver {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run.stdout
}

fn json(repo: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = ok(repo, &all);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{args:?} printed invalid JSON ({e}):\n{out}"))
}

/// `quiver init` into a temp dir (small sample data).
fn init() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let out = ok(
        Path::new("."),
        &[
            "init",
            repo.to_str().unwrap(),
            "--drivers",
            "5",
            "--customers",
            "5",
            "--hours",
            "24",
            "--days",
            "3",
        ],
    );
    assert!(out.contains("driver_stats.parquet"), "{out}");
    (dir, repo)
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn init_plan_apply_list_describe() {
    let (_dir, repo) = init();
    for file in [
        "quiver.yaml",
        "driver.yaml",
        "customer.yaml",
        "data/driver_stats.parquet",
        "data/customer_profile.parquet",
    ] {
        assert!(repo.join(file).is_file(), "init did not write {file}");
    }

    let plan = ok(&repo, &["plan"]);
    assert!(
        plan.contains("+ feature_view driver_hourly_stats"),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 11 to add, 0 to change, 0 to remove"),
        "{plan}"
    );
    let plan = json(&repo, &["plan"]);
    assert_eq!(plan["applied"], false);
    assert_eq!(plan["changes"].as_array().unwrap().len(), 11);
    assert_eq!(
        json(&repo, &["list", "views"]).as_array().unwrap().len(),
        0,
        "plan must not write"
    );

    let apply = ok(&repo, &["apply"]);
    assert!(
        apply.contains("Applied: 11 added, 0 changed, 0 removed. Registry version 0 -> 1."),
        "{apply}"
    );
    let again = ok(&repo, &["apply"]);
    assert!(again.contains("No changes"), "{again}");

    let views = ok(&repo, &["list", "views"]);
    assert!(
        views.contains("driver_hourly_stats")
            && views.contains("customer_profile")
            && views.contains("2days"),
        "{views}"
    );
    let entities = ok(&repo, &["list", "entities"]);
    assert!(
        entities.contains("driver_id:int64") && entities.contains("customer_id:string"),
        "{entities}"
    );
    let sources = json(&repo, &["list", "sources"]);
    let kinds: Vec<&str> = sources
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["spec"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"parquet")
            && kinds.contains(&"postgres")
            && kinds.contains(&"kafka")
            && kinds.contains(&"push"),
        "{kinds:?}"
    );
    let services = ok(&repo, &["list", "services"]);
    assert!(
        services.contains("driver_activity") && services.contains("ride_ranking"),
        "{services}"
    );

    let describe = ok(&repo, &["describe", "driver_hourly_stats"]);
    assert!(
        describe.starts_with("feature_view driver_hourly_stats"),
        "{describe}"
    );
    assert!(
        describe.contains("name: conv_rate, dtype: float32"),
        "{describe}"
    );
    assert!(
        describe.contains("v1 added") && describe.contains("by e2e-test"),
        "{describe}"
    );

    // A changed feature: plan shows the field, apply makes version 2, describe keeps v1.
    edit(&repo.join("driver.yaml"), "ttl: 2d", "ttl: 1d");
    let plan = ok(&repo, &["plan"]);
    assert!(
        plan.contains("~ feature_view driver_hourly_stats"),
        "{plan}"
    );
    assert!(plan.contains("ttl: \"2days\" -> \"1day\""), "{plan}");
    ok(&repo, &["apply"]);
    let described = json(&repo, &["describe", "driver_hourly_stats"]);
    assert_eq!(described["version"], 2);
    assert_eq!(described["registry_version"], 2);
    assert_eq!(described["spec"]["ttl"], "1day");
    let history = described["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["spec"]["ttl"], "2days");
    assert_eq!(history[1]["field_changes"][0]["path"], "ttl");

    let unknown = quiver(&repo, &["describe", "no_such_thing"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .starts_with("error: no object named `no_such_thing`"),
        "{}",
        unknown.stderr
    );

    let down = ok(&repo, &["teardown"]);
    assert!(down.contains("Removed 11 objects"), "{down}");
    assert!(ok(&repo, &["list", "views"]).contains("No feature views registered"));
}

#[test]
fn a_bad_definition_names_file_line_and_field_and_changes_nothing() {
    let (_dir, repo) = init();
    ok(&repo, &["apply"]);
    edit(&repo.join("customer.yaml"), "ttl: 7d", "ttl: 7 fortnights");
    let run = quiver(&repo, &["apply"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let line = run.stderr.lines().next().unwrap();
    assert!(line.starts_with("error: "), "{line}");
    assert!(
        line.contains("customer.yaml:18:")
            && line.contains("feature_views[customer_profile].ttl")
            && line.contains("invalid ttl"),
        "{line}"
    );
    assert_eq!(run.stdout, "");
    assert!(
        ok(&repo, &["describe", "customer_profile"]).contains("ttl: 7days"),
        "a failed apply must not change the registry"
    );
}

#[test]
fn a_view_is_checked_against_its_source_columns() {
    let (_dir, repo) = init();
    edit(
        &repo.join("driver.yaml"),
        "      - name: avg_daily_trips\n",
        "      - { name: rating, dtype: float32 }\n      - name: avg_daily_trips\n",
    );
    let run = quiver(&repo, &["apply"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("driver.yaml:50:")
            && run
                .stderr
                .contains("feature_views[driver_hourly_stats].features[rating]"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("has no column `rating`"),
        "{}",
        run.stderr
    );

    edit(
        &repo.join("driver.yaml"),
        "      - { name: rating, dtype: float32 }\n",
        "",
    );
    edit(
        &repo.join("driver.yaml"),
        "name: avg_daily_trips\n        dtype: int64",
        "name: avg_daily_trips\n        dtype: int32",
    );
    let run = quiver(&repo, &["apply"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("column `avg_daily_trips` is Int64 but `avg_daily_trips` is declared int32"),
        "{}",
        run.stderr
    );

    // A source that cannot be read yet is a warning, not an error.
    edit(
        &repo.join("driver.yaml"),
        "name: avg_daily_trips\n        dtype: int32",
        "name: avg_daily_trips\n        dtype: int64",
    );
    std::fs::remove_file(repo.join("data/driver_stats.parquet")).unwrap();
    let run = quiver(&repo, &["apply"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: source `driver_stats_source` was not checked"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_registry_can_live_in_postgres() {
    let (_dir, repo) = init();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(quiver_testkit::temp_postgres_database("quiver_cli_e2e"));
    edit(
        &repo.join("quiver.yaml"),
        "registry: sqlite://.quiver/registry.db",
        &format!("registry: {}", db.url),
    );
    let apply = ok(&repo, &["apply"]);
    assert!(apply.contains("registry postgres://"), "{apply}");
    assert!(ok(&repo, &["apply"]).contains("No changes"));
    assert!(
        !repo.join(".quiver/registry.db").exists(),
        "the SQLite registry must not be used"
    );
    drop(db);
}

#[test]
fn a_postgres_source_is_checked_against_the_real_table() {
    let (_dir, repo) = init();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(quiver_testkit::temp_postgres_database("quiver_pg_source"));
    let options = quiver_datagen::GenerateOptions {
        drivers: 3,
        hours: 5,
        ..Default::default()
    };
    runtime
        .block_on(quiver_datagen::load_postgres(
            &db.url,
            "driver_stats",
            &options,
        ))
        .unwrap();

    // Point the driver view at the Postgres copy of the same rows.
    edit(
        &repo.join("driver.yaml"),
        "    source: driver_stats_source\n",
        "    source: driver_stats_pg\n",
    );
    let run = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args(["--repo", repo.to_str().unwrap(), "apply"])
        .env("QUIVER_SOURCE_POSTGRES_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&run.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // A string conv_rate, without the numeric checks a string cannot have.
    edit(
        &repo.join("driver.yaml"),
        "          - { check: min, value: 0 }\n          - { check: max, value: 1 }\n",
        "",
    );
    edit(
        &repo.join("driver.yaml"),
        "name: conv_rate\n        dtype: float32",
        "name: conv_rate\n        dtype: string",
    );
    let run = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args(["--repo", repo.to_str().unwrap(), "apply"])
        .env("QUIVER_SOURCE_POSTGRES_URL", &db.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("column `conv_rate` is FLOAT4 but `conv_rate` is declared string"),
        "{stderr}"
    );
    // The secret-bearing URL is stored unexpanded.
    let sources = json(&repo, &["list", "sources"]);
    let pg = sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "driver_stats_pg")
        .unwrap();
    assert_eq!(
        pg["spec"]["url"],
        "${QUIVER_SOURCE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
    );
}

#[test]
fn init_refuses_a_non_empty_directory_and_usage_errors_exit_2() {
    let (_dir, repo) = init();
    let run = quiver(Path::new("."), &["init", repo.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is not empty"), "{}", run.stderr);
    let run = quiver(&repo, &["list", "widgets"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = quiver(&repo, &["ingest", "--stats-window", "5ms"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("shortest window, 1s"), "{}", run.stderr);
    let run = quiver(
        &repo,
        &["stats", "driver_hourly_stats", "--source", "stream"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("batch, kafka or push"),
        "{}",
        run.stderr
    );
    let run = quiver(&repo.join("missing"), &["plan"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("quiver init"), "{}", run.stderr);
}
