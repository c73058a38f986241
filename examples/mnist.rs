//! Trains a network on MNIST the way chapter 1 of the book does, with the whole mini-batch
//! propagated at once.
//!
//! ```sh
//! cargo run --release --example mnist
//! ```
//!
//! trains `[784, 30, 10]` (sigmoid neurons, quadratic cost, η = 3.0, mini-batches of 10, 30
//! epochs) and prints the book's line after every epoch, `Epoch 7: 9461 / 10000`, with the
//! epoch's training time and examples per second. The chapter 3 network, for instance:
//!
//! ```sh
//! cargo run --release --example mnist -- --sizes 784,100,10 --cost cross-entropy \
//!     --eta 0.1 --lambda 5.0 --init scaled --epochs 60 --monitor
//! ```
//!
//! `--help` lists every flag. The data is found in `--data DIR`, `$MNIST_DIR`, or the
//! repository's `data/mnist`.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use batchprop::{Backend, Cost, Float, Init};
use batchprop_data::{Mnist, Split};
use batchprop_examples::{BoxError, Checkpoint, Event, Resume, TrainConfig, mnist_dir, parse_args, train};
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Train a fully-connected network on MNIST by backpropagating whole mini-batches.
#[derive(Parser, Debug)]
#[command(about, long_about = None, allow_negative_numbers = true)]
struct Args {
    /// Directory holding the four MNIST files (default: $MNIST_DIR, then data/mnist)
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Layer sizes, input first
    #[arg(long, value_delimiter = ',', default_value = "784,30,10")]
    sizes: Vec<usize>,
    /// Passes over the training data [default: 30; with --resume, the saved run's total]
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per mini-batch
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// Learning rate η
    #[arg(long, default_value_t = 3.0)]
    eta: f64,
    /// L2 regularisation λ
    #[arg(long, default_value_t = 0.0)]
    lambda: f64,
    /// Cost function (log-likelihood puts a softmax on the output layer)
    #[arg(long, value_enum, default_value_t = CostArg::Quadratic)]
    cost: CostArg,
    /// Activation of the hidden layers
    #[arg(long, value_enum, default_value_t = ActivationArg::Sigmoid)]
    activation: ActivationArg,
    /// Initial weights: N(0, 1) (standard) or N(0, 1/n_in) (scaled)
    #[arg(long, value_enum, default_value_t = InitArg::Standard)]
    init: InitArg,
    /// Floating-point precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Seed of the initial parameters and the shuffles: the same seed prints the same numbers
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train with the book's per-example loop instead of whole mini-batches
    #[arg(long)]
    per_example: bool,
    /// Train on all 60,000 training images (no validation set)
    #[arg(long)]
    full_train: bool,
    /// Also report cost and accuracy on the training and validation data every epoch
    #[arg(long)]
    monitor: bool,
    /// Save the trained network to FILE (JSON, network2.py's layout, with the state to resume)
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// With --save: also save after every N epochs, so that a killed run keeps its progress
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    checkpoint_every: Option<u32>,
    /// Continue the run saved in FILE with its saved settings (--epochs may raise the total);
    /// the result is the same as a run that was never interrupted
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Print one JSON object per epoch, and a summary, on stdout
    #[arg(long)]
    json: bool,
    /// Threads for large mini-batches and evaluation (default: $RAYON_NUM_THREADS, else one
    /// per core). Batches under 32 examples always run on one thread.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CostArg {
    Quadratic,
    CrossEntropy,
    LogLikelihood,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ActivationArg {
    Sigmoid,
    Tanh,
    Relu,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum InitArg {
    Standard,
    Scaled,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Dtype {
    F32,
    F64,
}

fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let result = dtype(&args).and_then(|dtype| match dtype {
        Dtype::F32 => run::<f32>(&args),
        Dtype::F64 => run::<f64>(&args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The precision to run in: the saved run's when resuming, else `--dtype`.
fn dtype(args: &Args) -> Result<Dtype, BoxError> {
    let Some(path) = &args.resume else {
        return Ok(args.dtype);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a saved network: {e}", path.display()))?;
    match json["dtype"].as_str() {
        Some("f64") => Ok(Dtype::F64),
        _ => Ok(Dtype::F32),
    }
}

fn config(args: &Args) -> TrainConfig {
    TrainConfig {
        sizes: args.sizes.clone(),
        epochs: args.epochs.unwrap_or(30),
        batch_size: args.batch_size as usize,
        eta: args.eta,
        lambda: args.lambda,
        cost: match args.cost {
            CostArg::Quadratic => Cost::Quadratic,
            CostArg::CrossEntropy => Cost::CrossEntropy,
            CostArg::LogLikelihood => Cost::LogLikelihood,
        },
        hidden: format!("{:?}", args.activation).to_lowercase(),
        init: match args.init {
            InitArg::Standard => Init::Standard,
            InitArg::Scaled => Init::Scaled,
        },
        seed: args.seed,
        per_example: args.per_example,
        monitor: args.monitor,
        full_train: args.full_train,
    }
}

fn run<F: Float>(args: &Args) -> Result<(), BoxError> {
    // The one place the thread policy is set: the engine splits large batches (and
    // evaluation) across the pool it runs in.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.map_or(0, |t| t as usize))
        .build()?;
    pool.install(|| train_and_report::<F>(args))
}

fn train_and_report<F: Float>(args: &Args) -> Result<(), BoxError> {
    let wall = Instant::now();
    let (config, resume) = match &args.resume {
        None => (config(args), None),
        Some(path) => {
            let (resume, mut saved) = Resume::<F>::load(path)?;
            saved.epochs = args.epochs.unwrap_or(saved.epochs);
            eprintln!(
                "Resuming {} after epoch {} of {}, with its saved settings",
                path.display(),
                resume.epochs_done,
                saved.epochs
            );
            (saved, Some(resume))
        }
    };
    // A resumed run keeps saving where it was resumed from unless --save says otherwise.
    let checkpoint = match (args.save.as_ref().or(args.resume.as_ref()), args.checkpoint_every) {
        (Some(path), every) => Some(Checkpoint {
            path: path.clone(),
            every: every.map_or(0, |n| n as usize),
        }),
        (None, Some(_)) => return Err("--checkpoint-every needs --save FILE (or --resume FILE)".into()),
        (None, None) => None,
    };
    let dir = mnist_dir(args.data.as_deref())?;
    let split = if config.full_train { Split::Full } else { Split::Book };
    let mnist = Mnist::<F>::load(&dir, split)?;
    let engine = if config.per_example {
        "per-example loop"
    } else {
        "batched"
    };
    let threads = rayon::current_num_threads();
    eprintln!(
        "Training {} on {} MNIST images from {}: {engine}, {}, {}, {threads}-thread pool, seed {}",
        config.describe(),
        mnist.train.len(),
        dir.display(),
        F::NAME,
        Backend::current().describe(),
        config.seed,
    );

    let bar = if std::io::stderr().is_terminal() && !args.json {
        ProgressBar::new(0)
            .with_style(ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} batches").expect("a valid template"))
    } else {
        ProgressBar::hidden()
    };
    let json = args.json;
    let (_, epochs) = train(&config, &mnist, resume, checkpoint.as_ref(), |event| match event {
        Event::EpochStart { epoch, batches } => {
            bar.reset();
            bar.set_length(batches as u64);
            bar.set_message(format!("Epoch {epoch}"));
        }
        Event::Batch => bar.inc(1),
        Event::EpochEnd(e) => {
            bar.set_position(0);
            if json {
                let mut line = json!({
                    "epoch": e.epoch,
                    "test_correct": e.test_correct,
                    "test_total": e.test_total,
                    "train_seconds": e.train_seconds,
                    "examples_per_second": e.examples_per_second,
                    "running_cost": e.running_cost,
                });
                if let Some(m) = &e.monitor {
                    line["training_cost"] = json!(m.training_cost);
                    line["training_correct"] = json!(m.training_correct);
                    line["training_total"] = json!(m.training_total);
                    line["evaluation_cost"] = json!(m.evaluation_cost);
                    line["evaluation_correct"] = json!(m.evaluation_correct);
                    line["evaluation_total"] = json!(m.evaluation_total);
                }
                bar.suspend(|| println!("{line}"));
            } else {
                bar.suspend(|| {
                    println!(
                        "Epoch {}: {} / {}  ({:.2} s, {:.0} examples/s)",
                        e.epoch, e.test_correct, e.test_total, e.train_seconds, e.examples_per_second
                    );
                    if let Some(m) = &e.monitor {
                        println!("  Cost on training data: {:.6}", m.training_cost);
                        println!(
                            "  Accuracy on training data: {} / {}",
                            m.training_correct, m.training_total
                        );
                        println!("  Cost on evaluation data: {:.6}", m.evaluation_cost);
                        println!(
                            "  Accuracy on evaluation data: {} / {}",
                            m.evaluation_correct, m.evaluation_total
                        );
                    }
                });
            }
        }
    })?;
    bar.finish_and_clear();

    if let Some(c) = &checkpoint {
        eprintln!("Saved the network to {}", c.path.display());
    }
    summarize(
        args,
        &config,
        &epochs,
        wall.elapsed().as_secs_f64(),
        &mnist.train.len(),
        checkpoint.as_ref().map(|c| c.path.as_path()),
    );
    Ok(())
}

fn summarize(
    args: &Args,
    config: &TrainConfig,
    epochs: &[batchprop_examples::Epoch],
    wall_seconds: f64,
    train_examples: &usize,
    saved: Option<&Path>,
) {
    let train_seconds: f64 = epochs.iter().map(|e| e.train_seconds).sum();
    let examples_per_second = (*train_examples * epochs.len()) as f64 / train_seconds;
    let best = epochs
        .iter()
        .max_by_key(|e| (e.test_correct, std::cmp::Reverse(e.epoch)));
    if args.json {
        println!(
            "{}",
            json!({
                "summary": true,
                "sizes": config.sizes,
                "epochs": epochs.len(),
                "batch_size": config.batch_size,
                "eta": config.eta,
                "lambda": config.lambda,
                "cost": config.cost.name(),
                "activation": config.hidden,
                "init": config.init.name(),
                "seed": config.seed,
                "per_example": config.per_example,
                "threads": rayon::current_num_threads(),
                "gemm": Backend::current().describe(),
                "final_test_correct": epochs.last().map(|e| e.test_correct),
                "best_test_correct": best.map(|e| e.test_correct),
                "best_epoch": best.map(|e| e.epoch),
                "test_total": epochs.last().map(|e| e.test_total),
                "train_seconds": train_seconds,
                "examples_per_second": examples_per_second,
                "wall_seconds": wall_seconds,
                "saved": saved.map(|p| p.display().to_string()),
            })
        );
    } else if let Some(best) = best {
        println!(
            "Best: {} / {} at epoch {}. {} epochs: {:.2} s training ({:.0} examples/s), {:.2} s in all",
            best.test_correct,
            best.test_total,
            best.epoch,
            epochs.len(),
            train_seconds,
            examples_per_second,
            wall_seconds
        );
    }
}
