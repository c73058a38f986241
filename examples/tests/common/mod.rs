//! What the binaries' tests share: finding the built examples, running them as a user does,
//! and checking their one-line errors.

#![allow(dead_code)] // each test file uses its own part

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

pub fn example(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("the test binary's path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(path.exists(), "{} is not built", path.display());
    path
}

pub fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .env_remove("MNIST_DIR")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the example runs")
}

pub fn mnist_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/mnist")
        .display()
        .to_string()
}

/// Fails unless `out` exited with `code` and printed one line to stderr, without a panic,
/// containing every one of `words`.
pub fn one_line_error(out: &Output, code: i32, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("Training ")).collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    for w in words {
        assert!(lines[0].contains(w), "{stderr:?} does not say {w:?}");
    }
}
