//! The training loop: network2.py's `SGD`, with chapter 3's policies, observers and
//! checkpoints.

use std::{collections::BTreeMap, path::Path, time::Instant};

use batchprop::{Activation, AlignedMatrix, Cost, Float, Metadata, Network, Optimizer, OptimizerState, one_hot};
use ndarray::{Array2, ArrayView2, Axis, ShapeBuilder, s};
use rand::{SeedableRng, rngs::ChaCha8Rng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

use crate::{
    Control, Engine, Epoch, EpochEnd, Error, Metric, Metrics, Observer, Result, Settings, Source, Targets, Warning,
    collective::{self, Collective},
};

/// The version of the run state [`Trainer::save_checkpoint`] writes.
const STATE_VERSION: u32 = 1;

/// Columns per forward pass when evaluating a data set that is gathered, not read in place.
const EVAL_CHUNK: usize = 1000;

/// An output whose σ'(z) is below this is saturated: for a sigmoid, within 1 % of 0 or 1.
const SATURATED_SLOPE: f64 = 0.01;

/// Epochs in a row an output neuron must be stuck before the run warns. On the book's
/// `[784, 100, 10]` quadratic run, seed 1 has neurons stuck in epochs 0 and 1 that recover in
/// epoch 2 (94 % by epoch 3), while seeds 0 and 2 stay stuck (66 %): three epochs tell them
/// apart.
const SATURATED_EPOCHS: usize = 3;

/// A classifier whose running training accuracy is at most this many times the chance rate
/// `1/classes` is at chance level (decision 8 of the plan: 1.5 / classes).
const CHANCE_FACTOR: f64 = 1.5;

/// How a call to [`Trainer::fit`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finish {
    /// All the epochs of the settings are done (with early stopping on, the network holds the
    /// best epoch's parameters all the same).
    Completed,
    /// Early stopping ended the run; the network holds the best epoch's parameters.
    EarlyStopped {
        /// The epoch whose parameters the network holds.
        best_epoch: usize,
    },
    /// The η schedule halved η down to η₀/128.
    EtaExhausted,
    /// An observer asked to stop after an epoch; the run can go on with another call to
    /// `fit`.
    Stopped,
    /// An observer asked to stop after a mini-batch (Ctrl-C, say) in the middle of `epoch`;
    /// [`Trainer::save_checkpoint`] keeps the place, and the next `fit` (here or after
    /// [`Trainer::resume`]) goes on from the next mini-batch with the same bits as a run
    /// never interrupted.
    Interrupted {
        /// The epoch in progress.
        epoch: usize,
        /// Its mini-batches done.
        batches_done: usize,
    },
}

/// The best epoch so far, kept while a policy watches the evaluation metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Best<F> {
    epoch: usize,
    value: f64,
    parameters: Vec<F>, // laid out as Network::parameters
}

/// Everything a run needs to continue where it stopped, saved in a checkpoint beside the
/// network's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunState<F> {
    format_version: u32,
    settings: Settings,
    /// The shuffles' stream position (`ChaCha8Rng::get_word_pos`; a string: JSON numbers
    /// cannot hold a u128).
    rng_word_pos: String,
    epochs_done: usize,
    /// η in force (the schedule may have lowered it).
    eta: f64,
    history: Vec<Epoch>,
    warnings: Vec<Warning>,
    best: Option<Best<F>>,
    /// Epochs since the best one, for early stopping.
    since_best: usize,
    /// Epochs since the best one or the last halving of η, for the schedule.
    since_change: usize,
    /// The best running training accuracy so far, and the epochs in a row at chance level
    /// with saturated outputs: the divergence rule for runs whose numbers stay finite.
    #[serde(default)]
    best_running_accuracy: f64,
    #[serde(default)]
    chance_streak: usize,
    /// Epochs in a row each output neuron has been stuck (saturated and wrong), `(n_L)`.
    #[serde(default)]
    saturation_streak: Vec<usize>,
    /// The epoch in progress when a run was interrupted between mini-batches.
    #[serde(default)]
    partial: Option<Partial>,
    /// Set when a policy has ended the run for good.
    finished: Option<Finish>,
    /// The update rule's state (momentum buffer, Adam's moments), as of `epochs_done`.
    #[serde(default = "Option::default")]
    optimizer: Option<OptimizerState<F>>,
    /// The caller's notes, carried through checkpoints untouched.
    tags: BTreeMap<String, String>,
}

/// An epoch in progress: what its first `batches_done` mini-batches added up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Partial {
    epoch: usize,
    /// The training examples `N` of the run (a resume must bring the same data).
    examples: usize,
    /// The shuffles' stream position before this epoch's shuffle, to draw the same order.
    rng_word_pos: String,
    batches_done: usize,
    cost_sum: f64,
    correct: usize,
    saturated: usize,
    seconds: f64,
    wrong: Vec<usize>, // (n_L): Saturation's counts so far, or empty
    stuck: Vec<usize>, // (n_L)
}

impl Partial {
    fn new(epoch: usize, examples: usize, rng: &ChaCha8Rng) -> Self {
        Partial {
            epoch,
            examples,
            rng_word_pos: rng.get_word_pos().to_string(),
            batches_done: 0,
            cost_sum: 0.0,
            correct: 0,
            saturated: 0,
            seconds: 0.0,
            wrong: Vec::new(),
            stuck: Vec::new(),
        }
    }

    fn rng_word_pos(&self) -> Result<u128> {
        self.rng_word_pos.parse().map_err(|_| Error::Data {
            what: "checkpoint",
            problem: format!(
                "rng_word_pos {:?} of the epoch in progress is not a count",
                self.rng_word_pos
            ),
        })
    }
}

impl<F> RunState<F> {
    /// The state of a run that has not started.
    fn new(settings: Settings, tags: BTreeMap<String, String>) -> Self {
        RunState {
            format_version: STATE_VERSION,
            eta: settings.eta,
            settings,
            rng_word_pos: String::new(),
            epochs_done: 0,
            history: Vec::new(),
            warnings: Vec::new(),
            best: None,
            since_best: 0,
            since_change: 0,
            best_running_accuracy: 0.0,
            chance_streak: 0,
            saturation_streak: Vec::new(),
            partial: None,
            finished: None,
            optimizer: None,
            tags,
        }
    }
}

