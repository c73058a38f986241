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
//! repository's `data/mnist`. The loop is `batchprop_train::Trainer`'s; this file parses flags
//! and prints.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use batchprop::{Backend, Float, Network, Rule};
use batchprop_data::{Mnist, Split};
use batchprop_examples::{
    ActivationArg, Architecture, BoxError, CostArg, Dtype, InitArg, OptimizerArg, TestAccuracy, examples, mnist_dir,
    parse_args, update_rule,
};
use batchprop_train::{Checkpointer, Control, Engine, EpochEnd, Error, Monitor, Observer, Settings, Trainer, Warning};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Train a fully-connected network on MNIST by backpropagating whole mini-batches, and print
/// the book's per-epoch test accuracy.
#[derive(Parser, Debug)]
#[command(long_about = None, allow_negative_numbers = true)]
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
    /// L2 regularisation λ (for Adam: its weight decay per step; for AdamW: decoupled)
    #[arg(long, default_value_t = 0.0)]
    lambda: f64,
    /// L1 regularisation λ₁
    #[arg(long, default_value_t = 0.0)]
    l1: f64,
    /// Dropout on the hidden layers: the probability P of dropping a neuron while training
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    dropout: f64,
    /// Update rule
    #[arg(long, value_enum, default_value_t = OptimizerArg::Sgd)]
    optimizer: OptimizerArg,
    /// Momentum μ for SGD (0 is plain SGD)
    #[arg(long, value_name = "MU")]
    momentum: Option<f64>,
    /// Nesterov momentum (with --momentum)
    #[arg(long)]
    nesterov: bool,
    /// Adam's β₁
    #[arg(long, default_value_t = 0.9)]
    beta1: f64,
    /// Adam's β₂
    #[arg(long, default_value_t = 0.999)]
    beta2: f64,
    /// Adam's ε
    #[arg(long, default_value_t = 1e-8)]
    epsilon: f64,
    /// Cost function (log-likelihood puts a softmax on the output layer)
    #[arg(long, value_enum, default_value_t = CostArg::Quadratic)]
    cost: CostArg,
    /// Activation of the hidden layers
    #[arg(long, value_enum, default_value_t = ActivationArg::Sigmoid)]
    activation: ActivationArg,
    /// The slope of --activation leaky-relu for z < 0
    #[arg(long, value_name = "A", default_value_t = batchprop::DEFAULT_LEAKY_SLOPE)]
    leaky_slope: f64,
    /// Initial weights: N(0, 1) (standard), N(0, 1/n_in) (scaled), He or Xavier
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
    /// Train on all 60,000 training images (no validation set; the test set is evaluated)
    #[arg(long)]
    full_train: bool,
    /// Also report cost and accuracy on the training and validation data every epoch
    #[arg(long)]
    monitor: bool,
    /// Stop after N epochs without a better validation accuracy, keeping the best epoch's network
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    early_stop: Option<u32>,
    /// Halve η after N epochs without a better validation accuracy; stop at η/128
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    eta_schedule: Option<u32>,
    /// Save the trained network to FILE at the end (JSON, network2.py's layout): the best
    /// epoch's with --early-stop, else the last
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Where to save checkpoints (the network and the run's state, for --resume)
    /// [default: beside --save, as NAME.checkpoint.json]
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Also checkpoint after every N epochs, so that a killed run keeps its progress
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    checkpoint_every: Option<u32>,
    /// Continue the run checkpointed in FILE with its saved settings (--epochs may raise the
    /// total); the result is the same as a run that was never interrupted
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

fn settings(args: &Args) -> Result<Settings, BoxError> {
    let rule = update_rule(
        args.optimizer,
        args.momentum,
        args.nesterov,
        (args.beta1, args.beta2, args.epsilon),
    )?;
    Ok(Settings {
        epochs: args.epochs.unwrap_or(30),
        batch_size: args.batch_size as usize,
        eta: args.eta,
        lambda: args.lambda,
        l1: args.l1,
        dropout: args.dropout,
        rule,
        seed: args.seed,
        engine: if args.per_example {
            Engine::PerExample
        } else {
            Engine::Batched
        },
        // The default run measures nothing but the test accuracy it prints (as network.py).
        monitor: if args.monitor {
            Monitor::all()
        } else {
            Monitor {
                evaluation_accuracy: false,
                ..Monitor::default()
            }
        },
        early_stop: args.early_stop.map(|n| n as usize),
        eta_schedule: args.eta_schedule.map(|n| n as usize),
        ..Settings::book()
    })
}

fn run<F: Float + batchprop_data::Float>(args: &Args) -> Result<(), BoxError> {
    // The one place the thread policy is set: the engine splits large batches (and
    // evaluation) across the pool it runs in.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.map_or(0, |t| t as usize))
        .build()?;
    pool.install(|| train_and_report::<F>(args))
}

/// `NAME.checkpoint.json` beside `path`.
fn checkpoint_beside(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or(path.as_os_str()).to_string_lossy();
    path.with_file_name(format!("{stem}.checkpoint.json"))
}

fn train_and_report<F: Float + batchprop_data::Float>(args: &Args) -> Result<(), BoxError> {
    let wall = Instant::now();
    let (mut trainer, mut net, init) = match &args.resume {
        None => {
            let architecture = Architecture {
                sizes: args.sizes.clone(),
                hidden: args.activation,
                leaky_slope: args.leaky_slope,
                cost: args.cost.into(),
                init: args.init.into(),
            };
            let mut trainer = Trainer::<F>::new(settings(args)?)?;
            let net = architecture.build(trainer.rng())?;
            let tags = trainer.tags_mut();
            tags.insert("full_train".into(), args.full_train.to_string());
            tags.insert("init".into(), architecture.init.name().into());
            (trainer, net, architecture.init)
        }
        Some(path) => {
            let (mut trainer, net) = Trainer::<F>::resume(path)?;
            if let Some(epochs) = args.epochs {
                trainer.set_epochs(epochs)?;
            }
            eprintln!(
                "Resuming {} after epoch {} of {}, with its saved settings",
                path.display(),
                trainer.epochs_done(),
                trainer.settings().epochs
            );
            let init = (trainer.tags().get("init"))
                .and_then(|name| batchprop::Init::from_name(name))
                .unwrap_or_default();
            (trainer, net, init)
        }
    };
    let full_train = trainer.tags().get("full_train").is_some_and(|v| v == "true");
    // Checkpoints: --checkpoint, else beside --save, else (resuming) where the run came from.
    let checkpoint = args
        .checkpoint
        .clone()
        .or_else(|| args.save.as_deref().map(checkpoint_beside))
        .or_else(|| args.resume.clone());
    if args.checkpoint_every.is_some() && checkpoint.is_none() {
        return Err("--checkpoint-every needs --save FILE or --checkpoint FILE".into());
    }
    let dir = mnist_dir(args.data.as_deref())?;
    let split = if full_train { Split::Full } else { Split::Book };
    let mnist = Mnist::<F>::load(&dir, split)?;
    let settings = trainer.settings().clone();
    let engine = match settings.engine {
        Engine::Batched => "batched",
        Engine::PerExample => "per-example loop",
    };
    let threads = rayon::current_num_threads();
    eprintln!(
        "Training {} on {} MNIST images from {}: {engine}, {}, {}, {threads}-thread pool, seed {}",
        describe(&net, &settings, init),
        mnist.train.len(),
        dir.display(),
        F::NAME,
        Backend::current().describe(),
        settings.seed,
    );

    let train = examples(&mnist.train)?;
    // Validation data, or the test data when there is none (--full-train).
    let evaluation_set = if mnist.validation.is_empty() {
        &mnist.test
    } else {
        &mnist.validation
    };
    let evaluation = examples(evaluation_set)?;
    let mut report = Report {
        bar: if std::io::stderr().is_terminal() && !args.json {
            ProgressBar::new(0).with_style(
                ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} batches").expect("a valid template"),
            )
        } else {
            ProgressBar::hidden()
        },
        json: args.json,
        test: TestAccuracy::new(&mnist.test),
    };
    let mut checkpointer = Checkpointer {
        path: checkpoint.clone().unwrap_or_default(),
        every: args.checkpoint_every.map_or(0, |n| n as usize),
    };
    let result = if checkpoint.is_some() {
        trainer.fit(
            &mut net,
            &train,
            Some(&evaluation),
            &mut (&mut report, &mut checkpointer),
        )
    } else {
        trainer.fit(&mut net, &train, Some(&evaluation), &mut report)
    };
    report.bar.finish_and_clear();
    result.map_err(|e| with_flag_hints(e, trainer.eta(), &net, init))?;

    if let Some(path) = &checkpoint {
        eprintln!("Checkpoint (for --resume): {}", path.display());
    }
    if let Some(path) = &args.save {
        net.save(path)?;
        match trainer.best_epoch().filter(|_| settings.early_stop.is_some()) {
            Some(best_epoch) => eprintln!(
                "Saved the network of epoch {best_epoch}, the best on the {} data, to {}",
                if mnist.validation.is_empty() {
                    "test"
                } else {
                    "validation"
                },
                path.display()
            ),
            None => eprintln!("Saved the network of the last epoch to {}", path.display()),
        }
    }
    let run = Run {
        settings: &settings,
        net: &net,
        init,
        trainer: &trainer,
        train_examples: mnist.train.len(),
        test_correct: &report.test.correct,
        test_total: mnist.test.len(),
    };
    summarize(args, &run, wall.elapsed().as_secs_f64(), args.save.as_deref());
    Ok(())
}

