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
    time::Instant,
};

use batchprop::{Init, Rule};
use batchprop_data::{ClassOrder, Column, CsvOptions, NpySource, Scaling, Table, Task};
use batchprop_examples::{
    ActivationArg, BoxError, Dtype, InitArg, OptimizerArg, RuleFlags, check_threads, max_load_bytes, parse_args,
};
use batchprop_train::{
    Control, EpochEnd, Metric, Model, ModelFloat, Monitor, Observer, Score, Scorer, Settings, Spec, Trainer, Warning,
};
use clap::{Parser, ValueEnum};
use serde_json::json;

/// Train a fully-connected network on a table (CSV, .npz, or two .npy files): classes or
/// values, inferred from the target column.
#[derive(Parser, Debug)]
#[command(long_about = None, allow_negative_numbers = true)]
struct Args {
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

/// `--task`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TaskArg {
    Classify,
    Regress,
}

/// `--class-order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
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
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let result = check_threads(args.threads).and_then(|threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()?;
        pool.install(|| match args.dtype {
            Dtype::F32 => run::<f32>(&args),
            Dtype::F64 => run::<f64>(&args),
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the table the flags name.
fn read<F: ModelFloat>(args: &Args, path: Option<&Path>) -> Result<Table<F>, BoxError> {
    let max_bytes = max_load_bytes(args.max_load_gb)?;
    let task = args.task.map(|t| match t {
        TaskArg::Classify => Task::Classify,
        TaskArg::Regress => Task::Regress,
    });
    if let (None, Some(x), Some(y)) = (path, &args.x, &args.y) {
        return Ok(Table::read_numpy(&NpySource::Pair { x, y }, task, max_bytes)?);
    }
    let path = path.ok_or("give the data: a .csv or .npz file, or --x FILE --y FILE")?;
    let is_npz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if is_npz {
        let features = match args.features.as_deref() {
            None => "x",
            Some([one]) => one.as_str(),
            Some(_) => return Err("in an .npz, --features names one array".into()),
        };
        let source = NpySource::Npz {
            path,
            x: features,
            y: args.target.as_deref().unwrap_or("y"),
        };
        return Ok(Table::read_numpy(&source, task, max_bytes)?);
    }
    let options = CsvOptions {
        header: !args.no_header,
        target: args.target.as_deref().map(Column::parse),
        features: args
            .features
            .as_ref()
            .map(|f| f.iter().map(|c| Column::parse(c)).collect()),
        task,
        class_order: match args.class_order {
            OrderArg::Sorted => ClassOrder::Sorted,
            OrderArg::FirstSeen => ClassOrder::FirstSeen,
        },
        max_bytes,
        ..CsvOptions::default()
    };
    Ok(Table::read_csv(path, &options)?)
}

fn run<F: ModelFloat>(args: &Args) -> Result<(), BoxError> {
    let wall = Instant::now();
    let rule = args.rule.rule(args.optimizer)?;
    if args.early_stop.is_some() && args.validation_fraction == 0.0 {
        return Err("--early-stop watches validation rows: give --validation-fraction F".into());
    }
    if let Some(path) = &args.save {
        check_save(path, args.overwrite)?;
    }
    let table = read::<F>(args, args.file.as_deref())?;
    let name = args
        .file
        .as_deref()
        .or(args.x.as_deref())
        .map_or("the data".into(), |p| p.display().to_string());
    // Train / validation / test, drawn with the seed.
    let (train, validation, test) = match &args.test {
        Some(path) => {
            let test = read::<F>(args, Some(path))?;
            let mut parts = if args.validation_fraction > 0.0 {
                table.split(&[args.validation_fraction], args.seed)?
            } else {
                vec![table]
            };
            let validation = (parts.len() > 1).then(|| parts.pop().expect("two parts"));
            (parts.pop().expect("a training part"), validation, test)
        }
        None => {
            let fractions: Vec<f64> = std::iter::once(args.test_fraction)
                .chain((args.validation_fraction > 0.0).then_some(args.validation_fraction))
                .collect();
            let mut parts = table.split(&fractions, args.seed)?.into_iter();
            let train = parts.next().expect("a training part");
            let test = parts.next().expect("a test part");
            (train, parts.next(), test)
        }
    };
    let spec = Spec {
        hidden: args.hidden.clone(),
        activation: args.activation.activation(args.leaky_slope),
        init: Init::from(args.init),
        scaling: match args.scale {
            ScaleArg::Standard => Scaling::Standard,
            ScaleArg::Minmax => Scaling::MinMax,
            ScaleArg::None => Scaling::None,
        },
    };
    let settings = Settings {
        epochs: args.epochs,
        batch_size: args.batch_size.map_or(train.len().min(200), |b| b as usize),
        eta: args.eta,
        lambda: args.lambda,
        l1: args.l1,
        dropout: args.dropout,
        rule,
        seed: args.seed,
        monitor: Monitor {
            evaluation_accuracy: false,
            ..Monitor::default()
        },
        early_stop: args.early_stop.map(|n| n as usize),
        // The validation cost, not the accuracy: on a small validation set the accuracy
        // peaks within a few epochs and ties after, which would keep a barely trained network.
        metric: Metric::Cost,
        ..Settings::book()
    };
    let mut trainer = Trainer::<F>::new(settings)?;
    let mut model = Model::build(&spec, &train, trainer.rng())?;
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
        "Training {:?} {} on {} of the {} rows of {name}: {target}; {} scaling, {}, η {}, mini-batch {}, seed {}; \
         testing on {} rows{}",
        model.network.sizes(),
        model.network.activations()[0].name(),
        train.len(),
        train.len() + validation.as_ref().map_or(0, Table::len) + if args.test.is_some() { 0 } else { test.len() },
        match spec.scaling {
            Scaling::Standard => "standard",
            Scaling::MinMax => "min-max",
            Scaling::None => "no",
        },
        describe_rule(&trainer.settings().rule),
        trainer.settings().eta,
        trainer.settings().batch_size,
        args.seed,
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
    model.fit(&train, validation.as_ref(), &mut trainer, &mut report)?;
    let score = model.score(&test)?;
    if let Some(path) = &args.save {
        model.save(path)?;
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
    summarize(args, &trainer, &score, wall.elapsed().as_secs_f64());
    Ok(())
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
            println!("{line}");
        } else {
            match score {
                Score::Classes { correct, total } => println!("Epoch {}: {correct} / {total}", e.epoch),
                Score::Values { mse, r2, .. } => println!("Epoch {}: mse {mse:.4}, r2 {r2:.4}", e.epoch),
            }
        }
        self.scores.push(score);
        Ok(Control::Continue)
    }

    fn warning(&mut self, warning: &Warning) {
        eprintln!("warning: {warning}");
    }
}

fn summarize<F: ModelFloat>(args: &Args, trainer: &Trainer<F>, score: &Score, wall: f64) {
    let history = trainer.history();
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
        println!("{summary}");
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
        println!(
            "Final: {result}. {} epochs: {train_seconds:.2} s training ({:.0} examples/s), {wall:.2} s in all",
            history.len(),
            examples / train_seconds
        );
    }
}
