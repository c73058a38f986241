//! The fuzz targets' checks (fuzz/checks.rs) on every committed corpus entry in
//! fuzz/regressions/<target>/: inputs the fuzzers found interesting, replayed by `cargo test`
//! without the fuzzer.

#[allow(dead_code)]
#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "no corpus entries in {}", dir.display());
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            std::panic::resume_unwind(Box::new(format!("{}: {panic:?}", path.display())));
        }
    }
}

#[test]
fn idx_bytes() {
    replay("idx_bytes", checks::idx_bytes);
}

#[test]
fn idx_gzipped() {
    replay("idx_gzipped", checks::idx_gzipped);
}

#[test]
fn dataset_pair() {
    replay("dataset_pair", checks::dataset_pair);
}

#[test]
fn model_json() {
    replay("model_json", checks::model_json);
}

#[test]
fn csv_table() {
    replay("csv_table", checks::csv_table);
}

#[test]
fn npy_bytes() {
    replay("npy_bytes", checks::npy_bytes);
}

#[test]
fn network_file() {
    replay("network_file", checks::network_file);
}
