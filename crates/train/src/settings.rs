//! How to train: network2.py's `SGD` arguments, typed, with chapter 3's loop policies.

use batchprop::Rule;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which implementation of backpropagation runs each step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// The whole mini-batch at once, through matrix–matrix products.
    #[default]
    Batched,
    /// The book's loop, one example at a time (the oracle; slower).
    PerExample,
}

/// What the trainer measures after each epoch: network2.py's four `monitor_*` flags.
///
/// Evaluation accuracy (network.py's per-epoch `test_data` count) is on by default; the rest
/// cost a forward pass over their data set each epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Monitor {
    /// network2.py's `monitor_evaluation_cost`: `total_cost` on the evaluation data.
    pub evaluation_cost: bool,
    /// `monitor_evaluation_accuracy`: correct classifications of the evaluation data.
    pub evaluation_accuracy: bool,
    /// `monitor_training_cost`: `total_cost` on the training data (a forward pass over it).
    pub training_cost: bool,
    /// `monitor_training_accuracy`: correct classifications of the training data.
    pub training_accuracy: bool,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            evaluation_cost: false,
            evaluation_accuracy: true,
            training_cost: false,
            training_accuracy: false,
        }
    }
}

impl Monitor {
    /// All four on, as `--monitor` asks.
    pub fn all() -> Self {
        Monitor {
            evaluation_cost: true,
            evaluation_accuracy: true,
            training_cost: true,
            training_accuracy: true,
        }
    }
}

/// What counts as an improvement for early stopping and the η schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// A higher classification accuracy on the evaluation data (the chapter's choice).
    #[default]
    Accuracy,
    /// A lower cost on the evaluation data (regression, or by choice).
    Cost,
}

/// The settings of a training run.
///
/// `Settings::book()` (also the `Default`) is chapter 1's run: 30 epochs of mini-batches of
/// 10 at η = 3.0, seed 0. Setters chain:
///
/// ```
/// use batchprop_train::Settings;
///
/// let chapter3 = Settings::book().epochs(60).eta(0.1).lambda(5.0).early_stop(10);
/// assert!(chapter3.validate().is_ok());
/// assert!(Settings::book().batch_size(0).validate().is_err());
/// ```
///
/// Saved in checkpoints as JSON; a hand-edited file is validated as these setters are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per mini-batch, `m`.
    pub batch_size: usize,
    /// The learning rate η at the start.
    pub eta: f64,
    /// L2 regularisation λ (network2.py's `lmbda`): weights decay by `ηλ/n` per step under the
    /// SGD rules; for Adam it is PyTorch's `weight_decay` (see [`batchprop::Optimizer`]).
    pub lambda: f64,
    /// L1 regularisation λ₁ (chapter 3, eq. 95–97): `(λ₁/n) sgn w` joins each weight's gradient.
    pub l1: f64,
    /// The update rule: SGD, momentum, Nesterov, Adam, AdamW.
    pub rule: Rule,
    /// Dropout on the hidden layers, the probability `p` of dropping a neuron (0: none);
    /// masks drawn from `seed` and the step count ([`batchprop::Dropout`]).
    pub dropout: f64,
    /// Seeds the shuffles (and, through [`Trainer::rng`](crate::Trainer::rng), whatever else
    /// the caller draws from the trainer's generator, such as the initial network).
    pub seed: u64,
    /// Batched or per-example backpropagation.
    pub engine: Engine,
    /// Whether each epoch shuffles the examples (network.py always does); without, every
    /// epoch takes the mini-batches in the data's own order (scikit-learn's `shuffle=False`).
    pub shuffle: bool,
    /// What to measure after each epoch.
    pub monitor: Monitor,
    /// Stop after this many epochs without improvement of the evaluation [`Metric`], and
    /// give back the best epoch's parameters.
    pub early_stop: Option<usize>,
    /// Halve η after this many epochs without improvement; stop when η has fallen to η₀/128
    /// (chapter 3, "How to choose a neural network's hyper-parameters").
    pub eta_schedule: Option<usize>,
    /// What improvement means for `early_stop` and `eta_schedule`.
    pub metric: Metric,
}

impl Default for Settings {
    fn default() -> Self {
        Self::book()
    }
}

impl Settings {
    /// Chapter 1's run: 30 epochs, mini-batches of 10, η = 3.0, no regularisation, seed 0,
    /// batched, evaluation accuracy after each epoch.
    pub fn book() -> Self {
        Settings {
            epochs: 30,
            batch_size: 10,
            eta: 3.0,
            lambda: 0.0,
            l1: 0.0,
            rule: Rule::Sgd,
            dropout: 0.0,
            seed: 0,
            engine: Engine::Batched,
            shuffle: true,
            monitor: Monitor::default(),
            early_stop: None,
            eta_schedule: None,
            metric: Metric::Accuracy,
        }
    }

    /// Sets [`Settings::epochs`].
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets [`Settings::batch_size`].
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets [`Settings::eta`].
    pub fn eta(mut self, eta: f64) -> Self {
        self.eta = eta;
        self
    }

    /// Sets [`Settings::lambda`].
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self
    }

    /// Sets [`Settings::l1`].
    pub fn l1(mut self, l1: f64) -> Self {
        self.l1 = l1;
        self
    }

    /// Sets [`Settings::rule`].
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rule = rule;
        self
    }

    /// Sets [`Settings::dropout`].
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// Sets [`Settings::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets [`Settings::engine`].
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// Sets [`Settings::shuffle`].
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Sets [`Settings::monitor`].
    pub fn monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = monitor;
        self
    }

    /// Sets [`Settings::early_stop`] to `Some(patience)`.
    pub fn early_stop(mut self, patience: usize) -> Self {
        self.early_stop = Some(patience);
        self
    }

    /// Sets [`Settings::eta_schedule`] to `Some(patience)`.
    pub fn eta_schedule(mut self, patience: usize) -> Self {
        self.eta_schedule = Some(patience);
        self
    }

    /// Sets [`Settings::metric`].
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Whether early stopping or the η schedule watches the evaluation data.
    pub(crate) fn has_policy(&self) -> bool {
        self.early_stop.is_some() || self.eta_schedule.is_some()
    }

    /// Checks the settings on their own, before any data is read: every problem is an
    /// [`Error::Setting`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: String, requirement| {
            Err(Error::Setting {
                name,
                value,
                requirement,
            })
        };
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "must be at least 1");
        }
        if !(self.eta.is_finite() && self.eta > 0.0) {
            return bad("eta", self.eta.to_string(), "must be finite and positive");
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return bad("lambda", self.lambda.to_string(), "must be finite and non-negative");
        }
        if !(self.l1.is_finite() && self.l1 >= 0.0) {
            return bad("l1", self.l1.to_string(), "must be finite and non-negative");
        }
        self.rule.validate()?;
        batchprop::Dropout::new(self.dropout, self.seed)?;
        if self.early_stop == Some(0) {
            return bad(
                "early_stop",
                "0".into(),
                "(epochs without improvement) must be at least 1",
            );
        }
        if self.eta_schedule == Some(0) {
            return bad(
                "eta_schedule",
                "0".into(),
                "(epochs without improvement) must be at least 1",
            );
        }
        Ok(())
    }
}
