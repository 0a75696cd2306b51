//! The API document against the real server: `GET /openapi.json` validates as
//! OpenAPI 3.1 (openapi-spec-validator), and schemathesis, unpatched, finds
//! nothing wrong when it runs against the server with a token: no 5xx, every
//! status, content type, header and body as documented, auth not ignored,
//! invalid requests refused.
//!
//! The Python tools come from the test venv that scripts/test.sh creates
//! (`QUIVER_TEST_VENV`, default `$HOME/.cache/quiver/venv-test`).

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{applied_repo, materialize_recent, quiver, start_server};
use serde_json::Value;

/// The venv with scripts/requirements-test.txt installed; panics saying how to
/// make it when there is none.
fn test_venv() -> PathBuf {
    let venv = std::env::var_os("QUIVER_TEST_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/quiver/venv-test"))
        })
        .expect("neither QUIVER_TEST_VENV nor HOME is set");
    for tool in ["schemathesis", "openapi-spec-validator"] {
        assert!(
            venv.join("bin").join(tool).is_file(),
            "the test venv {} has no {tool}: run scripts/test.sh (it creates the venv from \
             scripts/requirements-test.txt), or set QUIVER_TEST_VENV to a venv with those installed",
            venv.display()
        );
    }
    venv
}

/// A repo with materialized data whose server needs a token; the token.
fn repo_with_token(project: &str) -> (tempfile::TempDir, PathBuf, String) {
    let (dir, repo) = applied_repo(project);
    materialize_recent(&repo, &[]);
    let out = quiver(
        &repo,
        &[
            "--json",
            "token",
            "--name",
            "schemathesis",
            "--scopes",
            "read-online,read-offline,write,admin",
        ],
        &[],
    );
    let token: Value = serde_json::from_str(&out).unwrap();
    let config = repo.join("quiver.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "auth:\n  tokens:\n    - {{ name: schemathesis, sha256: \"{}\", scopes: {} }}\n",
        token["sha256"].as_str().unwrap(),
        token["scopes"]
    ));
    std::fs::write(&config, text).unwrap();
    (dir, repo, token["token"].as_str().unwrap().to_string())
}

/// Runs a tool of the venv in `cwd`; panics with its output when it fails.
fn run_tool(venv: &Path, cwd: &Path, tool: &str, args: &[&str]) -> String {
    let out = Command::new(venv.join("bin").join(tool))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{tool} {args:?} failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_document_validates_and_schemathesis_finds_nothing() {
    let venv = test_venv();
    let (dir, repo, token) = repo_with_token("openapi_doc");
    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    let document = client
        .get(format!("{}/openapi.json", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(document.status(), 200);
    let document: Value = document.json().await.unwrap();

    // What the probe found missing.
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(document["security"][0]["bearer"], serde_json::json!([]));
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                assert_eq!(parameter["in"], "query", "{method} {path}: {parameter}");
            }
            let responses = operation["responses"].as_object().unwrap();
            if path != "/health" {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
        }
    }
    let historical = &document["paths"]["/get-historical-features"]["post"]["responses"];
    for status in [
        "400", "401", "403", "406", "408", "413", "415", "500", "503",
    ] {
        assert!(historical[status].is_object(), "{status}: {historical}");
    }

    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let file = file.to_str().unwrap();
    run_tool(&venv, dir.path(), "openapi-spec-validator", &[file]);

    // Bounded: a fixed seed, a few dozen cases per operation, 90 s at most.
    // `positive_data_acceptance` is left out: a schema-valid request may
    // still name a view or source that is not registered, which is a 400.
    // The coverage phase is left out: under CPython 3.11 its example
    // generation sometimes dies inside Hypothesis on an interpreter bug
    // ("AST constructor recursion depth mismatch", CPython gh-106905), a
    // failure of the tool, not of the server; the fuzzing phase covers the
    // same operations with generated requests.
    let authorization = format!("Authorization: Bearer {token}");
    let report = run_tool(
        &venv,
        dir.path(),
        "schemathesis",
        &[
            "run",
            file,
            "--url",
            &server.url,
            "--header",
            &authorization,
            "--phases",
            "examples,fuzzing,stateful",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "25",
            "--max-time",
            "90",
            "--request-timeout",
            "30",
            "--workers",
            "2",
            "--seed",
            "1",
        ],
    );
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert!(
        report.contains(&format!("Tested: {operations}")),
        "{report}"
    );
}