/// `[784, 30, 10] sigmoid, quadratic cost, η 3, mini-batch 10, standard init[, λ 5]`.
fn describe<F: Float>(net: &Network<F>, settings: &Settings, init: batchprop::Init) -> String {
    let mut s = format!(
        "{:?} {}, {} cost, η {}, mini-batch {}, {} init",
        net.sizes(),
        hidden_name(net),
        net.cost().name(),
        settings.eta,
        settings.batch_size,
        init.name()
    );
    if settings.lambda != 0.0 {
        s += &format!(", λ {}", settings.lambda);
    }
    if settings.l1 != 0.0 {
        s += &format!(", λ₁ {}", settings.l1);
    }
    if settings.dropout != 0.0 {
        s += &format!(", dropout {}", settings.dropout);
    }
    match settings.rule {
        Rule::Sgd => {}
        Rule::Momentum { mu } => s += &format!(", momentum {mu}"),
        Rule::Nesterov { mu } => s += &format!(", Nesterov momentum {mu}"),
        Rule::Adam { beta1, beta2, epsilon } | Rule::AdamW { beta1, beta2, epsilon } => {
            s += &format!(", {} β ({beta1}, {beta2}) ε {epsilon}", settings.rule.name())
        }
    }
    s
}

/// The hidden layers' activation (the first layer's, which is the output's if there is no
/// hidden layer).
fn hidden_name<F: Float>(net: &Network<F>) -> String {
    net.activations()[0].name().into_owned()
}

