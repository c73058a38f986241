//! The properties the fuzz targets check, one function per target. The same file is compiled
//! into `crates/data/tests/fuzz_regressions.rs`, which replays the committed corpus entries in
//! `fuzz/regressions/<target>/` under `cargo test`.
//!
//! Every input must give `Ok` or `Err`: a panic, a hang or an allocation beyond what the input
//! justifies (libFuzzer's `-malloc_limit_mb`) is a bug.

use std::{io::Write, path::Path};

use batchprop::Network;
use batchprop_data::{CsvOptions, Dataset, Idx, NpyArray, Table, Target, parse_idx};

/// Checks what a successfully decoded file must satisfy.
fn decoded(idx: &Idx) {
    assert_eq!(idx.len(), idx.dims.iter().product::<usize>());
    assert!(!idx.dims.is_empty() && idx.dims.len() <= 255);
    // Encoding and decoding again gives the same bytes (bytes, so that NaN compares equal).
    let bytes = idx.to_bytes();
    let again = parse_idx(&bytes, "re-encoded").expect("a re-encoded file decodes");
    assert_eq!(again.to_bytes(), bytes);
}

/// Arbitrary bytes as an IDX file, gzipped or not.
pub fn idx_bytes(data: &[u8]) {
    if let Ok(idx) = parse_idx(data, "fuzz") {
        decoded(&idx);
    }
}

/// Arbitrary bytes, gzipped, as an IDX file: whatever the plain bytes decode to, the gzipped
/// bytes decode to the same (and fail when they fail).
pub fn idx_gzipped(data: &[u8]) {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("writing to memory");
    let gz = encoder.finish().expect("writing to memory");
    let plain = parse_idx(data, "plain");
    let zipped = parse_idx(&gz, "zipped");
    // Bytes that start like gzip are gunzipped by the plain path too; nothing to compare.
    if data.starts_with(&[0x1f, 0x8b]) {
        return;
    }
    match (plain, zipped) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.to_bytes(), b.to_bytes());
            decoded(&a);
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("plain {:?} but gzipped {:?}", a.map(|i| i.dims), b.map(|i| i.dims)),
    }
}

/// Arbitrary bytes as an image file and a label file: the first byte says where to split.
pub fn dataset_pair(data: &[u8]) {
    let Some((&cut, rest)) = data.split_first() else { return };
    let cut = usize::from(cut).min(rest.len());
    let (images, labels) = rest.split_at(rest.len() - cut);
    let (Ok(images), Ok(labels)) = (parse_idx(images, "images"), parse_idx(labels, "labels")) else {
        return;
    };
    if let Ok(set) = Dataset::<f32>::from_idx((&images, Path::new("images")), (&labels, Path::new("labels")), 10) {
        assert_eq!(set.len(), images.dims[0]);
        assert_eq!(set.x().dim(), (set.input_size(), set.len()));
        assert!(set.labels().iter().all(|&l| l < 10));
        assert!(set.images().iter().all(|v| v.is_finite()));
    }
}

/// Arbitrary text as a saved network: if it loads, saving and loading it again gives the same
/// network.
pub fn model_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(net) = Network::<f64>::from_json(text) {
        let again = Network::<f64>::from_json(&net.to_json().expect("a loaded network saves")).expect("and loads");
        assert_eq!(again.weights(), net.weights());
        assert_eq!(again.biases(), net.biases());
        assert_eq!(again.sizes(), net.sizes());
    }
    let _ = Network::<f32>::from_json(text);
}

/// Arbitrary bytes as a network file from elsewhere: the first byte chooses the reader
/// (safetensors or .npz) and whether the caller gives activations (else the file must say
/// them). If it loads, it saves in the same format and loads back to the same network.
pub fn network_file(data: &[u8]) {
    use batchprop::{Activation, Assumed};
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let assumed = if choice & 2 == 0 {
        Assumed::default()
    } else {
        Assumed {
            hidden: Some(Activation::Relu),
            output: Some(Activation::Identity),
            ..Assumed::default()
        }
    };
    let npz = choice & 1 == 1;
    let opened = if npz {
        Network::<f64>::from_npz::<serde_json::Value>(rest, &assumed)
    } else {
        Network::<f64>::from_safetensors::<serde_json::Value>(rest, &assumed)
    };
    let Ok(opened) = opened else { return };
    let net = &opened.network;
    let training = opened.training.as_ref();
    let saved = if npz {
        net.to_npz(&opened.metadata, training)
    } else {
        net.to_safetensors(&opened.metadata, training)
    };
    // Metadata keys of batchprop's own may come in a foreign file's header: saving refuses them.
    let Ok(saved) = saved else { return };
    let again = if npz {
        Network::<f64>::from_npz::<serde_json::Value>(&saved, &Assumed::default())
    } else {
        Network::<f64>::from_safetensors::<serde_json::Value>(&saved, &Assumed::default())
    }
    .expect("a saved network loads");
    assert_eq!(again.network.weights(), net.weights());
    assert_eq!(again.network.biases(), net.biases());
    assert_eq!(again.metadata, opened.metadata);
}

/// The bound the table targets read under: 64 MB, libFuzzer's `-malloc_limit_mb` in the runs.
const FUZZ_MAX_BYTES: u64 = 1 << 26;

/// What a table that loads must satisfy.
fn table_ok<F: batchprop_data::Float>(t: &Table<F>) {
    assert!(!t.is_empty());
    assert_eq!(t.x().dim(), (t.feature_names().len(), t.len()));
    assert!(t.features().iter().all(|v| v.is_finite()));
    assert_eq!(t.target().len(), t.len());
    if let Target::Classes { labels, names } = t.target() {
        assert!(names.len() >= 2);
        assert!(labels.iter().all(|&l| (l as usize) < names.len()));
    }
}

/// Arbitrary bytes as a CSV file (the first byte chooses: header or not, the target column).
pub fn csv_table(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let options = CsvOptions {
        header: choice & 1 == 0,
        target: (choice & 2 != 0).then(|| batchprop_data::Column::Index(usize::from(choice >> 4))),
        max_bytes: FUZZ_MAX_BYTES,
        ..CsvOptions::default()
    };
    if let Ok(t) = Table::<f64>::from_csv_reader(Path::new("fuzz.csv"), rest, &options) {
        table_ok(&t);
    }
    if let Ok(t) = Table::<f32>::from_csv_reader(Path::new("fuzz.csv"), rest, &options) {
        table_ok(&t);
    }
}

/// Arbitrary bytes as a `.npy` file, and as an `.npz` archive.
pub fn npy_bytes(data: &[u8]) {
    if let Ok(a) = NpyArray::parse(data, "fuzz.npy", FUZZ_MAX_BYTES) {
        assert_eq!(a.values.len(), a.shape.iter().product::<usize>());
    }
    let _ = NpyArray::npz_from(
        std::io::Cursor::new(data),
        Path::new("fuzz.npz"),
        &["x", "y"],
        FUZZ_MAX_BYTES,
    );
}
