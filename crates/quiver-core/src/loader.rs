//! Loads a feature repo directory: `quiver.yaml` plus every definitions file beside it.

use std::path::{Path, PathBuf};

use crate::config::{CONFIG_FILE, ProjectConfig};
use crate::error::{DefinitionError, RepoError};
use crate::locations::Locations;
use crate::raw::RawDefinitionsFile;
use crate::read::read_text;
use crate::spec::RepoSpec;
use crate::validate::{ParsedFile, validate};
use crate::yaml;

/// A loaded, validated feature repo.
#[derive(Debug, Clone)]
pub struct Repo {
    pub root: PathBuf,
    pub config: ProjectConfig,
    pub spec: RepoSpec,
    /// Where each object and field was written, for later checks (e.g. against source schemas).
    pub locations: Locations,
}

impl Repo {
    /// A path from the config or a definition, resolved against the repo root.
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        self.root.join(path)
    }
}

/// Reads and validates the repo at `root`, reporting every problem found.
pub fn load_repo(root: &Path) -> Result<Repo, RepoError> {
    let config = ProjectConfig::load(root);
    let files = match definition_files(root) {
        Ok(files) => files,
        // The config error already says why (and how to create a repo).
        Err(e) => return Err(config.err().map_or(e, RepoError::Invalid)),
    };
    // Every file is read before any is parsed, so that one that cannot be
    // read is reported with everything else wrong.
    let mut unreadable = Vec::new();
    let mut texts = Vec::new();
    for path in files {
        match read_text(&path) {
            Ok(text) => texts.push((path, text)),
            Err(e) => unreadable.push(e.into_error(&path)),
        }
    }

    let project = config
        .as_ref()
        .map(|c| c.project.as_str())
        .unwrap_or_default();
    match (parse_definitions(project, texts), config) {
        (Ok((spec, locations)), Ok(config)) if unreadable.is_empty() => Ok(Repo {
            root: root.to_path_buf(),
            config,
            spec,
            locations,
        }),
        (definitions, config) => {
            let mut errors = config.err().unwrap_or_default();
            errors.extend(unreadable);
            errors.extend(definitions.err().unwrap_or_default());
            Err(RepoError::Invalid(errors))
        }
    }
}

/// Parses and validates definitions files given as (file name, text), as
/// [`load_repo`] does with the files of a repo of `project`: the specs and where
/// each object was written, or every problem found. Every YAML document of a
/// file is read (files holding only comments have none); references may cross
/// files and documents.
pub fn parse_definitions<P, T>(
    project: &str,
    files: impl IntoIterator<Item = (P, T)>,
) -> Result<(RepoSpec, Locations), Vec<DefinitionError>>
where
    P: Into<PathBuf>,
    T: AsRef<str>,
{
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for (path, text) in files {
        let path = path.into();
        for document in yaml::deserialize_all::<RawDefinitionsFile>(&path, text.as_ref()) {
            match document {
                Ok(raw) => parsed.push(ParsedFile {
                    path: path.clone(),
                    raw,
                }),
                Err(e) => errors.push(e),
            }
        }
    }
    match validate(project, &parsed) {
        Ok(valid) if errors.is_empty() => Ok(valid),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

/// Every `*.yaml` / `*.yml` entry beside `quiver.yaml`, in name order, whatever
/// its type: [`read_text`] refuses those that are not readable files.
fn definition_files(root: &Path) -> Result<Vec<PathBuf>, RepoError> {
    let entries = std::fs::read_dir(root).map_err(|source| RepoError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RepoError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let is_config = path.file_name().and_then(|n| n.to_str()) == Some(CONFIG_FILE);
        if is_yaml && !is_config {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
