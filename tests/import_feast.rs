//! `quiver import-feast` end to end: the real Feast CLI (feast==0.67.0, from
//! the venv scripts/test.sh creates: `QUIVER_TEST_FEAST_VENV`, default
//! `$HOME/.cache/quiver/venv-feast`) makes `feast init`'s example repo,
//! applies it and dumps its registry; quiver imports the registry file, the
//! dump and the dump on stdin alike, applies the result, and every object
//! Feast registered is either registered by quiver as Feast defined it or
//! named in the import's report. The refusals (existing files, clashes, bad
//! input) run on the committed fixtures of tests/fixtures/feast/.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{feast_venv, quiver, quiver_output, quiver_refused};
use serde_json::Value;

const FILES: [&str; 4] = [
    "entities.yaml",
    "sources.yaml",
    "feature_views.yaml",
    "feature_services.yaml",
];

/// Runs the venv's `feast ARGS` in `dir`; its stdout.
fn feast(venv: &Path, dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(venv.join("bin/feast"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "feast {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feast")
        .join(path)
}

/// `quiver import-feast -` with `input` on stdin; the report.
fn import_from_stdin(out: &Path, input: &[u8], extra: &[&str]) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args(["--json", "import-feast", "-", "--out"])
        .arg(out)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let result = child.wait_with_output().unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    json(&String::from_utf8_lossy(&result.stdout))
}

/// The quiver dtype a Feast value type converts to (the scalars `feast
/// init`'s example uses); `None`: Feast types quiver has no dtype for.
fn quiver_dtype(feast: &str) -> Option<&'static str> {
    Some(match feast {
        "FLOAT" => "float32",
        "DOUBLE" => "float64",
        "INT32" => "int32",
        "INT64" => "int64",
        "STRING" => "string",
        "BOOL" => "bool",
        "BYTES" => "bytes",
        "UNIX_TIMESTAMP" => "timestamp",
        _ => return None,
    })
}

/// What `quiver list KIND --json` registered, by name.
fn registered(repo: &Path, kind: &str) -> Vec<(String, Value)> {
    let listed = json(&quiver(repo, &["--json", "list", kind], &[]));
    let objects = listed.as_array().unwrap().iter();
    objects
        .map(|o| (o["name"].as_str().unwrap().to_string(), o["spec"].clone()))
        .collect()
}

fn spec_of<'a>(objects: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, spec)| spec)
}

fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Feast's `"86400s"` against quiver's TTL (none: never expires).
fn same_ttl(feast: &Value, quiver: &Value) -> bool {
    let seconds: u64 = feast
        .as_str()
        .unwrap_or("0s")
        .trim_end_matches('s')
        .parse()
        .unwrap();
    match quiver.as_str() {
        None => seconds == 0,
        Some(ttl) => quiver_core::ttl::parse_ttl(ttl).unwrap().as_secs() == seconds,
    }
}

