//! Files replaced by others (`VIEW/.retired`): merged into one file, or
//! trimmed or replaced by a materialization window. Hidden from listings at
//! once, deleted only after a grace period, so a query that listed them just
//! before can still read them.
//!
//! Paths are kept relative to the view's directory (`date=D/FILE`), so every
//! process reads them the same whatever its working directory and however it
//! names the store's root.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{OfflineError, Result};
use crate::store::write_error;

/// How long a merged-away file stays on disk (far longer than any query takes
/// between listing its files and opening them).
pub const GRACE: Duration = Duration::from_secs(60);

const FILE: &str = ".retired";

/// The retired files of one view: one line each, `UNIX_SECONDS PATH`, the
/// paths resolved against the view's directory.
pub struct Retired {
    entries: Vec<(u64, PathBuf)>,
    paths: HashSet<PathBuf>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Retired {
    pub fn read(view_dir: &Path) -> Result<Self> {
        let path = view_dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(OfflineError::Io { path, source }),
        };
        let entries: Vec<(u64, PathBuf)> = text
            .lines()
            .filter_map(|line| {
                let (secs, file) = line.split_once(' ')?;
                Some((secs.parse().ok()?, resolve(view_dir, file)))
            })
            .collect();
        let paths = entries.iter().map(|(_, p)| p.clone()).collect();
        Ok(Retired { entries, paths })
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.paths.contains(path)
    }

    /// Retires `files` now (appended: one short write).
    pub fn add(view_dir: &Path, files: &[&Path]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let path = view_dir.join(FILE);
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| write_error(&path, e))?;
        let now = now_secs();
        let mut text = String::new();
        for file in files {
            text.push_str(&format!("{now} {}\n", relative(view_dir, file).display()));
        }
        out.write_all(text.as_bytes())
            .map_err(|e| write_error(&path, e))?;
        out.sync_all().map_err(|e| write_error(&path, e))
    }

    /// Deletes the files retired longer than `grace` ago and forgets them.
    pub fn purge(view_dir: &Path, grace: Duration) -> Result<()> {
        let retired = Self::read(view_dir)?;
        let cutoff = now_secs().saturating_sub(grace.as_secs());
        let (old, keep): (Vec<_>, Vec<_>) = retired
            .entries
            .into_iter()
            .partition(|(secs, _)| *secs <= cutoff);
        if old.is_empty() {
            return Ok(());
        }
        for (_, file) in &old {
            match std::fs::remove_file(file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(write_error(file, e)),
            }
        }
        let path = view_dir.join(FILE);
        let temp = view_dir.join(format!("{FILE}.{}.tmp", std::process::id()));
        let text: String = keep
            .iter()
            .map(|(secs, file)| format!("{secs} {}\n", relative(view_dir, file).display()))
            .collect();
        std::fs::write(&temp, text).map_err(|e| write_error(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| write_error(&path, e))
    }
}

/// `file` relative to `view_dir` (files of the view always are).
fn relative<'a>(view_dir: &Path, file: &'a Path) -> &'a Path {
    file.strip_prefix(view_dir).unwrap_or(file)
}

/// A recorded path as a path to open: the part from its `date=D` directory
/// on lies in `view_dir`. Lines written before paths were relative (absolute,
/// or relative to their writer's working directory) hold the same part.
fn resolve(view_dir: &Path, recorded: &str) -> PathBuf {
    let path = Path::new(recorded);
    let components: Vec<_> = path.components().collect();
    let day = components.iter().rposition(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|name| name.starts_with("date="))
    });
    match day {
        Some(i) => components[i..]
            .iter()
            .fold(view_dir.to_path_buf(), |p, c| p.join(c)),
        None => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_kept_relative_to_the_view_and_read_back_from_anywhere() {
        let dir = tempfile::tempdir().expect("tempdir");
        let view_dir = dir.path().join("v");
        std::fs::create_dir_all(view_dir.join("date=2024-01-01")).expect("mkdir");
        let file = view_dir.join("date=2024-01-01/p_1.parquet");
        Retired::add(&view_dir, &[&file]).expect("add");
        let text = std::fs::read_to_string(view_dir.join(FILE)).expect("read");
        assert!(text.ends_with(" date=2024-01-01/p_1.parquet\n"), "{text}");
        // Another process naming the same view through another path.
        let other = dir.path().join(".").join("v");
        let retired = Retired::read(&other).expect("read");
        assert!(retired.contains(&other.join("date=2024-01-01/p_1.parquet")));
        // Lines of older versions, relative to their writer's directory.
        assert_eq!(
            resolve(&other, "repo/.quiver/offline/v/date=x/f.parquet"),
            other.join("date=x/f.parquet")
        );
    }
}
