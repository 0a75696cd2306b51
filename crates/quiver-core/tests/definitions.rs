//! Loading and validating feature repos: every error names file, line and field.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use quiver_core::{ObjectKind, RepoError, ValueType, load_repo};

const CONFIG: &str = "project: test_project\n";

const GOOD: &str = "\
entities:
  - name: driver
    join_keys: [{ name: driver_id, dtype: int64 }]
sources:
  - name: stats
    kind: parquet
    path: data/stats.parquet
    timestamp_field: event_timestamp
    created_timestamp_field: created
feature_views:
  - name: driver_stats
    entities: [driver]
    source: stats
    ttl: 2h
    features:
      - { name: conv_rate, dtype: float32 }
      - { name: trips, dtype: list<int64> }
feature_services:
  - name: svc
    features: [driver_stats:conv_rate]
";

/// Writes a repo with `quiver.yaml` and the given definition files.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("quiver.yaml"), CONFIG).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// The errors of an invalid repo, as `(file name, line, field, message)`.
fn errors(files: &[(&str, &str)]) -> Vec<(String, usize, String, String)> {
    let dir = repo(files);
    match load_repo(dir.path()) {
        Ok(_) => panic!("expected the repo to be rejected"),
        Err(RepoError::Invalid(errors)) => errors
            .into_iter()
            .map(|e| {
                let file = PathBuf::from(&e.location.file)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                (file, e.location.line, e.field, e.message)
            })
            .collect(),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Asserts exactly one error at `file:line` on `field`, whose message contains `needle`.
fn assert_one(files: &[(&str, &str)], file: &str, line: usize, field: &str, needle: &str) {
    let errors = errors(files);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    let (f, l, fld, msg) = &errors[0];
    assert_eq!((f.as_str(), *l, fld.as_str()), (file, line, field), "{msg}");
    assert!(msg.contains(needle), "message `{msg}` lacks `{needle}`");
}

#[test]
fn a_good_repo_loads_with_canonical_specs() {
    let dir = repo(&[("defs.yaml", GOOD)]);
    let repo = load_repo(dir.path()).unwrap();
    assert_eq!(repo.config.project, "test_project");
    let view = repo.spec.feature_view("driver_stats").unwrap();
    assert_eq!(view.ttl, Some(std::time::Duration::from_secs(7200)));
    assert_eq!(
        view.features[1].dtype,
        "list<int64>".parse::<ValueType>().unwrap()
    );
    assert!(view.online);
    let objects = repo.spec.objects().unwrap();
    assert_eq!(
        objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Entity)
            .count(),
        1
    );
    assert_eq!(objects.len(), 4);
    assert_eq!(objects[2].spec["ttl"], "2h");
}

#[test]
fn the_same_definitions_in_other_files_hash_the_same() {
    let (first, rest) = GOOD.split_at(GOOD.find("sources:").unwrap());
    let split = repo(&[("a.yaml", first), ("b.yaml", rest)]);
    let whole = repo(&[("defs.yaml", GOOD)]);
    let hashes = |dir: &Path| -> Vec<String> {
        load_repo(dir)
            .unwrap()
            .spec
            .objects()
            .unwrap()
            .into_iter()
            .map(|o| o.hash)
            .collect()
    };
    assert_eq!(hashes(split.path()), hashes(whole.path()));
}

#[test]
fn the_example_feature_repo_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../feature_repo");
    let repo = load_repo(&root).unwrap_or_else(|e| panic!("feature_repo/ is invalid:\n{e}"));
    assert_eq!(repo.config.project, "driver_ranking");
    assert!(repo.spec.feature_view("driver_hourly_stats").is_some());
    assert!(repo.spec.feature_view("customer_profile").is_some());
    assert_eq!(repo.spec.feature_services.len(), 2);
}

#[test]
fn unknown_entity() {
    let text = GOOD.replace("entities: [driver]", "entities: [drivr]");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        12,
        "feature_views[driver_stats].entities",
        "unknown entity `drivr` (did you mean `driver`?)",
    );
}

