//! Tables from CSV and NumPy files: valid files of every shape the formats allow, every
//! malformed case (each generated here), splits and scalers.

use std::{io::Write, path::PathBuf};

use batchprop_data::{ClassOrder, Column, CsvOptions, NpyArray, NpySource, Scaler, Scaling, Table, Target, Task};
use ndarray::array;
use tempfile::TempDir;

fn file(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn csv(dir: &TempDir, name: &str, text: &str, options: &CsvOptions) -> batchprop_data::Result<Table<f64>> {
    Table::read_csv(file(dir, name, text.as_bytes()), options)
}

/// The error for `text`, which must name the file and say every one of `words`.
fn csv_rejects(dir: &TempDir, name: &str, text: &str, options: &CsvOptions, words: &[&str]) {
    let msg = csv(dir, name, text, options).expect_err(name).to_string();
    assert!(msg.contains(name), "{name}: {msg}");
    for w in words {
        assert!(msg.contains(w), "{name}: {msg:?} does not say {w:?}");
    }
}

#[test]
fn csv_files_read_as_tables_with_text_classes_integers_and_values() {
    let dir = TempDir::new().unwrap();
    let default = CsvOptions::default();
    // Text labels, numbered in sorted order; a BOM, CRLF line ends and quoted fields.
    let text = "\u{feff}\"length, cm\",width,species\r\n5.1,3.5,setosa\r\n7.0,\"3.2\",versicolor\r\n6.3,3.3,\"virginica\"\r\n4.9,3.0,setosa\r\n";
    let t = csv(&dir, "bom.csv", text, &default).unwrap();
    assert_eq!(t.feature_names(), ["length, cm", "width"]);
    assert_eq!(t.target_name(), "species");
    assert_eq!(t.features(), array![[5.1, 3.5], [7.0, 3.2], [6.3, 3.3], [4.9, 3.0]]);
    assert_eq!(
        t.target(),
        &Target::Classes {
            labels: vec![0, 1, 2, 0],
            names: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
        }
    );
    // First-seen order, on request.
    let first_seen = CsvOptions {
        class_order: ClassOrder::FirstSeen,
        ..CsvOptions::default()
    };
    let t = csv(&dir, "order.csv", "a,y\n1,b\n2,a\n3,b\n", &first_seen).unwrap();
    assert_eq!(t.class_names().unwrap(), ["b", "a"]);

    // Integers with few distinct values are classes, sorted as numbers (10 after 9).
    let t = csv(&dir, "ints.csv", "x,y\n1,10\n2,9\n3,10\n4,2\n", &default).unwrap();
    assert_eq!(t.task(), Task::Classify);
    assert_eq!(t.class_names().unwrap(), ["2", "9", "10"]);
    // Numbers with fractions, or integers with many values, are a regression target.
    let t = csv(&dir, "frac.csv", "x,y\n1,0.5\n2,1.5\n", &default).unwrap();
    assert_eq!(t.target(), &Target::Values(array![[0.5], [1.5]]));
    let many: String = std::iter::once("x,y\n".to_string())
        .chain((0..25).map(|i| format!("{i},{}\n", i * 7)))
        .collect();
    assert_eq!(csv(&dir, "many.csv", &many, &default).unwrap().task(), Task::Regress);
    // The task can be forced; the target chosen by name or index; features by list; no header.
    let classify = CsvOptions {
        task: Some(Task::Classify),
        target: Some(Column::Name("a".into())),
        ..CsvOptions::default()
    };
    let t = csv(&dir, "pick.csv", "a,b,c\n1,2,3\n2,3,4\n", &classify).unwrap();
    assert_eq!(
        (t.target_name(), t.feature_names()),
        ("a", &["b".to_string(), "c".to_string()][..])
    );
    let headless = CsvOptions {
        header: false,
        target: Some(Column::parse("0")),
        features: Some(vec![Column::Index(2)]),
        ..CsvOptions::default()
    };
    let t = csv(&dir, "noheader.csv", "1.5,9,3\n2.5,9,4\n", &headless).unwrap();
    assert_eq!(t.feature_names(), ["column_2"]);
    assert_eq!(t.features(), array![[3.0], [4.0]]);
    assert_eq!(t.target(), &Target::Values(array![[1.5], [2.5]]));
    // Blank lines (a trailing one, say) are skipped.
    assert_eq!(
        csv(&dir, "blank.csv", "x,y\n1,a\n\n2,b\n\n", &default).unwrap().len(),
        2
    );
}

#[test]
fn malformed_csv_files_are_one_line_errors() {
    let dir = TempDir::new().unwrap();
    let d = CsvOptions::default();
    csv_rejects(&dir, "empty.csv", "", &d, &["empty"]);
    csv_rejects(&dir, "header.csv", "a,b,y\n", &d, &["header but no rows"]);
    csv_rejects(&dir, "one-column.csv", "y\n1\n2\n", &d, &["1 column", "delimiter"]);
    csv_rejects(
        &dir,
        "ragged.csv",
        "a,b,y\n1,2,x\n3,z\n",
        &d,
        &["line 3", "2 fields", "header has 3"],
    );
    csv_rejects(
        &dir,
        "text.csv",
        "a,b,y\n1,2,x\n3,abc,z\n",
        &d,
        &["line 3", "column \"b\"", "\"abc\" is not a number"],
    );
    csv_rejects(
        &dir,
        "empty-cell.csv",
        "a,b,y\n1,,x\n",
        &d,
        &["line 2", "column \"b\"", "empty"],
    );
    csv_rejects(
        &dir,
        "nan.csv",
        "a,b,y\n1,NaN,x\n2,3,y\n",
        &d,
        &["column \"b\"", "not finite"],
    );
    csv_rejects(
        &dir,
        "inf.csv",
        "a,b,y\n1,inf,x\n2,3,y\n",
        &d,
        &["column \"b\"", "not finite"],
    );
    let f32_big = Table::<f32>::read_csv(file(&dir, "big.csv", b"a,y\n1e300,x\n2,y\n"), &d).unwrap_err();
    assert!(f32_big.to_string().contains("too large for f32"), "{f32_big}");
    csv_rejects(
        &dir,
        "one-class.csv",
        "a,y\n1,cat\n2,cat\n",
        &d,
        &["one class only", "cat"],
    );
    csv_rejects(&dir, "empty-label.csv", "a,y\n1,cat\n2, \n", &d, &["row 2 is empty"]);
    let missing = CsvOptions {
        target: Some(Column::Name("price".into())),
        ..CsvOptions::default()
    };
    csv_rejects(
        &dir,
        "no-target.csv",
        "a,b\n1,2\n",
        &missing,
        &["no column \"price\"", "a, b"],
    );
    let out_of_range = CsvOptions {
        target: Some(Column::Index(7)),
        ..CsvOptions::default()
    };
    csv_rejects(
        &dir,
        "index.csv",
        "a,b\n1,2\n",
        &out_of_range,
        &["no column 7", "0 to 1"],
    );
    let regress = CsvOptions {
        task: Some(Task::Regress),
        ..CsvOptions::default()
    };
    csv_rejects(
        &dir,
        "text-target.csv",
        "a,y\n1,cat\n2,dog\n",
        &regress,
        &["row 1", "\"cat\"", "not a number"],
    );
    let both = CsvOptions {
        features: Some(vec![Column::Name("y".into())]),
        ..CsvOptions::default()
    };
    csv_rejects(
        &dir,
        "both.csv",
        "a,y\n1,2\n",
        &both,
        &["both a feature and the target"],
    );
    csv_rejects(&dir, "latin1.csv", "a,y\n1,caf\u{e9}\n", &d, &[]); // valid UTF-8: reads
    std::fs::write(dir.path().join("bad-utf8.csv"), b"a,y\n1,caf\xe9\n2,x\n").unwrap();
    let err = Table::<f64>::read_csv(dir.path().join("bad-utf8.csv"), &d)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not UTF-8") && err.contains("line 2"), "{err}");
    // The memory bound counts as rows are read.
    let small = CsvOptions {
        max_bytes: 100,
        ..CsvOptions::default()
    };
    let rows: String = std::iter::once("a,b,y\n".to_string())
        .chain((0..50).map(|i| format!("{i},{i},{}\n", i % 2)))
        .collect();
    csv_rejects(
        &dir,
        "bound.csv",
        &rows,
        &small,
        &["limit of 100 bytes", "--max-load-gb"],
    );
}

/// An `.npy` file's bytes: version 1.0, `descr`, order and shape, then `data`.
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f64s(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn npz(dir: &TempDir, name: &str, entries: &[(&str, Vec<u8>)], deflate: bool) -> PathBuf {
    let path = dir.path().join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    for (entry, bytes) in entries {
        zip.start_file(
            *entry,
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

#[test]
fn numpy_arrays_read_in_every_layout_and_type() {
    let dir = TempDir::new().unwrap();
    // (3, 2) f64 in C order, and the same in Fortran order; i64, big-endian f4, u1, bool.
    let c = NpyArray::read(file(
        &dir,
        "c.npy",
        &npy("<f8", false, &[3, 2], &f64s(&[1., 2., 3., 4., 5., 6.])),
    ))
    .unwrap();
    let f = NpyArray::read(file(
        &dir,
        "f.npy",
        &npy("<f8", true, &[3, 2], &f64s(&[1., 3., 5., 2., 4., 6.])),
    ))
    .unwrap();
    assert_eq!(
        (c.shape.clone(), c.values.clone()),
        (vec![3, 2], vec![1., 2., 3., 4., 5., 6.])
    );
    assert_eq!(f, c);
    let ints: Vec<u8> = [-1i64, 2, 3].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(
        NpyArray::read(file(&dir, "i.npy", &npy("<i8", false, &[3], &ints)))
            .unwrap()
            .values,
        [-1., 2., 3.]
    );
    let be: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_be_bytes()).collect();
    assert_eq!(
        NpyArray::read(file(&dir, "be.npy", &npy(">f4", false, &[2], &be)))
            .unwrap()
            .values,
        [1.5, -2.0]
    );
    assert_eq!(
        NpyArray::read(file(&dir, "u1.npy", &npy("|u1", false, &[2], &[7, 255])))
            .unwrap()
            .values,
        [7., 255.]
    );
    assert_eq!(
        NpyArray::read(file(&dir, "b.npy", &npy("|b1", false, &[2], &[1, 0])))
            .unwrap()
            .values,
        [1., 0.]
    );

    // A table from an .npz (stored and deflated) and from two .npy files.
    let x = npy("<f8", false, &[4, 2], &f64s(&[0., 1., 1., 0., 2., 2., 3., 1.]));
    let y_classes: Vec<u8> = [0i64, 1, 1, 0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let y = npy("<i8", false, &[4], &y_classes);
    for deflate in [false, true] {
        let path = npz(&dir, "d.npz", &[("x.npy", x.clone()), ("y.npy", y.clone())], deflate);
        let t = Table::<f32>::read_numpy(
            &NpySource::Npz {
                path: &path,
                x: "x",
                y: "y",
            },
            None,
            u64::MAX,
        )
        .unwrap();
        assert_eq!(t.features(), array![[0.0f32, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]]);
        assert_eq!(t.class_names().unwrap(), ["0", "1"]);
    }
    let (xp, yp) = (
        file(&dir, "x.npy", &x),
        file(&dir, "y.npy", &npy("<f8", false, &[4, 1], &f64s(&[0.5, 1., 2., 3.]))),
    );
    let t = Table::<f64>::read_numpy(&NpySource::Pair { x: &xp, y: &yp }, None, u64::MAX).unwrap();
    assert_eq!(t.target(), &Target::Values(array![[0.5], [1.0], [2.0], [3.0]]));
}

#[test]
fn malformed_numpy_files_are_errors_before_any_large_allocation() {
    let dir = TempDir::new().unwrap();
    let rejects = |name: &str, bytes: &[u8], words: &[&str]| {
        let msg = NpyArray::read(file(&dir, name, bytes)).expect_err(name).to_string();
        assert!(msg.contains(name), "{msg}");
        for w in words {
            assert!(msg.contains(w), "{name}: {msg:?} does not say {w:?}");
        }
    };
    let good = npy("<f8", false, &[2, 2], &f64s(&[1., 2., 3., 4.]));
    rejects("empty.npy", b"", &["shorter than"]);
    rejects("png.npy", b"\x89PNG\r\n\x1a\n\0\0", &["not a .npy file"]);
    rejects("version.npy", b"\x93NUMPY\x09\x00\x00\x00", &["version 9.0"]);
    rejects("cut-header.npy", &good[..30], &["ends inside"]);
    rejects(
        "truncated.npy",
        &good[..good.len() - 8],
        &["needs 32 bytes", "exactly 24"],
    );
    rejects(
        "trailing.npy",
        &[good.clone(), vec![0; 8]].concat(),
        &["needs 32 bytes", "exactly 40"],
    );
    // A 100-byte file whose header claims 10^12 × 10^3 doubles: refused at the header.
    rejects(
        "liar.npy",
        &npy("<f8", false, &[1_000_000_000_000, 1000], &[0; 16]),
        &["needs 8000000000000000 bytes"],
    );
    rejects(
        "overflow.npy",
        &npy("<f8", false, &[1 << 40, 1 << 40], &[0; 16]),
        &["overflows"],
    );
    rejects(
        "liar2.npy",
        &npy("<f8", false, &[1_000_000, 1000], &[0; 16]),
        &["needs 8000000000 bytes", "exactly 16"],
    );
    rejects(
        "dtype.npy",
        &npy("<c16", false, &[1], &[0; 16]),
        &["\"<c16\"", "not a number type"],
    );
    rejects("object.npy", &npy("|O", false, &[1], &[0; 8]), &["\"|O\""]);
    rejects("bool.npy", &npy("|b1", false, &[1], &[7]), &["bool element holds 7"]);
    let mut bad_dict = good.clone();
    bad_dict[10] = b'[';
    rejects("dict.npy", &bad_dict, &["bad header"]);
    let huge_int: Vec<u8> = (1u64 << 60).to_le_bytes().to_vec();
    rejects(
        "int.npy",
        &npy("<u8", false, &[1], &huge_int),
        &["too large to hold exactly"],
    );

    // Tables: shapes that do not fit, NaN features, missing arrays, a lying archive entry.
    let x = npy("<f8", false, &[2, 2], &f64s(&[1., 2., f64::NAN, 4.]));
    let y = npy("<f8", false, &[2], &f64s(&[1., 2.]));
    let table = |entries: &[(&str, Vec<u8>)]| {
        let path = npz(&dir, "t.npz", entries, true);
        Table::<f64>::read_numpy(
            &NpySource::Npz {
                path: &path,
                x: "x",
                y: "y",
            },
            None,
            u64::MAX,
        )
        .unwrap_err()
        .to_string()
    };
    let msg = table(&[("x.npy", x.clone()), ("y.npy", y.clone())]);
    assert!(msg.contains("row 2") && msg.contains("NaN"), "{msg}");
    let msg = table(&[("x.npy", good.clone())]);
    assert!(msg.contains("no array \"y\"") && msg.contains("holds x"), "{msg}");
    let three = npy("<f8", false, &[3], &f64s(&[1., 2., 3.]));
    let msg = table(&[("x.npy", good.clone()), ("y.npy", three)]);
    assert!(msg.contains("must be (2,) or (2, k)"), "{msg}");
    let flat = npy("<f8", false, &[4], &f64s(&[1., 2., 3., 4.]));
    let msg = table(&[("x.npy", flat), ("y.npy", y.clone())]);
    assert!(msg.contains("2-dimensional"), "{msg}");
    let not_zip = file(&dir, "plain.npz", b"not a zip file at all");
    let msg = Table::<f64>::read_numpy(
        &NpySource::Npz {
            path: &not_zip,
            x: "x",
            y: "y",
        },
        None,
        u64::MAX,
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("not an .npz"), "{msg}");
    // The load bound.
    let path = npz(&dir, "ok.npz", &[("x.npy", good.clone()), ("y.npy", y.clone())], false);
    let msg = Table::<f64>::read_numpy(
        &NpySource::Npz {
            path: &path,
            x: "x",
            y: "y",
        },
        None,
        40,
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("above the limit of 40"), "{msg}");
}

#[test]
fn splits_are_seeded_and_scalers_fit_the_training_part_only() {
    let dir = TempDir::new().unwrap();
    let rows: String = std::iter::once("a,b,y\n".to_string())
        .chain((0..100).map(|i| format!("{i},{},{}\n", 2 * i + 1, i % 3)))
        .collect();
    let t = csv(&dir, "t.csv", &rows, &CsvOptions::default()).unwrap();
    let parts = t.split(&[0.2, 0.1], 5).unwrap();
    assert_eq!(parts.iter().map(Table::len).collect::<Vec<_>>(), [70, 20, 10]);
    assert_eq!(t.split(&[0.2, 0.1], 5).unwrap(), parts, "the same seed, the same split");
    assert_ne!(t.split(&[0.2, 0.1], 6).unwrap()[1], parts[1]);
    // Every example in exactly one part, with its own target.
    let mut seen: Vec<f64> = parts.iter().flat_map(|p| p.features().column(0).to_vec()).collect();
    seen.sort_by(f64::total_cmp);
    assert_eq!(seen, (0..100).map(f64::from).collect::<Vec<_>>());
    for p in &parts {
        let Target::Classes { labels, .. } = p.target() else {
            panic!()
        };
        for (row, &l) in p.features().rows().into_iter().zip(labels) {
            assert_eq!(row[0] as u32 % 3, l);
        }
    }
    assert!(
        t.split(&[0.001], 1)
            .unwrap_err()
            .to_string()
            .contains("no example at all")
    );
    assert!(t.split(&[0.6, 0.5], 1).unwrap_err().to_string().contains("leave none"));

    // Standardisation by hand: x = 1, 2, 3, 6 → mean 3, σ = √3.5.
    let x = array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [6.0, 5.0]];
    let s = Scaler::fit(Scaling::Standard, x.view());
    assert_eq!(s.shift, [3.0, 5.0]);
    assert!((s.scale[0] - 3.5f64.sqrt()).abs() < 1e-15);
    assert_eq!(s.scale[1], 1.0, "a constant feature is only shifted");
    let mut y = x.clone();
    s.apply(y.view_mut());
    assert!((y[[3, 0]] - 3.0 / 3.5f64.sqrt()).abs() < 1e-15 && y[[0, 1]] == 0.0);
    let m = Scaler::fit(Scaling::MinMax, x.view());
    assert_eq!((m.shift.clone(), m.scale.clone()), (vec![1.0, 5.0], vec![5.0, 1.0]));
    let mut z = array![[6.0, 5.0], [11.0, 6.0]]; // data outside the fitted range maps past 1
    m.apply(z.view_mut());
    assert_eq!(z, array![[1.0, 0.0], [2.0, 1.0]]);
    assert!(
        Scaler {
            scaling: Scaling::Standard,
            shift: vec![0.0],
            scale: vec![0.0]
        }
        .validate()
        .is_err()
    );
}
