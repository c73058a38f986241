//! The hostile trial of the tools (issue 16), replayed: every case that crashed, lost work or
//! misled, as a user would hit it. Each must fail cleanly, before training where it can be
//! known then, and leave what the user had untouched.

mod common;

use std::{
    io::Write,
    os::unix::fs::{PermissionsExt, symlink},
    path::Path,
    process::{Command, Output},
};

use batchprop_data::{Idx, IdxData, MNIST_FILES};
use common::{example, mnist_dir, one_line_error, run};
use tempfile::TempDir;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails unless `out` is a one-line error with `words` printed before any training started.
fn refused_before_training(out: &Output, words: &[&str]) {
    one_line_error(out, 1, words);
    assert!(!stderr(out).contains("Training "), "{}", stderr(out));
}

/// A quick MNIST run's flags: one epoch of a small network.
fn quick<'a>(data: &'a str, save: &'a str) -> Vec<&'a str> {
    vec!["--data", data, "--sizes", "784,16,10", "--epochs", "1", "--save", save]
}

#[test]
fn the_save_destination_is_checked_before_training() {
    let dir = TempDir::new().unwrap();
    let data = mnist_dir();
    let path = |name: &str| dir.path().join(name).display().to_string();

    let missing = path("no/such/dir/net.json");
    refused_before_training(&run("mnist", &quick(&data, &missing)), &["no/such/dir does not exist"]);
    refused_before_training(&run("mnist", &quick(&data, &path(""))), &["is a directory"]);
    let fifo = dir.path().join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    refused_before_training(&run("mnist", &quick(&data, &path("pipe"))), &["is a FIFO"]);
    refused_before_training(
        &run("mnist", &quick(&data, "/dev/null")),
        &["/dev/null", "character device"],
    );
    // A checkpoint path is checked the same way.
    let mut flags = quick(&data, &missing);
    flags.splice(flags.len() - 2.., ["--checkpoint", "/dev/null"]);
    refused_before_training(&run("mnist", &flags), &["/dev/null", "character device"]);

    // A file that is not a network is not replaced, unless asked.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "my notes").unwrap();
    let notes_arg = notes.display().to_string();
    refused_before_training(
        &run("mnist", &quick(&data, &notes_arg)),
        &["notes.txt", "not a network", "--overwrite"],
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes");
    let out = run("mnist", &[quick(&data, &notes_arg), vec!["--overwrite"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    batchprop::Network::<f32>::load(&notes).unwrap();
}

#[test]
fn a_saved_network_is_replaced_only_by_a_better_one_and_keeps_its_link_and_mode() {
    let dir = TempDir::new().unwrap();
    let data = mnist_dir();
    // The model lives behind a symbolic link, readable by its owner only.
    let real = dir.path().join("real.json");
    let link = dir.path().join("net.json");
    symlink(&real, &link).unwrap();
    let save = link.display().to_string();
    let good = run("mnist", &quick(&data, &save));
    assert!(good.status.success(), "{}", stderr(&good));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::read(&real).unwrap();

    // η 10⁻⁴ learns next to nothing in an epoch: its network is worse, and is not saved.
    let worse = run("mnist", &[quick(&data, &save), vec!["--eta", "1e-4"]].concat());
    one_line_error(
        &worse,
        1,
        &[
            "not replacing",
            "validation images",
            "net.checkpoint.json",
            "--overwrite",
        ],
    );
    assert_eq!(std::fs::read(&real).unwrap(), before);
    let checkpoint = dir.path().join("net.checkpoint.json");
    let (worse_net, _) = batchprop::Network::<f32>::load_with_state::<serde_json::Value>(&checkpoint).unwrap();
    assert_eq!(
        worse_net.sizes(),
        &[784, 16, 10],
        "the worse run is kept in its checkpoint"
    );

    // Asked to, it replaces the file, through the link, keeping the file's mode.
    let out = run(
        "mnist",
        &[quick(&data, &save), vec!["--eta", "1e-4", "--overwrite"]].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(std::fs::read(&real).unwrap(), before);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn resume_applies_what_can_change_refuses_the_rest_and_knows_a_finished_run() {
    let dir = TempDir::new().unwrap();
    let data = mnist_dir();
    let save = dir.path().join("net.json").display().to_string();
    assert!(run("mnist", &quick(&data, &save)).status.success());
    let checkpoint = dir.path().join("net.checkpoint.json").display().to_string();
    let resume = |extra: &[&str]| {
        run(
            "mnist",
            &[&["--data", data.as_str(), "--resume", &checkpoint][..], extra].concat(),
        )
    };

    for (flag, value) in [
        ("--batch-size", "20"),
        ("--mini-batch-size", "20"),
        ("--sizes", "784,30,10"),
        ("--cost", "cross-entropy"),
        ("--dtype", "f64"),
        ("--seed", "7"),
        ("--lambda", "5"),
    ] {
        let out = resume(&[flag, value, "--epochs", "2"]);
        refused_before_training(&out, &["cannot change when resuming", "--epochs and --eta"]);
    }
    // The run is finished: it says so, trains nothing and saves nothing.
    let before = std::fs::read(&checkpoint).unwrap();
    let out = resume(&["--save", &save]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is finished: 1 of 1 epochs done"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("Saved"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    // --epochs and --eta apply, and the η change is said.
    let out = resume(&["--epochs", "2", "--eta", "0.5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("η is 0.5 from epoch 1 on (it was 3)"),
        "{}",
        stderr(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Epoch 1: "));

    // Saved settings edited by hand get the same checks as flags.
    let text = std::fs::read_to_string(&checkpoint).unwrap();
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, text.replacen("\"batch_size\":10", "\"batch_size\":0", 1)).unwrap();
    refused_before_training(
        &run("mnist", &["--data", &data, "--resume", &edited.display().to_string()]),
        &["edited.json", "batch_size = 0"],
    );
}

/// Writes an MNIST directory whose training and test files hold `train` and `test` images.
fn tiny_mnist(dir: &Path, train: usize, test: usize) {
    let files = |n: usize| {
        let images = Idx {
            dims: vec![n, 28, 28],
            data: IdxData::U8((0..n * 784).map(|i| (i % 251) as u8).collect()),
        };
        let labels = Idx {
            dims: vec![n],
            data: IdxData::U8((0..n).map(|i| (i % 10) as u8).collect()),
        };
        (images.to_bytes(), labels.to_bytes())
    };
    let ((ti, tl), (si, sl)) = (files(train), files(test));
    for (name, bytes) in MNIST_FILES.iter().zip([ti, tl, si, sl]) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn data_directories_and_small_data_sets_say_what_is_wrong() {
    // A directory the user names is used, or is an error: never skipped for another.
    let out = Command::new(example("mnist"))
        .env("MNIST_DIR", "/nonexistent/mnist")
        .output()
        .unwrap();
    refused_before_training(&out, &["MNIST_DIR names /nonexistent/mnist", "not a directory"]);
    let half = TempDir::new().unwrap();
    let src = Path::new(&mnist_dir()).to_path_buf();
    for name in &MNIST_FILES[..2] {
        let file = format!("{name}.gz");
        std::fs::copy(src.join(&file), half.path().join(&file)).unwrap();
    }
    let out = Command::new(example("mnist"))
        .env("MNIST_DIR", half.path())
        .output()
        .unwrap();
    refused_before_training(
        &out,
        &["lacks 2 of the MNIST files", "t10k-images-idx3-ubyte, t10k-labels"],
    );

    // Too few images for the book's validation split: the error names the way out.
    let tiny = TempDir::new().unwrap();
    tiny_mnist(tiny.path(), 100, 100);
    let tiny_arg = tiny.path().display().to_string();
    refused_before_training(
        &run("mnist", &["--data", &tiny_arg]),
        &["holds 100 images", "10000 for validation", "--full-train"],
    );
    let out = run("mnist", &["--data", &tiny_arg, "--full-train", "--epochs", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A test set of no images is an error before training, naming the file.
    tiny_mnist(tiny.path(), 100, 0);
    refused_before_training(
        &run("mnist", &["--data", &tiny_arg, "--full-train"]),
        &["t10k-images-idx3-ubyte: it holds no images"],
    );
}

#[test]
fn sizes_threads_and_headers_beyond_the_machine_are_errors_not_aborts() {
    let data = mnist_dir();
    for sizes in ["784,100000000,10", "784,18446744073709551615,10"] {
        refused_before_training(
            &run("mnist", &["--data", &data, "--sizes", sizes]),
            &["cannot allocate the parameters", sizes.split(',').nth(1).unwrap()],
        );
    }
    refused_before_training(
        &run("mnist", &["--data", &data, "--threads", "100000"]),
        &["--threads 100000", "per core"],
    );
    // Above the core count: a warning, then the run goes on (here to the --sizes error).
    let cores = std::thread::available_parallelism().unwrap().get();
    let out = run("mnist", &["--threads", &(cores + 1).to_string(), "--sizes", "785,10"]);
    let text = stderr(&out);
    assert!(
        text.starts_with("warning: --threads") && text.contains("first layer must be 784"),
        "{text}"
    );

    // A small gzip file whose header honestly claims 6,000,000 images (4.7 GB of bytes once
    // decoded): refused at the header, with the figure and the flag that raises the bound.
    let dir = TempDir::new().unwrap();
    let src = Path::new(&data);
    for name in &MNIST_FILES[1..] {
        let file = format!("{name}.gz");
        std::fs::copy(src.join(&file), dir.path().join(&file)).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&[0, 0, 8, 3]).unwrap();
    for d in [6_000_000u32, 28, 28] {
        gz.write_all(&d.to_be_bytes()).unwrap();
    }
    gz.write_all(&[0; 4096]).unwrap();
    let mut liar = gz.finish().unwrap();
    liar.resize(5_000_000, 0x5a);
    std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), &liar).unwrap();
    let dir_arg = dir.path().display().to_string();
    refused_before_training(
        &run("mnist", &["--data", &dir_arg]),
        &[
            "train-images-idx3-ubyte.gz",
            "4.7 GB",
            "limit of 4.0 GB",
            "--max-load-gb",
        ],
    );
    refused_before_training(
        &run("mnist", &["--data", &data, "--max-load-gb", "0.01"]),
        &["train-images-idx3-ubyte.gz", "limit of 10.0 MB"],
    );
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    use std::io::{BufRead, BufReader};
    // One mini-batch of 50,000 examples through [784, 1000, 10] takes seconds: the first
    // SIGINT waits for it to end, the second does not.
    let dir = TempDir::new().unwrap();
    let save = dir.path().join("net.json").display().to_string();
    let mut child = Command::new(example("mnist"))
        .args([
            "--data",
            &mnist_dir(),
            "--sizes",
            "784,1000,10",
            "--batch-size",
            "50000",
        ])
        .args(["--epochs", "2", "--save", &save])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("Training "), "{line}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let start = std::time::Instant::now();
    for _ in 0..2 {
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let rest: Vec<String> = stderr.lines().map(Result::unwrap).collect();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(
        start.elapsed().as_secs_f64() < 1.0,
        "exited after {:?}",
        start.elapsed()
    );
    assert!(rest.is_empty(), "nothing more is said: {rest:?}");
    assert!(!dir.path().join("net.checkpoint.json").exists());
}
