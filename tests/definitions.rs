//! End to end: the real `quiver` binary on feature repos whose files are
//! broken in ways a loader could miss (issue 14, rows 4, 5 and 13): every
//! problem is refused with the file (and line and field where there is one),
//! and a refused `apply` changes nothing.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{applied_repo, init_repo, start_server};
use serde_json::{Value, json};

/// The exit code, stdout and stderr of `quiver --repo REPO ARGS` with `env`.
fn run(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = common::quiver_output(repo, args, env);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The names of the registered objects of `kind` (`views`, `services`, ...).
fn registered(repo: &Path, kind: &str) -> Vec<String> {
    let out = common::quiver(repo, &["--json", "list", kind], &[]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let mut names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Everything an applied sample repo registers, for "nothing was removed".
fn everything(repo: &Path) -> Vec<Vec<String>> {
    ["entities", "sources", "views", "services"]
        .iter()
        .map(|kind| registered(repo, kind))
        .collect()
}

#[test]
fn a_definitions_file_that_cannot_be_read_is_refused_and_apply_removes_nothing() {
    let (dir, repo) = applied_repo("defs_unreadable");
    let before = everything(&repo);
    assert_eq!(before[2], ["customer_profile", "driver_hourly_stats"]);
    let customer = repo.join("customer.yaml");
    let kept = dir.path().join("customer.yaml.kept");
    std::fs::rename(&customer, &kept).unwrap();

    let mkfifo = |path: &Path| {
        assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
    };
    type Break<'a> = (&'a str, &'a dyn Fn(&Path));
    let breaks: [Break<'_>; 3] = [
        ("a dangling symbolic link", &|path| {
            std::os::unix::fs::symlink(path.with_extension("gone"), path).unwrap();
        }),
        ("a directory, not a regular file", &|path| {
            std::fs::create_dir(path).unwrap();
        }),
        // `plan` must return at once: a FIFO is never opened.
        ("a FIFO (named pipe), not a regular file", &mkfifo),
    ];
    for (why, make) in breaks {
        make(&customer);
        for command in ["plan", "apply"] {
            let stderr = common::quiver_refused(&repo, &[command]);
            assert!(
                stderr.contains(&format!("customer.yaml:1:1: cannot read: {why}")),
                "{command} with {why}: {stderr}"
            );
        }
        assert_eq!(everything(&repo), before, "{why}: apply removed objects");
        match std::fs::symlink_metadata(&customer).unwrap().is_dir() {
            true => std::fs::remove_dir(&customer).unwrap(),
            false => std::fs::remove_file(&customer).unwrap(),
        }
    }

    // Not UTF-8: the line and column of the first bad byte.
    let mut latin1 = std::fs::read(&kept).unwrap();
    latin1.splice(0..0, b"# caf\xe9\n".iter().copied());
    std::fs::write(&customer, latin1).unwrap();
    let stderr = common::quiver_refused(&repo, &["apply"]);
    assert!(
        stderr.contains("customer.yaml:1:6: cannot read: not UTF-8 text"),
        "{stderr}"
    );
    assert_eq!(everything(&repo), before);

    std::fs::rename(&kept, &customer).unwrap();
    let (code, stdout, stderr) = run(&repo, &["apply"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("No changes"), "{stdout}");
}

#[test]
fn every_document_of_a_definitions_file_is_registered() {
    let (_dir, repo) = init_repo("defs_documents", 3, 24);
    let driver = std::fs::read_to_string(repo.join("driver.yaml")).unwrap();
    let customer = std::fs::read_to_string(repo.join("customer.yaml")).unwrap();
    std::fs::remove_file(repo.join("driver.yaml")).unwrap();
    std::fs::remove_file(repo.join("customer.yaml")).unwrap();
    let both = format!("---\n{driver}---\n{customer}");
    std::fs::write(repo.join("all.yaml"), &both).unwrap();

    common::quiver(&repo, &["apply"], &[]);
    assert_eq!(
        registered(&repo, "views"),
        ["customer_profile", "driver_hourly_stats"]
    );
    assert_eq!(registered(&repo, "entities"), ["customer", "driver"]);
    assert_eq!(
        registered(&repo, "services").len(),
        2,
        "each file has a service"
    );

    // An error in the second document names its line in the file.
    let line = both
        .lines()
        .position(|l| l.contains("ttl: 7d"))
        .map(|i| i + 1)
        .unwrap();
    std::fs::write(repo.join("all.yaml"), both.replace("ttl: 7d", "ttl: 7x")).unwrap();
    let stderr = common::quiver_refused(&repo, &["plan"]);
    assert!(
        stderr.contains(&format!(
            "all.yaml:{line}:10: feature_views[customer_profile].ttl: invalid ttl"
        )),
        "{stderr}"
    );

    // quiver.yaml is one document: a second one is refused at its line.
    std::fs::write(repo.join("all.yaml"), &both).unwrap();
    let config = std::fs::read_to_string(repo.join("quiver.yaml")).unwrap();
    let lines = config.lines().count();
    std::fs::write(
        repo.join("quiver.yaml"),
        format!("{config}---\nproject: other\n"),
    )
    .unwrap();
    let stderr = common::quiver_refused(&repo, &["plan"]);
    assert!(
        stderr.contains(&format!(
            "quiver.yaml:{}:1: a second YAML document",
            lines + 1
        )),
        "{stderr}"
    );
}

#[test]
fn a_byte_order_mark_and_nested_defaults_work_end_to_end() {
    let (_dir, repo) = init_repo("defs_bom", 3, 24);
    for name in ["quiver.yaml", "driver.yaml"] {
        let text = std::fs::read_to_string(repo.join(name)).unwrap();
        std::fs::write(repo.join(name), format!("\u{feff}{text}")).unwrap();
    }
    // The registry's path comes from a default that holds a reference.
    let config = std::fs::read_to_string(repo.join("quiver.yaml")).unwrap();
    let registry = "sqlite://.quiver/registry.db";
    assert!(config.contains(registry));
    std::fs::write(
        repo.join("quiver.yaml"),
        config.replace(
            registry,
            "\"${QUIVER_E2E_UNSET:-sqlite://${QUIVER_E2E_REGISTRY_DIR}/registry.db}\"",
        ),
    )
    .unwrap();
    let env = [("QUIVER_E2E_REGISTRY_DIR", "nested")];
    let (code, _, stderr) = run(&repo, &["apply"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(repo.join("nested/registry.db").is_file());
    let (code, stdout, stderr) = run(&repo, &["--json", "list", "views"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("driver_hourly_stats"), "{stdout}");

    // Unset all the way down: refused at the field.
    let (code, _, stderr) = run(&repo, &["plan"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("registry: environment variable `QUIVER_E2E_REGISTRY_DIR` is not set"),
        "{stderr}"
    );
}

#[test]
fn names_too_long_and_clashing_columns_are_refused_at_their_line() {
    let (_dir, repo) = init_repo("defs_names", 3, 24);
    let customer = repo.join("customer.yaml");
    let text = std::fs::read_to_string(&customer).unwrap();
    let line_of = |wanted: &str| text.lines().position(|l| l.trim() == wanted).unwrap() + 1;

    let long = "v".repeat(300);
    std::fs::write(
        &customer,
        text.replace("- name: customer_profile\n", &format!("- name: {long}\n"))
            .replace("customer_profile:", &format!("{long}:")),
    )
    .unwrap();
    let stderr = common::quiver_refused(&repo, &["plan"]);
    let line = line_of("- name: customer_profile");
    assert!(
        stderr.contains(&format!(
            "customer.yaml:{line}:11: feature_views[{long}].name: name `{long}` is 300 bytes long; names are at most 128"
        )),
        "{stderr}"
    );

    // A customer feature named like the driver's join key: asked for with a
    // driver view, the online answer would hold two `driver_id` columns.
    std::fs::write(
        &customer,
        text.replace("name: lifetime_trip_count", "name: driver_id")
            .replace("customer_profile:lifetime_trip_count", "customer_profile"),
    )
    .unwrap();
    let stderr = common::quiver_refused(&repo, &["plan"]);
    let line = line_of("- { name: lifetime_trip_count, dtype: int64 }");
    assert!(
        stderr.contains(&format!(
            "customer.yaml:{line}:17: feature_views[customer_profile].features[driver_id].name: feature `driver_id` has the name of a join key of entity `driver`"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_as_too_long_is_a_400() {
    let (_dir, repo) = applied_repo("defs_save_as");
    let server = start_server(&repo, &[], &[]);
    let now = chrono::Utc::now().to_rfc3339();
    let body = |name: &str| {
        json!({
            "features": ["driver_hourly_stats:conv_rate"],
            "entities": {"driver_id": [1001], "event_timestamp": [now]},
            "save_as": name,
        })
    };
    let client = reqwest::Client::new();
    let endpoint = format!("{}/get-historical-features", server.url);
    let response = client
        .post(&endpoint)
        .json(&body(&"d".repeat(300)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("(`save_as`, `--save`) is 300 bytes long; names are at most 128"),
        "{error}"
    );
    let response = client
        .post(&endpoint)
        .json(&body(&"d".repeat(128)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}
