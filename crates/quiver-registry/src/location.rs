//! Registry URLs: `sqlite://PATH` (relative to the repo), `sqlite::memory:`, `postgres://...`.

use std::path::Path;

use quiver_core::redact_url as redact;

use crate::error::RegistryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A registry URL resolved for connecting, plus a form safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryLocation {
    pub backend: Backend,
    pub connect_url: String,
    pub display: String,
}

impl RegistryLocation {
    /// Resolves `url` from `quiver.yaml`; relative SQLite paths are taken from `base_dir`
    /// and their parent directory is created.
    pub fn resolve(url: &str, base_dir: &Path) -> Result<Self, RegistryError> {
        if url == "sqlite::memory:" {
            return Ok(Self {
                backend: Backend::Sqlite,
                connect_url: url.into(),
                display: url.into(),
            });
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let (path, query) = path.split_once('?').unwrap_or((path, ""));
            if path.is_empty() {
                return Err(RegistryError::InvalidUrl(url.into()));
            }
            let path = base_dir.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| RegistryError::Unavailable {
                    url: path.display().to_string(),
                    source: sqlx::Error::Io(e),
                })?;
            }
            let query = if query.is_empty() {
                "mode=rwc".to_string()
            } else {
                query.to_string()
            };
            return Ok(Self {
                backend: Backend::Sqlite,
                connect_url: format!("sqlite://{}?{query}", path.display()),
                display: format!("sqlite://{}", path.display()),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                connect_url: url.into(),
                display: redact(url),
            });
        }
        Err(RegistryError::InvalidUrl(redact(url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_sqlite_paths_against_the_repo() {
        let dir = tempfile::tempdir().unwrap();
        let location =
            RegistryLocation::resolve("sqlite://.quiver/registry.db", dir.path()).unwrap();
        assert_eq!(location.backend, Backend::Sqlite);
        assert!(
            location
                .connect_url
                .ends_with(".quiver/registry.db?mode=rwc")
        );
        assert!(dir.path().join(".quiver").is_dir());
    }

    #[test]
    fn postgres_urls_are_redacted_for_display() {
        let location =
            RegistryLocation::resolve("postgres://quiver:s3cret@db:5432/reg", Path::new("."))
                .unwrap();
        assert_eq!(location.backend, Backend::Postgres);
        assert_eq!(location.display, "postgres://quiver:***@db:5432/reg");
        assert!(
            !format!(
                "{:?}",
                RegistryLocation::resolve("mysql://u:pw@h/d", Path::new(".")).unwrap_err()
            )
            .contains("pw")
        );
    }
}
