//! What the examples share: finding MNIST, and the book's training loop with its reports.

use std::{
    error::Error,
    path::{Path, PathBuf},
    time::Instant,
};

use batchprop::{Activation, Cost, Float, Init, Network, Sgd};
pub use batchprop_data::mnist_dir;
use batchprop_data::{Batches, Mnist};
use ndarray::Array2;
use rand::{SeedableRng, rngs::ChaCha8Rng};

/// Any error an example reports: printed as one message, never a panic.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Parses the command line; on `--help` or `--version` prints them and exits 0, on a bad
/// flag prints one line and exits 2 (the `Err` is the exit code to return from `main`).
pub fn parse_args<T: clap::Parser>() -> Result<T, std::process::ExitCode> {
    T::try_parse().map_err(|e| {
        if e.use_stderr() {
            eprintln!("{}", one_line(&e));
            std::process::ExitCode::from(2)
        } else {
            print!("{e}");
            std::process::ExitCode::SUCCESS
        }
    })
}

/// A command-line parse error as one line: clap's message without its usage and help
/// hints, e.g. `error: the following required arguments were not provided: <MODEL>`.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    text.lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How to train: network.py's `SGD` arguments plus network2.py's choices.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Layer sizes, `[784, …, 10]`.
    pub sizes: Vec<usize>,
    pub epochs: usize,
    pub batch_size: usize,
    /// Learning rate η.
    pub eta: f64,
    /// L2 regularisation λ.
    pub lambda: f64,
    pub cost: Cost,
    /// The hidden layers' activation: `sigmoid`, `tanh` or `relu`.
    pub hidden: String,
    pub init: Init,
    /// Seeds the initial parameters and every epoch's shuffle.
    pub seed: u64,
    /// Train with the book's per-example loop instead of the batched engine.
    pub per_example: bool,
    /// Also measure cost and accuracy on the training and evaluation data each epoch.
    pub monitor: bool,
    /// Train on all 60,000 training images (no validation set).
    pub full_train: bool,
}

impl TrainConfig {
    /// The book's first network: `[784, 30, 10]`, sigmoid, quadratic cost, η = 3.0,
    /// mini-batches of 10, 30 epochs.
    pub fn book() -> Self {
        TrainConfig {
            sizes: vec![784, 30, 10],
            epochs: 30,
            batch_size: 10,
            eta: 3.0,
            lambda: 0.0,
            cost: Cost::Quadratic,
            hidden: "sigmoid".into(),
            init: Init::Standard,
            seed: 0,
            per_example: false,
            monitor: false,
            full_train: false,
        }
    }

    /// The settings as JSON, for the `training` object of a saved network.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sizes": self.sizes,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "eta": self.eta,
            "lambda": self.lambda,
            "cost": self.cost.name(),
            "hidden": self.hidden,
            "init": self.init.name(),
            "seed": self.seed,
            "per_example": self.per_example,
            "monitor": self.monitor,
            "full_train": self.full_train,
        })
    }

    /// The settings from [`TrainConfig::to_json`].
    pub fn from_json(v: &serde_json::Value) -> Result<Self, BoxError> {
        let field = |name: &str| v.get(name).ok_or_else(|| format!("the saved settings lack {name:?}"));
        let number = |name: &str| field(name)?.as_f64().ok_or_else(|| format!("{name:?} is not a number"));
        let count = |name: &str| field(name)?.as_u64().ok_or_else(|| format!("{name:?} is not a count"));
        let flag = |name: &str| {
            field(name)?
                .as_bool()
                .ok_or_else(|| format!("{name:?} is not true or false"))
        };
        let text = |name: &str| field(name)?.as_str().ok_or_else(|| format!("{name:?} is not a string"));
        let sizes = field("sizes")?
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|s| s.as_u64().map(|s| s as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or("\"sizes\" is not a list of counts")?;
        Ok(TrainConfig {
            sizes,
            epochs: count("epochs")? as usize,
            batch_size: count("batch_size")? as usize,
            eta: number("eta")?,
            lambda: number("lambda")?,
            cost: Cost::from_name(text("cost")?).ok_or("unknown cost")?,
            hidden: text("hidden")?.to_string(),
            init: match text("init")? {
                "standard" => Init::Standard,
                "scaled" => Init::Scaled,
                other => return Err(format!("unknown init {other:?}").into()),
            },
            seed: count("seed")?,
            per_example: flag("per_example")?,
            monitor: flag("monitor")?,
            full_train: flag("full_train")?,
        })
    }

    /// The output activation that goes with the cost: softmax for the log-likelihood,
    /// sigmoid otherwise (the book's pairings).
    pub fn output<F: Float>(&self) -> Activation<F> {
        match self.cost {
            Cost::LogLikelihood => Activation::Softmax,
            _ => Activation::Sigmoid,
        }
    }

    /// A one-line description, e.g. `[784, 30, 10] sigmoid, quadratic cost, η 3, mini-batch 10`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{:?} {}, {} cost, η {}, mini-batch {}, {} init",
            self.sizes,
            self.hidden,
            self.cost.name(),
            self.eta,
            self.batch_size,
            self.init.name()
        );
        if self.lambda != 0.0 {
            s += &format!(", λ {}", self.lambda);
        }
        s
    }
}

