//! Helpers for the end-to-end tests: run the real `quiver` binary, make repos,
//! start servers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod pki;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, Duration, DurationRound, Utc};

/// Runs `quiver --repo REPO ARGS` with extra environment, whatever its exit status.
pub fn quiver_output(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_quiver"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("QUIVER_REGISTRY")
        .output()
        .unwrap()
}

/// Asserts that `quiver --repo REPO ARGS` is refused as bad input (exit 1,
/// no panic); its stderr.
pub fn quiver_refused(repo: &Path, args: &[&str]) -> String {
    let out = quiver_output(repo, args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "quiver {args:?} must be refused:\n{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "quiver {args:?}: {stderr}");
    stderr
}

/// Runs `quiver --repo REPO ARGS` with extra environment; panics on failure.
pub fn quiver(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = quiver_output(repo, args, env);
    assert!(
        out.status.success(),
        "quiver {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every batch of the Parquet files `paths`, in order.
pub fn parquet_batches(paths: impl IntoIterator<Item = PathBuf>) -> Vec<arrow::array::RecordBatch> {
    let mut batches = Vec::new();
    for path in paths {
        let file = std::fs::File::open(&path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        batches.extend(reader.map(Result::unwrap));
    }
    batches
}

/// Every batch of `view` in the offline store of `repo`, as the store lists
/// its files: files merged into another (retired, still on disk for a grace
/// period) are not data any more.
pub fn stored_batches(repo: &Path, view: &str) -> Vec<arrow::array::RecordBatch> {
    let store = quiver_offline::OfflineStore::new(repo.join(".quiver/offline"));
    parquet_batches(store.files(view).unwrap().into_iter().map(|f| f.path))
}

/// (driver_id, event time, created time) of every row the offline store lists
/// for `view` (a late correction shares its original's event time), sorted.
pub fn stored_driver_rows(repo: &Path, view: &str) -> Vec<(i64, i64, i64)> {
    let mut rows = Vec::new();
    for batch in stored_batches(repo, view) {
        rows.extend(driver_rows(
            &batch,
            "driver_id",
            "__event_ts",
            "__created_ts",
        ));
    }
    rows.sort_unstable();
    rows
}

/// (driver_id, event time, created time) of the example repo's driver source
/// rows at or after `since`, sorted.
pub fn source_driver_rows(repo: &Path, since: DateTime<Utc>) -> Vec<(i64, i64, i64)> {
    let start = since.timestamp_micros();
    let mut rows = Vec::new();
    for batch in parquet_batches([repo.join("data/driver_stats.parquet")]) {
        rows.extend(
            driver_rows(&batch, "driver_id", "event_timestamp", "created")
                .into_iter()
                .filter(|row| row.1 >= start),
        );
    }
    rows.sort_unstable();
    rows
}

/// (key, event µs, created µs) of each row of `batch`.
fn driver_rows(
    batch: &arrow::array::RecordBatch,
    key: &str,
    event: &str,
    created: &str,
) -> Vec<(i64, i64, i64)> {
    use arrow::array::{Array, Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, TimeUnit};
    let ids = arrow::compute::cast(batch.column_by_name(key).unwrap(), &DataType::Int64).unwrap();
    let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
    let micros = |name: &str| {
        let column = batch.column_by_name(name).unwrap();
        let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
        let column = arrow::compute::cast(column, &micros).unwrap();
        column
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .clone()
    };
    let (ts, created) = (micros(event), micros(created));
    (0..batch.num_rows())
        .map(|i| (ids.value(i), ts.value(i), created.value(i)))
        .collect()
}

/// The offline store holds each source row since `since` exactly once, and
/// nothing else.
pub fn assert_stored_exactly(repo: &Path, view: &str, since: DateTime<Utc>) {
    let stored = stored_driver_rows(repo, view);
    let mut distinct = stored.clone();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        stored.len(),
        "{} duplicated rows in the offline store",
        stored.len() - distinct.len()
    );
    let source = source_driver_rows(repo, since);
    assert_eq!(
        stored.len(),
        source.len(),
        "the offline store holds {} rows, the source {}",
        stored.len(),
        source.len()
    );
    assert!(stored == source, "the stored rows are not the source rows");
}

/// Stops a server with SIGTERM: it must drain and exit cleanly within 20 s.
pub fn terminate(mut server: Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(server.wait());
    });
    let exit = exited
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the server did not stop on SIGTERM");
    assert!(exit.success(), "SIGTERM: the server exits cleanly ({exit})");
}

/// The text of a server's `GET /metrics`.
pub async fn metrics(server: &Server) -> String {
    reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The entry of `feature` in `quiver --json stats VIEW --source SOURCE`.
pub fn feature_statistics(
    repo: &Path,
    view: &str,
    source: &str,
    feature: &str,
) -> serde_json::Value {
    let output = quiver(repo, &["--json", "stats", view, "--source", source], &[]);
    let features: serde_json::Value = serde_json::from_str(&output).unwrap();
    features
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == feature)
        .unwrap_or_else(|| panic!("no `{feature}` in {features}"))
        .clone()
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn this_hour() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::hours(1)).unwrap()
}