#[test]
fn unknown_source_and_wrong_kind_of_source() {
    let text = GOOD.replace("source: stats", "source: nope");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        13,
        "feature_views[driver_stats].source",
        "unknown source `nope`",
    );
    let text = GOOD.replace("source: stats", "source: driver");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        13,
        "feature_views[driver_stats].source",
        "`driver` is a entity, not a source",
    );
    let push = GOOD
        .replace("sources:\n", "sources:\n  - { name: pushed, kind: push }\n")
        .replace("source: stats", "source: pushed");
    assert_one(
        &[("defs.yaml", &push)],
        "defs.yaml",
        14,
        "feature_views[driver_stats].source",
        "expected a batch source",
    );
}

#[test]
fn unknown_feature_in_service() {
    let text = GOOD.replace("[driver_stats:conv_rate]", "[driver_stats:conv_rat]");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        20,
        "feature_services[svc].features",
        "has no feature `conv_rat`",
    );
    let text = GOOD.replace("[driver_stats:conv_rate]", "[driver_stat:conv_rate]");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        20,
        "feature_services[svc].features",
        "unknown feature view `driver_stat`",
    );
}

#[test]
fn duplicate_names_across_files() {
    let other = "entities:\n  - name: stats\n    join_keys: [{ name: k, dtype: string }]\n";
    let errors = errors(&[("a.yaml", GOOD), ("b.yaml", other)]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let (file, line, field, message) = &errors[0];
    assert_eq!(
        (file.as_str(), *line, field.as_str()),
        ("b.yaml", 2, "entities[stats].name")
    );
    assert!(
        message.contains("duplicate name `stats`") && message.contains("a.yaml:5"),
        "{message}"
    );
}

#[test]
fn duplicate_features_and_join_keys() {
    let text = GOOD.replace("name: trips, dtype", "name: conv_rate, dtype");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        17,
        "feature_views[driver_stats].features[conv_rate].name",
        "duplicate feature `conv_rate`",
    );
    let text = GOOD.replace("name: trips", "name: driver_id");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        17,
        "feature_views[driver_stats].features[driver_id].name",
        "name of a join key",
    );
}

#[test]
fn bad_types() {
    let text = GOOD.replace("dtype: float32", "dtype: float23");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        16,
        "feature_views[driver_stats].features[conv_rate].dtype",
        "unknown dtype `float23`",
    );
    let text = GOOD.replace(
        "{ name: driver_id, dtype: int64 }",
        "{ name: driver_id, dtype: float64 }",
    );
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        3,
        "entities[driver].join_keys[driver_id].dtype",
        "a join key must be",
    );
}

#[test]
fn bad_ttl() {
    let text = GOOD.replace("ttl: 2h", "ttl: 2x");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        14,
        "feature_views[driver_stats].ttl",
        "invalid ttl `2x`",
    );
    let text = GOOD.replace("ttl: 2h", "ttl: 0s");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        14,
        "feature_views[driver_stats].ttl",
        "zero",
    );
}

#[test]
fn unknown_field_is_named() {
    let text = GOOD.replace("    ttl: 2h\n", "    tll: 2h\n");
    let errors = errors(&[("defs.yaml", &text)]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let (file, line, field, message) = &errors[0];
    assert_eq!((file.as_str(), *line), ("defs.yaml", 14), "{message}");
    assert!(field.starts_with("feature_views[0]"), "{field}");
    assert!(message.contains("unknown field `tll`"), "{message}");
}

#[test]
fn missing_required_field() {
    let text = GOOD.replace("    source: stats\n", "");
    let errors = errors(&[("defs.yaml", &text)]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let (file, line, field, message) = &errors[0];
    assert_eq!(file, "defs.yaml");
    assert!((11..=13).contains(line), "line {line}: {message}");
    assert!(field.starts_with("feature_views[0]"), "{field}");
    assert!(message.contains("missing field `source`"), "{message}");
}

#[test]
fn source_fields_must_fit_the_kind() {
    let text = GOOD.replace(
        "    path: data/stats.parquet\n",
        "    path: data/stats.parquet\n    topic: t\n",
    );
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        8,
        "sources[stats].topic",
        "`topic` does not apply to a parquet source",
    );
    let text = GOOD.replace("    path: data/stats.parquet\n", "");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        5,
        "sources[stats].path",
        "a parquet source needs `path`",
    );
    let text = GOOD.replace("kind: parquet", "kind: csv");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        6,
        "sources[stats].kind",
        "unknown source kind `csv`",
    );
    let pg = "sources:\n  - name: pg\n    kind: postgres\n    url: postgres://x/y\n    table: a\n    query: select 1\n    timestamp_field: ts\n";
    assert_one(
        &[("defs.yaml", pg)],
        "defs.yaml",
        6,
        "sources[pg].table",
        "exactly one of `table` or `query`",
    );
    let pg = "sources:\n  - name: pg\n    kind: postgres\n    url: postgres://x/y\n    table: \"a; drop table b\"\n    timestamp_field: ts\n";
    assert_one(
        &[("defs.yaml", pg)],
        "defs.yaml",
        5,
        "sources[pg].table",
        "is not a table name",
    );
}

