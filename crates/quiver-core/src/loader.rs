//! Loads a feature repo directory: `quiver.yaml` plus every definitions file beside it.

use std::path::{Path, PathBuf};

use crate::config::{CONFIG_FILE, ProjectConfig};
use crate::error::{DefinitionError, RepoError};
use crate::locations::Locations;
use crate::raw::RawDefinitionsFile;
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
    let texts = files
        .into_iter()
        .map(|path| match std::fs::read_to_string(&path) {
            Ok(text) => Ok((path, text)),
            Err(source) => Err(RepoError::Io { path, source }),
        })
        .collect::<Result<Vec<_>, _>>()?;

    let project = config
        .as_ref()
        .map(|c| c.project.as_str())
        .unwrap_or_default();
    match (parse_definitions(project, texts), config) {
        (Ok((spec, locations)), Ok(config)) => Ok(Repo {
            root: root.to_path_buf(),
            config,
            spec,
            locations,
        }),
        (definitions, config) => {
            let mut errors = config.err().unwrap_or_default();
            errors.extend(definitions.err().unwrap_or_default());
            Err(RepoError::Invalid(errors))
        }
    }
}

/// Parses and validates definitions files given as (file name, text), as
/// [`load_repo`] does with the files of a repo of `project`: the specs and where
/// each object was written, or every problem found. Files holding only comments
/// are skipped; references may cross files.
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
        let (path, text) = (path.into(), text.as_ref());
        if yaml::is_blank(text) {
            continue;
        }
        match yaml::deserialize::<RawDefinitionsFile>(&path, text) {
            Ok(raw) => parsed.push(ParsedFile { path, raw }),
            Err(e) => errors.push(e),
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

/// `*.yaml` / `*.yml` files beside `quiver.yaml`, in name order.
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
        if is_yaml && !is_config && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
