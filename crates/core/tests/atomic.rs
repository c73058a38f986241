//! The atomic writer over what may already be at the path: links are followed, permission
//! bits kept, and directories, FIFOs and other special files refused, never replaced.
#![cfg(unix)]

use std::{
    fs,
    os::unix::fs::{FileTypeExt, PermissionsExt, symlink},
    path::Path,
    process::Command,
};

use batchprop::{check_writable, write_atomically};
use tempfile::TempDir;

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success());
}

fn only_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_symbolic_link_is_followed_and_stays_a_link() {
    let dir = TempDir::new().unwrap();
    let target = dir.path().join("real.json");
    let link = dir.path().join("link.json");
    fs::write(&target, b"old").unwrap();
    symlink("real.json", &link).unwrap(); // relative, as `ln -s` makes them
    write_atomically(&link, b"new").unwrap();
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(&target).unwrap(), b"new");

    // A chain of links, and a dangling one, which creates its target.
    let chain = dir.path().join("chain.json");
    symlink(&link, &chain).unwrap();
    write_atomically(&chain, b"newer").unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"newer");
    let dangling = dir.path().join("dangling.json");
    symlink("made.json", &dangling).unwrap();
    write_atomically(&dangling, b"made").unwrap();
    assert_eq!(fs::read(dir.path().join("made.json")).unwrap(), b"made");
    assert!(fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());

    // A loop is an error, not a hang.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    symlink(&b, &a).unwrap();
    symlink(&a, &b).unwrap();
    let err = write_atomically(&a, b"x").unwrap_err().to_string();
    assert!(err.contains("symbolic links in a row"), "{err}");
}

#[test]
fn the_replaced_files_permission_bits_are_kept() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("secret.json");
    fs::write(&path, b"old").unwrap();
    for mode in [0o600, 0o640, 0o444] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, mode);
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}

#[test]
fn special_files_and_directories_are_refused_and_left_alone() {
    let dir = TempDir::new().unwrap();
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    let err = write_atomically(&fifo, b"x").unwrap_err().to_string();
    assert!(err.contains("is a FIFO (named pipe)") && err.contains("pipe"), "{err}");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // Through a link, the message says where the link leads.
    let link = dir.path().join("to-pipe");
    symlink(&fifo, &link).unwrap();
    let err = write_atomically(&link, b"x").unwrap_err().to_string();
    assert!(err.contains("the link leads to"), "{err}");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    let sub = dir.path().join("models");
    fs::create_dir(&sub).unwrap();
    let err = write_atomically(&sub, b"x").unwrap_err().to_string();
    assert!(err.contains("is a directory"), "{err}");
    assert!(sub.is_dir());

    // Character devices: /dev/null is one on every Unix; it is only looked at.
    let err = check_writable("/dev/null").unwrap_err().to_string();
    assert!(err.contains("is a character device"), "{err}");
    assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());

    // Nothing else was created.
    assert_eq!(only_entries(dir.path()), ["models", "pipe", "to-pipe"]);
}

#[test]
fn check_writable_foresees_what_a_save_would_meet() {
    let dir = TempDir::new().unwrap();
    let ok = dir.path().join("net.json");
    assert_eq!(check_writable(&ok).unwrap(), ok);
    assert!(only_entries(dir.path()).is_empty(), "the trial file is removed");

    let missing = dir.path().join("no/such/dir/net.json");
    let err = check_writable(&missing).unwrap_err().to_string();
    assert!(
        err.contains("no/such/dir/net.json") && err.contains("no/such/dir does not exist"),
        "{err}"
    );

    // A read-only directory (unless this runs as root, whom permissions do not stop).
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let result = check_writable(ro.join("net.json"));
    let root = fs::write(ro.join("probe"), b"").is_ok();
    if !root {
        let err = result.unwrap_err().to_string();
        assert!(err.contains("Permission denied"), "{err}");
    }
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}
