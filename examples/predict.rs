//! Loads a saved network and shows how it does on the MNIST test images (only those are read),
//! or a model saved by `train` and what it says of the rows of a CSV file.
//!
//! ```sh
//! cargo run --release --example mnist -- --save net.json
//! cargo run --release --example predict -- net.json
//! cargo run --release --example predict -- net.safetensors    # or .npz
//! cargo run --release --example predict -- torch.safetensors --activation relu --output-activation softmax
//! cargo run --release --example train -- data/tabular/iris.csv --save iris.json
//! cargo run --release --example predict -- iris.json --csv data/tabular/iris.csv
//! ```
//!
//! For MNIST: the test accuracy, the confusion matrix (rows: true digit, columns: predicted),
//! and a few test digits as text art with the predicted and true labels, misclassified ones
//! first. For a CSV file: one prediction per row (class names, or values in the target's
//! units) and, when the file has the target column, the accuracy and confusion matrix (or
//! MSE, MAE and R²).

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use batchprop::argmax;
use batchprop_data::{Column, CsvOptions, Mnist, Table, Target, csv_header};
use batchprop_examples::{AssumeFlags, BoxError, Dtype, max_load_bytes, mnist_dir, open_network, parse_args};
use batchprop_train::{Model, Prediction, Score};
use clap::Parser;
use ndarray_npy::WriteNpyExt;

/// Evaluate a saved network on the 10,000 MNIST test images (accuracy, confusion matrix, some
/// digits drawn with their predictions), or a saved model on the rows of a CSV file.
#[derive(Parser, Debug)]
#[command(long_about = None)]
struct Args {
    /// The saved network: .json, .safetensors or .npz (from `--save` of the mnist example, or
    /// written elsewhere: see --activation, --output-activation, --cost)
    model: PathBuf,
    /// Directory holding the four MNIST files (default: $MNIST_DIR, then data/mnist)
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// How many test digits to draw (with --csv: how many rows' predictions to print)
    #[arg(long, default_value_t = 6)]
    show: usize,
    /// Rows to predict, as a CSV file with the model's feature columns (a model saved by the
    /// train example)
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// The most gigabytes loading the test data may allocate
    #[arg(long, value_name = "GB", default_value_t = 4.0)]
    max_load_gb: f64,
    /// Also write the network's outputs on the MNIST test images, (10000, 10) with one image per
    /// row, to FILE as NumPy's .npy (to compare with another runtime's)
    #[arg(long, value_name = "FILE.npy", conflicts_with = "csv")]
    outputs: Option<PathBuf>,
    /// The precision to run the MNIST test images in
    #[arg(long, value_enum, default_value_t = Dtype::F64)]
    dtype: Dtype,
    #[command(flatten)]
    assume: AssumeFlags,
}

fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), BoxError> {
    if let Some(csv) = &args.csv {
        return predict_csv(args, csv);
    }
    match args.dtype {
        Dtype::F32 => predict_mnist::<f32>(args),
        Dtype::F64 => predict_mnist::<f64>(args),
    }
}

fn predict_mnist<F: batchprop::Float + batchprop_data::Float + ndarray_npy::WritableElement>(
    args: &Args,
) -> Result<(), BoxError> {
    let net = open_network::<F>(&args.model, &args.assume.assumed())?;
    let dir = mnist_dir(args.data.as_deref(), &batchprop_data::MNIST_FILES[2..])?;
    let test = Mnist::<F>::load_test_with_limit(dir, max_load_bytes(args.max_load_gb)?)?;
    if net.sizes()[0] != test.input_size() || net.sizes()[net.sizes().len() - 1] != test.classes() {
        return Err(format!(
            "{} is a {:?} network; MNIST needs {} inputs and {} outputs",
            args.model.display(),
            net.sizes(),
            test.input_size(),
            test.classes()
        )
        .into());
    }
    let outputs = net.feedforward(test.x())?; // (10 × 10000)
    if let Some(path) = &args.outputs {
        let mut npy = Vec::new();
        outputs.t().as_standard_layout().write_npy(&mut npy)?;
        batchprop::write_atomically(path, &npy)?;
    }
    let predicted: Vec<usize> = outputs.columns().into_iter().map(argmax).collect();
    let truth: Vec<usize> = test.labels().iter().map(|&l| l as usize).collect();
    let correct = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
    batchprop_examples::outln!(
        "{}: {correct} / {} test images correct ({:.2} %)",
        args.model.display(),
        test.len(),
        100.0 * correct as f64 / test.len() as f64
    );

    batchprop_examples::outln!("\nConfusion matrix (rows: true digit, columns: predicted)\n");
    let mut confusion = [[0usize; 10]; 10];
    for (&p, &t) in predicted.iter().zip(&truth) {
        confusion[t][p] += 1;
    }
    batchprop_examples::out!("      ");
    for p in 0..10 {
        batchprop_examples::out!("{p:>6}");
    }
    batchprop_examples::outln!();
    for (t, row) in confusion.iter().enumerate() {
        batchprop_examples::out!("{t:>6}");
        for &count in row {
            batchprop_examples::out!("{count:>6}");
        }
        batchprop_examples::outln!();
    }

    // Misclassified digits first, then correct ones, in test-set order.
    let (wrong, right): (Vec<usize>, Vec<usize>) = (0..test.len()).partition(|&i| predicted[i] != truth[i]);
    let shapes = test.item_shape();
    let (rows, cols) = (shapes[0], shapes.get(1).copied().unwrap_or(1));
    for &i in wrong.iter().chain(&right).take(args.show) {
        let verdict = if predicted[i] == truth[i] { "correct" } else { "WRONG" };
        batchprop_examples::outln!(
            "\nTest image {i}: predicted {}, true {} ({verdict})",
            predicted[i],
            truth[i]
        );
        let image = test.images().row(i).to_owned();
        for r in 0..rows {
            let line: String = (0..cols)
                .map(|c| match batchprop::Float::as_f64(image[r * cols + c]) {
                    v if v > 0.75 => '#',
                    v if v > 0.4 => '+',
                    v if v > 0.1 => '.',
                    _ => ' ',
                })
                .collect();
            batchprop_examples::outln!("  {}", line.trim_end());
        }
    }
    Ok(())
}