/// A training run: settings, the shuffling random number generator, and what has happened
/// so far (history, best epoch, η in force). Made with [`Trainer::new`] or from a checkpoint
/// with [`Trainer::resume`]; [`Trainer::fit`] runs it.
///
/// ```
/// use batchprop::{Activation, Cost, Init, Network};
/// use batchprop_train::{Examples, Settings, Trainer};
/// use ndarray::array;
///
/// let x = array![[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]]; // XOR, one example per column
/// let xor = Examples::classes(x.view(), &[0, 1, 1, 0], 2)?;
/// let mut trainer = Trainer::new(Settings::book().epochs(300).batch_size(4).eta(0.5).seed(1))?;
/// let mut net = Network::<f64>::builder(&[2, 8, 2])
///     .hidden(Activation::Tanh)
///     .output(Activation::Softmax)
///     .cost(Cost::LogLikelihood)
///     .init(Init::Scaled)
///     .build(trainer.rng())?;
/// trainer.fit(&mut net, &xor, Some(&xor), &mut ())?;
/// let last = trainer.history().last().unwrap();
/// assert_eq!(last.evaluation.as_ref().unwrap().correct, Some(4));
/// # Ok::<(), batchprop_train::Error>(())
/// ```
#[derive(Debug)]
pub struct Trainer<F: Float> {
    state: RunState<F>,
    rng: ChaCha8Rng,
    optimizer: Option<Optimizer<F>>, // made by the first fit, for its network
    /// Written into every checkpoint's network file (a model's description rides here).
    metadata: Metadata,
    check_sync: bool, // distributed: compare the processes' parameters after each epoch
}

impl<F: Float> Trainer<F> {
    /// A new run with validated `settings`, its generator seeded from `settings.seed`.
    pub fn new(settings: Settings) -> Result<Self> {
        settings.validate()?;
        Ok(Trainer {
            rng: ChaCha8Rng::seed_from_u64(settings.seed),
            state: RunState::new(settings, BTreeMap::new()),
            optimizer: None,
            metadata: Metadata::new(),
            check_sync: false,
        })
    }

    /// The run's random number generator. The shuffles draw from it; drawing the initial
    /// network from it too (`Network::builder(…).build(trainer.rng())`), before the first
    /// epoch, makes one seed fix the whole run, as network.py's one `random` module does.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// Raises (or lowers) the number of epochs, to continue a resumed run further.
    pub fn set_epochs(&mut self, epochs: usize) -> Result<()> {
        let settings = Settings {
            epochs,
            ..self.state.settings.clone()
        };
        settings.validate()?;
        self.state.settings = settings;
        Ok(())
    }

    /// Sets η from now on (a resumed run's η, say): the η in force and the η₀ the schedule
    /// halves from.
    pub fn set_eta(&mut self, eta: f64) -> Result<()> {
        let settings = Settings {
            eta,
            ..self.state.settings.clone()
        };
        settings.validate()?;
        if let Some(opt) = &mut self.optimizer {
            opt.set_eta(eta)?;
        }
        self.state.settings = settings;
        self.state.eta = eta;
        Ok(())
    }

    /// How the run ended, if it has: a policy ended it (for good), or all its epochs are
    /// done (more can be added with [`Trainer::set_epochs`]). `None` while epochs remain.
    pub fn finished(&self) -> Option<Finish> {
        match self.state.finished {
            Some(finish) => Some(finish),
            None if self.state.epochs_done >= self.state.settings.epochs => Some(Finish::Completed),
            None => None,
        }
    }

    /// One record per epoch done, in order (across resumes).
    pub fn history(&self) -> &[Epoch] {
        &self.state.history
    }

    /// The warnings the run has given.
    pub fn warnings(&self) -> &[Warning] {
        &self.state.warnings
    }

    /// Epochs done so far.
    pub fn epochs_done(&self) -> usize {
        self.state.epochs_done
    }

    /// The learning rate in force.
    pub fn eta(&self) -> f64 {
        self.state.eta
    }

    /// The best epoch by the evaluation metric, when early stopping or the η schedule
    /// watches it.
    pub fn best_epoch(&self) -> Option<usize> {
        self.state.best.as_ref().map(|b| b.epoch)
    }