#[test]
fn feast_init_imports_and_applies_as_feast_registered_it() {
    let venv = feast_venv();
    let dir = tempfile::tempdir().unwrap();
    feast(&venv, dir.path(), &["init", "demo"]);
    let feast_repo = dir.path().join("demo/feature_repo");
    feast(&venv, &feast_repo, &["apply"]);
    let dump_bytes = feast(&venv, &feast_repo, &["registry-dump"]);
    let dump_path = dir.path().join("registry-dump.json");
    std::fs::write(&dump_path, &dump_bytes).unwrap();
    let dump = json(&String::from_utf8_lossy(&dump_bytes));

    // The registry file finds its Feast repo (feature_store.yaml) above data/.
    let quiver_repo = dir.path().join("quiver_repo");
    let registry_file = feast_repo.join("data/registry.db");
    let report = json(&quiver(
        &quiver_repo,
        &["--json", "import-feast", registry_file.to_str().unwrap()],
        &[],
    ));
    assert_eq!(report["format"], "registry-file");
    assert_eq!(report["feast_repo"], feast_repo.to_str().unwrap());
    let from_dump = dir.path().join("from_dump");
    let dump_report = json(&quiver(
        &from_dump,
        &[
            "--json",
            "import-feast",
            dump_path.to_str().unwrap(),
            "--feast-repo",
            feast_repo.to_str().unwrap(),
        ],
        &[],
    ));
    assert_eq!(dump_report["format"], "registry-dump");
    let from_stdin = dir.path().join("from_stdin");
    import_from_stdin(
        &from_stdin,
        &dump_bytes,
        &["--feast-repo", feast_repo.to_str().unwrap()],
    );
    for file in FILES.iter().chain(["quiver.yaml"].iter()) {
        let written = std::fs::read_to_string(quiver_repo.join(file)).unwrap();
        for other in [&from_dump, &from_stdin] {
            assert_eq!(
                std::fs::read_to_string(other.join(file)).unwrap(),
                written,
                "{file} differs between the registry file and the dump"
            );
        }
    }
    assert_eq!(report["not_converted"], dump_report["not_converted"]);

    // Applied as is; every source read and checked against its Parquet file.
    let applied = quiver_output(&quiver_repo, &["apply"], &[]);
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");

    let noted: Vec<String> = report["not_converted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["object"].as_str().unwrap().to_string())
        .collect();
    let is_noted = |object: &str| noted.iter().any(|n| n == object);
    let entities = registered(&quiver_repo, "entities");
    let sources = registered(&quiver_repo, "sources");
    let views = registered(&quiver_repo, "views");
    let services = registered(&quiver_repo, "services");

    let feast_views = dump["featureViews"].as_array().unwrap();
    for entity in dump["entities"].as_array().unwrap() {
        let name = entity["spec"]["name"].as_str().unwrap();
        if name == "__dummy" {
            continue;
        }
        let spec = spec_of(&entities, name).unwrap_or_else(|| panic!("entity {name}"));
        let key = &spec["join_keys"][0];
        assert_eq!(key["name"], entity["spec"]["joinKey"]);
        // Feast infers an untyped entity's key type into each view.
        for view in feast_views {
            for column in view["spec"]["entityColumns"].as_array().unwrap() {
                if column["name"] == key["name"] {
                    let dtype = quiver_dtype(column["valueType"].as_str().unwrap());
                    assert_eq!(key["dtype"].as_str(), dtype, "entity {name}");
                }
            }
        }
    }
    for source in dump["dataSources"].as_array().unwrap() {
        let name = source["name"].as_str().unwrap();
        match spec_of(&sources, name) {
            Some(spec) => {
                let kind = match source["type"].as_str().unwrap() {
                    "BATCH_FILE" => "parquet",
                    "PUSH_SOURCE" => "push",
                    other => panic!("source {name} of type {other} was converted"),
                };
                assert_eq!(spec["kind"], kind, "source {name}");
                assert_eq!(spec["timestamp_field"], source["timestampField"]);
            }
            None => assert!(is_noted(&format!("source {name}")), "source {name}"),
        }
    }
    let mut converted_views = 0;
    for view in feast_views {
        let feast = &view["spec"];
        let name = feast["name"].as_str().unwrap();
        let Some(spec) = spec_of(&views, name) else {
            assert!(is_noted(&format!("feature view {name}")), "view {name}");
            continue;
        };
        converted_views += 1;
        assert_eq!(spec["entities"], feast["entities"], "view {name}");
        assert!(same_ttl(&feast["ttl"], &spec["ttl"]), "view {name}");
        assert_eq!(
            spec["online"].as_bool(),
            Some(feast["online"].as_bool().unwrap_or(false))
        );
        assert_eq!(spec["source"], feast["batchSource"]["name"], "view {name}");
        assert_eq!(
            spec["stream_source"], feast["streamSource"]["name"],
            "view {name}"
        );
        let quiver_features = spec["features"].as_array().unwrap();
        for feature in feast["features"].as_array().unwrap() {
            let feature_name = feature["name"].as_str().unwrap();
            let here = quiver_features
                .iter()
                .find(|f| f["name"] == feature["name"]);
            match (here, quiver_dtype(feature["valueType"].as_str().unwrap())) {
                (Some(here), Some(dtype)) => assert_eq!(here["dtype"], dtype),
                (None, None) => assert!(
                    is_noted(&format!("feature view {name}, feature {feature_name}")),
                    "{name}:{feature_name}"
                ),
                (here, dtype) => panic!("{name}:{feature_name}: {here:?} for {dtype:?}"),
            }
        }
        assert_eq!(quiver_features.len(), {
            let features = feast["features"].as_array().unwrap().iter();
            features
                .filter(|f| quiver_dtype(f["valueType"].as_str().unwrap()).is_some())
                .count()
        });
    }
    assert_eq!(converted_views, views.len());
    assert!(converted_views > 0);
    for view in dump["onDemandFeatureViews"].as_array().unwrap() {
        let name = view["spec"]["name"].as_str().unwrap();
        assert!(
            is_noted(&format!("on-demand feature view {name}")),
            "{name}"
        );
    }
    for view in dump["labelViews"].as_array().unwrap() {
        let name = view["spec"]["name"].as_str().unwrap();
        assert!(is_noted(&format!("label view {name}")), "{name}");
    }
    for service in dump["featureServices"].as_array().unwrap() {
        let name = service["spec"]["name"].as_str().unwrap();
        match spec_of(&services, name) {
            Some(spec) => {
                let mut wanted = Vec::new();
                for projection in service["spec"]["features"].as_array().unwrap() {
                    let view = projection["featureViewName"].as_str().unwrap();
                    for column in projection["featureColumns"].as_array().unwrap() {
                        wanted.push(format!("{view}:{}", column["name"].as_str().unwrap()));
                    }
                }
                let mut listed = Vec::new();
                for reference in strings(&spec["features"]) {
                    match reference.split_once(':') {
                        Some(_) => listed.push(reference),
                        None => {
                            let view = spec_of(&views, &reference).unwrap();
                            let features = view["features"].as_array().unwrap().iter();
                            listed.extend(
                                features.map(|f| {
                                    format!("{reference}:{}", f["name"].as_str().unwrap())
                                }),
                            );
                        }
                    }
                }
                assert_eq!(listed, wanted, "service {name}");
            }
            None => assert!(is_noted(&format!("feature service {name}")), "{name}"),
        }
    }
    assert_eq!(services.len(), {
        let all = dump["featureServices"].as_array().unwrap().iter();
        all.filter(|s| {
            !is_noted(&format!(
                "feature service {}",
                s["spec"]["name"].as_str().unwrap()
            ))
        })
        .count()
    });
}

#[test]
fn a_second_import_needs_force_and_keeps_the_repos_quiver_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let dump = fixture("mirror/registry-dump.json");
    let dump = dump.to_str().unwrap();
    let out = quiver(&repo, &["import-feast", dump], &[]);
    assert!(out.contains("Everything was converted."), "{out}");
    let config = std::fs::read_to_string(repo.join("quiver.yaml")).unwrap();
    assert!(config.contains("\nproject: driver_ranking\n"), "{config}");
    quiver(&repo, &["plan"], &[]);

    let stderr = quiver_refused(&repo, &["import-feast", dump]);
    for file in FILES {
        assert!(stderr.contains(file), "{stderr}");
    }
    assert!(stderr.contains("pass --force"), "{stderr}");

    std::fs::write(repo.join("quiver.yaml"), "project: renamed\n").unwrap();
    std::fs::write(repo.join("entities.yaml"), "entities: []\n").unwrap();
    let report = json(&quiver(
        &repo,
        &["--json", "import-feast", dump, "--force"],
        &[],
    ));
    let written: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(written.len(), FILES.len(), "{written:?}");
    assert_eq!(
        std::fs::read_to_string(repo.join("quiver.yaml")).unwrap(),
        "project: renamed\n"
    );
    let entities = std::fs::read_to_string(repo.join("entities.yaml")).unwrap();
    assert!(entities.contains("name: driver"), "{entities}");
    let plan = quiver(&repo, &["plan"], &[]);
    assert!(plan.contains("Project renamed"), "{plan}");
}

