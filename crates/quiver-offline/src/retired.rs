//! Files merged into another (`VIEW/.retired`): hidden from listings at once,
//! deleted only after a grace period, so a query that listed them just before
//! the merge can still read them.

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

/// The retired files of one view: one line each, `UNIX_SECONDS PATH`.
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
                Some((secs.parse().ok()?, PathBuf::from(file)))
            })
            .collect();
        let paths = entries.iter().map(|(_, p)| p.clone()).collect();
        Ok(Retired { entries, paths })
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.paths.contains(path)
    }

    /// Retires `files` now (appended: one short write per file).
    pub fn add(view_dir: &Path, files: &[&Path]) -> Result<()> {
        let path = view_dir.join(FILE);
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| write_error(&path, e))?;
        let now = now_secs();
        let mut text = String::new();
        for file in files {
            text.push_str(&format!("{now} {}\n", file.display()));
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
            .map(|(secs, file)| format!("{secs} {}\n", file.display()))
            .collect();
        std::fs::write(&temp, text).map_err(|e| write_error(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| write_error(&path, e))
    }
}