    /// The caller's notes (which data split, say), saved and resumed with the run.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.state.tags
    }

    /// The caller's notes, to edit.
    pub fn tags_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.state.tags
    }

    /// The metadata every checkpoint's network file carries (see [`Network::save_with`]): a
    /// [`Model`](crate::Model)'s description, so that a checkpoint is also a model file.
    /// [`Trainer::resume`] reads it back.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The checkpoints' metadata, to edit.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// Trains `net` on `train` for the remaining epochs, evaluating on `evaluation` (if
    /// given) after each, as network2.py's `SGD` does; `observer` sees every batch and epoch.
    ///
    /// Checks the data against the settings and the network first (sizes, classes, the
    /// batch size, the evaluation data a policy needs). Each epoch shuffles the examples
    /// with the run's generator, takes mini-batches of `batch_size` (the last one smaller
    /// if `batch_size` does not divide `N`), and steps on each; nothing is allocated per
    /// step. The same settings, seed and network give the same bits on any number of
    /// threads. With early stopping on, `net` ends with the best epoch's parameters
    /// ([`Trainer::best_epoch`]), whether the policy ended the run or the epochs ran out.
    ///
    /// A non-finite cost or parameter ends the run with [`Error::Diverged`].
    pub fn fit<S: Source<F>>(
        &mut self,
        net: &mut Network<F>,
        train: &S,
        evaluation: Option<&dyn Source<F>>,
        observer: &mut impl Observer<F>,
    ) -> Result<Finish> {
        self.fit_with(net, train, evaluation, observer, None)
    }

    /// [`Trainer::fit`] as one of the processes of a synchronous data-parallel run
    /// ([`Collective`]): every process calls it with the same settings, data and initial
    /// network; each takes its share of every mini-batch ([`batchprop::Share::of_batch`]),
    /// back-propagates it, and the gradient sums are added across the processes in one
    /// all-reduce per step over the gradient buffer, so every process applies the same
    /// update and keeps the same parameters. The running cost and accuracy, the saturation
    /// counts and the observers' requests to stop are summed in a second, small all-reduce
    /// per step, so every process makes the same decisions; the evaluations split their
    /// examples across the processes and sum their counts and costs. The records, the
    /// policies and the final network are the same on every process (print and save on one).
    /// The sums' order differs from one process's, so the parameters agree with a
    /// one-process run to rounding, not to the bit. Before the first epoch (and after each
    /// with [`Trainer::check_sync`] or in debug builds) the processes check that they hold
    /// the same data sizes and the same parameters.
    ///
    /// Only the batched engine runs distributed.
    pub fn fit_distributed<S: Source<F>>(
        &mut self,
        net: &mut Network<F>,
        train: &S,
        evaluation: Option<&dyn Source<F>>,
        observer: &mut impl Observer<F>,
        collective: &dyn Collective,
    ) -> Result<Finish> {
        if self.state.settings.engine != Engine::Batched {
            return Err(Error::Setting {
                name: "engine",
                value: "per-example".into(),
                requirement: "runs on one process: distributed training takes the batched engine",
            });
        }
        let sizes = [
            1.0,
            train.len() as f64,
            train.input_size() as f64,
            evaluation.map_or(0, |e| e.len()) as f64,
            self.state.epochs_done as f64,
        ];
        if !same_everywhere(collective, &sizes) {
            return Err(Error::Data {
                what: "distributed run",
                problem: "the processes hold different data (sizes of the training or evaluation set) or \
                          different progress (epochs done)"
                    .into(),
            });
        }
        check_same_parameters(net, collective, None)?;
        self.fit_with(net, train, evaluation, observer, Some(collective))
    }

    /// After each epoch of [`Trainer::fit_distributed`], check that every process holds the
    /// same parameters (a hash of their bits, all-reduced; always on in debug builds).
    pub fn check_sync(&mut self, on: bool) -> &mut Self {
        self.check_sync = on;
        self
    }

    fn fit_with<S: Source<F>>(
        &mut self,
        net: &mut Network<F>,
        train: &S,
        evaluation: Option<&dyn Source<F>>,
        observer: &mut impl Observer<F>,
        collective: Option<&dyn Collective>,
    ) -> Result<Finish> {
        self.check_data(net, train, evaluation)?;
        let settings = self.state.settings.clone();
        let n = train.len();
        let batch_size = settings.batch_size;
        let mut opt = match self.optimizer.take() {
            Some(opt) => opt,
            None => {
                let mut opt = Optimizer::new(net, settings.rule, self.state.eta)?
                    .with_l2(settings.lambda, n)?
                    .with_l1(settings.l1, n, net)?
                    .with_dropout(batchprop::Dropout::new(settings.dropout, settings.seed)?);
                if let Some(saved) = &self.state.optimizer {
                    opt.set_state(saved)?;
                }
                opt
            }
        };
        let mut ws = net.try_workspace(batch_size)?;
        let mut pe = net.per_example_workspace();
        let mut batches = Batcher::new(train, net.sizes()[net.num_layers() - 1], batch_size)?;
        // One-hot targets for the monitored costs, built once.
        let one_hot_of = |source: &dyn Source<F>| match source.targets() {
            Targets::Classes { labels, classes } => one_hot::<F>(labels, classes).map(Some),
            Targets::Values(_) => Ok(None),
        };
        let measure_eval_cost =
            settings.monitor.evaluation_cost || (settings.has_policy() && settings.metric == Metric::Cost);
        let measure_eval_accuracy =
            settings.monitor.evaluation_accuracy || (settings.has_policy() && settings.metric == Metric::Accuracy);
        let train_y = if settings.monitor.training_cost {
            one_hot_of(train)?
        } else {
            None
        };
        let eval_y = match evaluation {
            Some(e) if measure_eval_cost => one_hot_of(e)?,
            _ => None,
        };
        let mut saturation = Saturation::new(net, &self.state.saturation_streak);
        let last_layer = net.num_layers() - 1;
        let n_out = net.sizes()[last_layer];
        // Distributed: this process's rank and the number of processes, and what each step
        // sums across them besides the gradient: [cost, correct, saturated, stop, wrong
        // (n_L), stuck (n_L)].
        let share = collective.map(|c| (c.rank(), c.size()));
        let mut step_sums = vec![0.0f64; 4 + 2 * n_out];
        let output = &net.activations()[last_layer - 1].clone();
        let classes = matches!(train.targets(), Targets::Classes { .. });
        // Outputs that live in [0, 1] and can saturate at its ends.
        let saturating_output = matches!(output, Activation::Sigmoid | Activation::Softmax);

        let mut finish = self.state.finished.unwrap_or(Finish::Completed);
        let mut stop_after_epoch = false;
        while self.state.finished.is_none() && self.state.epochs_done < settings.epochs {
            let epoch = self.state.epochs_done;
            observer.epoch_start(epoch, batches.len());
            // The epoch so far: nothing, or what an interrupted call added up. Either way the
            // generator stands where this epoch's shuffle draws from.
            let mut p = match self.state.partial.take() {
                Some(p) => {
                    self.rng.set_word_pos(p.rng_word_pos()?);
                    p
                }
                None => Partial::new(epoch, n, &self.rng),
            };
            if settings.shuffle {
                batches.shuffle(&mut self.rng);
            }
            saturation.restore(&p);
            let start = Instant::now();
            for batch in p.batches_done..batches.len() {
                let (x, y, first, m) = batches.gather(train, batch, share);
                let mut stop = None;
                let cost = match (settings.engine, collective) {
                    (Engine::Batched, None) => {
                        net.step(x, y, &mut opt, &mut ws)?;
                        // The outputs of the step's own forward pass: n_L × m values at hand.
                        let (z, a) = (ws.z(last_layer), ws.a(last_layer));
                        saturation.observe(a, y);
                        if classes {
                            let (c, s) = outcomes(a, y, saturating_output);
                            p.correct += c;
                            p.saturated += s;
                        }
                        net.cost().value_at(output, z, a, y).as_f64()
                    }
                    (Engine::Batched, Some(c)) => {
                        let share = batchprop::Share { first, of: m };
                        net.step_share(x, y, share, &mut opt, &mut ws, |g| collective::sum(c, g))?;
                        // This share's outcomes, summed with the others' (an empty share has
                        // none, and its workspace holds an earlier batch).
                        step_sums.fill(0.0);
                        if x.ncols() > 0 {
                            let (z, a) = (ws.z(last_layer), ws.a(last_layer));
                            let (wrong, stuck) = step_sums[4..].split_at_mut(n_out);
                            saturation.count(a, y, wrong, stuck);
                            if classes {
                                let (c, s) = outcomes(a, y, saturating_output);
                                (step_sums[1], step_sums[2]) = (c as f64, s as f64);
                            }
                            step_sums[0] = net.cost().value_at(output, z, a, y).as_f64();
                        }
                        // The observers are asked on every process, and all stop if one asks.
                        step_sums[3] = f64::from(u8::from(observer.batch_end(epoch, batch) == Control::Stop));
                        c.sum_f64(&mut step_sums);
                        saturation.add(&step_sums[4..4 + n_out], &step_sums[4 + n_out..]);
                        p.correct += step_sums[1] as usize;
                        p.saturated += step_sums[2] as usize;
                        stop = Some(if step_sums[3] > 0.0 {
                            Control::Stop
                        } else {
                            Control::Continue
                        });
                        step_sums[0]
                    }
                    (Engine::PerExample, _) => {
                        net.step_per_example(x, y, &mut opt, &mut pe)?;
                        pe.batch_cost_sum().as_f64()
                    }
                };
                if !cost.is_finite() {
                    return Err(self.diverged(net, epoch, Some(batch), "the mini-batch's cost".into(), cost));
                }
                p.cost_sum += cost;
                p.batches_done = batch + 1;
                let control = match stop {
                    Some(control) => control,
                    None => observer.batch_end(epoch, batch),
                };
                if control == Control::Stop {
                    if p.batches_done == batches.len() {
                        stop_after_epoch = true; // the epoch is done: end it as usual
                    } else {
                        p.seconds += start.elapsed().as_secs_f64();
                        saturation.save(&mut p);
                        self.state.partial = Some(p);
                        self.optimizer = Some(opt);
                        return Ok(Finish::Interrupted {
                            epoch,
                            batches_done: batch + 1,
                        });
                    }
                }
            }
            let (cost_sum, correct, saturated) = (p.cost_sum, p.correct, p.saturated);
            let train_seconds = p.seconds + start.elapsed().as_secs_f64();
            if let Some((array, value)) = net.first_non_finite() {
                return Err(self.diverged(net, epoch, None, format!("a parameter of {array}"), value.as_f64()));
            }
            if let Some(c) = collective
                && (self.check_sync || cfg!(debug_assertions))
            {
                check_same_parameters(net, c, Some(epoch))?;
            }

            let training = (settings.monitor.training_cost || settings.monitor.training_accuracy)
                .then(|| {
                    evaluate(
                        net,
                        train,
                        train_y.as_ref(),
                        settings.monitor.training_accuracy,
                        settings.lambda,
                        collective,
                    )
                })
                .transpose()?;
            let eval_metrics = evaluation
                .filter(|_| measure_eval_cost || measure_eval_accuracy)
                .map(|e| {
                    evaluate(
                        net,
                        e,
                        eval_y.as_ref(),
                        measure_eval_accuracy,
                        settings.lambda,
                        collective,
                    )
                })
                .transpose()?;
            let running_accuracy = (classes && settings.engine == Engine::Batched).then(|| correct as f64 / n as f64);
            if let Some(accuracy) = running_accuracy {
                self.check_chance(net, epoch, accuracy, saturated * 10 >= n * 9)?;
            }
            let record = Epoch {
                epoch,
                eta: self.state.eta,
                train_seconds,
                examples_per_second: n as f64 / train_seconds,
                running_cost: cost_sum / n as f64,
                running_accuracy,
                training,
                evaluation: eval_metrics,
            };
            let warned = |w: &Warning| {
                let kind = std::mem::discriminant(w);
                self.state
                    .warnings
                    .iter()
                    .any(|old| std::mem::discriminant(old) == kind)
            };
            let warning = saturation.warning(epoch, n);
            self.state.saturation_streak.clone_from(&saturation.streak);
            if let Some(w) = warning
                && !warned(&w)
            {
                observer.warning(&w);
                self.state.warnings.push(w);
            }
            if let Some(policy_finish) = self.apply_policies(net, &record) {
                self.state.finished = Some(policy_finish);
                finish = policy_finish;
            }
            opt.set_eta(self.state.eta)?;
            self.state.history.push(record);
            self.state.epochs_done = epoch + 1;
            self.optimizer = Some(opt);
            let end = EpochEnd {
                record: self.state.history.last().expect("just pushed"),
                network: net,
                trainer: self,
                last: self.state.finished.is_some() || epoch + 1 == settings.epochs,
            };
            let control = observer.epoch_end(&end)?;
            opt = self.optimizer.take().expect("kept over the observer's call");
            if (control == Control::Stop || stop_after_epoch) && self.state.finished.is_none() {
                if self.state.epochs_done < settings.epochs {
                    finish = Finish::Stopped;
                }
                break;
            }
        }
        self.optimizer = Some(opt);
        if settings.early_stop.is_some()
            && let Some(best) = &self.state.best
        {
            net.parameters_mut().copy_from_slice(&best.parameters);
        }
        Ok(finish)
    }

    /// Early stopping and the η schedule after an epoch: keeps the best parameters, counts
    /// epochs without improvement, halves η. Returns how the run ends, if a policy ends it.
    fn apply_policies(&mut self, net: &Network<F>, record: &Epoch) -> Option<Finish> {
        let settings = &self.state.settings;
        if !settings.has_policy() {
            return None;
        }
        let eval = record.evaluation.as_ref()?;
        let value = match settings.metric {
            Metric::Accuracy => eval.accuracy(),
            Metric::Cost => eval.cost,
        }?;
        let better = match (&self.state.best, settings.metric) {
            (None, _) => !value.is_nan(),
            (Some(best), Metric::Accuracy) => value > best.value,
            (Some(best), Metric::Cost) => value < best.value,
        };
        if better {
            let parameters = net.parameters().to_vec();
            self.state.best = Some(Best {
                epoch: record.epoch,
                value,
                parameters,
            });
            self.state.since_best = 0;
            self.state.since_change = 0;
        } else {
            self.state.since_best += 1;
            self.state.since_change += 1;
        }
        if let Some(patience) = settings.eta_schedule
            && self.state.since_change >= patience
        {
            self.state.since_change = 0;
            self.state.eta /= 2.0;
            if self.state.eta <= settings.eta / 128.0 {
                return Some(Finish::EtaExhausted);
            }
        }
        match (settings.early_stop, &self.state.best) {
            (Some(patience), Some(best)) if self.state.since_best >= patience => {
                Some(Finish::EarlyStopped { best_epoch: best.epoch })
            }
            _ => None,
        }
    }

    /// The second phase of validation: the data against the settings and the network.
    fn check_data<S: Source<F>>(&self, net: &Network<F>, train: &S, evaluation: Option<&dyn Source<F>>) -> Result<()> {
        let settings = &self.state.settings;
        let sizes = net.sizes();
        let (n_in, n_out) = (sizes[0], sizes[sizes.len() - 1]);
        let sets: Vec<(&'static str, &dyn Source<F>)> = std::iter::once(("training data", train as &dyn Source<F>))
            .chain(evaluation.map(|e| ("evaluation data", e)))
            .collect();
        for (what, data) in sets {
            let targets = data.targets();
            if data.input_size() != n_in || targets.outputs() != n_out {
                let outputs = match targets {
                    Targets::Classes { classes, .. } => format!("{classes} classes"),
                    Targets::Values(y) => format!("{} target rows", y.nrows()),
                };
                return Err(Error::Data {
                    what,
                    problem: format!(
                        "the network's sizes {sizes:?} do not fit it: it has {} inputs per example and {outputs}, \
                         so the first layer must be {} and the last {}",
                        data.input_size(),
                        data.input_size(),
                        targets.outputs()
                    ),
                });
            }
            if targets.len() != data.len() {
                return Err(Error::Data {
                    what,
                    problem: format!("{} examples but {} targets", data.len(), targets.len()),
                });
            }
            if data.is_empty() {
                return Err(Error::Data {
                    what,
                    problem: "it holds no examples".into(),
                });
            }
        }
        if settings.batch_size > train.len() {
            return Err(Error::Data {
                what: "training data",
                problem: format!(
                    "the batch size {} is larger than the {} training examples",
                    settings.batch_size,
                    train.len()
                ),
            });
        }
        let policy = match (settings.early_stop, settings.eta_schedule) {
            (Some(_), _) => Some("early stopping"),
            (None, Some(_)) => Some("the η schedule"),
            (None, None) => None,
        };
        if let Some(policy) = policy {
            let Some(eval) = evaluation else {
                return Err(Error::Data {
                    what: "evaluation data",
                    problem: format!("{policy} watches the evaluation data, and none was given"),
                });
            };
            if settings.metric == Metric::Accuracy && matches!(eval.targets(), Targets::Values(_)) {
                return Err(Error::Data {
                    what: "evaluation data",
                    problem: format!("{policy} watches the accuracy, but the targets are values: use Metric::Cost"),
                });
            }
        }
        if let Some(opt) = &self.optimizer
            && opt.sizes() != sizes
        {
            return Err(Error::Data {
                what: "network",
                problem: format!(
                    "the run's update rule was set up for sizes {:?}, the network has {sizes:?}",
                    opt.sizes()
                ),
            });
        }
        let state = &self.state;
        let saved = |problem: String| {
            Err(Error::Data {
                what: "checkpoint",
                problem,
            })
        };
        if !(state.saturation_streak.is_empty() || state.saturation_streak.len() == n_out) {
            return saved(format!(
                "saturation_streak has {} entries for {n_out} outputs",
                state.saturation_streak.len()
            ));
        }
        if let Some(p) = &state.partial {
            let batches = train.len().div_ceil(settings.batch_size);
            if p.examples != train.len() {
                return saved(format!(
                    "it was interrupted in an epoch over {} training examples; this data has {}",
                    p.examples,
                    train.len()
                ));
            }
            if p.epoch != state.epochs_done || p.batches_done == 0 || p.batches_done >= batches {
                return saved(format!(
                    "the epoch in progress (epoch {}, {} of {batches} mini-batches done) does not follow the {} epochs done",
                    p.epoch, p.batches_done, state.epochs_done
                ));
            }
            if ![0, n_out].contains(&p.wrong.len()) || p.stuck.len() != p.wrong.len() {
                return saved(format!(
                    "the epoch in progress has saturation counts for {} outputs, not {n_out}",
                    p.wrong.len()
                ));
            }
            p.rng_word_pos()?;
        }
        if let Some(best) = &self.state.best
            && best.parameters.len() != net.parameters().len()
        {
            return Err(Error::Data {
                what: "network",
                problem: format!("it is not the network this run was saved with (sizes {sizes:?})"),
            });
        }
        Ok(())
    }

    /// The divergence of a run whose numbers stay finite (plan decision 8): the running
    /// training accuracy at chance level (≤ 1.5 / classes) after having been clearly better
    /// (≥ 3 / classes), or for two epochs in a row with 90 % of the examples' outputs
    /// saturated. An `η` far too large drives a classifier there without an infinity. Not
    /// for two classes, where "chance level" (≤ 75 %) overlaps honest early training.
    fn check_chance(&mut self, net: &Network<F>, epoch: usize, accuracy: f64, saturated: bool) -> Result<()> {
        let classes = net.sizes()[net.num_layers() - 1] as f64;
        if classes < 3.0 {
            return Ok(());
        }
        let chance = CHANCE_FACTOR / classes;
        let state = &mut self.state;
        if accuracy > chance {
            state.chance_streak = 0;
        } else if saturated {
            state.chance_streak += 1;
        }
        let was_better = state.best_running_accuracy >= 2.0 * chance;
        state.best_running_accuracy = state.best_running_accuracy.max(accuracy);
        if accuracy <= chance && (was_better || state.chance_streak >= 2) {
            let what = if was_better {
                format!(
                    "the running training accuracy, back at chance level (≤ {chance:.3}) after {:.1} %,",
                    100.0 * self.state.best_running_accuracy
                )
            } else {
                format!(
                    "the running training accuracy, at chance level (≤ {chance:.3}) with saturated outputs for two epochs,"
                )
            };
            return Err(self.diverged(net, epoch, None, what, accuracy));
        }
        Ok(())
    }

    fn diverged(&self, net: &Network<F>, epoch: usize, batch: Option<usize>, what: String, value: f64) -> Error {
        let mut hints = vec![format!("a smaller η (now {:?})", self.state.eta)];
        hints.push("the scaled initialisation (Init::Scaled), if the weights start from N(0, 1)".into());
        if net.cost() == Cost::Quadratic {
            hints.push("the cross-entropy cost".into());
        }
        Error::Diverged {
            epoch,
            batch,
            what,
            value,
            hint: hints.join(", or "),
        }
    }

    /// Saves `net` with the run's state to `path`, atomically (the network file of
    /// [`Network::save`] with a `training` object): what [`Trainer::resume`] reads.
    pub fn save_checkpoint(&self, net: &Network<F>, path: impl AsRef<Path>) -> Result<()> {
        let state = RunState {
            rng_word_pos: self.rng.get_word_pos().to_string(),
            optimizer: self
                .optimizer
                .as_ref()
                .map(Optimizer::state)
                .or_else(|| self.state.optimizer.clone()),
            ..self.state.clone()
        };
        net.save_with(path, &self.metadata, Some(&state))?;
        Ok(())
    }

    /// The run saved in `path` by [`Trainer::save_checkpoint`] (or by version 0.1 of the
    /// `mnist` example's `--save`), and its network, ready to continue with [`Trainer::fit`]:
    /// the continued run gives the same bits as one never interrupted. The saved settings are
    /// validated like new ones.
    pub fn resume(path: impl AsRef<Path>) -> Result<(Self, Network<F>)> {
        let path = path.as_ref();
        let problem = |problem: String| Error::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        let (net, metadata, state) = Network::<F>::load_with::<serde_json::Value>(path)?;
        let state = state.ok_or_else(|| {
            problem("it holds a network but no training state: it can be loaded (Network::load), not resumed".into())
        })?;
        let state: RunState<F> = if state.get("format_version").is_some() {
            serde_json::from_value(state).map_err(|e| problem(format!("the training state is not valid: {e}")))?
        } else {
            legacy_state(state).map_err(problem)?
        };
        if state.format_version > STATE_VERSION {
            return Err(problem(format!(
                "its training state has format_version {}, newer than this batchprop reads ({STATE_VERSION})",
                state.format_version
            )));
        }
        state
            .settings
            .validate()
            .map_err(|e| problem(format!("the saved settings: {e}")))?;
        if !(state.eta.is_finite() && state.eta > 0.0 && state.eta <= state.settings.eta) {
            return Err(problem(format!(
                "the saved η in force ({}) is not in (0, η₀ = {}]",
                state.eta, state.settings.eta
            )));
        }
        if state.history.len() > state.epochs_done {
            return Err(problem(format!(
                "the history has {} epochs but {} are done",
                state.history.len(),
                state.epochs_done
            )));
        }
        let word_pos: u128 = state
            .rng_word_pos
            .parse()
            .map_err(|_| problem(format!("rng_word_pos {:?} is not a count", state.rng_word_pos)))?;
        let mut rng = ChaCha8Rng::seed_from_u64(state.settings.seed);
        rng.set_word_pos(word_pos);
        Ok((
            Trainer {
                state,
                rng,
                optimizer: None,
                metadata,
                check_sync: false,
            },
            net,
        ))
    }
}