#[test]
fn an_import_that_clashes_with_the_repos_own_definitions_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::write(repo.join("quiver.yaml"), "project: mine\n").unwrap();
    std::fs::write(
        repo.join("mine.yaml"),
        "entities:\n  - name: driver\n    join_keys: [{ name: driver_id, dtype: int64 }]\n",
    )
    .unwrap();
    let dump = fixture("mirror/registry-dump.json");
    let stderr = quiver_refused(repo, &["import-feast", dump.to_str().unwrap()]);
    assert!(
        stderr.contains("clash with") && stderr.contains("duplicate name `driver`"),
        "{stderr}"
    );
    for file in FILES {
        assert!(!repo.join(file).exists(), "{file} was written");
    }
}

#[test]
fn what_is_not_a_feast_registry_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cases = [
        ("empty.json", &b"  \n"[..], "is empty"),
        (
            "broken.json",
            &b"{\"project\": "[..],
            "is not a `feast registry-dump` output",
        ),
        (
            "other.json",
            &b"{\"entities\": []}"[..],
            "missing field `project`",
        ),
        (
            "junk.db",
            &b"\xff\xff\xff\xff"[..],
            "is neither a `feast registry-dump` JSON nor a Feast registry file",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let stderr = quiver_refused(&out, &["import-feast", path.to_str().unwrap()]);
        assert!(stderr.contains(message), "{name}: {stderr}");
    }
    let missing = dir.path().join("missing.db");
    let stderr = quiver_refused(&out, &["import-feast", missing.to_str().unwrap()]);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let registry = fixture("cases/registry.db");
    let stderr = quiver_refused(
        &out,
        &[
            "import-feast",
            registry.to_str().unwrap(),
            "--project",
            "nope",
        ],
    );
    assert!(
        stderr.contains("no project `nope` (it holds: import_cases)"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing may be written");
}
