//! Loads a saved network and shows how it does on the MNIST test images (only those are read).
//!
//! ```sh
//! cargo run --release --example mnist -- --save net.json
//! cargo run --release --example predict -- net.json
//! ```
//!
//! Prints the test accuracy, the confusion matrix (rows: true digit, columns: predicted),
//! and a few test digits as text art with the predicted and true labels, misclassified ones
//! first.

use std::{path::PathBuf, process::ExitCode};

use batchprop::{Network, argmax};
use batchprop_data::Mnist;
use batchprop_examples::{BoxError, max_load_bytes, mnist_dir, parse_args};
use clap::Parser;

/// Evaluate a saved network on the 10,000 MNIST test images: accuracy, confusion matrix, and
/// some digits drawn with their predictions.
#[derive(Parser, Debug)]
#[command(long_about = None)]
struct Args {
    /// The saved network (from `--save` of the mnist example)
    model: PathBuf,
    /// Directory holding the four MNIST files (default: $MNIST_DIR, then data/mnist)
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// How many test digits to draw
    #[arg(long, default_value_t = 6)]
    show: usize,
    /// The most gigabytes loading the test data may allocate
    #[arg(long, value_name = "GB", default_value_t = 4.0)]
    max_load_gb: f64,
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
    let net = Network::<f64>::load(&args.model)?;
    let dir = mnist_dir(args.data.as_deref(), &batchprop_data::MNIST_FILES[2..])?;
    let test = Mnist::<f64>::load_test_with_limit(dir, max_load_bytes(args.max_load_gb)?)?;
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
    let predicted: Vec<usize> = outputs.columns().into_iter().map(argmax).collect();
    let truth: Vec<usize> = test.labels().iter().map(|&l| l as usize).collect();
    let correct = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
    println!(
        "{}: {correct} / {} test images correct ({:.2} %)",
        args.model.display(),
        test.len(),
        100.0 * correct as f64 / test.len() as f64
    );

    println!("\nConfusion matrix (rows: true digit, columns: predicted)\n");
    let mut confusion = [[0usize; 10]; 10];
    for (&p, &t) in predicted.iter().zip(&truth) {
        confusion[t][p] += 1;
    }
    print!("      ");
    for p in 0..10 {
        print!("{p:>6}");
    }
    println!();
    for (t, row) in confusion.iter().enumerate() {
        print!("{t:>6}");
        for &count in row {
            print!("{count:>6}");
        }
        println!();
    }

    // Misclassified digits first, then correct ones, in test-set order.
    let (wrong, right): (Vec<usize>, Vec<usize>) = (0..test.len()).partition(|&i| predicted[i] != truth[i]);
    let shapes = test.item_shape();
    let (rows, cols) = (shapes[0], shapes.get(1).copied().unwrap_or(1));
    for &i in wrong.iter().chain(&right).take(args.show) {
        let verdict = if predicted[i] == truth[i] { "correct" } else { "WRONG" };
        println!(
            "\nTest image {i}: predicted {}, true {} ({verdict})",
            predicted[i], truth[i]
        );
        let image = test.images().row(i).to_owned();
        for r in 0..rows {
            let line: String = (0..cols)
                .map(|c| match image[r * cols + c] {
                    v if v > 0.75 => '#',
                    v if v > 0.4 => '+',
                    v if v > 0.1 => '.',
                    _ => ' ',
                })
                .collect();
            println!("  {}", line.trim_end());
        }
    }
    Ok(())
}