#[test]
fn yaml_syntax_and_duplicate_keys() {
    let text = GOOD.replace("    ttl: 2h\n", "    ttl: [2h\n");
    let errors = errors(&[("defs.yaml", &text)]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].0, "defs.yaml");
    assert!(errors[0].3.starts_with("invalid YAML"), "{:?}", errors[0]);
    assert!(errors[0].1 >= 14, "{:?}", errors[0]);

    let text = GOOD.replace("    ttl: 2h\n", "    ttl: 2h\n    ttl: 3h\n");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        15,
        "ttl",
        "duplicate key `ttl` (first written on line 14)",
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let text = GOOD
        .replace("ttl: 2h", "ttl: soon")
        .replace("dtype: float32", "dtype: real");
    let errors = errors(&[("defs.yaml", &text)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn a_bad_config_is_reported_with_the_definitions() {
    let dir = repo(&[("defs.yaml", GOOD)]);
    std::fs::write(
        dir.path().join("quiver.yaml"),
        "project: p\nonline_store: { type: redis }\n",
    )
    .unwrap();
    let err = load_repo(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("quiver.yaml:2:") && text.contains("online_store.url"),
        "{text}"
    );
}

#[test]
fn a_missing_repo_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_repo(dir.path()).unwrap_err();
    assert!(err.to_string().contains("quiver init"), "{err}");
}

/// GOOD with checks on `conv_rate` (line 16 and on) and on the view.
fn with_checks(feature_checks: &str, view_checks: &str) -> String {
    GOOD.replace(
        "      - { name: conv_rate, dtype: float32 }\n",
        &format!(
            "      - name: conv_rate\n        dtype: float32\n        checks:\n{feature_checks}"
        ),
    )
    .replace(
        "    ttl: 2h\n",
        &format!("    ttl: 2h\n    checks:\n{view_checks}"),
    )
}

#[test]
fn checks_load_typed_with_their_policies() {
    use quiver_core::{CheckPolicy, FeatureRule, ViewRule};
    let text = with_checks(
        "          - { check: not_null, policy: drop }\n          - { check: min, value: 0 }\n          - { check: max, value: 1, policy: warn }\n          - { check: max_null_fraction, value: 0.25 }\n",
        "      - { check: not_empty }\n      - { check: unique, policy: warn }\n",
    );
    let dir = repo(&[("defs.yaml", &text)]);
    let repo = load_repo(dir.path()).unwrap();
    let view = repo.spec.feature_view("driver_stats").unwrap();
    let checks = &view.features[0].checks;
    assert_eq!(checks.len(), 4);
    assert_eq!(checks[0].rule, FeatureRule::NotNull);
    assert_eq!(checks[0].policy, CheckPolicy::Drop);
    assert_eq!(checks[1].rule, FeatureRule::Min { value: 0.0 });
    assert_eq!(checks[1].policy, CheckPolicy::Fail);
    assert_eq!(checks[2].policy, CheckPolicy::Warn);
    assert_eq!(checks[3].rule, FeatureRule::MaxNullFraction { value: 0.25 });
    assert_eq!(view.checks.len(), 2);
    assert_eq!(view.checks[1].rule, ViewRule::Unique);
    // Checks are part of the definition: changing one changes the view's hash.
    let plain = repo_hash(&[("defs.yaml", GOOD)]);
    assert_ne!(repo_hash(&[("defs.yaml", &text)]), plain);
}

fn repo_hash(files: &[(&str, &str)]) -> String {
    let dir = repo(files);
    let objects = load_repo(dir.path()).unwrap().spec.objects().unwrap();
    objects
        .iter()
        .find(|o| o.kind == ObjectKind::FeatureView)
        .unwrap()
        .hash
        .clone()
}

#[test]
fn a_bad_check_names_file_line_and_field() {
    let field = "feature_views[driver_stats].features[conv_rate].checks";
    let text = with_checks("          - { check: min, value: low }\n", "");
    assert_one(
        &[(
            "defs.yaml",
            &text.replace("    checks:\n    features", "    features"),
        )],
        "defs.yaml",
        19,
        &format!("{field}[0].value"),
        "`low` is not a number",
    );
    let text = with_checks(
        "          - { check: not_null }\n          - { check: regex, pattern: \"^x\" }\n",
        "",
    );
    assert_one(
        &[(
            "defs.yaml",
            &text.replace("    checks:\n    features", "    features"),
        )],
        "defs.yaml",
        20,
        &format!("{field}[1].check"),
        "needs a string feature",
    );
    let text = with_checks("          - { check: max, value: 1, policy: ignore }\n", "");
    assert_one(
        &[(
            "defs.yaml",
            &text.replace("    checks:\n    features", "    features"),
        )],
        "defs.yaml",
        19,
        &format!("{field}[0].policy"),
        "unknown policy `ignore`",
    );
    let text = with_checks(
        "          - { check: not_null }\n",
        "      - { check: sorted }\n",
    );
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        16,
        "feature_views[driver_stats].checks[0].check",
        "unknown view check `sorted`",
    );
    let text = with_checks("          - { check: not_null, limit: 3 }\n", "");
    let errors = errors(&[(
        "defs.yaml",
        &text.replace("    checks:\n    features", "    features"),
    )]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].3.contains("limit"), "{errors:?}");
}