/// `quiver init` with `drivers` × `hours` driver rows (2 customers over 2
/// days), renamed to `project` so tests sharing a Redis never collide; not applied.
pub fn init_repo(project: &str, drivers: usize, hours: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let (drivers, hours) = (drivers.to_string(), hours.to_string());
    let args = [
        "init",
        repo.to_str().unwrap(),
        "--drivers",
        &drivers,
        "--customers",
        "2",
        "--hours",
        &hours,
        "--days",
        "2",
    ];
    quiver(Path::new("."), &args, &[]);
    let config = repo.join("quiver.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("project: driver_ranking", &format!("project: {project}")),
    )
    .unwrap();
    (dir, repo)
}

/// [`init_repo`] with 3 drivers over 24 hours, applied.
pub fn applied_repo(project: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, repo) = init_repo(project, 3, 24);
    quiver(&repo, &["apply"], &[]);
    (dir, repo)
}

/// Points `repo` (of `project`) at the Redis at `redis_url` and the test
/// Kafka broker, its driver stream reading `topic`, with micro-batches small
/// and quick enough for tests.
pub fn use_redis_and_kafka(repo: &Path, project: &str, redis_url: &str, topic: &str) {
    let config = format!(
        "project: {project}\nregistry: sqlite://.quiver/registry.db\noffline_store: {{ path: .quiver/offline }}\n\
         online_store: {{ type: redis, url: \"{redis_url}\" }}\n\
         kafka: {{ bootstrap_servers: \"{}\", batch_max_messages: 500, batch_max_wait_ms: 10 }}\n",
        quiver_testkit::kafka_bootstrap()
    );
    std::fs::write(repo.join("quiver.yaml"), config).unwrap();
    let driver = repo.join("driver.yaml");
    let text = std::fs::read_to_string(&driver).unwrap();
    std::fs::write(
        &driver,
        text.replace("topic: driver_stats", &format!("topic: {topic}")),
    )
    .unwrap();
}

