//! Finding the Parquet files of a source: a file, a directory (with hive-style
//! `key=value` partition directories) or a glob.

use std::path::{Path, PathBuf};

use crate::error::OfflineError;

/// One data file and the partition values encoded in its directory names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetFile {
    pub path: PathBuf,
    pub partitions: Vec<(String, String)>,
}

/// The files of `pattern` (relative to `root`), sorted by path.
pub fn list_parquet_files(root: &Path, pattern: &str) -> Result<Vec<ParquetFile>, OfflineError> {
    let full = root.join(pattern);
    let mut files = if pattern.contains(['*', '?', '[']) {
        let text = full.to_string_lossy().into_owned();
        let paths = glob::glob(&text).map_err(|e| OfflineError::BadGlob {
            pattern: pattern.into(),
            message: e.to_string(),
        })?;
        let mut files = Vec::new();
        for entry in paths {
            let path = entry.map_err(|e| OfflineError::Io {
                path: e.path().to_path_buf(),
                source: e.into(),
            })?;
            if path.is_file() {
                files.push(ParquetFile {
                    partitions: partitions_between(&glob_base(&full), &path),
                    path,
                });
            }
        }
        files
    } else if full.is_dir() {
        let mut files = Vec::new();
        walk(&full, &full, &mut files)?;
        files
    } else if full.is_file() {
        vec![ParquetFile {
            path: full.clone(),
            partitions: vec![],
        }]
    } else {
        vec![]
    };
    if files.is_empty() {
        return Err(OfflineError::NoFiles(full.display().to_string()));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<ParquetFile>) -> Result<(), OfflineError> {
    let io = |source| OfflineError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Hidden and underscore files are writers' temporaries and markers (_SUCCESS).
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if path.is_dir() {
            walk(base, &path, out)?;
        } else if name.ends_with(".parquet") {
            out.push(ParquetFile {
                partitions: partitions_between(base, &path),
                path,
            });
        }
    }
    Ok(())
}

/// The directory part of a glob before its first wildcard.
fn glob_base(pattern: &Path) -> PathBuf {
    pattern
        .ancestors()
        .find(|p| !p.to_string_lossy().contains(['*', '?', '[']))
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

/// `key=value` directory names between `base` and the file.
fn partitions_between(base: &Path, file: &Path) -> Vec<(String, String)> {
    let relative = file.strip_prefix(base).unwrap_or(file);
    relative
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
        .filter_map(|c| {
            c.as_os_str()
                .to_str()?
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn file_directory_partitions_and_glob() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("single.parquet"));
        touch(&root.join("events/date=2024-01-01/region=eu/part-0.parquet"));
        touch(&root.join("events/date=2024-01-02/region=us/part-0.parquet"));
        touch(&root.join("events/_SUCCESS"));
        touch(&root.join("events/date=2024-01-02/.part-1.parquet.tmp"));

        assert_eq!(list_parquet_files(root, "single.parquet").unwrap().len(), 1);
        let files = list_parquet_files(root, "events").unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0].partitions,
            vec![
                ("date".into(), "2024-01-01".into()),
                ("region".into(), "eu".into())
            ]
        );
        let globbed = list_parquet_files(root, "events/date=*/region=us/*.parquet").unwrap();
        assert_eq!(globbed.len(), 1);
        assert_eq!(globbed[0].partitions[1], ("region".into(), "us".into()));
        assert!(matches!(
            list_parquet_files(root, "missing.parquet"),
            Err(OfflineError::NoFiles(_))
        ));
    }
}