#[test]
fn every_yaml_document_of_a_file_is_loaded() {
    // Kubernetes style: one object per document, `---` between them.
    let (first, rest) = GOOD.split_at(GOOD.find("sources:").unwrap());
    let text = format!("---\n{first}---\n# the data\n{rest}...\n");
    let dir = repo(&[("defs.yaml", &text)]);
    let loaded = load_repo(dir.path()).unwrap();
    let whole = repo(&[("defs.yaml", GOOD)]);
    assert_eq!(loaded.spec, load_repo(whole.path()).unwrap().spec);
    // Positions stay the file's own in every document.
    assert_eq!(
        loaded
            .locations
            .find("feature_views[driver_stats]")
            .unwrap()
            .line,
        11 + 3
    );

    let bad = text.replace("ttl: 2h", "ttl: 2x");
    assert_one(
        &[("defs.yaml", &bad)],
        "defs.yaml",
        17,
        "feature_views[driver_stats].ttl",
        "invalid ttl `2x`",
    );
    // A name defined in two documents of one file is a duplicate like any other.
    let twice = format!("{GOOD}---\n{}", &GOOD[..GOOD.find("sources:").unwrap()]);
    let errors = errors(&[("defs.yaml", &twice)]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        (errors[0].1, errors[0].2.as_str()),
        (23, "entities[driver].name")
    );
    assert!(errors[0].3.contains("defs.yaml:2"), "{errors:?}");
}

#[test]
fn a_second_document_in_quiver_yaml_is_refused_at_its_line() {
    let dir = repo(&[("defs.yaml", GOOD)]);
    std::fs::write(
        dir.path().join("quiver.yaml"),
        "# project\nproject: p\n---\nproject: q\n",
    )
    .unwrap();
    let errors = load_repo(dir.path())
        .unwrap_err()
        .definition_errors()
        .to_vec();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].location.line, 3, "{}", errors[0]);
    assert!(
        errors[0].message.contains("a second YAML document"),
        "{}",
        errors[0]
    );
    // One document after a `---` (and comments) is fine.
    std::fs::write(dir.path().join("quiver.yaml"), "# p\n---\nproject: p\n").unwrap();
    assert_eq!(load_repo(dir.path()).unwrap().config.project, "p");
}

