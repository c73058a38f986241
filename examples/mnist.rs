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
    sync::atomic::Ordering,
    time::Instant,
};

use batchprop::{Assumed, Backend, Float, Init, Network, Rule, check_writable};
use batchprop_data::{ImageBytes, MNIST_FILES, Mnist, Split};
use batchprop_examples::{
    ActivationArg, Architecture, BoxError, CostArg, Dtype, InitArg, OptimizerArg, RuleFlags, TestAccuracy,
    check_threads, checkpoint_beside, continue_run, examples, given, keep_run, max_load_bytes, mnist_dir, on_signals,
    open_network, parse_args_and_matches, refuse_when_resuming, report_interrupt, run_dtype, save_or_fallback,
    stopped_at,
};
use batchprop_train::{
    Checkpointer, Collective, Control, Engine, EpochEnd, Error, Finish, Images, Monitor, Observer, Settings, Source,
    StopFlag, Trainer, Warning,
};
use clap::{ArgMatches, Parser};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Train a fully-connected network on MNIST by backpropagating whole mini-batches, and print
/// the book's per-epoch test accuracy.
#[derive(Parser, Debug, Clone)]
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
    /// Examples per mini-batch (the book's mini_batch_size)
    #[arg(long, visible_alias = "mini-batch-size", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// Learning rate η
    #[arg(long, default_value_t = 3.0)]
    eta: f64,
    /// L2 regularisation λ (for Adam: its weight decay per step; for AdamW: decoupled)
    #[arg(long, visible_alias = "lmbda", default_value_t = 0.0)]
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
    #[command(flatten)]
    rule: RuleFlags,
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
    /// Expand the training images fivefold by one-pixel shifts down, up, right and left (the
    /// book's expand_mnist.py), made on the fly from the bytes: 250,000 examples per epoch
    #[arg(long)]
    expand: bool,
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
    /// epoch's with --early-stop, else the last. A network already there that classifies more
    /// of the evaluation images right is not replaced (this run stays in its checkpoint)
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Let --save replace FILE whatever it holds (a better network, or not a network at all)
    #[arg(long)]
    overwrite: bool,
    /// Where to save checkpoints (the network and the run's state, for --resume)
    /// [default: beside --save, as NAME.checkpoint.json]
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Also checkpoint after every N epochs, so that a killed run keeps its progress
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    checkpoint_every: Option<u32>,
    /// Continue the run checkpointed in FILE with its saved settings (--epochs may raise the
    /// total, --eta change η); the result is the same as a run that was never interrupted
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Start from the network in FILE (.json, .safetensors or .npz, e.g. trained in PyTorch)
    /// instead of drawing one: fine-tuning. A file that does not say its activations and cost
    /// takes --activation and --cost
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sizes", "init", "resume"])]
    init_from: Option<PathBuf>,
    /// The most gigabytes loading the data may allocate (a corrupt header cannot make it take more)
    #[arg(long, value_name = "GB", default_value_t = 4.0)]
    max_load_gb: f64,
    /// Print one JSON object per epoch, and a summary, on stdout
    #[arg(long)]
    json: bool,
    /// Under MPI (built with --features mpi, run by mpirun): compare the processes'
    /// parameters after every epoch (always on in debug builds)
    #[arg(long)]
    check_sync: bool,
    /// Threads for large mini-batches and evaluation (default: $RAYON_NUM_THREADS, else one
    /// per core; at most 8 per core). Batches under 32 examples always run on one thread.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
}