/// Cost and accuracy on the training and evaluation data (network2.py's `monitor_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct Monitor {
    pub training_cost: f64,
    pub training_correct: usize,
    pub training_total: usize,
    pub evaluation_cost: f64,
    pub evaluation_correct: usize,
    pub evaluation_total: usize,
}

/// What one epoch did.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// Counted from 0, as network.py prints it.
    pub epoch: usize,
    pub test_correct: usize,
    pub test_total: usize,
    /// Seconds spent in SGD steps (gathering batches included, evaluation not).
    pub train_seconds: f64,
    /// The mean cost of the epoch's mini-batches, each measured in its own forward pass
    /// (before its update); `None` for the per-example loop.
    pub running_cost: Option<f64>,
    pub examples_per_second: f64,
    pub monitor: Option<Monitor>,
}

/// What [`train`] reports as it goes.
pub enum Event<'a> {
    /// An epoch of `batches` mini-batches starts.
    EpochStart { epoch: usize, batches: usize },
    /// A mini-batch is done.
    Batch,
    /// An epoch is done and evaluated.
    EpochEnd(&'a Epoch),
}

/// A run to continue: the network and the state of the random numbers after `epochs_done`
/// epochs, as [`Checkpoint`] saved them.
#[derive(Clone, Debug)]
pub struct Resume<F: Float> {
    pub network: Network<F>,
    pub epochs_done: usize,
    /// The position of the shuffling random number stream (`ChaCha8Rng::get_word_pos`).
    pub rng_word_pos: u128,
}

impl<F: Float> Resume<F> {
    /// Loads a network saved with a training state, and that state's settings.
    pub fn load(path: &Path) -> Result<(Self, TrainConfig), BoxError> {
        let (network, state) = Network::<F>::load_with_state(path)?;
        let state = state.ok_or_else(|| {
            format!(
                "{} holds a network but no training state (it was not saved by this tool's --save): \
                 it can be loaded, not resumed",
                path.display()
            )
        })?;
        let bad = |what: &str| format!("{}: the training state's {what} is missing or invalid", path.display());
        let epochs_done = state["epochs_done"].as_u64().ok_or_else(|| bad("epochs_done"))? as usize;
        let rng_word_pos = (state["rng_word_pos"].as_str())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("rng_word_pos"))?;
        let config = TrainConfig::from_json(&state["config"]).map_err(|e| format!("{}: {e}", path.display()))?;
        let resume = Resume {
            network,
            epochs_done,
            rng_word_pos,
        };
        Ok((resume, config))
    }
}

/// Where and how often [`train`] saves the network, with the state to resume it.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub path: PathBuf,
    /// Save after every this many epochs (0: only at the end); always at the end.
    pub every: usize,
}