/// `--csv FILE`: the model's answers for the file's rows, and its score if the file has the
/// target column.
fn predict_csv(args: &Args, csv: &Path) -> Result<(), BoxError> {
    let model = Model::<f64>::load(&args.model)?;
    let info = &model.info;
    let header = csv_header(csv, b',')?;
    let options = CsvOptions {
        target: Some(Column::Name(info.target_name.clone())),
        features: Some(info.feature_names.iter().map(|n| Column::Name(n.clone())).collect()),
        task: Some(info.task),
        max_bytes: max_load_bytes(args.max_load_gb)?,
        ..CsvOptions::default()
    };
    let (rows, table) = if header.contains(&info.target_name) {
        let table = Table::<f64>::read_csv(csv, &options)?;
        (table.features().to_owned(), Some(table))
    } else {
        (Table::<f64>::read_csv_features(csv, &options)?.0, None)
    };
    let prediction = model.predict(rows.view())?;
    match &prediction {
        Prediction::Classes(names) => {
            for (i, name) in names.iter().enumerate().take(args.show) {
                batchprop_examples::outln!("row {}: {name}", i + 1);
            }
        }
        Prediction::Values(values) => {
            for (i, row) in values.rows().into_iter().enumerate().take(args.show) {
                let v: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
                batchprop_examples::outln!("row {}: {}", i + 1, v.join(", "));
            }
        }
    }
    if rows.nrows() > args.show {
        batchprop_examples::outln!("… ({} rows in all; --show N prints more)", rows.nrows());
    }
    let Some(table) = table else {
        return Ok(());
    };
    match model.score(&table)? {
        Score::Classes { correct, total } => {
            batchprop_examples::outln!(
                "\n{}: {correct} / {total} rows right ({:.2} %)",
                args.model.display(),
                100.0 * correct as f64 / total as f64
            );
            let (Prediction::Classes(predicted), Some(classes)) = (&prediction, &info.classes) else {
                unreachable!("a classifier predicts classes");
            };
            let Target::Classes { labels, names } = table.target() else {
                unreachable!("read as classes");
            };
            let index = |name: &str| classes.iter().position(|c| c == name).expect("a class of the model");
            let mut confusion = vec![vec![0usize; classes.len()]; classes.len()];
            for (&l, p) in labels.iter().zip(predicted) {
                confusion[index(&names[l as usize])][index(p)] += 1;
            }
            let width = classes.iter().map(String::len).max().unwrap_or(1).max(6) + 1;
            batchprop_examples::outln!("\nConfusion matrix (rows: true class, columns: predicted)\n");
            batchprop_examples::out!("{:width$}", "");
            for c in classes {
                batchprop_examples::out!("{c:>width$}");
            }
            batchprop_examples::outln!();
            for (c, row) in classes.iter().zip(&confusion) {
                batchprop_examples::out!("{c:>width$}");
                for count in row {
                    batchprop_examples::out!("{count:>width$}");
                }
                batchprop_examples::outln!();
            }
        }
        Score::Values { mse, mae, r2 } => {
            batchprop_examples::outln!(
                "\n{}: mse {mse:.4}, mae {mae:.4}, r2 {r2:.4} on {} rows",
                args.model.display(),
                table.len()
            );
        }
    }
    Ok(())
}