/// A divergence reported with this tool's flags as the hints.
fn with_flag_hints<F: Float>(e: Error, eta: f64, net: &Network<F>, init: batchprop::Init) -> BoxError {
    match e {
        Error::Diverged {
            epoch,
            batch,
            what,
            value,
            hint: _,
        } => {
            let mut hints = vec![format!("a smaller --eta (now {eta:?})")];
            if init != batchprop::Init::Scaled {
                hints.push("--init scaled".into());
            }
            if net.cost() == batchprop::Cost::Quadratic {
                hints.push("--cost cross-entropy".into());
            }
            Error::Diverged {
                epoch,
                batch,
                what,
                value,
                hint: hints.join(", or "),
            }
            .into()
        }
        other => other.into(),
    }
}

/// Prints each epoch (the book's line, or JSON) and drives the progress bar.
struct Report<'a, F> {
    bar: ProgressBar,
    json: bool,
    test: TestAccuracy<'a, F>,
}

impl<F: Float + batchprop_data::Float> Observer<F> for Report<'_, F> {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        self.bar.reset();
        self.bar.set_length(batches as u64);
        self.bar.set_message(format!("Epoch {epoch}"));
    }

    fn batch_end(&mut self, _epoch: usize, _batch: usize) -> Control {
        self.bar.inc(1);
        Control::Continue
    }

    fn epoch_end(&mut self, end: &EpochEnd<'_, F>) -> batchprop_train::Result<Control> {
        self.test.epoch_end(end)?;
        let (e, test_correct, test_total) = (
            end.record,
            *self.test.correct.last().expect("just counted"),
            self.test.test.len(),
        );
        self.bar.set_position(0);
        let (training, evaluation) = (e.training.as_ref(), e.evaluation.as_ref());
        if self.json {
            let mut line = json!({
                "epoch": e.epoch,
                "test_correct": test_correct,
                "test_total": test_total,
                "train_seconds": e.train_seconds,
                "examples_per_second": e.examples_per_second,
                "running_cost": e.running_cost,
                "eta": e.eta,
            });
            if let (Some(t), Some(v)) = (training, evaluation) {
                line["training_cost"] = json!(t.cost);
                line["training_correct"] = json!(t.correct);
                line["training_total"] = json!(t.total);
                line["evaluation_cost"] = json!(v.cost);
                line["evaluation_correct"] = json!(v.correct);
                line["evaluation_total"] = json!(v.total);
            }
            self.bar.suspend(|| println!("{line}"));
        } else {
            self.bar.suspend(|| {
                println!(
                    "Epoch {}: {test_correct} / {test_total}  ({:.2} s, {:.0} examples/s)",
                    e.epoch, e.train_seconds, e.examples_per_second
                );
                if let (Some(t), Some(v)) = (training, evaluation) {
                    let cost = |c: Option<f64>| c.map_or("-".into(), |c| format!("{c:.6}"));
                    let correct = |c: Option<usize>| c.map_or("-".into(), |c| c.to_string());
                    println!("  Cost on training data: {}", cost(t.cost));
                    println!("  Accuracy on training data: {} / {}", correct(t.correct), t.total);
                    println!("  Cost on evaluation data: {}", cost(v.cost));
                    println!("  Accuracy on evaluation data: {} / {}", correct(v.correct), v.total);
                }
            });
        }
        Ok(Control::Continue)
    }

    fn warning(&mut self, warning: &Warning) {
        self.bar.suspend(|| eprintln!("warning: {warning}"));
    }
}

