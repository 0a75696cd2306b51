//! Reads REGISTRY: a `feast registry-dump` JSON (a file or stdin) or a Feast
//! registry file, told apart by the first byte (a serialized `Registry`
//! never starts with `{`).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::model::FeastRegistry;
use super::{dump, proto};
use crate::error::{CliError, CliResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    RegistryDump,
    RegistryFile,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::RegistryDump => "registry dump",
            Format::RegistryFile => "registry file",
        }
    }
}

/// `-`: standard input.
fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

pub fn read(path: &Path, project: Option<&str>) -> CliResult<(FeastRegistry, Format)> {
    let shown = if is_stdin(path) {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    let bytes = if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::User(format!("cannot read standard input: {e}")))?;
        bytes
    } else {
        std::fs::read(path).map_err(|e| CliError::User(format!("cannot read {shown}: {e}")))?
    };
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(CliError::User(format!(
            "{shown} is empty; give the output of `feast registry-dump` or a Feast registry file (registry.db)"
        ))),
        Some(b'{') => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| CliError::User(format!("{shown} is not UTF-8 JSON: {e}")))?;
            let registry = dump::parse(text).map_err(|e| {
                CliError::User(format!(
                    "{shown} is not a `feast registry-dump` output: {e}"
                ))
            })?;
            if let Some(wanted) = project.filter(|p| *p != registry.project) {
                return Err(CliError::User(format!(
                    "{shown} dumps Feast project `{}`, not `{wanted}`",
                    registry.project
                )));
            }
            Ok((registry, Format::RegistryDump))
        }
        Some(_) => {
            let registry = proto::parse(&bytes, project).map_err(|e| {
                CliError::User(format!(
                    "{shown} is neither a `feast registry-dump` JSON nor a Feast registry file (registry.db): {e}"
                ))
            })?;
            Ok((registry, Format::RegistryFile))
        }
    }
}

/// Where Feast's relative file paths start when `--feast-repo` is not given:
/// the nearest directory holding feature_store.yaml at or above the
/// registry's directory (a registry.db usually lies in the repo's `data/`),
/// else the registry's directory (the working directory for stdin).
pub fn default_feast_repo(registry: &Path) -> CliResult<PathBuf> {
    let start = if is_stdin(registry) {
        absolute(Path::new("."))?
    } else {
        let file = absolute(registry)?;
        file.parent().map(Path::to_path_buf).unwrap_or(file)
    };
    let found = start
        .ancestors()
        .find(|dir| dir.join("feature_store.yaml").is_file());
    Ok(found.unwrap_or(&start).to_path_buf())
}

pub fn absolute(path: &Path) -> CliResult<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| CliError::User(format!("cannot resolve {}: {e}", path.display())))
}