#[test]
fn a_byte_order_mark_is_no_part_of_the_yaml() {
    let dir = repo(&[("defs.yaml", &format!("\u{feff}{GOOD}"))]);
    std::fs::write(dir.path().join("quiver.yaml"), format!("\u{feff}{CONFIG}")).unwrap();
    let loaded = load_repo(dir.path()).unwrap();
    assert_eq!(loaded.config.project, "test_project");
    assert!(loaded.spec.entity("driver").is_some());
}

#[test]
fn names_have_a_length_limit() {
    let limit = quiver_core::MAX_NAME_LEN;
    let long = "v".repeat(limit + 1);
    let text = GOOD.replace("name: driver_stats", &format!("name: {long}"));
    let text = text.replace("driver_stats:conv_rate", &format!("{long}:conv_rate"));
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        11,
        &format!("feature_views[{long}].name"),
        &format!("is {} bytes long; names are at most {limit}", limit + 1),
    );
    let fits = "v".repeat(limit);
    let text = GOOD.replace("name: driver_stats", &format!("name: {fits}"));
    let text = text.replace("driver_stats:conv_rate", &format!("{fits}:conv_rate"));
    load_repo(repo(&[("defs.yaml", &text)]).path()).unwrap();

    let text = GOOD.replace("name: conv_rate", &format!("name: {long}"));
    let text = text.replace("driver_stats:conv_rate", "driver_stats");
    assert_one(
        &[("defs.yaml", &text)],
        "defs.yaml",
        16,
        &format!("feature_views[driver_stats].features[{long}].name"),
        "names are at most",
    );

    let dir = repo(&[("defs.yaml", GOOD)]);
    std::fs::write(dir.path().join("quiver.yaml"), format!("project: {long}\n")).unwrap();
    let text = load_repo(dir.path()).unwrap_err().to_string();
    assert!(
        text.contains("quiver.yaml:1:") && text.contains("project: project name"),
        "{text}"
    );
    assert!(!quiver_core::is_identifier(&long) && quiver_core::is_identifier(&fits));
}

#[test]
fn a_feature_named_like_any_join_key_is_refused() {
    // A customer view's feature `driver_id`, asked for with a driver view,
    // would give an online answer two `driver_id` columns.
    let customer = "\
entities:
  - name: customer
    join_keys: [{ name: customer_id, dtype: int64 }]
feature_views:
  - name: customer_stats
    entities: [customer]
    source: stats
    features:
      - { name: driver_id, dtype: int64 }
";
    assert_one(
        &[("a.yaml", GOOD), ("b.yaml", customer)],
        "b.yaml",
        9,
        "feature_views[customer_stats].features[driver_id].name",
        "has the name of a join key of entity `driver`",
    );
}

#[test]
fn a_file_that_cannot_be_read_is_refused_by_name() {
    let dir = repo(&[("defs.yaml", GOOD)]);
    let root = dir.path();
    std::fs::create_dir(root.join("more.yml")).unwrap();
    std::os::unix::fs::symlink(root.join("gone.yaml"), root.join("link.yaml")).unwrap();
    std::fs::write(root.join("z.yaml"), b"entities: []\n# \xff\n").unwrap();
    let fifo = root.join("pipe.yaml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let errors: Vec<String> = match load_repo(root) {
        Err(RepoError::Invalid(errors)) => errors.iter().map(ToString::to_string).collect(),
        other => panic!("expected refusals, got {other:?}"),
    };
    assert_eq!(errors.len(), 4, "{errors:#?}");
    let find = |name: &str| {
        errors
            .iter()
            .find(|e| e.contains(name))
            .unwrap_or_else(|| panic!("no error names {name}: {errors:#?}"))
    };
    assert!(find("link.yaml:1:1").contains("dangling symbolic link"));
    assert!(find("more.yml:1:1").contains("a directory, not a regular file"));
    assert!(find("pipe.yaml:1:1").contains("a FIFO (named pipe), not a regular file"));
    assert!(find("z.yaml:2:3").contains("not UTF-8"));
}