/// `quiver historical` of the rows in `entities` with `features`
/// (`v:f,...`) into `out`, and any `extra` arguments (`--save NAME`);
/// panics when it fails.
pub fn historical(repo: &Path, entities: &Path, features: &str, out: &Path, extra: &[&str]) {
    let output = historical_output(repo, entities, features, out, extra);
    assert!(
        output.status.success(),
        "quiver historical: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// [`historical`], whatever its exit status.
pub fn historical_output(
    repo: &Path,
    entities: &Path,
    features: &str,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "historical",
        "--entities",
        entities.to_str().unwrap(),
        "--features",
        features,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    quiver_output(repo, &args, &[])
}

/// Materializes the last three days (the whole sample).
pub fn materialize_recent(repo: &Path, env: &[(&str, &str)]) {
    let now = this_hour();
    quiver(
        repo,
        &[
            "materialize",
            &rfc3339(now - Duration::days(3)),
            &rfc3339(now + Duration::hours(1)),
        ],
        env,
    );
}

/// A running `quiver serve`, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    /// Arrow Flight's `grpc://HOST:PORT`, unless served without it.
    pub flight: Option<String>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server to exit by itself.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `quiver serve --port 0 ARGS` and waits until it listens.
pub fn start_server(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    start_server_in(Path::new("."), repo, args, env)
}

/// [`start_server`] from the working directory `cwd` (`repo` may be relative to it).
pub fn start_server_in(cwd: &Path, repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiver"));
    command
        .current_dir(cwd)
        .args([
            "--repo",
            repo.to_str().unwrap(),
            "serve",
            "--port",
            "0",
            "--flight-port",
            "0",
        ])
        .args(args)
        .envs(env.iter().copied());
    spawn_server(command)
}

/// Starts `command` (a `quiver serve` on port 0, possibly wrapped) and waits
/// until it listens.
pub fn spawn_server(mut command: Command) -> Server {
    let mut child = command
        .env_remove("QUIVER_REGISTRY")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    // Flight's line, if any, comes before the HTTP one.
    let mut flight = None;
    let url = loop {
        let line = lines
            .next()
            .expect("the server exits before listening")
            .unwrap();
        if let Some(address) = line.strip_prefix("quiver: Arrow Flight on ") {
            flight = Some(address.trim().to_string());
        }
        if let Some(address) = line.strip_prefix("quiver: serving on ") {
            break address.trim().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe; keep it
    // in a file when QUIVER_TEST_LOG_DIR asks for it (for debugging).
    let mut log = std::env::var_os("QUIVER_TEST_LOG_DIR").map(|dir| {
        let path = Path::new(&dir).join(format!("server-{}.log", child.id()));
        std::fs::File::create(path).unwrap()
    });
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(file) = log.as_mut() {
                use std::io::Write;
                let _ = writeln!(file, "{line}");
            }
        }
    });
    Server { child, url, flight }
}

/// The venv with scripts/requirements-feast.txt installed; panics saying how
/// to make it when there is none.
pub fn feast_venv() -> PathBuf {
    let venv = std::env::var_os("QUIVER_TEST_FEAST_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/quiver/venv-feast"))
        })
        .expect("neither QUIVER_TEST_FEAST_VENV nor HOME is set");
    assert!(
        venv.join("bin/feast").is_file(),
        "the Feast venv {} has no feast: run scripts/test.sh (it creates the venv from \
         scripts/requirements-feast.txt), or set QUIVER_TEST_FEAST_VENV to a venv with feast==0.67.0",
        venv.display()
    );
    venv
}

/// A new API token (`quiver token --json`): `token`, `name`, `sha256`, `scopes`.
pub fn new_token(repo: &Path, name: &str, scopes: &str) -> serde_json::Value {
    let out = quiver(
        repo,
        &["--json", "token", "--name", name, "--scopes", scopes],
        &[],
    );
    serde_json::from_str(&out).unwrap()
}

/// Appends an `auth:` section admitting `tokens` (from [`new_token`]) to quiver.yaml.
pub fn admit_tokens(repo: &Path, tokens: &[&serde_json::Value]) {
    let config = repo.join("quiver.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("auth:\n  tokens:\n");
    for token in tokens {
        text.push_str(&format!(
            "    - {{ name: {}, sha256: \"{}\", scopes: {} }}\n",
            token["name"].as_str().unwrap(),
            token["sha256"].as_str().unwrap(),
            token["scopes"]
        ));
    }
    std::fs::write(&config, text).unwrap();
}
