//! The IDX reader on valid files of every type, gzipped or not, and on every malformed case,
//! each generated here.

use std::{io::Write, path::PathBuf};

use batchprop_data::{Dataset, Error, Idx, IdxData, read_idx};
use flate2::{Compression, write::GzEncoder};
use tempfile::TempDir;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes `bytes` to `name` in `dir`.
fn file(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// An IDX header for `code` and `dims`, with no data.
fn header(code: u8, dims: &[u32]) -> Vec<u8> {
    let mut h = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        h.extend_from_slice(&d.to_be_bytes());
    }
    h
}

fn images(n: usize) -> Idx {
    Idx {
        dims: vec![n, 2, 3],
        data: IdxData::U8((0..n * 6).map(|i| (i * 37 % 256) as u8).collect()),
    }
}

fn labels(values: &[u8]) -> Idx {
    Idx {
        dims: vec![values.len()],
        data: IdxData::U8(values.to_vec()),
    }
}

#[test]
fn every_element_type_round_trips_raw_and_gzipped() {
    let dir = TempDir::new().unwrap();
    let cases = [
        IdxData::U8(vec![0, 1, 255, 7, 8, 9]),
        IdxData::I8(vec![-128, -1, 0, 1, 127, 5]),
        IdxData::I16(vec![-32768, -2, 0, 300, 32767, 1]),
        IdxData::I32(vec![i32::MIN, -70000, 0, 1, 70000, i32::MAX]),
        IdxData::F32(vec![-1.5, 0.0, 1e-30, 3.25, f32::MAX, 0.1]),
        IdxData::F64(vec![-1.5, 0.0, 1e-300, 3.25, f64::MAX, 0.1]),
    ];
    for data in cases {
        let idx = Idx { dims: vec![3, 2], data };
        let bytes = idx.to_bytes();
        let name = format!("{:?}", idx.kind());
        // The name says nothing: gzip is recognised by its magic bytes.
        let raw = file(&dir, &format!("{name}-raw"), &bytes);
        let gz = file(&dir, &format!("{name}-gz"), &gzip(&bytes));
        assert_eq!(read_idx(&raw).unwrap(), idx, "{name} raw");
        assert_eq!(read_idx(&gz).unwrap(), idx, "{name} gzipped");
        assert_eq!(batchprop_data::parse_idx(&bytes, "mem").unwrap(), idx);
        assert_eq!(batchprop_data::parse_idx(&gzip(&bytes), "mem.gz").unwrap(), idx);
    }
    // Any number of dimensions.
    let idx = Idx {
        dims: vec![2, 1, 2, 1, 3],
        data: IdxData::U8((0..12).collect()),
    };
    assert_eq!(read_idx(file(&dir, "5d", &idx.to_bytes())).unwrap(), idx);
}

/// Reads `bytes` (and, where `gz` is set, their gzip) and returns the error message, which
/// must name the file and contain every one of `words`.
fn rejects(dir: &TempDir, name: &str, bytes: &[u8], words: &[&str]) -> String {
    let path = file(dir, name, bytes);
    let err = read_idx(&path).expect_err(name);
    let msg = err.to_string();
    assert!(msg.contains(name), "{name}: the message does not name the file: {msg}");
    for w in words {
        assert!(msg.contains(w), "{name}: {msg:?} does not say {w:?}");
    }
    msg
}

