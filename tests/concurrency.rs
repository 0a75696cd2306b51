//! Writers racing on one store, on the real binary: overlapping
//! materializations over HTTP and from the CLI at once, concurrent training
//! sets saved under one name, and a merge of streamed files by a server that
//! runs in another working directory. Nothing may be lost or doubled.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use common::{assert_stored_exactly, init_repo, quiver, rfc3339, start_server, this_hour};

const VIEW: &str = "driver_hourly_stats";
const ROUNDS: usize = 10;

/// A fresh project with `drivers` × `hours` driver rows on the test Redis
/// (which the CLI and a server can share, unlike the embedded store), applied.
fn redis_repo(prefix: &str, drivers: usize, hours: usize) -> (tempfile::TempDir, PathBuf) {
    let (dir, repo) = init_repo(&quiver_testkit::unique_name(prefix), drivers, hours);
    quiver(&repo, &["apply"], &redis_env());
    (dir, repo)
}

fn redis_env() -> [(&'static str, &'static str); 1] {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    [(
        "QUIVER_ONLINE_STORE_URL",
        URL.get_or_init(quiver_testkit::redis_url),
    )]
}

/// `[now - from_hours, now - to_hours)`.
fn window(from_hours: i64, to_hours: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let now = this_hour();
    (
        now - Duration::hours(from_hours),
        now - Duration::hours(to_hours),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_materializations_over_http_and_cli_store_each_row_once() {
    let hours = 240;
    let (_dir, repo) = redis_repo("race_materialize", 150, hours);
    let env = redis_env();
    let server = start_server(&repo, &[], &env);
    let client = reqwest::Client::new();
    // Four overlapping windows whose union is the whole sample: two over
    // HTTP, two from CLI processes, all started at once.
    let http_windows = [window(240, -1), window(180, 60)];
    let cli_windows = [window(120, -1), window(239, 100)];
    let since = this_hour() - Duration::hours(hours as i64);
    for round in 0..ROUNDS {
        let cli: Vec<_> = cli_windows
            .iter()
            .map(|(start, end)| {
                Command::new(env!("CARGO_BIN_EXE_quiver"))
                    .arg("--repo")
                    .arg(&repo)
                    .args(["materialize", &rfc3339(*start), &rfc3339(*end)])
                    .args(["--views", VIEW])
                    .envs(env)
                    .env_remove("QUIVER_REGISTRY")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let http: Vec<_> = http_windows
            .iter()
            .map(|(start, end)| {
                let request = client
                    .post(format!("{}/materialize", server.url))
                    .json(&json!({"start_ts": rfc3339(*start), "end_ts": rfc3339(*end), "feature_views": [VIEW]}))
                    .send();
                tokio::spawn(async move {
                    let response = request.await.unwrap();
                    (response.status().as_u16(), response.text().await.unwrap())
                })
            })
            .collect();
        for answer in http {
            let (status, body) = answer.await.unwrap();
            assert_eq!(status, 200, "round {round}: {body}");
        }
        for child in cli {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Row by row: every source row of the sample once, nothing else.
        assert_stored_exactly(&repo, VIEW, since);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_under_one_name_keep_one_whole_dataset() {
    let (_dir, repo) = redis_repo("race_dataset", 20, 48);
    let env = redis_env();
    let now = this_hour();
    quiver(
        &repo,
        &[
            "materialize",
            &rfc3339(now - Duration::hours(48)),
            &rfc3339(now + Duration::hours(1)),
        ],
        &env,
    );
    let server = start_server(&repo, &[], &env);
    let client = reqwest::Client::new();
    let url = format!("{}/get-historical-features", server.url);
    for round in 0..ROUNDS {
        let name = format!("race_{round}");
        // Each request asks for a different number of rows, so the file
        // tells whose rows it holds.
        let requests: Vec<_> = (1..=4usize)
            .map(|rows| {
                let ids: Vec<i64> = (0..rows as i64).map(|i| 1001 + i).collect();
                let times = vec![rfc3339(now - Duration::hours(2)); rows];
                let body = json!({
                    "features": ["driver_hourly_stats:conv_rate"],
                    "entities": {"driver_id": ids, "event_timestamp": times},
                    "save_as": name,
                });
                let request = client.post(&url).json(&body).send();
                tokio::spawn(async move {
                    let response = request.await.unwrap();
                    let status = response.status().as_u16();
                    (rows, status, response.json::<Value>().await.unwrap())
                })
            })
            .collect();
        let mut winners = Vec::new();
        for request in requests {
            let (rows, status, body) = request.await.unwrap();
            match status {
                200 => winners.push((rows, body)),
                409 => assert_eq!(body["error"]["code"], "conflict", "{body}"),
                other => panic!("round {round}: status {other}: {body}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one save wins");
        let (rows, answer) = &winners[0];
        let saved = dataset(&repo, &name);
        assert_eq!(saved["row_count"], *rows as i64, "round {round}: {saved}");
        let file = PathBuf::from(saved["path"].as_str().unwrap());
        let batches = common::parquet_batches([file.clone()]);
        let stored: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(
            stored, *rows,
            "round {round}: the file holds the winner's rows"
        );
        assert_eq!(answer.as_array().unwrap().len(), *rows);
        // The losers left nothing behind.
        let leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
    }
}

/// The record of saved dataset `name` (`quiver list datasets`).
fn dataset(repo: &Path, name: &str) -> Value {
    let out = quiver(repo, &["--json", "list", "datasets"], &[]);
    let datasets: Value = serde_json::from_str(&out).unwrap();
    datasets
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no dataset `{name}` in {datasets}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_merged_by_a_server_elsewhere_are_not_read_again() {
    let (dir, repo) = init_repo(&quiver_testkit::unique_name("race_merge"), 3, 24);
    std::fs::write(
        repo.join("push.yaml"),
        "feature_views:
  - name: pushed
    entities: [driver]
    source: driver_stats_source
    stream_source: driver_stats_push
    online: false
    features:
      - { name: conv_rate, dtype: float32 }
",
    )
    .unwrap();
    quiver(&repo, &["apply"], &[]);
    // The server runs in the temporary directory and names the repo relative to it.
    let server = common::start_server_in(dir.path(), Path::new("repo"), &[], &[]);
    let client = reqwest::Client::new();
    let at = this_hour() - Duration::hours(1);
    // More pushes in one day than are kept apart: they are merged.
    let pushes = quiver_offline::STREAM_FILES_PER_DAY + 8;
    for i in 0..pushes {
        let df = json!({
            "driver_id": [1001],
            "event_timestamp": [rfc3339(at + Duration::seconds(i as i64))],
            "conv_rate": [0.5],
        });
        let response = client
            .post(format!("{}/push", server.url))
            .json(&json!({"push_source_name": "driver_stats_push", "df": df, "to": "offline"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    let view_dir = repo.join(".quiver/offline/pushed");
    assert!(
        view_dir.join(".retired").exists(),
        "the pushed files were merged"
    );
    let listed = quiver_offline::OfflineStore::new(repo.join(".quiver/offline"))
        .files("pushed")
        .unwrap();
    assert!(listed.len() < pushes, "{} files listed", listed.len());

    // A training set built from `/`, saved with its lineage.
    let entities = dir.path().join("entities.csv");
    std::fs::write(
        &entities,
        format!(
            "driver_id,event_timestamp\n1001,{}\n",
            rfc3339(at + Duration::hours(1))
        ),
    )
    .unwrap();
    let out = dir.path().join("set.parquet");
    let status = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .current_dir("/")
        .arg("--repo")
        .arg(&repo)
        .args(["historical", "--entities"])
        .arg(&entities)
        .args(["--features", "pushed:conv_rate", "--out"])
        .arg(&out)
        .args(["--save", "from_root"])
        .env_remove("QUIVER_REGISTRY")
        .status()
        .unwrap();
    assert!(status.success());
    let saved = dataset(&repo, "from_root");
    let read = saved["offline_snapshot"]["pushed"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(read, listed.len(), "the lineage names the live files only");
    let rows: usize = common::stored_batches(&repo, "pushed")
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, pushes, "every pushed row once");
}
