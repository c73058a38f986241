//! `train` on the tables in data/tabular and on generated files, and its models through
//! `predict --csv`.

mod common;

use std::path::Path;

use common::{one_line_error, run};
use tempfile::TempDir;

fn tabular(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/tabular")
        .join(name)
        .display()
        .to_string()
}

fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn a_classifier_with_text_labels_trains_saves_and_predicts_by_name() {
    let dir = TempDir::new().unwrap();
    let model = dir.path().join("iris.json").display().to_string();
    let iris = tabular("iris.csv");
    let out = run("train", &[&iris, "--epochs", "50", "--json", "--save", &model]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("classify species (3 classes: setosa, versicolor, virginica)")
            && stderr.contains("[4, 100, 3]"),
        "{stderr}"
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 51, "50 epochs and a summary");
    for (i, e) in lines[..50].iter().enumerate() {
        assert_eq!(e["epoch"], i);
        assert_eq!(e["test_total"], 30);
        assert!(
            e["examples_per_second"].as_f64().unwrap() > 0.0 && e["test_correct"].is_u64(),
            "{e}"
        );
    }
    let last = lines[50]["test_correct"].as_u64().unwrap();
    assert!(last >= 25, "{last} / 30");

    // The saved model answers with class names; with the target column present, it scores.
    let out = run("predict", &[&model, "--csv", &iris, "--show", "3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.starts_with("row 1: setosa\nrow 2: setosa\nrow 3: setosa\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rows right") && stdout.contains("versicolor  virginica"),
        "{stdout}"
    );
    // Rows without the target: predictions only, for rows as the file holds them (unscaled).
    let rows = dir.path().join("rows.csv");
    std::fs::write(
        &rows,
        "sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm\n5.0,3.4,1.5,0.2\n6.7,3.0,5.2,2.3\n",
    )
    .unwrap();
    let out = run("predict", &[&model, "--csv", &rows.display().to_string()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "row 1: setosa\nrow 2: virginica\n"
    );
    // A file without the model's columns says which.
    std::fs::write(&rows, "a,b\n1,2\n").unwrap();
    one_line_error(
        &run("predict", &[&model, "--csv", &rows.display().to_string()]),
        1,
        &["no column \"sepal_length_cm\""],
    );
}

#[test]
fn a_regressor_reports_its_error_in_the_targets_units() {
    let dir = TempDir::new().unwrap();
    let model = dir.path().join("d.json").display().to_string();
    let diabetes = tabular("diabetes.csv");
    let out = run("train", &[&diabetes, "--epochs", "30", "--json", "--save", &model]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("regress progression"),
        "{stderr}"
    );
    let lines = json_lines(&out.stdout);
    let summary = lines.last().unwrap();
    // The progression is in the tens to hundreds: an MSE in its units is in the thousands.
    let (mse, r2) = (
        summary["test_mse"].as_f64().unwrap(),
        summary["test_r2"].as_f64().unwrap(),
    );
    assert!(mse > 1000.0 && mse < 10_000.0 && r2 > 0.2 && r2 < 1.0, "{summary}");
    assert!(lines[0]["test_mae"].is_f64());
    let out = run("predict", &[&model, "--csv", &diabetes, "--show", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("mse ") && stdout.contains("on 442 rows"), "{stdout}");
}

#[test]
fn bad_tables_and_flags_are_one_line_errors() {
    let dir = TempDir::new().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    one_line_error(&run("train", &["/nonexistent.csv"]), 1, &["/nonexistent.csv"]);
    one_line_error(&run("train", &[&write("empty.csv", "")]), 1, &["empty.csv", "empty"]);
    one_line_error(
        &run("train", &[&write("ragged.csv", "a,b,y\n1,2,x\n3,y\n")]),
        1,
        &["line 3", "2 fields"],
    );
    one_line_error(
        &run("train", &[&write("nan.csv", "a,y\n1,x\nnan,y\n")]),
        1,
        &["line 3", "not finite"],
    );
    let iris = tabular("iris.csv");
    one_line_error(
        &run("train", &[&iris, "--target", "colour"]),
        1,
        &["no column \"colour\"", "species"],
    );
    one_line_error(
        &run("train", &[&iris, "--early-stop", "5"]),
        1,
        &["--validation-fraction"],
    );
    one_line_error(&run("train", &[&iris, "--test-fraction", "1.5"]), 1, &["(0, 1)"]);
    one_line_error(
        &run("train", &[&iris, "--task", "regress"]),
        1,
        &["\"setosa\"", "not a number"],
    );
    one_line_error(&run("train", &[&iris, "--save", "/dev/null"]), 1, &["character device"]);
    one_line_error(&run("train", &[]), 1, &["give the data"]);
}

#[test]
fn numpy_archives_separate_test_files_and_class_order() {
    let dir = TempDir::new().unwrap();
    // An .npz as np.savez writes it (stored), with x: (40, 2) f8 and y: (40,) i8.
    let npy = |descr: &str, shape: &str, data: Vec<u8>| {
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (11 + header.len()) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend(data);
        out
    };
    let x: Vec<u8> = (0..80)
        .flat_map(|k| (((k * 7919) % 100) as f64 / 50.0 - 1.0).to_le_bytes())
        .collect();
    let xs: Vec<f64> = (0..80).map(|k| ((k * 7919) % 100) as f64 / 50.0 - 1.0).collect();
    let y: Vec<u8> = (0..40).flat_map(|i| i64::from(xs[2 * i] > 0.0).to_le_bytes()).collect();
    let path = dir.path().join("d.npz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in [("x.npy", npy("<f8", "(40, 2)", x)), ("y.npy", npy("<i8", "(40,)", y))] {
        zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, &bytes).unwrap();
    }
    zip.finish().unwrap();
    let out = run(
        "train",
        &[&path.display().to_string(), "--epochs", "5", "--hidden", "8"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("classify y (2 classes: 0, 1)"),
        "{stderr}"
    );

    // A separate test file, and classes numbered as first seen.
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let rows = |n: usize| -> String {
        std::iter::once("a,b,kind\n".to_string())
            .chain((0..n).map(|i| format!("{i},{},{}\n", i % 7, ["zeta", "alpha"][i % 2])))
            .collect()
    };
    let train = write("train.csv", &rows(60));
    let test = write("test.csv", &rows(12));
    let out = run(
        "train",
        &[
            &train,
            "--test",
            &test,
            "--class-order",
            "first-seen",
            "--epochs",
            "3",
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("(2 classes: zeta, alpha)") && stderr.contains("on 60 of the 60 rows"),
        "{stderr}"
    );
    assert_eq!(json_lines(&out.stdout)[0]["test_total"], 12);
}

#[test]
fn ctrl_c_keeps_a_table_run_and_the_resumed_run_has_the_same_bits() {
    use std::io::{BufRead, BufReader};
    let dir = TempDir::new().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    let digits = tabular("digits.csv");
    let common = [
        &digits[..],
        "--hidden",
        "16",
        "--json",
        "--seed",
        "4",
        "--batch-size",
        "50",
    ];
    // A run of (almost) endless epochs, interrupted once its first epoch is printed.
    let mut child = std::process::Command::new(common::example("train"))
        .args(common)
        .args(["--epochs", "18446744073709551615", "--save", &file("cut.json")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"epoch\":0"), "{first}");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let before = 1 + stdout.lines().count();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let checkpoint = file("cut.checkpoint.json");
    assert!(stderr.contains(&format!("--resume {checkpoint}")), "{stderr}");
    assert!(
        !dir.path().join("cut.json").exists(),
        "the model is saved at the end only"
    );
    let (_, state) = batchprop::Network::<f32>::load_with_state::<serde_json::Value>(&checkpoint).unwrap();
    let done = state.unwrap()["epochs_done"].as_u64().unwrap();
    assert_eq!(before as u64, done);

    // The flags that fix the run are refused; the data's place may be given again.
    one_line_error(
        &run("train", &["--resume", &checkpoint, "--hidden", "8"]),
        1,
        &["--hidden cannot change when resuming"],
    );
    // The update rule's flags too, before their own checks (Adam takes no --momentum).
    one_line_error(
        &run("train", &["--resume", &checkpoint, "--momentum", "0.5"]),
        1,
        &["--momentum cannot change when resuming"],
    );
    // Resumed to one epoch past the interrupted one, it ends where an uninterrupted run of
    // as many epochs ends, bit for bit: the same rows, split, scaler and shuffles.
    let total = (done + 1).to_string();
    let resumed = run(
        "train",
        &[
            "--resume",
            &checkpoint,
            "--epochs",
            &total,
            "--save",
            &file("resumed.json"),
            &digits,
        ],
    );
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let whole = run(
        "train",
        &[&common[..], &["--epochs", &total, "--save", &file("whole.json")]].concat(),
    );
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("resumed.json"), read("whole.json"));
    // The checkpoint is a model file too: predict reads it.
    let predicted = run("predict", &[&checkpoint, "--csv", &digits]);
    assert!(
        predicted.status.success(),
        "{}",
        String::from_utf8_lossy(&predicted.stderr)
    );
}