/// Trains on `mnist.train` as network.py's `SGD` does, evaluating on `mnist.test` after every
/// epoch: a new network drawn from the seed, or the one in `resume` from where it stopped.
/// A resumed run gives the same bits as one that was never interrupted.
///
/// Stops with an error naming the epoch and batch if the network's outputs or parameters
/// stop being finite.
pub fn train<F: Float>(
    config: &TrainConfig,
    mnist: &Mnist<F>,
    resume: Option<Resume<F>>,
    checkpoint: Option<&Checkpoint>,
    mut report: impl FnMut(Event<'_>),
) -> Result<(Network<F>, Vec<Epoch>), BoxError> {
    let train = &mnist.train;
    let (n_in, classes) = (train.input_size(), train.classes());
    let sizes = &config.sizes;
    if sizes.first() != Some(&n_in) || sizes.last() != Some(&classes) {
        return Err(format!(
            "--sizes {sizes:?} does not fit the data: the first layer must be {n_in} (the {} image pixels) \
             and the last {classes} (the classes)",
            train
                .item_shape()
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("×"),
        )
        .into());
    }
    let hidden =
        Activation::from_name(&config.hidden).ok_or_else(|| format!("unknown activation {:?}", config.hidden))?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let (mut net, first_epoch) = match resume {
        None => {
            let net = Network::builder(sizes)
                .hidden(hidden)
                .output(config.output())
                .cost(config.cost)
                .init(config.init)
                .build(&mut rng)?;
            (net, 0)
        }
        Some(r) => {
            if r.network.sizes() != sizes.as_slice() {
                return Err(format!(
                    "the saved network is {:?}, the settings say {sizes:?}",
                    r.network.sizes()
                )
                .into());
            }
            rng.set_word_pos(r.rng_word_pos);
            (r.network, r.epochs_done)
        }
    };
    let save = |net: &Network<F>, epochs_done: usize, rng: &ChaCha8Rng| -> Result<(), BoxError> {
        if let Some(c) = checkpoint {
            let state = serde_json::json!({
                "epochs_done": epochs_done,
                "rng_word_pos": rng.get_word_pos().to_string(),
                "config": config.to_json(),
            });
            net.save_with_state(&c.path, Some(&state))?;
        }
        Ok(())
    };
    let sgd = Sgd::new(config.eta)?.with_l2(config.lambda, train.len().max(1))?;
    if train.is_empty() {
        return Err("the training set is empty".into());
    }

    let mut batches = Batches::new(train, config.batch_size);
    let mut ws = net.workspace(batches.batch_size());
    let mut pe = net.per_example_workspace();
    let evaluation = if mnist.validation.is_empty() {
        &mnist.test
    } else {
        &mnist.validation
    };
    // The one-hot targets for the monitor's costs, built once.
    let targets: Option<(Array2<F>, Array2<F>)> = config.monitor.then(|| (train.targets(), evaluation.targets()));
    let last = sizes.len() - 1;
    let mut epochs = Vec::with_capacity(config.epochs);

    for epoch in first_epoch..config.epochs {
        report(Event::EpochStart {
            epoch,
            batches: batches.len(),
        });
        batches.shuffle(&mut rng);
        let start = Instant::now();
        let mut cost_sum = 0.0;
        for batch_number in 0.. {
            let Some(batch) = batches.next_batch(train) else { break };
            if config.per_example {
                net.sgd_step_per_example(batch.x, batch.y, &sgd, &mut pe)?;
            } else {
                net.sgd_step(batch.x, batch.y, &sgd, &mut ws)?;
                // The batch's cost from the outputs of the step's own forward pass: n_L × m
                // values already at hand.
                let cost = net.cost().value(ws.a(last), batch.y).as_f64();
                if !cost.is_finite() {
                    return Err(diverged(config, epoch, Some(batch_number), cost));
                }
                cost_sum += cost;
            }
            report(Event::Batch);
        }
        let train_seconds = start.elapsed().as_secs_f64();
        if let Some(v) = net.weights().iter().flat_map(|w| w.iter()).find(|v| !v.is_finite()) {
            return Err(diverged(config, epoch, None, v.as_f64()));
        }

        let monitor = match &targets {
            None => None,
            Some((train_y, eval_y)) => Some(Monitor {
                training_cost: net.total_cost(train.x(), train_y.view(), config.lambda)?.as_f64(),
                training_correct: net.accuracy(train.x(), train.labels())?,
                training_total: train.len(),
                evaluation_cost: net.total_cost(evaluation.x(), eval_y.view(), config.lambda)?.as_f64(),
                evaluation_correct: net.accuracy(evaluation.x(), evaluation.labels())?,
                evaluation_total: evaluation.len(),
            }),
        };
        let done = Epoch {
            epoch,
            test_correct: net.accuracy(mnist.test.x(), mnist.test.labels())?,
            test_total: mnist.test.len(),
            train_seconds,
            running_cost: (!config.per_example).then(|| cost_sum / train.len() as f64),
            examples_per_second: train.len() as f64 / train_seconds,
            monitor,
        };
        report(Event::EpochEnd(&done));
        epochs.push(done);
        let epochs_done = epoch + 1;
        if checkpoint.is_some_and(|c| c.every > 0 && epochs_done % c.every == 0) || epochs_done == config.epochs {
            save(&net, epochs_done, &rng)?;
        }
    }
    Ok((net, epochs))
}

fn diverged(config: &TrainConfig, epoch: usize, batch: Option<usize>, value: f64) -> BoxError {
    let what = match batch {
        Some(b) => format!("at epoch {epoch}, batch {b}: the mini-batch's cost is {value}"),
        None => format!("in epoch {epoch}: a parameter is {value}"),
    };
    let mut hints = vec![format!("a smaller --eta (now {})", config.eta)];
    if config.init != Init::Scaled {
        hints.push("--init scaled".into());
    }
    if config.cost == Cost::Quadratic {
        hints.push("--cost cross-entropy".into());
    }
    format!("training diverged {what}. Try {}", hints.join(", or ")).into()
}
