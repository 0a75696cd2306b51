//! The body of the `definitions` fuzz target (`fuzz/`), here so that the
//! regression test over the committed corpus (`tests/fuzz_corpus.rs`) runs the
//! very same code on stable Rust. Not part of the API.

use std::path::Path;

use crate::config::{CONFIG_FILE, ProjectConfig};
use crate::diff::diff_objects;
use crate::loader::parse_definitions;
use crate::spec::RepoSpec;

/// Feeds `data` to both repo parsers: as `quiver.yaml` text, and as definitions
/// files (a NUL byte starts the next file, so references across files are
/// exercised too). Errors are expected; a panic is a bug. A repo that validates
/// must survive the registry's round trip unchanged.
pub fn definitions(data: &[u8]) {
    // A repo's files are read as UTF-8 (the reader refuses invalid bytes before
    // any parsing); the lossy text keeps every input useful to the parsers,
    // `---` and `...` lines included (each document of a file is parsed).
    let text = String::from_utf8_lossy(data);

    let config = ProjectConfig::parse(Path::new(CONFIG_FILE), &text, &lookup);
    if let Err(errors) = &config {
        errors.iter().for_each(render);
    }
    let project = config.as_ref().map_or("fuzz", |c| c.project.as_str());

    let files = text
        .split('\0')
        .enumerate()
        .map(|(i, file)| (format!("definitions_{i}.yaml"), file));
    match parse_definitions(project, files) {
        Ok((spec, _locations)) => round_trip(&spec),
        Err(errors) => errors.iter().for_each(render),
    }
}

/// A fixed environment for `${VAR}` expansion: one set, one empty variable.
fn lookup(name: &str) -> Option<String> {
    match name {
        "SET" => Some("value".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

/// Errors are printed by the CLI: formatting them must not panic either.
fn render(error: &crate::error::DefinitionError) {
    let _ = error.to_string();
}

/// `apply` stores the canonical objects and `serve` rebuilds the repo from them.
fn round_trip(spec: &RepoSpec) {
    let objects = spec
        .objects()
        .unwrap_or_else(|e| panic!("a valid repo cannot be stored: {e}"));
    let back = RepoSpec::from_objects(&spec.project, &objects)
        .unwrap_or_else(|e| panic!("a stored repo cannot be read back: {e}"));
    assert_eq!(&back, spec, "the registry's round trip changed the repo");
    assert!(
        diff_objects(&objects, &objects).is_empty(),
        "a repo differs from itself"
    );
}

/// Runs `body` (a fuzz target's body) on every committed input of `target`:
/// `fuzz/corpus/<target>/` and the crashes fixed since, `fuzz/regressions/<target>/`.
/// Panics naming every input that panicked, or when the corpus is missing.
/// The crates' `tests/fuzz_corpus.rs` call it, so plain `cargo test` replays the
/// corpus on stable without a fuzzing build.
pub fn replay_corpus(target: &str, body: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut inputs = Vec::new();
    for dir in ["corpus", "regressions"] {
        let dir = fuzz.join(dir).join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path();
            let is_readme = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("README"));
            if path.is_file() && !is_readme {
                inputs.push(path);
            }
        }
    }
    inputs.sort();
    assert!(
        !inputs.is_empty(),
        "fuzz/corpus/{target}/ holds no inputs: the replay would test nothing"
    );
    let panicked: Vec<String> = inputs
        .iter()
        .filter(|path| {
            let data = std::fs::read(path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            std::panic::catch_unwind(|| body(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        panicked.is_empty(),
        "{} of {} `{target}` fuzz inputs panicked:\n{}",
        panicked.len(),
        inputs.len(),
        panicked.join("\n")
    );
}