fn main() -> ExitCode {
    let (args, matches): (Args, _) = match parse_args_and_matches() {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let result = check_threads(args.threads).and_then(|threads| {
        let dtype = run_dtype(args.resume.as_deref(), args.dtype)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()?;
        // The one place the thread policy is set: the engine splits large batches (and
        // evaluation) across the pool it runs in.
        // Under MPI, the job's processes train in step (docs/distributed.md).
        pool.install(|| {
            batchprop_examples::in_job(|job| match dtype {
                Dtype::F32 => train_and_report::<f32>(&args, &matches, job),
                Dtype::F64 => train_and_report::<f64>(&args, &matches, job),
            })
        })
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn settings(args: &Args) -> Result<Settings, BoxError> {
    let rule = args.rule.rule(args.optimizer)?;
    Ok(Settings {
        epochs: args.epochs.unwrap_or(30),
        batch_size: args.batch_size as usize,
        eta: args.eta,
        lambda: args.lambda,
        l1: args.l1,
        dropout: args.dropout,
        rule,
        seed: args.seed,
        shuffle: true,
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

/// The flags a resumed run takes from its checkpoint, which cannot change mid-run (clap ids;
/// the update rule's, `RuleFlags::IDS`, too).
const FIXED_WHEN_RESUMING: [&str; 18] = [
    "sizes",
    "batch_size",
    "lambda",
    "l1",
    "dropout",
    "optimizer",
    "cost",
    "activation",
    "leaky_slope",
    "init",
    "dtype",
    "seed",
    "per_example",
    "full_train",
    "expand",
    "monitor",
    "early_stop",
    "eta_schedule",
];

/// The run to train: new from the flags, or resumed from `--resume` (with `--epochs` and
/// `--eta` applied, and the flags it cannot change refused). `None` when the resumed run is
/// already finished (said on stderr). Everything here is checked before any data is read.
#[allow(clippy::type_complexity)]
fn start<F: Float>(args: &Args, matches: &ArgMatches) -> Result<Option<(Trainer<F>, Network<F>, Init)>, BoxError> {
    let Some(path) = &args.resume else {
        let architecture = Architecture {
            sizes: args.sizes.clone(),
            hidden: args.activation,
            leaky_slope: args.leaky_slope,
            cost: args.cost.into(),
            init: args.init.into(),
        };
        // MNIST's shape is known before it is read: check the flags first.
        let sizes = &architecture.sizes;
        if sizes.len() >= 2 && (sizes[0] != MNIST_INPUTS || sizes[sizes.len() - 1] != MNIST_CLASSES) {
            return Err(format!(
                "--sizes {sizes:?} does not fit MNIST: the first layer must be {MNIST_INPUTS} (the 28×28 image \
                 pixels) and the last {MNIST_CLASSES} (the digits)"
            )
            .into());
        }
        let mut trainer = Trainer::<F>::new(settings(args)?)?;
        let net = match &args.init_from {
            None => architecture.build(trainer.rng())?,
            Some(path) => initial_network(path, &architecture, matches)?,
        };
        let tags = trainer.tags_mut();
        tags.insert("full_train".into(), args.full_train.to_string());
        tags.insert("expand".into(), args.expand.to_string());
        tags.insert("init".into(), architecture.init.name().into());
        return Ok(Some((trainer, net, architecture.init)));
    };
    refuse_when_resuming(matches, &[&FIXED_WHEN_RESUMING[..], &RuleFlags::IDS].concat(), path)?;
    let (mut trainer, net) = Trainer::<F>::resume(path)?;
    let eta = given(matches, "eta").then_some(args.eta);
    if !continue_run(&mut trainer, path, args.epochs, eta)? {
        return Ok(None);
    }
    let init = (trainer.tags().get("init"))
        .and_then(|name| Init::from_name(name))
        .unwrap_or_default();
    Ok(Some((trainer, net, init)))
}

/// `--init-from FILE`'s network, checked to fit MNIST; `--activation` and `--cost`, where
/// given, say what the file does not.
fn initial_network<F: Float>(
    path: &Path,
    architecture: &Architecture,
    matches: &ArgMatches,
) -> Result<Network<F>, BoxError> {
    let assumed = Assumed {
        hidden: given(matches, "activation").then(|| architecture.hidden.activation(architecture.leaky_slope)),
        output: given(matches, "cost").then(|| architecture.output()),
        cost: given(matches, "cost").then_some(architecture.cost),
        layers: None,
    };
    let net = open_network::<F>(path, &assumed).map_err(|e| {
        e.to_string()
            .replace("--output-activation", "--cost, which sets the output")
    })?;
    let sizes = net.sizes();
    if sizes[0] != MNIST_INPUTS || sizes[sizes.len() - 1] != MNIST_CLASSES {
        return Err(format!(
            "--init-from {}: a {sizes:?} network does not fit MNIST ({MNIST_INPUTS} inputs, {MNIST_CLASSES} outputs)",
            path.display()
        )
        .into());
    }
    Ok(net)
}

const MNIST_INPUTS: usize = 784;
const MNIST_CLASSES: usize = 10;

/// What `--save FILE` would replace: checked before training. A file that is not a network
/// is refused unless `--overwrite`; a network is kept, to be compared with this run's.
fn existing_model<F: Float>(path: &Path, overwrite: bool) -> Result<Option<Network<F>>, BoxError> {
    let target = check_writable(path)?;
    if overwrite || !target.exists() {
        return Ok(None);
    }
    match Network::<F>::load(&target) {
        Ok(old) if old.sizes()[0] == MNIST_INPUTS && old.sizes()[old.num_layers() - 1] == MNIST_CLASSES => {
            Ok(Some(old))
        }
        Ok(old) => Err(format!(
            "--save {}: the file holds a {:?} network, not an MNIST one, which this run would replace; pass \
             --overwrite to replace it, or save elsewhere",
            path.display(),
            old.sizes()
        )
        .into()),
        Err(e) => Err(format!(
            "--save {}: the file exists and is not a network this tool can read ({e}); pass --overwrite to \
             replace it, or save elsewhere",
            path.display()
        )
        .into()),
    }
}

/// Trains as `args` say; with `job`, as one process of a data-parallel job, saving and
/// checkpointing on rank 0 only.
fn train_and_report<F: Float + batchprop_data::Float>(
    args: &Args,
    matches: &ArgMatches,
    job: Option<&dyn Collective>,
) -> Result<ExitCode, BoxError> {
    let wall = Instant::now();
    // Under MPI, rank 0 alone saves and checkpoints.
    let root = job.is_none_or(|c| c.rank() == 0);
    let args = &Args {
        save: args.save.clone().filter(|_| root),
        ..args.clone()
    };
    let Some((mut trainer, mut net, init)) = start::<F>(args, matches)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let full_train = trainer.tags().get("full_train").is_some_and(|v| v == "true");
    let expand = trainer.tags().get("expand").is_some_and(|v| v == "true");
    // Checkpoints: --checkpoint, else beside --save, else (resuming) where the run came from.
    let checkpoint = args
        .checkpoint
        .clone()
        .or_else(|| args.save.as_deref().map(checkpoint_beside))
        .or_else(|| args.resume.clone())
        .filter(|_| root);
    if args.checkpoint_every.is_some() && checkpoint.is_none() && root {
        return Err("--checkpoint-every needs --save FILE or --checkpoint FILE".into());
    }
    // Where the work will go, checked before the data is read and anything trains.
    let old_model = match &args.save {
        Some(path) => existing_model::<F>(path, args.overwrite)?,
        None => None,
    };
    if let Some(path) = &checkpoint {
        check_writable(path)?;
    }
    let max_load = max_load_bytes(args.max_load_gb)?;
    let dir = mnist_dir(args.data.as_deref(), &MNIST_FILES)?;
    let split = if full_train { Split::Full } else { Split::Book };
    // The training images stay bytes, converted as each mini-batch is gathered (and, with
    // --expand, shifted): a quarter of the memory, and of each epoch's traffic, of floats.
    let mnist = Mnist::<F, ImageBytes>::load_bytes_with_limit(&dir, split, max_load)?;
    let (train_images, validation, test) = (mnist.train, mnist.validation, mnist.test);
    let images = train_images.len();
    let settings = trainer.settings().clone();
    if settings.batch_size > images {
        return Err(format!(
            "--batch-size {} is larger than the {} training images{}",
            settings.batch_size,
            images,
            if full_train {
                ""
            } else {
                " (the book's split keeps the last 10000 of the training file for validation; --full-train \
                 trains on all of them)"
            }
        )
        .into());
    }
    let engine = match settings.engine {
        Engine::Batched => "batched",
        Engine::PerExample => "per-example loop",
    };
    let train: &dyn Source<F> = &if expand {
        Images::expanded(&train_images)?
    } else {
        Images::new(&train_images)
    };
    let threads = rayon::current_num_threads();
    eprintln!(
        "Training {} on {} MNIST images{} from {}: {engine}, {}, {}, {threads}-thread pool, seed {}",
        describe(&net, &settings, init),
        train.len(),
        if expand { " (expanded fivefold by shifts)" } else { "" },
        dir.display(),
        F::NAME,
        Backend::current().describe(),
        settings.seed,
    );

    // Validation data, or the test data when there is none (--full-train).
    let (evaluation_set, evaluation_name) = if validation.is_empty() {
        (&test, "test")
    } else {
        (&validation, "validation")
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
        test: TestAccuracy::new(&test),
    };
    let mut checkpointer = Checkpointer {
        path: checkpoint.clone().unwrap_or_default(),
        every: args.checkpoint_every.map_or(0, |n| n as usize),
    };
    let (stop, signal) = on_signals()?;
    let mut interrupt = StopFlag(stop);
    trainer.check_sync(args.check_sync);
    let result = if checkpoint.is_some() {
        fit(
            &mut trainer,
            &mut net,
            &train,
            &evaluation,
            &mut (&mut interrupt, (&mut report, &mut checkpointer)),
            job,
        )
    } else {
        fit(
            &mut trainer,
            &mut net,
            &train,
            &evaluation,
            &mut (&mut interrupt, &mut report),
            job,
        )
    };
    report.bar.finish_and_clear();
    let save_checkpoint = |path: &Path| -> Result<(), BoxError> { Ok(trainer.save_checkpoint(&net, path)?) };
    let finish = match result {
        Ok(finish) => finish,
        Err(e @ Error::Diverged { .. }) => return Err(with_flag_hints(e, trainer.eta(), &net, init)),
        Err(e) => return Err(keep_run(e, checkpoint.as_deref(), "mnist", save_checkpoint)),
    };
    let signal = signal.load(Ordering::Relaxed);
    if signal != 0 && matches!(finish, Finish::Interrupted { .. } | Finish::Stopped) {
        let place = stopped_at(&finish, &trainer, train.len().div_ceil(settings.batch_size));
        return report_interrupt(&place, checkpoint.as_deref(), signal, save_checkpoint);
    }

    if let Some(path) = &args.save {
        let labels = evaluation_set.labels();
        if let Some(old) = &old_model {
            let (before, after) = (
                old.accuracy(evaluation_set.x(), labels)?,
                net.accuracy(evaluation_set.x(), labels)?,
            );
            if after < before {
                return Err(format!(
                    "not replacing {}: the network there classifies {before} / {n} {evaluation_name} images right, \
                     this run's {after} / {n}. This run is in {}; pass --overwrite to replace the file with it",
                    path.display(),
                    checkpoint.as_deref().unwrap_or(path).display(),
                    n = labels.len()
                )
                .into());
            }
        }
        save_or_fallback(
            &format!("the network to {}", path.display()),
            path,
            |p| Ok(net.save(p)?),
        )?;
        match trainer.best_epoch().filter(|_| settings.early_stop.is_some()) {
            Some(best_epoch) => eprintln!(
                "Saved the network of epoch {best_epoch}, the best on the {evaluation_name} data, to {}",
                path.display()
            ),
            None => eprintln!("Saved the network of the last epoch to {}", path.display()),
        }
    }
    if let Some(path) = &checkpoint {
        eprintln!("Checkpoint (for --resume): {}", path.display());
    }
    let run = Run {
        settings: &settings,
        net: &net,
        init,
        trainer: &trainer,
        train_examples: train.len(),
        test_correct: &report.test.correct,
        test_total: test.len(),
    };
    summarize(args, &run, wall.elapsed().as_secs_f64(), args.save.as_deref());
    Ok(ExitCode::SUCCESS)
}

/// [`Trainer::fit`], or with `job` [`Trainer::fit_distributed`].
fn fit<F: Float>(
    trainer: &mut Trainer<F>,
    net: &mut Network<F>,
    train: &dyn Source<F>,
    evaluation: &dyn Source<F>,
    observer: &mut impl Observer<F>,
    job: Option<&dyn Collective>,
) -> Result<Finish, Error> {
    match job {
        Some(c) => trainer.fit_distributed(net, &train, Some(evaluation), observer, c),
        None => trainer.fit(net, &train, Some(evaluation), observer),
    }
}

/// `[784, 30, 10] sigmoid, quadratic cost, η 3, mini-batch 10, standard init[, λ 5]`.
fn describe<F: Float>(net: &Network<F>, settings: &Settings, init: Init) -> String {
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
fn with_flag_hints<F: Float>(e: Error, eta: f64, net: &Network<F>, init: Init) -> BoxError {
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
            self.bar.suspend(|| batchprop_examples::outln!("{line}"));
        } else {
            self.bar.suspend(|| {
                batchprop_examples::outln!(
                    "Epoch {}: {test_correct} / {test_total}  ({:.2} s, {:.0} examples/s)",
                    e.epoch,
                    e.train_seconds,
                    e.examples_per_second
                );
                if let (Some(t), Some(v)) = (training, evaluation) {
                    let cost = |c: Option<f64>| c.map_or("-".into(), |c| format!("{c:.6}"));
                    let correct = |c: Option<usize>| c.map_or("-".into(), |c| c.to_string());
                    batchprop_examples::outln!("  Cost on training data: {}", cost(t.cost));
                    batchprop_examples::outln!("  Accuracy on training data: {} / {}", correct(t.correct), t.total);
                    batchprop_examples::outln!("  Cost on evaluation data: {}", cost(v.cost));
                    batchprop_examples::outln!("  Accuracy on evaluation data: {} / {}", correct(v.correct), v.total);
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
        batchprop_examples::outln!(
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
        batchprop_examples::outln!(
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
