//! The files of the quiver repo: one per kind of object, plus quiver.yaml
//! when the directory has none. They are checked before anything is written:
//! read back, they must give exactly the converted definitions, and they
//! must fit beside the repo's own definition files.

use std::path::{Path, PathBuf};

use quiver_core::RepoSpec;
use quiver_core::config::CONFIG_FILE;
use serde::Serialize;
use serde_json::Value;

use super::yaml::definitions_file;
use crate::error::{CliError, CliResult};

/// A file to write, and how many objects it holds with their noun
/// (singular, plural; none for quiver.yaml).
pub struct OutFile {
    pub path: PathBuf,
    pub text: String,
    pub objects: Option<(usize, Nouns)>,
}

pub type Nouns = (&'static str, &'static str);

/// The files for `spec` in `out_dir`; `feast_project` names where they came from.
pub fn render(spec: &RepoSpec, out_dir: &Path, feast_project: &str) -> CliResult<Vec<OutFile>> {
    let header = |kind: &str| {
        vec![
            format!("{kind} imported from Feast project {feast_project} by `quiver import-feast`."),
            "What could not be converted is listed in the command's output.".to_string(),
        ]
    };
    let mut files = Vec::new();
    if !out_dir.join(CONFIG_FILE).exists() {
        files.push(OutFile {
            path: out_dir.join(CONFIG_FILE),
            text: format!(
                "# quiver project configuration, written by `quiver import-feast` from Feast project {feast_project}.\n\
                 # The stores are quiver's defaults: a SQLite registry, the offline store and an\n\
                 # embedded online store under .quiver/ (see the README's Configuration reference).\n\
                 project: {}\n",
                spec.project
            ),
            objects: None,
        });
    }
    let kinds: [(&str, Nouns, Vec<Value>); 4] = [
        ("entities", ("entity", "entities"), values(&spec.entities)?),
        ("sources", ("source", "sources"), values(&spec.sources)?),
        (
            "feature_views",
            ("feature view", "feature views"),
            values(&spec.feature_views)?,
        ),
        (
            "feature_services",
            ("feature service", "feature services"),
            values(&spec.feature_services)?,
        ),
    ];
    for (section, nouns, objects) in kinds {
        let title = nouns.1[..1].to_uppercase() + &nouns.1[1..];
        files.push(OutFile {
            path: out_dir.join(format!("{section}.yaml")),
            text: definitions_file(&header(&title), section, &objects),
            objects: Some((objects.len(), nouns)),
        });
    }
    Ok(files)
}

fn values<T: Serialize>(objects: &[T]) -> CliResult<Vec<Value>> {
    objects
        .iter()
        .map(|o| serde_json::to_value(o).map_err(|e| CliError::Internal(e.to_string())))
        .collect()
}

/// Existing files the import would replace: an error unless `force`.
pub fn refuse_overwrites(files: &[OutFile], force: bool) -> CliResult {
    let existing: Vec<String> = files
        .iter()
        .filter(|f| f.path.exists())
        .map(|f| f.path.display().to_string())
        .collect();
    if existing.is_empty() || force {
        return Ok(());
    }
    Err(CliError::User(format!(
        "{} already exist{}; pass --force to overwrite, or choose another --out",
        existing.join(", "),
        if existing.len() == 1 { "s" } else { "" }
    )))
}

/// The written definitions must read back as `spec` (else the import has a
/// bug), and fit beside the other definition files of `out_dir`.
pub fn check(spec: &RepoSpec, files: &[OutFile], out_dir: &Path) -> CliResult {
    let ours: Vec<(PathBuf, &str)> = files
        .iter()
        .filter(|f| f.objects.is_some())
        .map(|f| (f.path.clone(), f.text.as_str()))
        .collect();
    match quiver_core::parse_definitions(&spec.project, ours.clone()) {
        Ok((read_back, _)) if &read_back == spec => {}
        Ok(_) => {
            return Err(CliError::Internal(
                "bug: the written definitions read back differently from the converted ones"
                    .to_string(),
            ));
        }
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            return Err(CliError::Internal(format!(
                "bug: the converted definitions do not validate: {}",
                lines.join("; ")
            )));
        }
    }

    let others = other_definition_files(out_dir, files)?;
    if others.is_empty() || quiver_core::parse_definitions(&spec.project, others.clone()).is_err() {
        // Nothing beside them, or files already broken on their own: not the import's doing.
        return Ok(());
    }
    let together = others
        .into_iter()
        .chain(ours.into_iter().map(|(p, t)| (p, t.to_string())));
    if let Err(errors) = quiver_core::parse_definitions(&spec.project, together) {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        return Err(CliError::User(format!(
            "the imported definitions clash with {}'s own definition files, so nothing was written: {}",
            out_dir.display(),
            lines.join("; ")
        )));
    }
    Ok(())
}

/// The definition files of `out_dir` the import does not replace, with their text.
fn other_definition_files(out_dir: &Path, files: &[OutFile]) -> CliResult<Vec<(PathBuf, String)>> {
    let entries = match std::fs::read_dir(out_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(CliError::User(format!(
                "cannot read {}: {e}",
                out_dir.display()
            )));
        }
    };
    let mut others = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let ours = files.iter().any(|f| f.path == path);
        let config = path.file_name().is_some_and(|n| n == CONFIG_FILE);
        if is_yaml && !ours && !config {
            // An unreadable file is quiver plan's to report.
            if let Ok(text) = std::fs::read_to_string(&path) {
                others.push((path, text));
            }
        }
    }
    others.sort();
    Ok(others)
}

pub fn write_all(files: &[OutFile], out_dir: &Path) -> CliResult {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| CliError::Internal(format!("cannot create {}: {e}", out_dir.display())))?;
    for file in files {
        std::fs::write(&file.path, &file.text).map_err(|e| {
            CliError::Internal(format!("cannot write {}: {e}", file.path.display()))
        })?;
    }
    Ok(())
}
