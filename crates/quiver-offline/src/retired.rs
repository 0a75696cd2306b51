//! Which files of a view are data (`VIEW/.retired`): the one record that
//! makes a writer's change visible at once.
//!
//! - **Retired** files were replaced by others (merged into one file, or
//!   trimmed or replaced by a materialization window). Hidden from listings
//!   at once, deleted only after a grace period, so a query that listed them
//!   just before can still read them.
//! - **Pending** files are published under their final name but not yet
//!   data: a writer names them here before renaming them into place, then
//!   replaces the record in one rename that turns them into data and retires
//!   what they replace. A writer killed in between leaves them pending; the
//!   next writer removes them (roll back), so a crash leaves the old data,
//!   never both.
//!
//! Only a holder of the view's lock changes the record (atomically: a new
//! copy renamed over it); readers read it without a lock.
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

/// How long a retired file stays on disk: far longer than any query takes
/// between listing its files and opening them.
pub const GRACE: Duration = Duration::from_secs(10 * 60);

const FILE: &str = ".retired";

/// Marks a pending file's line (a retired file's line starts with its time).
const PENDING: &str = "pending";

/// The record of one view: retired files (`UNIX_SECONDS PATH`) and pending
/// ones (`pending PATH`), the paths resolved against the view's directory.
#[derive(Debug, Default)]
pub struct Retired {
    retired: Vec<(u64, PathBuf)>,
    pending: Vec<PathBuf>,
    hidden: HashSet<PathBuf>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Retired {
    pub fn read(view_dir: &Path) -> Result<Self> {
        Ok(Self::parse(view_dir, &Self::text(view_dir)?))
    }

    /// The record as stored ("" when there is none).
    pub fn text(view_dir: &Path) -> Result<String> {
        let path = view_dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(OfflineError::Io { path, source }),
        }
    }

    pub fn parse(view_dir: &Path, text: &str) -> Self {
        let mut record = Retired::default();
        for line in text.lines() {
            let Some((first, file)) = line.split_once(' ') else {
                continue;
            };
            let file = resolve(view_dir, file);
            if first == PENDING {
                record.pending.push(file.clone());
            } else if let Ok(secs) = first.parse() {
                record.retired.push((secs, file.clone()));
            } else {
                continue;
            }
            record.hidden.insert(file);
        }
        record
    }

    /// True when `path` is no data: retired, or pending.
    pub fn contains(&self, path: &Path) -> bool {
        self.hidden.contains(path)
    }

    /// Names `files` pending, before they are renamed into place.
    pub fn begin(view_dir: &Path, files: &[PathBuf]) -> Result<()> {
        let mut record = Self::read(view_dir)?;
        record.pending.extend(files.iter().cloned());
        record.store(view_dir)
    }

    /// Makes the pending `files` data and retires `replaced`, in one step.
    pub fn commit(view_dir: &Path, files: &[PathBuf], replaced: &[PathBuf]) -> Result<()> {
        let mut record = Self::read(view_dir)?;
        record.pending.retain(|p| !files.contains(p));
        let now = now_secs();
        record
            .retired
            .extend(replaced.iter().map(|p| (now, p.clone())));
        record.store(view_dir)
    }

    /// Before a writer changes anything: removes what a killed writer left
    /// pending, and deletes the files retired longer than `grace` ago.
    pub fn tidy(view_dir: &Path, grace: Duration) -> Result<()> {
        let mut record = Self::read(view_dir)?;
        let cutoff = now_secs().saturating_sub(grace.as_secs());
        let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut record.retired)
            .into_iter()
            .partition(|(secs, _)| *secs <= cutoff);
        if old.is_empty() && record.pending.is_empty() {
            record.retired = keep;
            return Ok(());
        }
        let abandoned = std::mem::take(&mut record.pending);
        if !abandoned.is_empty() {
            tracing::warn!(view_dir = %view_dir.display(), files = abandoned.len(), "removing files a killed writer left unpublished");
        }
        for file in abandoned.iter().chain(old.iter().map(|(_, f)| f)) {
            match std::fs::remove_file(file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(write_error(file, e)),
            }
        }
        record.retired = keep;
        record.store(view_dir)
    }

    /// Replaces the stored record with this one (a synced copy renamed over it).
    fn store(&self, view_dir: &Path) -> Result<()> {
        let mut text = String::new();
        for (secs, file) in &self.retired {
            text.push_str(&format!("{secs} {}\n", relative(view_dir, file).display()));
        }
        for file in &self.pending {
            text.push_str(&format!(
                "{PENDING} {}\n",
                relative(view_dir, file).display()
            ));
        }
        std::fs::create_dir_all(view_dir).map_err(|e| write_error(view_dir, e))?;
        let path = view_dir.join(FILE);
        let temp = view_dir.join(format!("{FILE}.{}.tmp", std::process::id()));
        let mut out = std::fs::File::create(&temp).map_err(|e| write_error(&temp, e))?;
        out.write_all(text.as_bytes())
            .and_then(|()| out.sync_all())
            .map_err(|e| write_error(&temp, e))?;
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
        Retired::commit(&view_dir, &[], std::slice::from_ref(&file)).expect("commit");
        let text = std::fs::read_to_string(view_dir.join(FILE)).expect("read");
        assert!(text.ends_with(" date=2024-01-01/p_1.parquet\n"), "{text}");
        assert!(!text.contains(PENDING), "{text}");
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

#[cfg(test)]
mod protocol_tests {
    use super::*;

    #[test]
    fn a_commit_makes_pending_files_data_and_a_tidy_rolls_back_what_was_left_pending() {
        let dir = tempfile::tempdir().expect("tempdir");
        let view_dir = dir.path().join("v");
        let day = view_dir.join("date=2024-01-01");
        std::fs::create_dir_all(&day).expect("mkdir");
        let (old, new, orphan) = (
            day.join("a.parquet"),
            day.join("b.parquet"),
            day.join("c.parquet"),
        );
        for file in [&old, &new, &orphan] {
            std::fs::write(file, b"x").expect("write");
        }
        Retired::begin(&view_dir, std::slice::from_ref(&new)).expect("begin");
        let during = Retired::read(&view_dir).expect("read");
        assert!(during.contains(&new) && !during.contains(&old));
        Retired::commit(
            &view_dir,
            std::slice::from_ref(&new),
            std::slice::from_ref(&old),
        )
        .expect("commit");
        let after = Retired::read(&view_dir).expect("read");
        assert!(!after.contains(&new) && after.contains(&old));

        // A writer killed after naming its file pending: the next one removes it.
        Retired::begin(&view_dir, std::slice::from_ref(&orphan)).expect("begin");
        Retired::tidy(&view_dir, GRACE).expect("tidy");
        assert!(!orphan.exists());
        assert!(old.exists(), "retired files stay for the grace period");
        let tidied = Retired::read(&view_dir).expect("read");
        assert!(!tidied.contains(&orphan) && tidied.contains(&old));
        Retired::tidy(&view_dir, Duration::ZERO).expect("tidy");
        assert!(!old.exists() && new.exists());
    }
}