/// The training state that version 0.1 of the `mnist` example saved with `--save`:
/// `{"epochs_done", "rng_word_pos", "config": {…}}`. The example's own settings (sizes,
/// activation, init, data split) become tags.
fn legacy_state<F: Float>(state: serde_json::Value) -> std::result::Result<RunState<F>, String> {
    #[derive(Deserialize)]
    struct Legacy {
        epochs_done: usize,
        rng_word_pos: String,
        config: LegacyConfig,
    }
    #[derive(Deserialize)]
    struct LegacyConfig {
        epochs: usize,
        batch_size: usize,
        eta: f64,
        lambda: f64,
        seed: u64,
        per_example: bool,
        monitor: bool,
        full_train: bool,
        hidden: String,
        init: String,
    }
    let legacy: Legacy = serde_json::from_value(state).map_err(|e| format!("the training state is not valid: {e}"))?;
    let c = legacy.config;
    let settings = Settings {
        epochs: c.epochs,
        batch_size: c.batch_size,
        eta: c.eta,
        lambda: c.lambda,
        seed: c.seed,
        engine: if c.per_example {
            Engine::PerExample
        } else {
            Engine::Batched
        },
        monitor: if c.monitor {
            crate::Monitor::all()
        } else {
            crate::Monitor::default()
        },
        ..Settings::book()
    };
    let tags = BTreeMap::from([
        ("full_train".to_string(), c.full_train.to_string()),
        ("hidden".to_string(), c.hidden),
        ("init".to_string(), c.init),
    ]);
    Ok(RunState {
        rng_word_pos: legacy.rng_word_pos,
        epochs_done: legacy.epochs_done,
        ..RunState::new(settings, tags)
    })
}

