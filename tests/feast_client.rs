//! Feast's own client (feast==0.67.0 from PyPI, SDK and CLI) against the real
//! `quiver serve`: a Feast repo mirroring the example repo, whose
//! feature_store.yaml only points `online_store: {type: remote}` at quiver's
//! HTTP API and `offline_store: {type: remote}` at its Arrow Flight server,
//! reads, writes, pushes, materializes and builds training sets through quiver
//! and gets the same answers as Feast's own stores on the same data, and
//! Feast's typed exceptions. The calls and comparisons are in tests/feast/feast_client.py.
//!
//! Feast comes from the venv scripts/test.sh creates
//! (`QUIVER_TEST_FEAST_VENV`, default `$HOME/.cache/quiver/venv-feast`).

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{feast_venv, init_repo, quiver, start_server};

#[test]
fn feasts_client_works_against_quiver_unchanged() {
    let venv = feast_venv();
    let (dir, repo) = init_repo("feast_client", 5, 24);
    // Feast's mirror pushes to its driver view: quiver's view takes the push source.
    let driver = repo.join("driver.yaml");
    let text = std::fs::read_to_string(&driver).unwrap();
    std::fs::write(
        &driver,
        text.replace(
            "stream_source: driver_stats_stream",
            "stream_source: driver_stats_push",
        ),
    )
    .unwrap();
    quiver(&repo, &["apply"], &[]);
    let server = start_server(&repo, &[], &[]);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/feast/feast_client.py");
    let work = dir.path().join("feast");
    let out = Command::new(venv.join("bin/python"))
        .arg(&script)
        .args(["--quiver", &server.url, "--flight"])
        .arg(
            server
                .flight
                .as_deref()
                .expect("quiver serve runs Arrow Flight"),
        )
        .arg("--data")
        .arg(repo.join("data"))
        .arg("--work")
        .arg(&work)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Feast's client failed against quiver:\n{stdout}\n{stderr}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("ok: ") && last.ends_with(" checks"),
        "{stdout}"
    );
    // Feast's persist kept the training set as a saved dataset, named after
    // its file storage's file (saved.parquet).
    let datasets = quiver(&repo, &["list", "datasets"], &[]);
    assert!(datasets.contains("saved"), "{datasets}");
}
