//! Loads a feature repo directory: `quiver.yaml` plus every definitions file beside it.

use std::path::{Path, PathBuf};

use crate::config::{CONFIG_FILE, ProjectConfig};
use crate::error::RepoError;
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
    let mut errors = Vec::new();
    let config = ProjectConfig::load(root)
        .map_err(|mut e| errors.append(&mut e))
        .ok();

    let files = match definition_files(root) {
        Ok(files) => files,
        // The config error already says why (and how to create a repo).
        Err(_) if !errors.is_empty() => return Err(RepoError::Invalid(errors)),
        Err(e) => return Err(e),
    };
    let mut parsed = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| RepoError::Io {
            path: path.clone(),
            source,
        })?;
        if yaml::is_blank(&text) {
            continue;
        }
        match yaml::deserialize::<RawDefinitionsFile>(&path, &text) {
            Ok(raw) => parsed.push(ParsedFile { path, raw }),
            Err(e) => errors.push(e),
        }
    }

    let project = config
        .as_ref()
        .map(|c| c.project.as_str())
        .unwrap_or_default();
    match validate(project, &parsed) {
        Ok((spec, locations)) if errors.is_empty() => match config {
            Some(config) => Ok(Repo {
                root: root.to_path_buf(),
                config,
                spec,
                locations,
            }),
            None => Err(RepoError::Invalid(errors)),
        },
        Ok(_) => Err(RepoError::Invalid(errors)),
        Err(mut more) => {
            errors.append(&mut more);
            Err(RepoError::Invalid(errors))
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