/// Cost (if `y` is given, or the targets are values) and accuracy (if asked and the targets
/// are classes) of `net` on `data`: in place when the data holds its inputs as a matrix, else
/// gathered in chunks. Either way the same bits.
fn evaluate<F: Float>(
    net: &Network<F>,
    data: &(impl Source<F> + ?Sized),
    one_hot: Option<&Array2<F>>,
    accuracy: bool,
    lambda: f64,
    collective: Option<&dyn Collective>,
) -> Result<Metrics> {
    let targets = data.targets();
    let y: Option<ArrayView2<F>> = match targets {
        Targets::Values(y) => Some(y),
        Targets::Classes { .. } => one_hot.map(|y| y.view()),
    };
    let labels = match targets {
        Targets::Classes { labels, .. } if accuracy => Some(labels),
        _ => None,
    };
    let n = data.len();
    // Distributed, each process evaluates its share of the examples.
    let range = collective.map_or(0..n, |c| batchprop::Share::of_batch(n, c.rank(), c.size()));
    let (mut cost_sum, mut correct) = (F::zero(), 0);
    let part = |x: ArrayView2<F>, start: usize| -> Result<()> {
        let end = start + x.ncols();
        if let Some(y) = &y {
            cost_sum += net.cost_sum(x, y.slice(s![.., start..end]))?;
        }
        if let Some(labels) = labels {
            correct += net.accuracy(x, &labels[start..end])?;
        }
        Ok(())
    };
    in_chunks(data, range.clone(), false, part)?;
    let mut errors = match targets {
        Targets::Values(y) => Some(regression_sums(net, data, y, range)?),
        Targets::Classes { .. } => None,
    };
    if let Some(c) = collective {
        let mut sums = vec![cost_sum.as_f64(), correct as f64];
        if let Some(e) = &errors {
            sums.extend(e.sse.iter().chain(&e.sae).chain(&e.sst));
        }
        c.sum_f64(&mut sums);
        (cost_sum, correct) = (F::from_f64(sums[0]), sums[1] as usize);
        if let Some(e) = &mut errors {
            let k = e.sse.len();
            e.sse.copy_from_slice(&sums[2..2 + k]);
            e.sae.copy_from_slice(&sums[2 + k..2 + 2 * k]);
            e.sst.copy_from_slice(&sums[2 + 2 * k..]);
        }
    }
    let cost = match y {
        Some(_) => Some(net.regularised_mean(cost_sum, F::from_usize(n), lambda)?.as_f64()),
        None => None,
    };
    let (mse, mae, r2) = match &errors {
        Some(e) => {
            let (mse, mae, r2) = e.finish(data.target_scale(), n);
            (Some(mse), Some(mae), Some(r2))
        }
        None => (None, None, None),
    };
    Ok(Metrics {
        cost,
        correct: labels.map(|_| correct),
        total: n,
        mse,
        mae,
        r2,
    })
}

