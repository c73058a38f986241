//! Trains a network on any table: a CSV file, an `.npz` archive, or two `.npy` files.
//!
//! ```sh
//! cargo run --release --example train -- data/tabular/iris.csv
//! cargo run --release --example train -- data/tabular/diabetes.csv
//! cargo run --release --example train -- data.npz            # arrays x and y
//! cargo run --release --example train -- --x x.npy --y y.npy
//! ```
//!
//! The input and output layers come from the data; `--hidden 32,16` sets the layers between.
//! The target (the last column unless `--target NAME`) is classes when it is text or integers
//! with at most 20 distinct values (a softmax output, the log-likelihood cost), else numbers
//! to predict (identity outputs, the quadratic cost, targets standardised for training and
//! reported in their own units); `--task` overrides. A seeded `--test-fraction` of the rows
//! (or `--test FILE`) is held out; the features are standardised on the training rows only
//! (`--scale`). Defaults are scikit-learn's `MLPClassifier`'s: 100 ReLUs, Adam with η 0.001,
//! mini-batches of min(200, N), 200 epochs. Each epoch prints `Epoch N: k / T` (classes) or
//! `Epoch N: mse X, r2 Y` (values) on the test rows; `--save` writes the model with its
//! scaler and class names, which `predict --csv` reads.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::atomic::Ordering,
    time::Instant,
};

use batchprop::{Init, Rule};
use batchprop_data::{ClassOrder, Column, CsvOptions, NpySource, Scaling, Table, Task};
use batchprop_examples::{
    ActivationArg, BoxError, Dtype, InitArg, OptimizerArg, RuleFlags, check_threads, checkpoint_beside, continue_run,
    given, keep_run, max_load_bytes, on_signals, parse_args_and_matches, refuse_when_resuming, report_interrupt,
    run_dtype, save_or_fallback, stopped_at,
};
use batchprop_train::{
    Checkpointer, Collective, Control, EpochEnd, Finish, Metric, Model, ModelFloat, Monitor, Observer, Score, Scorer,
    Settings, Spec, StopFlag, Trainer, Warning,
};
use clap::{ArgMatches, Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Train a fully-connected network on a table (CSV, .npz, or two .npy files): classes or
/// values, inferred from the target column.
#[derive(Parser, Debug, Clone)]
#[command(long_about = None, allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    data: DataFlags,
    /// Feature scaling, fitted on the training rows
    #[arg(long, value_enum, default_value_t = ScaleArg::Standard)]
    scale: ScaleArg,
    /// Hidden layer sizes, e.g. 32,16
    #[arg(long, value_delimiter = ',', default_value = "100")]
    hidden: Vec<usize>,
    /// Activation of the hidden layers
    #[arg(long, value_enum, default_value_t = ActivationArg::Relu)]
    activation: ActivationArg,
    /// The slope of --activation leaky-relu for z < 0
    #[arg(long, value_name = "A", default_value_t = batchprop::DEFAULT_LEAKY_SLOPE)]
    leaky_slope: f64,
    /// Initial weights
    #[arg(long, value_enum, default_value_t = InitArg::He)]
    init: InitArg,
    /// Passes over the training rows
    #[arg(long, default_value_t = 200)]
    epochs: usize,
    /// Examples per mini-batch [default: min(200, training rows)]
    #[arg(long, visible_alias = "mini-batch-size", value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: Option<u32>,
    /// Learning rate η
    #[arg(long, default_value_t = 0.001)]
    eta: f64,
    /// L2 regularisation λ (Adam: weight decay per step; AdamW: decoupled)
    #[arg(long, visible_alias = "lmbda", default_value_t = 0.0)]
    lambda: f64,
    /// L1 regularisation λ₁
    #[arg(long, default_value_t = 0.0)]
    l1: f64,
    /// Dropout on the hidden layers
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    dropout: f64,
    /// Update rule
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    optimizer: OptimizerArg,
    #[command(flatten)]
    rule: RuleFlags,
    /// Stop after N epochs without a lower validation cost, keeping the best epoch's network
    /// (needs --validation-fraction)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    early_stop: Option<u32>,
    /// Floating-point precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Seed of the split, the initial parameters and the shuffles
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Save the trained model (network, scaler, class names) to FILE
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Let --save replace FILE whatever it holds
    #[arg(long)]
    overwrite: bool,
    /// Where to save checkpoints (the model and the run's state, for --resume), and where an
    /// interrupted run (Ctrl-C) is kept [default: beside --save, as NAME.checkpoint.json]
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Also checkpoint after every N epochs, so that a killed run keeps its progress
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    checkpoint_every: Option<u32>,
    /// Continue the run checkpointed in FILE, on the same data (FILE, --x/--y and --test may
    /// say where it is now) with its saved settings (--epochs and --eta may change)
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Print one JSON object per epoch, and a summary, on stdout
    #[arg(long)]
    json: bool,
    /// Threads for large mini-batches (default: one per core)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// The most gigabytes loading the data may allocate
    #[arg(long, value_name = "GB", default_value_t = 4.0)]
    max_load_gb: f64,
}

