//! The one way every batchprop file is saved: atomically, over regular files only.
//!
//! [`write_atomically`] writes into a new temporary file in the target's directory, flushes
//! it to disk (`fsync`), gives it the replaced file's permission bits (and, where the process
//! may, its owner), and renames it over the target. On POSIX file systems the rename is
//! atomic: a reader, or a crash, sees the old contents or the new, never a mixture, and a
//! failed save leaves the old file and no temporary behind.
//!
//! What the target may be:
//!
//! - absent: it is created (with the permissions the process's umask gives new files);
//! - a regular file: it is replaced, keeping its permission bits;
//! - a symbolic link: it is followed (through every link in a chain) and the file it points
//!   to is saved, so the link stays a link; a dangling link creates its target;
//! - anything else (a directory, a FIFO, a device, a socket): refused with an error, never
//!   replaced. `--save /dev/null` as root does not replace the system's `/dev/null`.
//!
//! A file with several hard links is replaced by a new file under this one name only (the
//! other names keep the old contents): the price of atomicity, as with every editor that
//! saves by renaming.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use crate::{Error, Result};

/// The most symbolic links followed before a path counts as a loop (Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Distinguishes the temporary files of concurrent saves within one process.
static SAVES: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically (see the module documentation for what `path` may
/// be). The error names the path and the operating system's reason.
pub fn write_atomically(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path.as_ref(), bytes, |_| Ok(()))
}

/// Checks, before a long computation whose result will be saved to `path`, that the save can
/// succeed: `path` is (or links to) a regular file or nothing, its directory exists, and a
/// file can be created there (a trial file is created and removed). Returns the file a save
/// will write (`path` with its symbolic links followed).
///
/// A disk that fills up later is not foreseen; the caller keeps the result until the save
/// has succeeded.
pub fn check_writable(path: impl AsRef<Path>) -> Result<PathBuf> {
    let path = path.as_ref();
    let target = save_target(path)?;
    let dir = directory(&target);
    if !dir.is_dir() {
        return Err(Error::io(
            path,
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("the directory {} does not exist", dir.display()),
            ),
        ));
    }
    let (tmp, file) = create_temporary(&target).map_err(|e| Error::io(path, e))?;
    drop(file);
    fs::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
    Ok(target)
}

/// The file a save to `path` writes: `path`, or the end of the chain of symbolic links at
/// `path`; an error if that is neither a regular file nor absent.
pub fn save_target(path: impl AsRef<Path>) -> Result<PathBuf> {
    let path = path.as_ref();
    let mut target = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match fs::symlink_metadata(&target) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(target),
            Err(e) => return Err(Error::io(path, e)),
        };
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(target);
        }
        if !kind.is_symlink() {
            let what = describe(&kind);
            let through = if target == path {
                String::new()
            } else {
                format!(" (the link leads to {})", target.display())
            };
            return Err(Error::io(
                path,
                io::Error::other(format!(
                    "is {what}{through}: only a regular file is replaced by a save; name a file instead"
                )),
            ));
        }
        let link = fs::read_link(&target).map_err(|e| Error::io(&target, e))?;
        target = match target.parent() {
            Some(dir) if link.is_relative() => dir.join(link),
            _ => link,
        };
    }
    Err(Error::io(
        path,
        io::Error::other(format!("more than {MAX_LINKS} symbolic links in a row (a loop?)")),
    ))
}

/// What a non-regular, non-link file is, for a message.
fn describe(kind: &fs::FileType) -> &'static str {
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// The directory `path` is in (`.` for a bare file name).
fn directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new, empty temporary file beside `target`, never one that already exists.
fn create_temporary(target: &Path) -> io::Result<(PathBuf, File)> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::other("not a file name"))?
        .to_string_lossy();
    let dir = directory(target);
    loop {
        let n = SAVES.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// [`write_atomically`] with a hook run between writing the temporary file and the rename
/// (the tests use it to simulate a crash or a full disk there).
pub(crate) fn write_atomically_with(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> Result<()> {
    let target = save_target(path)?;
    let old = fs::metadata(&target).ok();
    let (tmp, file) = create_temporary(&target).map_err(|e| Error::io(path, e))?;
    let result = (|| {
        let mut file = io::BufWriter::new(file);
        file.write_all(bytes)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        if let Some(old) = &old {
            keep_owner_and_mode(&file, old)?;
        }
        file.sync_all()?;
        before_rename(&tmp)?;
        fs::rename(&tmp, &target)?;
        // Make the rename itself durable (best effort: not every platform can open a directory).
        if let Ok(d) = File::open(directory(&target)) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| Error::io(path, e))
}

/// Gives the new file the replaced one's permission bits, and its owner where the process
/// may change it (as root; otherwise the owner stays the saver, as with any new file).
fn keep_owner_and_mode(file: &File, old: &fs::Metadata) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid()));
    }
    file.set_permissions(old.permissions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_before_the_rename_leaves_the_previous_file_intact() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("model.json");
        write_atomically(&path, b"previous").unwrap();
        for fault in ["power cut", "No space left on device"] {
            let err = write_atomically_with(&path, b"new, half-written", |_| Err(io::Error::other(fault))).unwrap_err();
            assert!(err.to_string().contains(fault), "{err}");
            assert_eq!(fs::read(&path).unwrap(), b"previous");
            // No temporary file is left behind.
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }
}