#[test]
fn malformed_files_are_errors_that_name_the_file_and_the_problem() {
    let dir = TempDir::new().unwrap();
    let good = images(4).to_bytes();
    let body = &good[16..];

    rejects(&dir, "empty", &[], &["empty"]);
    rejects(&dir, "three-bytes", &[0, 0, 8], &["3 bytes", "magic"]);
    rejects(&dir, "png", b"\x89PNG\r\n\x1a\n", &["89 50 4e 47", "IDX magic"]);
    rejects(
        &dir,
        "type-0x0a",
        &[header(0x0A, &[1]), vec![0]].concat(),
        &["0x0a", "element type"],
    );
    rejects(&dir, "zero-dims", &header(0x08, &[]), &["0 dimensions"]);
    rejects(
        &dir,
        "short-dims",
        &good[..10],
        &["truncated header", "3 dimensions", "16-byte", "10 bytes"],
    );
    rejects(&dir, "short-body", &good[..good.len() - 5], &["truncated", "24", "19"]);
    rejects(
        &dir,
        "long-body",
        &[good.clone(), vec![1, 2, 3]].concat(),
        &["27 bytes", "announces 24", "trailing"],
    );
    // A header that claims 10^12 bytes must fail before allocating them.
    rejects(
        &dir,
        "huge",
        &[header(0x08, &[1_000_000, 1_000_000]), body.to_vec()].concat(),
        &["truncated", "1000000000000"],
    );
    // 2^32-1 ^ 3 × 8 bytes overflows u64 and usize.
    rejects(
        &dir,
        "overflow",
        &header(0x0E, &[u32::MAX, u32::MAX, u32::MAX]),
        &["overflows"],
    );
    // 255 dimensions declared, the header cut short.
    let many = [vec![0, 0, 0x08, 255], vec![0; 40]].concat();
    rejects(
        &dir,
        "255-dims",
        &many,
        &["truncated header", "255 dimensions", "1024-byte"],
    );
    // A dimension of zero is a valid, empty file.
    assert!(
        read_idx(file(&dir, "zero-items", &header(0x08, &[0, 28, 28])))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn malformed_gzip_files_are_errors() {
    let dir = TempDir::new().unwrap();
    let good = images(4).to_bytes();
    let gz = gzip(&good);

    // A corrupt deflate stream (bytes flipped after the gzip header).
    let mut corrupt = gz.clone();
    for b in &mut corrupt[12..20] {
        *b ^= 0xA5;
    }
    rejects(&dir, "corrupt.gz", &corrupt, &["gzip"]);
    // Bytes flipped in the middle of a longer stream (the hostile trial's case: it was
    // reported as "trailing bytes" when the damage inflated to more than the header says):
    // every such file is a corrupt stream, whatever length it inflates to.
    let mut state = 12345u32;
    let noisy: Vec<u8> = (0..20_000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8 % 10
        })
        .collect();
    let gz = gzip(&labels(&noisy).to_bytes());
    for k in 1..20 {
        let mut flipped = gz.clone();
        let at = gz.len() * k / 20;
        for b in &mut flipped[at..at + 4] {
            *b ^= 0xFF;
        }
        rejects(&dir, &format!("flipped-{k}.gz"), &flipped, &["corrupt gzip stream"]);
    }
    let gz = gzip(&good);
    // The stream cut short.
    rejects(&dir, "cut.gz", &gz[..gz.len() / 2], &["gzip"]);
    // Good data followed by more inside the stream.
    rejects(
        &dir,
        "long.gz",
        &gzip(&[good.clone(), vec![0; 100]].concat()),
        &["trailing"],
    );
    // A gzip bomb: a header announcing 16 bytes, then 100 MB of zeros that compress to
    // ~100 kB. Reading must stop after the announced bytes, not inflate it all.
    let mut bomb = GzEncoder::new(Vec::new(), Compression::best());
    bomb.write_all(&header(0x08, &[16])).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 200_000);
    rejects(&dir, "bomb.gz", &bomb, &["trailing", "announces 16"]);
    // A small gzip file whose header claims more than it could ever inflate to.
    let liar = gzip(&[header(0x08, &[1_000_000_000, 1_000]), vec![0; 64]].concat());
    rejects(&dir, "liar.gz", &liar, &["more than a gzip file of this size can hold"]);
    // Garbage after a complete gzip member (read as the start of a second member).
    rejects(
        &dir,
        "garbage-after.gz",
        &[gz.clone(), b"not gzip".to_vec()].concat(),
        &["gzip"],
    );
}

#[test]
fn image_and_label_pairs_are_checked() {
    let dir = TempDir::new().unwrap();
    let imgs = file(&dir, "imgs", &images(4).to_bytes());
    let labs = file(&dir, "labs", &labels(&[1, 0, 2, 1]).to_bytes());
    let data = Dataset::<f32>::load(&imgs, &labs, 3).unwrap();
    assert_eq!(
        (data.len(), data.input_size(), data.item_shape()),
        (4, 6, &[2usize, 3][..])
    );
    assert_eq!(data.images()[[0, 1]], 37.0 / 255.0);
    assert_eq!(data.x().dim(), (6, 4));

    let msg = |r: Result<Dataset<f32>, Error>| r.unwrap_err().to_string();
    // Swapped files: the message says so.
    let m = msg(Dataset::load(&labs, &imgs, 3));
    assert!(
        m.contains("found magic 2049 (u8, 1 dimension) where images were expected"),
        "{m}"
    );
    assert!(m.contains("swapped"), "{m}");
    // Different counts.
    let three = file(&dir, "three-labels", &labels(&[0, 1, 2]).to_bytes());
    let m = msg(Dataset::load(&imgs, &three, 3));
    assert!(m.contains("4 images") && m.contains("3 labels"), "{m}");
    // A label outside the classes.
    let m = msg(Dataset::load(&imgs, &labs, 2));
    assert!(m.contains("label 2 of item 2") && m.contains("2 classes"), "{m}");
    // A negative label (i8 labels).
    let negative = Idx {
        dims: vec![4],
        data: IdxData::I8(vec![1, 0, -1, 2]),
    };
    let m = msg(Dataset::load(
        &imgs,
        file(&dir, "negative-labels", &negative.to_bytes()),
        3,
    ));
    assert!(m.contains("label -1 of item 2"), "{m}");
    // Float labels are not class indices.
    let floats = Idx {
        dims: vec![4],
        data: IdxData::F32(vec![0.0; 4]),
    };
    let m = msg(Dataset::load(&imgs, file(&dir, "float-labels", &floats.to_bytes()), 3));
    assert!(m.contains("labels need 1 dimension of an integer type"), "{m}");
    // Non-finite pixels are rejected with their position.
    let mut pixels = vec![0.5f32; 24];
    pixels[13] = f32::NAN;
    let nan = Idx {
        dims: vec![4, 6],
        data: IdxData::F32(pixels),
    };
    let m = msg(Dataset::load(file(&dir, "nan-images", &nan.to_bytes()), &labs, 3));
    assert!(m.contains("item 2 at position 1") && m.contains("NaN"), "{m}");
    // A value finite in f64 but not in f32 (found by the dataset_pair fuzz target).
    let mut values = vec![0.5f64; 24];
    values[7] = -1.36e57;
    let huge = file(
        &dir,
        "huge-images",
        &Idx {
            dims: vec![4, 6],
            data: IdxData::F64(values),
        }
        .to_bytes(),
    );
    let m = msg(Dataset::<f32>::load(&huge, &labs, 3));
    assert!(
        m.contains("value -1.36e57 of item 1 at position 1 does not fit f32"),
        "{m}"
    );
    assert!(Dataset::<f64>::load(&huge, &labs, 3).is_ok());
}