/// Which data, and how it is split: saved with a checkpoint, so that `--resume` reads the
/// same rows into the same parts.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataFlags {
    /// The data: a .csv file or an .npz archive (or give --x and --y)
    file: Option<PathBuf>,
    /// NumPy features file, (n, d), with --y
    #[arg(long, value_name = "FILE", requires = "y", conflicts_with = "file")]
    x: Option<PathBuf>,
    /// NumPy targets file, (n,) or (n, k), with --x
    #[arg(long, value_name = "FILE", requires = "x")]
    y: Option<PathBuf>,
    /// The target column: a CSV header name or index (default: the last); in an .npz, the
    /// targets array's name (default: y)
    #[arg(long, value_name = "COLUMN")]
    target: Option<String>,
    /// The feature columns (default: every other one); in an .npz, the features array's name
    /// (default: x)
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    features: Option<Vec<String>>,
    /// The CSV file has no header row (columns are then named column_0, column_1, …)
    #[arg(long)]
    no_header: bool,
    /// Classes or values [default: inferred from the target]
    #[arg(long, value_enum)]
    task: Option<TaskArg>,
    /// How class names are numbered (the header line lists them in this order)
    #[arg(long, value_enum, default_value_t = OrderArg::Sorted)]
    class_order: OrderArg,
    /// Rows held out for testing, drawn with the seed (ignored with --test)
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    test_fraction: f64,
    /// A separate test file (the same columns as the data)
    #[arg(long, value_name = "FILE")]
    test: Option<PathBuf>,
    /// Rows held out for validation (early stopping watches them); 0 for none
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    validation_fraction: f64,
}

/// `--task`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
enum TaskArg {
    Classify,
    Regress,
}

/// `--class-order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
enum OrderArg {
    /// Sorted, numerically when every name is a number (scikit-learn's LabelEncoder)
    Sorted,
    /// In the order they first appear in the file
    FirstSeen,
}

