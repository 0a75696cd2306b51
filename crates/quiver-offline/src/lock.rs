//! One writer at a time per view: what replaces or merges a view's files
//! (a materialization window, a merge of streamed files) holds `VIEW/.lock`.
//!
//! The lock is the operating system's advisory lock on that file (`flock`),
//! so it holds between processes of one host and, on a shared file system
//! that supports locks (NFS through its lock manager), between hosts; the
//! kernel releases it when its holder dies, so a killed writer never leaves
//! it behind. Two holders inside one process exclude each other too (each
//! opens the file anew). Appends of streamed rows add new files only and take
//! no lock: a writer holding it never touches a file it did not list.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Result;
use crate::store::write_error;

const LOCK_FILE: &str = ".lock";

/// How often a waiting writer tries again (the lock is held for a whole
/// window's write, seconds to minutes, so polling costs nothing).
const RETRY_EVERY: Duration = Duration::from_millis(25);

/// Held while one writer changes a view's files; released when dropped.
#[derive(Debug)]
pub struct ViewLock {
    // Closing the file releases the lock.
    _file: File,
}

impl ViewLock {
    /// Waits for `view_dir`'s lock without blocking the async runtime.
    pub async fn acquire(view_dir: &Path) -> Result<Self> {
        let file = open(view_dir)?;
        let path = view_dir.join(LOCK_FILE);
        let mut waited = false;
        loop {
            match try_lock(&file, &path)? {
                true => return Ok(Self { _file: file }),
                false if !waited => {
                    waited = true;
                    tracing::info!(view_dir = %view_dir.display(), "waiting for another writer of this view");
                }
                false => {}
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }

    /// `view_dir`'s lock if nobody holds it now (for work that can as well
    /// be done later, like merging small files).
    pub fn try_acquire(view_dir: &Path) -> Result<Option<Self>> {
        let file = open(view_dir)?;
        Ok(try_lock(&file, &view_dir.join(LOCK_FILE))?.then_some(Self { _file: file }))
    }
}

fn open(view_dir: &Path) -> Result<File> {
    std::fs::create_dir_all(view_dir).map_err(|e| write_error(view_dir, e))?;
    let path: PathBuf = view_dir.join(LOCK_FILE);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| write_error(&path, e))
}

/// True when the lock was taken, false when another holder has it.
fn try_lock(file: &File, path: &Path) -> Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(write_error(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_writer_waits_until_the_first_is_done() {
        let dir = tempfile::tempdir().expect("tempdir");
        let view = dir.path().join("v");
        let first = ViewLock::acquire(&view).await.expect("first");
        let waiting = {
            let view = view.clone();
            tokio::spawn(async move { ViewLock::acquire(&view).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "the second writer waits");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the second writer gets the lock once the first lets go")
            .expect("task")
            .expect("lock");
        assert!(ViewLock::try_acquire(&view).expect("try").is_none());
        drop(second);
        assert!(ViewLock::try_acquire(&view).expect("try").is_some());
    }
}