/// Calls `f(x, start)` on the inputs `X: (n_0 × ·)` of `data`'s examples `range`, in order:
/// read in place when the source holds them (in one piece, or in chunks of [`EVAL_CHUNK`]
/// columns if `chunked`), else gathered into one buffer, chunk by chunk. Either way `f` sees
/// every column of the range once; `start` is the example's index in `data`.
fn in_chunks<F: Float>(
    data: &(impl Source<F> + ?Sized),
    range: std::ops::Range<usize>,
    chunked: bool,
    mut f: impl FnMut(ArrayView2<F>, usize) -> Result<()>,
) -> Result<()> {
    let (lo, hi) = (range.start, range.end);
    if lo == hi {
        return Ok(());
    }
    match data.inputs() {
        Some(x) if !chunked => f(x.slice(s![.., lo..hi]), lo),
        Some(x) => (lo..hi)
            .step_by(EVAL_CHUNK)
            .try_for_each(|start| f(x.slice(s![.., start..(start + EVAL_CHUNK).min(hi)]), start)),
        None => {
            let mut buffer = Array2::zeros((data.input_size(), (hi - lo).min(EVAL_CHUNK)).f());
            let mut indices = Vec::with_capacity(EVAL_CHUNK);
            for start in (lo..hi).step_by(EVAL_CHUNK) {
                let end = (start + EVAL_CHUNK).min(hi);
                indices.clear();
                indices.extend(start..end);
                let mut x = buffer.slice_mut(s![.., ..end - start]);
                data.gather(&indices, x.view_mut());
                f(x.view(), start)?;
            }
            Ok(())
        }
    }
}

/// Mean squared and absolute errors (in the targets' own units, through
/// [`Source::target_scale`]) and R² averaged over the outputs, of `net` on value targets
/// `y: (n_L × N)`, in chunks of [`EVAL_CHUNK`] examples.
pub(crate) fn regression_errors<F: Float>(
    net: &Network<F>,
    data: &(impl Source<F> + ?Sized),
    y: ArrayView2<F>,
) -> Result<(f64, f64, f64)> {
    let n = y.ncols();
    Ok(regression_sums(net, data, y, 0..n)?.finish(data.target_scale(), n))
}

/// Per output, over some examples: the sums of squared and absolute errors and of squared
/// deviations from the target's mean over all `N` examples.
struct ErrorSums {
    sse: Vec<f64>, // (n_L)
    sae: Vec<f64>, // (n_L)
    sst: Vec<f64>, // (n_L)
}