/// `--scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScaleArg {
    Standard,
    Minmax,
    None,
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
        // Under MPI, the job's processes train in step (docs/distributed.md).
        pool.install(|| {
            batchprop_examples::in_job(|job| match dtype {
                Dtype::F32 => run::<f32>(&args, &matches, job),
                Dtype::F64 => run::<f64>(&args, &matches, job),
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

/// The tag under which a run's [`DataFlags`] ride in its checkpoints.
const DATA_TAG: &str = "train.data";

/// The flags a resumed run takes from its checkpoint, which cannot change mid-run (clap ids;
/// the update rule's, `RuleFlags::IDS`, too).
const FIXED_WHEN_RESUMING: [&str; 19] = [
    "target",
    "features",
    "no_header",
    "task",
    "class_order",
    "test_fraction",
    "validation_fraction",
    "scale",
    "hidden",
    "activation",
    "leaky_slope",
    "init",
    "batch_size",
    "lambda",
    "l1",
    "dropout",
    "optimizer",
    "early_stop",
    "seed",
];

/// Reads the table the flags name: `path`, or the data's `--x`/`--y` pair.
fn read<F: ModelFloat>(data: &DataFlags, path: Option<&Path>, max_bytes: u64) -> Result<Table<F>, BoxError> {
    let task = data.task.map(|t| match t {
        TaskArg::Classify => Task::Classify,
        TaskArg::Regress => Task::Regress,
    });
    if let (None, Some(x), Some(y)) = (path, &data.x, &data.y) {
        return Ok(Table::read_numpy(&NpySource::Pair { x, y }, task, max_bytes)?);
    }
    let path = path.ok_or("give the data: a .csv or .npz file, or --x FILE --y FILE")?;
    let is_npz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if is_npz {
        let features = match data.features.as_deref() {
            None => "x",
            Some([one]) => one.as_str(),
            Some(_) => return Err("in an .npz, --features names one array".into()),
        };
        let source = NpySource::Npz {
            path,
            x: features,
            y: data.target.as_deref().unwrap_or("y"),
        };
        return Ok(Table::read_numpy(&source, task, max_bytes)?);
    }
    let options = CsvOptions {
        header: !data.no_header,
        target: data.target.as_deref().map(Column::parse),
        features: data
            .features
            .as_ref()
            .map(|f| f.iter().map(|c| Column::parse(c)).collect()),
        task,
        class_order: match data.class_order {
            OrderArg::Sorted => ClassOrder::Sorted,
            OrderArg::FirstSeen => ClassOrder::FirstSeen,
        },
        max_bytes,
        ..CsvOptions::default()
    };
    Ok(Table::read_csv(path, &options)?)
}

/// The training, validation and test parts of the data, drawn with `seed`.
#[allow(clippy::type_complexity)]
fn split<F: ModelFloat>(
    data: &DataFlags,
    seed: u64,
    max_bytes: u64,
) -> Result<(Table<F>, Option<Table<F>>, Table<F>), BoxError> {
    let table = read::<F>(data, data.file.as_deref(), max_bytes)?;
    Ok(match &data.test {
        Some(path) => {
            let test = read::<F>(data, Some(path), max_bytes)?;
            let mut parts = if data.validation_fraction > 0.0 {
                table.split(&[data.validation_fraction], seed)?
            } else {
                vec![table]
            };
            let validation = (parts.len() > 1).then(|| parts.pop().expect("two parts"));
            (parts.pop().expect("a training part"), validation, test)
        }
        None => {
            let fractions: Vec<f64> = std::iter::once(data.test_fraction)
                .chain((data.validation_fraction > 0.0).then_some(data.validation_fraction))
                .collect();
            let mut parts = table.split(&fractions, seed)?.into_iter();
            let train = parts.next().expect("a training part");
            let test = parts.next().expect("a test part");
            (train, parts.next(), test)
        }
    })
}

/// The resumed run's data flags: the saved ones, with the files' places as given now.
fn resumed_data<F: ModelFloat>(args: &Args, trainer: &Trainer<F>, path: &Path) -> Result<DataFlags, BoxError> {
    let saved = trainer.tags().get(DATA_TAG).ok_or_else(|| {
        format!(
            "{} is not a checkpoint of the train tool (it has no {DATA_TAG} tag): resume it with the tool that made it",
            path.display()
        )
    })?;
    let mut data: DataFlags = serde_json::from_str(saved)
        .map_err(|e| format!("{}: the saved {DATA_TAG} tag is not valid: {e}", path.display()))?;
    let now = &args.data;
    if now.file.is_some() || now.x.is_some() {
        (data.file, data.x, data.y) = (now.file.clone(), now.x.clone(), now.y.clone());
    }
    if now.test.is_some() {
        data.test = now.test.clone();
    }
    Ok(data)
}

/// Trains as `args` say; with `job`, as one process of a data-parallel job, saving and
/// checkpointing on rank 0 only.
fn run<F: ModelFloat>(args: &Args, matches: &ArgMatches, job: Option<&dyn Collective>) -> Result<ExitCode, BoxError> {
    let wall = Instant::now();
    let root = job.is_none_or(|c| c.rank() == 0);
    let args = &Args {
        save: args.save.clone().filter(|_| root),
        ..args.clone()
    };
    let max_bytes = max_load_bytes(args.max_load_gb)?;
    // A new run's update rule, checked before any data is read (a resumed run keeps its own).
    let rule = args
        .resume
        .is_none()
        .then(|| args.rule.rule(args.optimizer))
        .transpose()?;
    if args.early_stop.is_some() && args.data.validation_fraction == 0.0 {
        return Err("--early-stop watches validation rows: give --validation-fraction F".into());
    }
    if let Some(path) = &args.save {
        check_save(path, args.overwrite)?;
    }
    // Checkpoints: --checkpoint, else beside --save, else (resuming) where the run came from.
    let checkpoint = (args.checkpoint.clone())
        .or_else(|| args.save.as_deref().map(checkpoint_beside))
        .or_else(|| args.resume.clone())
        .filter(|_| root);
    if args.checkpoint_every.is_some() && checkpoint.is_none() && root {
        return Err("--checkpoint-every needs --save FILE or --checkpoint FILE".into());
    }
    if let Some(path) = &checkpoint {
        batchprop::check_writable(path)?;
    }
    let (resumed, data) = match &args.resume {
        Some(path) => {
            refuse_when_resuming(matches, &[&FIXED_WHEN_RESUMING[..], &RuleFlags::IDS].concat(), path)?;
            let (model, mut trainer) = Model::<F>::resume(path)?;
            let eta = given(matches, "eta").then_some(args.eta);
            let epochs = given(matches, "epochs").then_some(args.epochs);
            if !continue_run(&mut trainer, path, epochs, eta)? {
                return Ok(ExitCode::SUCCESS);
            }
            let data = resumed_data(args, &trainer, path)?;
            (Some((model, trainer)), data)
        }
        None => (None, args.data.clone()),
    };
    let seed = resumed.as_ref().map_or(args.seed, |(_, t)| t.settings().seed);
    let (train, validation, test) = split::<F>(&data, seed, max_bytes)?;
    let name = (data.file.as_deref())
        .or(data.x.as_deref())
        .map_or("the data".into(), |p| p.display().to_string());
    let scaling = match args.scale {
        ScaleArg::Standard => Scaling::Standard,
        ScaleArg::Minmax => Scaling::MinMax,
        ScaleArg::None => Scaling::None,
    };
    let (mut model, mut trainer) = match resumed {
        Some(resumed) => resumed,
        None => {
            let spec = Spec {
                hidden: args.hidden.clone(),
                activation: args.activation.activation(args.leaky_slope),
                init: Init::from(args.init),
                scaling,
            };
            let settings = Settings {
                epochs: args.epochs,
                batch_size: args.batch_size.map_or(train.len().min(200), |b| b as usize),
                eta: args.eta,
                lambda: args.lambda,
                l1: args.l1,
                dropout: args.dropout,
                rule: rule.expect("a new run"),
                seed: args.seed,
                shuffle: true,
                monitor: Monitor {
                    evaluation_accuracy: false,
                    ..Monitor::default()
                },
                early_stop: args.early_stop.map(|n| n as usize),
                // The validation cost, not the accuracy: on a small validation set the
                // accuracy peaks within a few epochs and ties after, which would keep a barely
                // trained network.
                metric: Metric::Cost,
                ..Settings::book()
            };
            let mut trainer = Trainer::<F>::new(settings)?;
            let model = Model::build(&spec, &train, trainer.rng())?;
            let tag = serde_json::to_string(&args.data)?;
            trainer.tags_mut().insert(DATA_TAG.into(), tag);
            (model, trainer)
        }
    };
    let target = match model.info.classes.as_deref() {
        Some(classes) => format!(
            "classify {} ({} classes: {})",
            train.target_name(),
            classes.len(),
            classes.join(", ")
        ),
        None => format!("regress {}", train.target_name()),
    };
    eprintln!(
        "Training {:?} {} on {} of the {} rows of {name}: {target}; {} scaling, {}, η {}, mini-batch {}, seed {seed}; \
         testing on {} rows{}",
        model.network.sizes(),
        model.network.activations()[0].name(),
        train.len(),
        train.len() + validation.as_ref().map_or(0, Table::len) + if data.test.is_some() { 0 } else { test.len() },
        model.info.scaler.scaling.name(),
        describe_rule(&trainer.settings().rule),
        trainer.eta(),
        trainer.settings().batch_size,
        test.len(),
        validation
            .as_ref()
            .map_or(String::new(), |v| format!(", validating on {}", v.len())),
    );
    let mut report = Report {
        scorer: model.scorer(&test)?,
        json: args.json,
        scores: Vec::new(),
    };
    let (stop, signal) = on_signals()?;
    let mut interrupt = StopFlag(stop);
    let first_epoch = trainer.history().len();
    let result = match &checkpoint {
        Some(path) => {
            let mut checkpointer = Checkpointer {
                path: path.clone(),
                every: args.checkpoint_every.map_or(0, |n| n as usize),
            };
            let observers = &mut (&mut interrupt, (&mut report, &mut checkpointer));
            model.fit_with(&train, validation.as_ref(), &mut trainer, observers, job)
        }
        None => model.fit_with(
            &train,
            validation.as_ref(),
            &mut trainer,
            &mut (&mut interrupt, &mut report),
            job,
        ),
    };
    let save_checkpoint = |path: &Path| -> Result<(), BoxError> { Ok(trainer.save_checkpoint(&model.network, path)?) };
    let finish = match result {
        Ok(finish) => finish,
        Err(e) => return Err(keep_run(e, checkpoint.as_deref(), "train", save_checkpoint)),
    };
    let signal = signal.load(Ordering::Relaxed);
    if signal != 0 && matches!(finish, Finish::Interrupted { .. } | Finish::Stopped) {
        let place = stopped_at(&finish, &trainer, train.len().div_ceil(trainer.settings().batch_size));
        return report_interrupt(&place, checkpoint.as_deref(), signal, save_checkpoint);
    }
    let score = model.score(&test)?;
    if let Some(path) = &args.save {
        let what = format!("the model to {}", path.display());
        save_or_fallback(&what, path, |p| Ok(model.save(p)?))?;
        eprintln!(
            "Saved the model (network, scaler{}) to {}",
            if model.info.classes.is_some() {
                ", class names"
            } else {
                ", target units"
            },
            path.display()
        );
    }
    summarize(args, &trainer, first_epoch, &score, wall.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// The update rule, for the header line.
fn describe_rule(rule: &Rule) -> String {
    match rule {
        Rule::Sgd => "SGD".into(),
        Rule::Momentum { mu } => format!("momentum {mu}"),
        Rule::Nesterov { mu } => format!("Nesterov momentum {mu}"),
        Rule::Adam { .. } | Rule::AdamW { .. } => rule.name().to_string(),
    }
}

/// `--save FILE` is checked before anything is read: a regular file or nothing, in a
/// directory that exists; a file that is not a model is kept unless `--overwrite`.
fn check_save(path: &Path, overwrite: bool) -> Result<(), BoxError> {
    let target = batchprop::check_writable(path)?;
    if !overwrite && target.exists() && batchprop::Network::<f64>::load(&target).is_err() {
        return Err(format!(
            "--save {}: the file exists and is not a saved network; pass --overwrite to replace it",
            path.display()
        )
        .into());
    }
    Ok(())
}

/// Prints each epoch's test score (the book's line, or JSON).
struct Report<F> {
    scorer: Scorer<F>,
    json: bool,
    scores: Vec<Score>,
}

impl<F: ModelFloat> Observer<F> for Report<F> {
    fn epoch_end(&mut self, end: &EpochEnd<'_, F>) -> batchprop_train::Result<Control> {
        let score = self.scorer.score(end.network)?;
        let e = end.record;
        if self.json {
            let mut line = json!({
                "epoch": e.epoch,
                "train_seconds": e.train_seconds,
                "examples_per_second": e.examples_per_second,
                "running_cost": e.running_cost,
            });
            match score {
                Score::Classes { correct, total } => {
                    line["test_correct"] = json!(correct);
                    line["test_total"] = json!(total);
                }
                Score::Values { mse, mae, r2 } => {
                    line["test_mse"] = json!(mse);
                    line["test_mae"] = json!(mae);
                    line["test_r2"] = json!(r2);
                }
            }
            if let Some(v) = &e.evaluation {
                line["validation_cost"] = json!(v.cost);
            }
            batchprop_examples::outln!("{line}");
        } else {
            match score {
                Score::Classes { correct, total } => {
                    batchprop_examples::outln!("Epoch {}: {correct} / {total}", e.epoch)
                }
                Score::Values { mse, r2, .. } => {
                    batchprop_examples::outln!("Epoch {}: mse {mse:.4}, r2 {r2:.4}", e.epoch)
                }
            }
        }
        self.scores.push(score);
        Ok(Control::Continue)
    }

    fn warning(&mut self, warning: &Warning) {
        eprintln!("warning: {warning}");
    }
}

/// The summary of this call's epochs (a resumed run's from `first_epoch` on).
fn summarize<F: ModelFloat>(args: &Args, trainer: &Trainer<F>, first_epoch: usize, score: &Score, wall: f64) {
    let history = &trainer.history()[first_epoch..];
    let train_seconds: f64 = history.iter().map(|e| e.train_seconds).sum();
    let examples: f64 = history.iter().map(|e| e.examples_per_second * e.train_seconds).sum();
    if args.json {
        let mut summary = json!({
            "summary": true,
            "epochs": history.len(),
            "best_epoch": trainer.best_epoch(),
            "train_seconds": train_seconds,
            "examples_per_second": examples / train_seconds,
            "wall_seconds": wall,
        });
        match *score {
            Score::Classes { correct, total } => {
                summary["test_correct"] = json!(correct);
                summary["test_total"] = json!(total);
            }
            Score::Values { mse, mae, r2 } => {
                summary["test_mse"] = json!(mse);
                summary["test_mae"] = json!(mae);
                summary["test_r2"] = json!(r2);
            }
        }
        batchprop_examples::outln!("{summary}");
    } else {
        let result = match *score {
            Score::Classes { correct, total } => {
                format!(
                    "{correct} / {total} test rows right ({:.1} %)",
                    100.0 * correct as f64 / total as f64
                )
            }
            Score::Values { mse, mae, r2 } => format!("test mse {mse:.4}, mae {mae:.4}, r2 {r2:.4}"),
        };
        batchprop_examples::outln!(
            "Final: {result}. {} epochs: {train_seconds:.2} s training ({:.0} examples/s), {wall:.2} s in all",
            history.len(),
            examples / train_seconds
        );
    }
}
