//! Faults of the offline write path, on the real binary: a materialization
//! killed midway, a full disk and a read-only offline store. Each must leave
//! readers with whole files only, say what happened in the run record, and be
//! mended by simply running again.
//!
//! The disk faults mount a small tmpfs over the offline store, so these tests
//! need root (or CAP_SYS_ADMIN), as `scripts/test.sh` runs them in CI; without
//! it they fail loudly, never skip.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use serde_json::Value;

use common::{historical, init_repo, quiver, rfc3339, this_hour};

const VIEW: &str = "driver_hourly_stats";

/// A fresh project with `drivers` × `hours` driver rows, applied.
fn repo_with(drivers: usize, hours: usize) -> (tempfile::TempDir, PathBuf) {
    let (dir, repo) = init_repo(&quiver_testkit::unique_name("faults"), drivers, hours);
    quiver(&repo, &["apply"], &[]);
    (dir, repo)
}

/// `quiver materialize` of the driver view over the last `hours` hours, as a command.
fn materialize_command(repo: &Path, hours: i64) -> Command {
    let now = this_hour();
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiver"));
    command
        .arg("--repo")
        .arg(repo)
        .args([
            "materialize",
            &rfc3339(now - Span::hours(hours)),
            &rfc3339(now + Span::hours(1)),
            "--views",
            VIEW,
        ])
        .env_remove("QUIVER_REGISTRY");
    command
}

fn materialize(repo: &Path, hours: i64) -> Output {
    materialize_command(repo, hours).output().unwrap()
}

fn offline_dir(repo: &Path) -> PathBuf {
    repo.join(".quiver/offline")
}

/// Every file under `dir` with its size, temporaries included.
fn listing(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files.insert(entry.path(), meta.len());
            }
        }
    }
    files
}

fn temporaries(dir: &Path) -> Vec<PathBuf> {
    listing(dir)
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect()
}

/// The store holds each source row of the window exactly once.
fn assert_stored_exactly(repo: &Path, hours: i64) {
    common::assert_stored_exactly(repo, VIEW, this_hour() - Span::hours(hours));
}

fn runs(repo: &Path) -> Vec<Value> {
    let out = quiver(repo, &["--json", "list", "runs"], &[]);
    let runs: Value = serde_json::from_str(&out).unwrap();
    runs.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["view"] == VIEW && r["target"] == "offline")
        .cloned()
        .collect()
}

fn statuses(repo: &Path) -> Vec<String> {
    let mut statuses: Vec<String> = runs(repo)
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    statuses.sort();
    statuses
}

/// Starts a materialization and SIGKILLs it as soon as it has begun writing
/// files (a temporary exists), well before it could finish.
fn kill_midway(repo: &Path, hours: i64) {
    let mut child = materialize_command(repo, hours)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let view_dir = offline_dir(repo).join(VIEW);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the materialization ended ({status}) before it could be killed: make the data larger"
            );
        }
        if !temporaries(&view_dir).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_materialization_killed_midway_is_marked_and_a_rerun_stores_each_row_once() {
    let hours = 24 * 10;
    let (_dir, repo) = repo_with(3000, hours as usize);
    let view_dir = offline_dir(&repo).join(VIEW);

    // Killed on its first run: the run says so, its temporaries are not data.
    kill_midway(&repo, hours);
    assert!(!temporaries(&view_dir).is_empty());
    assert!(
        common::stored_driver_rows(&repo, VIEW).is_empty(),
        "a killed run published files"
    );
    let killed = runs(&repo);
    assert_eq!(killed.len(), 1, "{killed:?}");
    assert_eq!(killed[0]["status"], "interrupted", "{killed:?}");
    let why = killed[0]["error"].as_str().unwrap();
    assert!(why.contains("ended before the run finished"), "{why}");

    // Running again completes, cleans up after the killed process, stores each row once.
    let out = materialize(&repo, hours);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        temporaries(&view_dir).is_empty(),
        "{:?}",
        temporaries(&view_dir)
    );
    assert_stored_exactly(&repo, hours);
    assert_eq!(statuses(&repo), ["interrupted", "succeeded"]);

    // Killed while replacing what is stored: readers still see the old, whole data.
    let before = common::stored_driver_rows(&repo, VIEW);
    kill_midway(&repo, hours);
    let after = common::stored_driver_rows(&repo, VIEW);
    assert_eq!(after, before, "a killed re-run changed what readers see");
    let out = materialize(&repo, hours);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(temporaries(&view_dir).is_empty());
    assert_stored_exactly(&repo, hours);
    assert_eq!(
        statuses(&repo),
        ["interrupted", "interrupted", "succeeded", "succeeded"]
    );
}

/// A tmpfs of `size` mounted at `path` (unmounted on drop).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs over the offline store and needs root \
             (scripts/test.sh runs it as root in CI): mount said {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            path: path.to_path_buf(),
        }
    }

    fn remount(&self, options: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Fills what is left of the file system; returns the filler.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        let _ = file.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// The error line of a failed run, which names the path and the OS's reason.
fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "the materialization succeeded");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("error:"), "{stderr}");
    stderr
}

#[test]
fn a_full_disk_fails_the_run_cleanly_and_publishes_nothing() {
    let (_dir, repo) = repo_with(300, 24 * 6);
    let offline = offline_dir(&repo);
    let disk = Tmpfs::mount(&offline, "16m");

    let out = materialize(&repo, 24);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_stored_exactly(&repo, 24);
    let filler = disk.fill();
    let before = listing(&offline);

    let stderr = failure(&materialize(&repo, 24 * 6));
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains(offline.to_str().unwrap()), "{stderr}");
    assert_eq!(listing(&offline), before, "a failed run left files behind");
    assert_stored_exactly(&repo, 24);
    let failed = runs(&repo);
    let failed = failed.iter().find(|r| r["status"] == "failed").unwrap();
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("No space left on device"),
        "{failed}"
    );

    // With room again, the same command completes.
    std::fs::remove_file(filler).unwrap();
    let out = materialize(&repo, 24 * 6);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(temporaries(&offline).is_empty());
    assert_stored_exactly(&repo, 24 * 6);
}

#[test]
fn a_read_only_offline_store_fails_cleanly_and_stays_readable() {
    let (_dir, repo) = repo_with(20, 24 * 3);
    let offline = offline_dir(&repo);
    let disk = Tmpfs::mount(&offline, "64m");
    let out = materialize(&repo, 24);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    disk.remount("ro");
    let before = listing(&offline);

    let stderr = failure(&materialize(&repo, 24 * 3));
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert_eq!(listing(&offline), before);

    // Training sets still read what is stored.
    let entities = repo.join("entities.csv");
    let at = rfc3339(this_hour());
    std::fs::write(
        &entities,
        format!("driver_id,event_timestamp\n1001,{at}\n1002,{at}\n"),
    )
    .unwrap();
    let training = repo.join("training.json");
    historical(
        &repo,
        &entities,
        &format!("{VIEW}:conv_rate"),
        &training,
        &[],
    );
    let text = std::fs::read_to_string(&training).unwrap();
    assert!(!text.contains("null"), "{text}");

    disk.remount("rw");
    let out = materialize(&repo, 24 * 3);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_stored_exactly(&repo, 24 * 3);
}