/// [`ErrorSums`] of `net` on the examples `range` of `data`, targets `y: (n_L × N)`.
fn regression_sums<F: Float>(
    net: &Network<F>,
    data: &(impl Source<F> + ?Sized),
    y: ArrayView2<F>,
    range: std::ops::Range<usize>,
) -> Result<ErrorSums> {
    let (k, n) = y.dim();
    let mean: Vec<f64> = y
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|v| v.as_f64()).sum::<f64>() / n as f64)
        .collect();
    let (mut sse, mut sae, mut sst) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]); // (n_L) each
    in_chunks(data, range, true, |x, start| {
        let end = start + x.ncols();
        let a = net.feedforward(x)?; // A^L: (n_L × chunk)
        for r in 0..k {
            for (&a, &t) in a.row(r).iter().zip(y.slice(s![r, start..end])) {
                let (e, d) = (a.as_f64() - t.as_f64(), t.as_f64() - mean[r]);
                sse[r] += e * e;
                sae[r] += e.abs();
                sst[r] += d * d;
            }
        }
        Ok(())
    })?;
    Ok(ErrorSums { sse, sae, sst })
}

impl ErrorSums {
    /// MSE, MAE and R² over `n` examples, the errors scaled by `scale` (each output's unit).
    fn finish(&self, scale: Option<&[f64]>, n: usize) -> (f64, f64, f64) {
        let (sse, sae, sst) = (&self.sse, &self.sae, &self.sst);
        let k = sse.len();
        let units: Vec<f64> = scale.map_or(vec![1.0; k], <[f64]>::to_vec);
        let per = (n * k) as f64;
        let mse = (0..k).map(|r| sse[r] * units[r] * units[r]).sum::<f64>() / per;
        let mae = (0..k).map(|r| sae[r] * units[r]).sum::<f64>() / per;
        // A constant target: R² is 1 if predicted exactly, else 0 (scikit-learn's convention).
        let r2 = (0..k)
            .map(|r| match (sst[r] > 0.0, sse[r] > 0.0) {
                (true, _) => 1.0 - sse[r] / sst[r],
                (false, false) => 1.0,
                (false, true) => 0.0,
            })
            .sum::<f64>()
            / k as f64;
        (mse, mae, r2)
    }
}

/// Of a batch's columns: how many are classified right (the most active output is the
/// target's), and how many have every output within 1 % of 0 or 1 (when the output layer
/// saturates at those ends).
fn outcomes<F: Float>(a: ArrayView2<F>, y: ArrayView2<F>, saturating: bool) -> (usize, usize) {
    let (mut correct, mut saturated) = (0, 0);
    for (a, y) in a.columns().into_iter().zip(y.columns()) {
        correct += usize::from(batchprop::argmax(a) == batchprop::argmax(y));
        saturated += usize::from(saturating && a.iter().all(|&v| v.as_f64() < 0.01 || v.as_f64() > 0.99));
    }
    (correct, saturated)
}

/// Shuffled mini-batches, gathered into buffers allocated once, each 64-byte aligned (the
/// first layer's products stream `X`).
struct Batcher<F> {
    batch_size: usize,
    order: Vec<usize>,   // (N): this epoch's order of examples
    x: AlignedMatrix<F>, // X: (n_0 × batch_size), column-major
    y: AlignedMatrix<F>, // Y: (n_L × batch_size), column-major
}

impl<F: Float> Batcher<F> {
    fn new<S: Source<F>>(data: &S, outputs: usize, batch_size: usize) -> Result<Self> {
        let zeros = |rows: usize| AlignedMatrix::zeros(rows, batch_size).map_err(|_| allocation(rows, batch_size));
        Ok(Batcher {
            batch_size,
            order: (0..data.len()).collect(),
            x: zeros(data.input_size())?,
            y: zeros(outputs)?,
        })
    }

    /// Batches per epoch, `⌈N / batch_size⌉`.
    fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// A new epoch in a random order drawn from `rng` (network.py's
    /// `random.shuffle(training_data)`): a permutation of `0..N` that depends only on the
    /// state of `rng`, not on earlier epochs.
    fn shuffle(&mut self, rng: &mut ChaCha8Rng) {
        for (i, o) in self.order.iter_mut().enumerate() {
            *o = i;
        }
        self.order.shuffle(rng);
    }

    /// Gathers batch `k` of this epoch: `X: (n_0 × m)` and `Y: (n_L × m)`, or with `share`
    /// (rank, processes) that process's columns of them ([`batchprop::Share::of_batch`]).
    /// Returns them, the first column's place in the batch and the batch's size `m`.
    fn gather<S: Source<F>>(
        &mut self,
        data: &S,
        k: usize,
        share: Option<(usize, usize)>,
    ) -> (ArrayView2<'_, F>, ArrayView2<'_, F>, usize, usize) {
        let batch = |k: usize| {
            let whole = &self.order
                [(k * self.batch_size).min(self.order.len())..((k + 1) * self.batch_size).min(self.order.len())];
            let part = share.map_or(0..whole.len(), |(rank, p)| {
                batchprop::Share::of_batch(whole.len(), rank, p)
            });
            (&whole[part.clone()], part.start, whole.len())
        };
        let (indices, first, whole) = batch(k);
        let m = indices.len();
        let next = batch(k + 1).0;
        // Each thread of the team gathers a block of columns, and asks for its block of the
        // next batch to come into its cache while the engine steps on this one. (The blocks
        // do not change what lands in X.)
        let parts = batchprop::team::parts(m * data.input_size(), MIN_GATHER_PER_PART);
        let (block, next_block) = (m.div_ceil(parts), next.len().div_ceil(parts).max(1));
        let mut x = self.x.columns_mut(m); // (n_0 × m)
        let blocks = (x.axis_chunks_iter_mut(Axis(1), block))
            .zip(indices.chunks(block))
            .enumerate();
        batchprop::team::for_each(blocks, |(j, (x, indices))| {
            data.gather(indices, x);
            let start = (j * next_block).min(next.len());
            data.prefetch(&next[start..(start + next_block).min(next.len())]);
        });
        data.targets().prefetch(next);
        let mut y_m = self.y.columns_mut(m); // (n_L × m)
        match data.targets() {
            Targets::Classes { labels, .. } => {
                y_m.fill(F::zero());
                for (j, &i) in indices.iter().enumerate() {
                    y_m[[labels[i] as usize, j]] = F::one();
                }
            }
            Targets::Values(y) => {
                for (mut column, &i) in y_m.columns_mut().into_iter().zip(indices) {
                    column.assign(&y.column(i));
                }
            }
        }
        (self.x.columns(m), self.y.columns(m), first, whole)
    }
}

/// Values of a batch below which a block of it is not gathered on a thread of its own: a
/// gather of 16k values (about 20 MNIST images) takes about as long as handing it over.
const MIN_GATHER_PER_PART: usize = 1 << 14;

fn allocation(rows: usize, batch_size: usize) -> Error {
    Error::Data {
        what: "batch size",
        problem: format!("a mini-batch of {batch_size} examples of {rows} values each cannot be allocated"),
    }
}