/// What the summary line reports.
struct Run<'a, F: Float> {
    settings: &'a Settings,
    net: &'a Network<F>,
    init: batchprop::Init,
    trainer: &'a Trainer<F>,
    train_examples: usize,
    /// The test accuracy of each epoch this call ran.
    test_correct: &'a [usize],
    test_total: usize,
}

fn summarize<F: Float>(args: &Args, run: &Run<'_, F>, wall_seconds: f64, saved: Option<&Path>) {
    let Run {
        settings,
        net,
        test_correct,
        test_total,
        ..
    } = *run;
    // This call's epochs (a resumed run reports the epochs it ran).
    let history = run.trainer.history();
    let epochs = &history[history.len() - test_correct.len()..];
    let train_seconds: f64 = epochs.iter().map(|e| e.train_seconds).sum();
    let examples_per_second = (run.train_examples * epochs.len()) as f64 / train_seconds;
    let best = (0..epochs.len()).max_by_key(|&i| (test_correct[i], std::cmp::Reverse(epochs[i].epoch)));
    if args.json {
        println!(
            "{}",
            json!({
                "summary": true,
                "sizes": net.sizes(),
                "epochs": epochs.len(),
                "batch_size": settings.batch_size,
                "eta": settings.eta,
                "lambda": settings.lambda,
                "l1": settings.l1,
                "dropout": settings.dropout,
                "rule": settings.rule,
                "cost": net.cost().name(),
                "activation": hidden_name(net),
                "init": run.init.name(),
                "seed": settings.seed,
                "per_example": settings.engine == Engine::PerExample,
                "threads": rayon::current_num_threads(),
                "gemm": Backend::current().describe(),
                "final_test_correct": test_correct.last(),
                "best_test_correct": best.map(|i| test_correct[i]),
                "best_epoch": best.map(|i| epochs[i].epoch),
                "test_total": best.map(|_| test_total),
                "train_seconds": train_seconds,
                "examples_per_second": examples_per_second,
                "wall_seconds": wall_seconds,
                "saved": saved.map(|p| p.display().to_string()),
            })
        );
    } else if let Some(i) = best {
        println!(
            "Best: {} / {test_total} at epoch {}. {} epochs: {:.2} s training ({:.0} examples/s), {:.2} s in all",
            test_correct[i],
            epochs[i].epoch,
            epochs.len(),
            train_seconds,
            examples_per_second,
            wall_seconds
        );
    }
}
