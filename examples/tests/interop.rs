//! The tools across formats: --save by extension, predict and --init-from of any file,
//! convert, and files from elsewhere.

mod common;

use std::path::Path;

use common::{mnist_dir, one_line_error, run};
use tempfile::TempDir;

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mnist_saves_by_extension_and_predict_reads_every_format() {
    let dir = TempDir::new().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    let data = mnist_dir();
    let train = ["--data", &data, "--sizes", "784,16,10", "--epochs", "1", "--seed", "2"];
    ok(&run(
        "mnist",
        &[&train[..], &["--save", &file("net.safetensors")]].concat(),
    ));
    ok(&run("mnist", &[&train[..], &["--save", &file("net.json")]].concat()));
    // The same network, whatever the file: the same accuracy line from predict.
    let first_line = |path: &str| {
        let out = ok(&run("predict", &[path, "--data", &data, "--show", "0"]));
        out.lines().next().unwrap().split(": ").nth(1).unwrap().to_string()
    };
    let accuracy = first_line(&file("net.json"));
    assert_eq!(first_line(&file("net.safetensors")), accuracy);
    // convert: JSON → npz → safetensors → JSON gives back the file mnist wrote, byte for byte
    // (f32 kept: every value of the file is an f32).
    ok(&run("convert", &[&file("net.json"), &file("net.npz")]));
    assert_eq!(first_line(&file("net.npz")), accuracy);
    ok(&run("convert", &[&file("net.npz"), &file("again.safetensors")]));
    ok(&run("convert", &[&file("again.safetensors"), &file("again.json")]));
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert!(
        read("again.json") == read("net.json"),
        "JSON → npz → safetensors → JSON changed the file"
    );
    assert!(
        read("again.safetensors") == read("net.safetensors"),
        "the safetensors files differ"
    );
    ok(&run("convert", &[&file("net.json"), &file("net.onnx")]));
    one_line_error(
        &run("predict", &[&file("net.onnx"), "--data", &data]),
        1,
        &["export only"],
    );
    one_line_error(
        &run("convert", &[&file("net.json"), &file("net.npz")]),
        1,
        &["exists", "--overwrite"],
    );

    // Fine-tuning from any file.
    let tuned = run(
        "mnist",
        &[
            "--data",
            &data,
            "--init-from",
            &file("net.npz"),
            "--epochs",
            "1",
            "--save",
            &file("tuned.safetensors"),
        ],
    );
    ok(&tuned);
    assert!(String::from_utf8_lossy(&tuned.stderr).contains("[784, 16, 10]"));
    one_line_error(
        &run(
            "mnist",
            &["--data", &data, "--init-from", &file("net.npz"), "--sizes", "784,30,10"],
        ),
        2,
        &["--sizes"],
    );
}

#[test]
fn files_from_elsewhere_say_what_they_lack() {
    // crates/core/tests/data/torch_like.safetensors: PyTorch's names, no batchprop metadata,
    // 4 inputs and 2 outputs (Linear, Tanh, Linear).
    let torch = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/core/tests/data/torch_like.safetensors")
        .display()
        .to_string();
    let data = mnist_dir();
    one_line_error(
        &run("mnist", &["--data", &data, "--init-from", &torch]),
        1,
        &["--activation", "PyTorch state_dict"],
    );
    one_line_error(
        &run(
            "mnist",
            &[
                "--data",
                &data,
                "--init-from",
                &torch,
                "--activation",
                "tanh",
                "--cost",
                "quadratic",
            ],
        ),
        1,
        &["[4, 3, 2] network does not fit MNIST"],
    );
    one_line_error(
        &run("predict", &[&torch, "--data", &data]),
        1,
        &["--activation", "--output-activation"],
    );
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("torch.json").display().to_string();
    let converted = run(
        "convert",
        &[&torch, &json, "--activation", "tanh", "--output-activation", "identity"],
    );
    ok(&converted);
    assert!(String::from_utf8_lossy(&converted.stderr).contains("cost assumed quadratic"));
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(
        text.contains("\"activations\":[\"tanh\",\"identity\"]") && text.contains("\"dtype\":\"f32\""),
        "{text}"
    );
}

#[test]
fn a_table_model_saved_as_safetensors_predicts_by_class_name() {
    let dir = TempDir::new().unwrap();
    let iris = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/tabular/iris.csv")
        .display()
        .to_string();
    let model = dir.path().join("iris.safetensors").display().to_string();
    ok(&run("train", &[&iris, "--epochs", "50", "--save", &model]));
    let out = ok(&run("predict", &[&model, "--csv", &iris, "--show", "3"]));
    assert!(
        out.contains("setosa") || out.contains("versicolor") || out.contains("virginica"),
        "{out}"
    );
}