/// Tracks, over an epoch, the output neurons stuck at the wrong end of their range: under
/// the quadratic cost the output error is `(a − y) σ'(z)` (BP1), so a neuron that outputs
/// about 0 where it should output 1 (or the reverse) with σ'(z) ≈ 0 barely learns, however
/// wrong it is.
struct Saturation {
    slope: Option<Slope>, // σ' from a = σ(z), for sigmoid and tanh outputs
    wrong: Vec<usize>,    // (n_L): examples this epoch with |a_j − y_j| > 1/2
    stuck: Vec<usize>,    // (n_L): those of them with σ'(z_j) below SATURATED_SLOPE
    streak: Vec<usize>,   // (n_L): consecutive epochs the neuron has been stuck
}

/// σ' of an output that saturates under the quadratic cost, from its activation `a`.
#[derive(Clone, Copy)]
enum Slope {
    Sigmoid, // σ' = a (1 − a)
    Tanh,    // σ' = 1 − a²
}

impl Slope {
    #[inline(always)]
    fn at(self, a: f64) -> f64 {
        match self {
            Slope::Sigmoid => a * (1.0 - a),
            Slope::Tanh => 1.0 - a * a,
        }
    }
}

impl Saturation {
    /// For `net`, going on from `streak` (a run's saved streaks, or empty for none).
    fn new<F: Float>(net: &Network<F>, streak: &[usize]) -> Self {
        let output = &net.activations()[net.num_layers() - 2];
        let slope = match (output, net.cost()) {
            (Activation::Sigmoid, Cost::Quadratic) => Some(Slope::Sigmoid),
            (Activation::Tanh, Cost::Quadratic) => Some(Slope::Tanh),
            _ => None,
        };
        let n_out = net.sizes()[net.num_layers() - 1];
        Saturation {
            slope,
            wrong: vec![0; n_out],
            stuck: vec![0; n_out],
            streak: if streak.is_empty() {
                vec![0; n_out]
            } else {
                streak.to_vec()
            },
        }
    }

    /// An epoch starts, or goes on from the counts of its interrupted part.
    fn restore(&mut self, p: &Partial) {
        self.wrong.fill(0);
        self.stuck.fill(0);
        if !p.wrong.is_empty() {
            self.wrong.copy_from_slice(&p.wrong);
            self.stuck.copy_from_slice(&p.stuck);
        }
    }

    /// Keeps this epoch's counts so far in the interrupted part.
    fn save(&self, p: &mut Partial) {
        p.wrong.clone_from(&self.wrong);
        p.stuck.clone_from(&self.stuck);
    }

    /// The outputs `A^L: (n_L × m)` of one batch, and its targets `Y: (n_L × m)`.
    fn observe<F: Float>(&mut self, a: ArrayView2<F>, y: ArrayView2<F>) {
        each_wrong(self.slope, a, y, &mut self.wrong, &mut self.stuck);
    }

    /// [`Saturation::observe`]'s counts of one batch added into `wrong` and `stuck` (each
    /// `(n_L)`), not into the epoch's: a process's share, to be summed with the others'.
    fn count<F: Float>(&self, a: ArrayView2<F>, y: ArrayView2<F>, wrong: &mut [f64], stuck: &mut [f64]) {
        each_wrong(self.slope, a, y, wrong, stuck);
    }

    /// Adds a batch's summed [`Saturation::count`]s to the epoch's.
    fn add(&mut self, wrong: &[f64], stuck: &[f64]) {
        for (total, &w) in self.wrong.iter_mut().zip(wrong) {
            *total += w as usize;
        }
        for (total, &s) in self.stuck.iter_mut().zip(stuck) {
            *total += s as usize;
        }
    }

    /// A warning if an output neuron has been stuck for [`SATURATED_EPOCHS`] epochs in a
    /// row: wrong on at least 5 % of the `examples`, and saturated on 99 % of those.
    fn warning(&mut self, epoch: usize, examples: usize) -> Option<Warning> {
        self.slope?;
        for ((streak, &wrong), &stuck) in self.streak.iter_mut().zip(&self.wrong).zip(&self.stuck) {
            let stuck_now = wrong * 20 >= examples && stuck * 100 >= wrong * 99;
            *streak = if stuck_now { *streak + 1 } else { 0 };
        }
        let neuron = (0..self.streak.len())
            .filter(|&j| self.streak[j] >= SATURATED_EPOCHS)
            .max_by_key(|&j| self.wrong[j])?;
        Some(Warning::Saturated {
            epoch,
            neuron,
            wrong: self.wrong[neuron],
            stuck: self.stuck[neuron],
        })
    }
}

/// Counts, for each output `j`, the examples of a batch (`A^L`, `Y`: `(n_L × m)`) whose
/// output is more than 1/2 from its target into `wrong[j]`, and those of them where σ' (from
/// `slope`, for outputs that can saturate) is below [`SATURATED_SLOPE`] into `stuck[j]`.
/// Without branches: which outputs are wrong is a coin toss the CPU cannot predict.
fn each_wrong<F: Float, T: Copy + std::ops::AddAssign + From<u8>>(
    slope: Option<Slope>,
    a: ArrayView2<F>,
    y: ArrayView2<F>,
    wrong: &mut [T],
    stuck: &mut [T],
) {
    let Some(slope) = slope else { return };
    // Example by example: the columns are contiguous.
    for (a, y) in a.columns().into_iter().zip(y.columns()) {
        for (((&a, &y), wrong), stuck) in a.iter().zip(y).zip(&mut *wrong).zip(&mut *stuck) {
            let a = a.as_f64();
            let is_wrong = (a - y.as_f64()).abs() > 0.5;
            *wrong += T::from(u8::from(is_wrong));
            *stuck += T::from(u8::from(is_wrong & (slope.at(a) < SATURATED_SLOPE)));
        }
    }
}

/// Whether `values` are the same on every process (their spread, summed, is 0: every
/// process gets the same answer).
fn same_everywhere(collective: &dyn Collective, values: &[f64]) -> bool {
    let mut mean = values.to_vec();
    collective.sum_f64(&mut mean);
    let p = collective.size() as f64;
    let mut spread = [values.iter().zip(&mean).map(|(v, s)| (v - s / p).powi(2)).sum::<f64>()];
    collective.sum_f64(&mut spread);
    spread[0] == 0.0
}

/// An error unless every process holds the same parameters: an FNV-1a hash of their bits,
/// compared in 16-bit pieces (exact in `f64`).
fn check_same_parameters<F: Float>(net: &Network<F>, collective: &dyn Collective, epoch: Option<usize>) -> Result<()> {
    let hash = net.parameters().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        (h ^ v.as_f64().to_bits()).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let pieces: Vec<f64> = (0..4).map(|i| ((hash >> (16 * i)) & 0xffff) as f64).collect();
    if same_everywhere(collective, &pieces) {
        return Ok(());
    }
    Err(Error::Data {
        what: "distributed run",
        problem: match epoch {
            None => "the processes start from different networks: draw the initial network from the same seed on each"
                .into(),
            Some(e) => format!("the processes' parameters differ after epoch {e}: they are no longer in step"),
        },
    })
}
