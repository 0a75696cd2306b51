//! The one reader of a repo's YAML files (`quiver.yaml` and every definitions
//! file): it refuses, naming the file and why, whatever it cannot read as text,
//! so that no file is ever skipped without a word (an `apply` would remove
//! what a skipped file defines).

use std::fs::FileType;
use std::io;
use std::path::Path;

use crate::error::{DefinitionError, Location};

/// Why a file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Nothing at that path (a dangling link is [`ReadError::Refused`]).
    Missing(io::Error),
    /// Something is there but it is not readable text.
    Refused(DefinitionError),
}

impl ReadError {
    /// The problem as a definition error at the file (the line where known).
    pub(crate) fn into_error(self, path: &Path) -> DefinitionError {
        match self {
            ReadError::Missing(e) => refused(path, format!("cannot read: {e}")),
            ReadError::Refused(e) => e,
        }
    }
}

/// The UTF-8 text of the regular file at `path`, without a leading byte order
/// mark (editors on Windows write one; it is no part of the YAML).
///
/// The file type is checked before opening: opening a FIFO would block until
/// some writer came.
pub(crate) fn read_text(path: &Path) -> Result<String, ReadError> {
    let link = std::fs::symlink_metadata(path).map_err(|e| classify(path, e))?;
    let metadata = if link.file_type().is_symlink() {
        match std::fs::metadata(path) {
            Ok(target) => target,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let target = std::fs::read_link(path)
                    .map(|t| format!(" (to {}, which does not exist)", t.display()))
                    .unwrap_or_default();
                return Err(ReadError::Refused(refused(
                    path,
                    format!("cannot read: a dangling symbolic link{target}"),
                )));
            }
            Err(e) => return Err(classify(path, e)),
        }
    } else {
        link
    };
    if !metadata.is_file() {
        return Err(ReadError::Refused(refused(
            path,
            format!(
                "cannot read: {}, not a regular file",
                describe(metadata.file_type())
            ),
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| classify(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| not_utf8(path, e.as_bytes(), &e))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

fn refused(path: &Path, message: String) -> DefinitionError {
    DefinitionError::new(Location::file_start(path), "", message)
}

fn classify(path: &Path, e: io::Error) -> ReadError {
    if e.kind() == io::ErrorKind::NotFound {
        ReadError::Missing(e)
    } else {
        ReadError::Refused(refused(path, format!("cannot read: {e}")))
    }
}

/// What a non-regular file is, for the message.
fn describe(kind: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// A refusal at the line and column of the first byte that is not UTF-8.
fn not_utf8(path: &Path, bytes: &[u8], error: &std::string::FromUtf8Error) -> ReadError {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return ReadError::Refused(refused(
            path,
            "cannot read: the file is UTF-16 text; save it as UTF-8".to_string(),
        ));
    }
    let valid = error.utf8_error().valid_up_to();
    // Everything before `valid` is UTF-8 by definition.
    let before = String::from_utf8_lossy(&bytes[..valid]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ReadError::Refused(DefinitionError::new(
        Location::new(path, line, column),
        "",
        format!(
            "cannot read: not UTF-8 text (byte 0x{:02x}); save the file as UTF-8",
            bytes[valid]
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(path: &Path) -> String {
        match read_text(path) {
            Ok(text) => panic!("read {}: {text:?}", path.display()),
            Err(e) => e.into_error(path).to_string(),
        }
    }

    #[test]
    fn strips_a_byte_order_mark() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "\u{feff}entities: []\n").expect("write");
        assert_eq!(read_text(&path).expect("text"), "entities: []\n");
    }

    #[test]
    fn refuses_what_is_not_a_readable_regular_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();

        std::fs::create_dir(root.join("dir.yaml")).expect("mkdir");
        let text = refusal(&root.join("dir.yaml"));
        assert!(
            text.contains("dir.yaml:1:1: cannot read: a directory"),
            "{text}"
        );

        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("gone.yaml"), root.join("link.yaml"))
                .expect("symlink");
            let text = refusal(&root.join("link.yaml"));
            assert!(
                text.contains("link.yaml:1:1: cannot read: a dangling symbolic link")
                    && text.contains("gone.yaml"),
                "{text}"
            );
        }

        #[cfg(unix)]
        {
            let fifo = root.join("fifo.yaml");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.expect("mkfifo runs").success());
            // Returns at once: the type is checked before the FIFO is opened.
            let text = refusal(&fifo);
            assert!(
                text.contains("a FIFO (named pipe), not a regular file"),
                "{text}"
            );
        }

        std::fs::write(root.join("latin1.yaml"), b"entities: []\n# caf\xe9\n").expect("write");
        let text = refusal(&root.join("latin1.yaml"));
        assert!(
            text.contains("latin1.yaml:2:6: cannot read: not UTF-8 text (byte 0xe9)"),
            "{text}"
        );

        std::fs::write(root.join("utf16.yaml"), b"\xff\xfee\x00").expect("write");
        assert!(refusal(&root.join("utf16.yaml")).contains("UTF-16"));

        assert!(matches!(
            read_text(&root.join("absent.yaml")),
            Err(ReadError::Missing(_))
        ));
    }
}
