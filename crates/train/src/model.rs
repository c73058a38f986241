//! A model: a network with what it needs to take a table's raw rows and answer in the data's
//! own terms (the input scaler, the class names, the target's units), trained from a
//! [`Table`] in one call and saved in one file.

use batchprop::{Activation, Cost, Init, Metadata, Network};
use batchprop_data::{Scaler, Scaling, Table, Target, Task};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::{Error, Examples, Finish, Observer, Result, Trainer};

/// The floats a model trains in: the engine's and the data crate's bound at once.
pub trait ModelFloat: batchprop::Float + batchprop_data::Float {}
impl<F: batchprop::Float + batchprop_data::Float> ModelFloat for F {}

/// The metadata key under which a model file keeps its [`Model`]'s description.
pub const MODEL_KEY: &str = "batchprop.model";

/// The version of the description [`Model::save`] writes.
const MODEL_VERSION: u32 = 1;

/// What to build for a table: the hidden layers and how to prepare the inputs. The input
/// and output layers come from the data: as many inputs as features; for classes, a softmax
/// over the classes with the log-likelihood cost; for values, identity outputs with the
/// quadratic cost, on targets standardised for training.
#[derive(Clone, Debug)]
pub struct Spec<F: batchprop::Float> {
    /// The hidden layers' sizes, e.g. `[32, 16]`.
    pub hidden: Vec<usize>,
    /// The hidden layers' activation.
    pub activation: Activation<F>,
    /// The initial weights.
    pub init: Init,
    /// How the features are scaled (fitted on the training table only).
    pub scaling: Scaling,
}

impl<F: batchprop::Float> Default for Spec<F> {
    /// One hidden layer of 100 ReLUs, He's initialisation, standardised features: what
    /// scikit-learn's `MLPClassifier` and `MLPRegressor` build by default.
    fn default() -> Self {
        Spec {
            hidden: vec![100],
            activation: Activation::Relu,
            init: Init::KaimingNormal,
            scaling: Scaling::Standard,
        }
    }
}

impl<F: batchprop::Float> Spec<F> {
    /// The default spec with these hidden layers.
    pub fn hidden(sizes: &[usize]) -> Self {
        Spec {
            hidden: sizes.to_vec(),
            ..Spec::default()
        }
    }
}

/// A model's description, saved as JSON under [`MODEL_KEY`] in the network file's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    pub format_version: u32,
    pub task: Task,
    pub feature_names: Vec<String>, // (n_0)
    pub target_name: String,
    /// The class names, output `j` being class `classes[j]` (classification).
    pub classes: Option<Vec<String>>,
    /// The map applied to every input row before the network.
    pub scaler: Scaler,
    /// The map the targets were standardised with (regression): predictions are inverted
    /// through it into the targets' own units.
    pub target_scaler: Option<Scaler>,
}

/// A trained network and its [`ModelInfo`].
#[derive(Clone, Debug)]
pub struct Model<F: batchprop::Float> {
    pub network: Network<F>,
    pub info: ModelInfo,
}

/// What a model answers for rows of features.
#[derive(Clone, Debug, PartialEq)]
pub enum Prediction {
    /// The most likely class of each row, by name.
    Classes(Vec<String>),
    /// The predicted values, `(N × k)`, in the targets' own units.
    Values(Array2<f64>),
}

/// How well a model does on a table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Score {
    /// Rows classified right, of `total`.
    Classes { correct: usize, total: usize },
    /// Mean squared and absolute error (the targets' units) and R².
    Values { mse: f64, mae: f64, r2: f64 },
}

impl Score {
    /// `correct / total` for classes.
    pub fn accuracy(&self) -> Option<f64> {
        match *self {
            Score::Classes { correct, total } => Some(correct as f64 / total as f64),
            Score::Values { .. } => None,
        }
    }
}

/// A table prepared for the trainer: scaled features as `(N × d)` rows and the targets.
struct Prepared<F> {
    rows: Array2<F>,   // (N × n_0), scaled
    labels: Vec<u32>,  // (N) for classes
    values: Array2<F>, // (N × k) standardised, for values (else empty)
    classes: usize,
}

impl<F: ModelFloat> Prepared<F> {
    fn new(table: &Table<F>, info: &ModelInfo) -> Result<Self> {
        check_table(table, info)?;
        let mut rows = table.features().to_owned();
        info.scaler.apply(rows.view_mut());
        let (labels, mut values, classes) = match table.target() {
            Target::Classes { labels, names } => {
                let known = info.classes.as_deref().unwrap_or_default();
                // The table's own numbering, mapped onto the model's class list.
                let map: Vec<Option<u32>> = names
                    .iter()
                    .map(|n| known.iter().position(|k| k == n).map(|p| p as u32))
                    .collect();
                let labels = labels
                    .iter()
                    .map(|&l| {
                        map[l as usize].ok_or_else(|| Error::Data {
                            what: "table",
                            problem: format!(
                                "class {:?} is not one the model knows ({})",
                                names[l as usize],
                                known.join(", ")
                            ),
                        })
                    })
                    .collect::<Result<Vec<u32>>>()?;
                (labels, Array2::zeros((0, 0)), known.len())
            }
            Target::Values(y) => (Vec::new(), y.to_owned(), 0),
        };
        if let Some(ts) = &info.target_scaler {
            ts.apply(values.view_mut());
        }
        Ok(Prepared {
            rows,
            labels,
            values,
            classes,
        })
    }
}

/// A table prepared for scoring and training: its features scaled as the model scales its
/// inputs, its targets as the network's outputs are numbered (and standardised).
pub struct Scorer<F> {
    prepared: Prepared<F>,
    task: Task,
    target_scale: Option<Vec<f64>>, // (n_L), for standardised value targets
}

impl<F: ModelFloat> Scorer<F> {
    /// The trainer's view of the table.
    pub fn examples(&self) -> Result<Examples<'_, F>> {
        let p = &self.prepared;
        match self.task {
            Task::Classify => Examples::classes(p.rows.t(), &p.labels, p.classes),
            Task::Regress => {
                let e = Examples::values(p.rows.t(), p.values.t())?;
                match &self.target_scale {
                    Some(scale) => e.with_target_scale(scale),
                    None => Ok(e),
                }
            }
        }
    }

    /// How `network` does on the table: accuracy, or MSE, MAE (in the targets' units) and R².
    pub fn score(&self, network: &Network<F>) -> Result<Score> {
        let examples = self.examples()?;
        match self.task {
            Task::Classify => Ok(Score::Classes {
                correct: network.accuracy(examples.x(), &self.prepared.labels)?,
                total: self.prepared.rows.nrows(),
            }),
            Task::Regress => {
                let (mse, mae, r2) = crate::trainer::regression_errors(network, &examples, self.prepared.values.t())?;
                Ok(Score::Values { mse, mae, r2 })
            }
        }
    }
}

/// That `table` has the model's features and task.
fn check_table<F>(table: &Table<F>, info: &ModelInfo) -> Result<()> {
    if table.feature_names().len() != info.feature_names.len() {
        return Err(Error::Data {
            what: "table",
            problem: format!(
                "{} features where the model takes {} ({})",
                table.feature_names().len(),
                info.feature_names.len(),
                info.feature_names.join(", ")
            ),
        });
    }
    if table.task() != info.task {
        return Err(Error::Data {
            what: "table",
            problem: format!(
                "its target is for {}, the model's for {}",
                table.task().name(),
                info.task.name()
            ),
        });
    }
    Ok(())
}

impl<F: ModelFloat> Model<F> {
    /// The untrained model `spec` describes for `train`: the scaler fitted on `train` alone
    /// (and, for values, the targets' standardisation), and the network drawn from `rng`
    /// (`trainer.rng()`, so that one seed fixes the run).
    pub fn build(spec: &Spec<F>, train: &Table<F>, rng: &mut impl rand::Rng) -> Result<Model<F>> {
        let scaler = Scaler::fit(spec.scaling, train.features());
        let (classes, target_scaler, outputs) = match train.target() {
            Target::Classes { names, .. } => (Some(names.clone()), None, names.len()),
            Target::Values(y) => (None, Some(Scaler::fit(Scaling::Standard, y.view())), y.ncols()),
        };
        let info = ModelInfo {
            format_version: MODEL_VERSION,
            task: train.task(),
            feature_names: train.feature_names().to_vec(),
            target_name: train.target_name().to_string(),
            classes,
            scaler,
            target_scaler,
        };
        let sizes: Vec<usize> = std::iter::once(train.feature_names().len())
            .chain(spec.hidden.iter().copied())
            .chain(std::iter::once(outputs))
            .collect();
        let (output, cost) = match info.task {
            Task::Classify => (Activation::Softmax, Cost::LogLikelihood),
            Task::Regress => (Activation::Identity, Cost::Quadratic),
        };
        let network = Network::builder(&sizes)
            .hidden(spec.activation.clone())
            .output(output)
            .cost(cost)
            .init(spec.init)
            .build(rng)?;
        Ok(Model { network, info })
    }

    /// Trains the network on `train` with `trainer` (its settings, policies and seed),
    /// evaluating on `evaluation` after each epoch; both are scaled as the model scales its
    /// inputs. Returns how the run ended.
    pub fn fit(
        &mut self,
        train: &Table<F>,
        evaluation: Option<&Table<F>>,
        trainer: &mut Trainer<F>,
        observer: &mut impl Observer<F>,
    ) -> Result<Finish> {
        self.fit_with(train, evaluation, trainer, observer, None)
    }

    /// [`Model::fit`], or with `collective` as one process of a data-parallel run
    /// ([`Trainer::fit_distributed`]): every process with the same table and model.
    pub fn fit_with(
        &mut self,
        train: &Table<F>,
        evaluation: Option<&Table<F>>,
        trainer: &mut Trainer<F>,
        observer: &mut impl Observer<F>,
        collective: Option<&dyn crate::Collective>,
    ) -> Result<Finish> {
        let train = self.scorer(train)?;
        let evaluation = evaluation.map(|e| self.scorer(e)).transpose()?;
        let train_examples = train.examples()?;
        let eval_examples = evaluation.as_ref().map(Scorer::examples).transpose()?;
        // Checkpoints of this run are model files too: `Model::resume` reads them.
        trainer.metadata_mut().extend(self.metadata()?);
        let evaluation = eval_examples.as_ref().map(|e| e as &dyn crate::Source<F>);
        match collective {
            Some(c) => trainer.fit_distributed(&mut self.network, &train_examples, evaluation, observer, c),
            None => trainer.fit(&mut self.network, &train_examples, evaluation, observer),
        }
    }

    /// `table` prepared once (scaled as the model scales its inputs), to score networks on
    /// it: this model's after training, or the network of each epoch from an observer.
    pub fn scorer(&self, table: &Table<F>) -> Result<Scorer<F>> {
        Ok(Scorer {
            prepared: Prepared::new(table, &self.info)?,
            task: self.info.task,
            target_scale: self.info.target_scaler.as_ref().map(|s| s.scale.clone()),
        })
    }

    /// The answers for `rows: (N × n_0)` of raw features (as the table holds them).
    pub fn predict(&self, rows: ArrayView2<'_, F>) -> Result<Prediction> {
        if rows.ncols() != self.info.feature_names.len() {
            return Err(Error::Data {
                what: "rows",
                problem: format!(
                    "{} features per row where the model takes {} ({})",
                    rows.ncols(),
                    self.info.feature_names.len(),
                    self.info.feature_names.join(", ")
                ),
            });
        }
        let mut scaled = rows.to_owned();
        self.info.scaler.apply(scaled.view_mut());
        let a = self.network.feedforward(scaled.t())?; // A^L: (n_L × N)
        Ok(match (&self.info.classes, &self.info.target_scaler) {
            (Some(names), _) => Prediction::Classes(
                a.columns()
                    .into_iter()
                    .map(|c| names[batchprop::argmax(c)].clone())
                    .collect(),
            ),
            (None, ts) => Prediction::Values(Array2::from_shape_fn((a.ncols(), a.nrows()), |(i, r)| {
                let v = batchprop::Float::as_f64(a[[r, i]]);
                ts.as_ref().map_or(v, |ts| ts.invert(r, v))
            })),
        })
    }

    /// How the model does on `table` (its target must be the model's task).
    pub fn score(&self, table: &Table<F>) -> Result<Score> {
        self.scorer(table)?.score(&self.network)
    }

    /// The metadata that carries the model's description in a network file.
    pub fn metadata(&self) -> Result<Metadata> {
        let json = serde_json::to_string(&self.info).map_err(|e| Error::Data {
            what: "model",
            problem: e.to_string(),
        })?;
        Ok(Metadata::from([(MODEL_KEY.to_string(), json)]))
    }

    /// Saves the model atomically: the network file (network2.py's JSON layout) with the
    /// description in its metadata.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        self.network.save_with::<()>(path, &self.metadata()?, None)?;
        Ok(())
    }

    /// Loads a model saved by [`Model::save`] (or a checkpoint of [`Model::fit`]'s run),
    /// checking the description against the network.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Model<F>> {
        let path = path.as_ref();
        let (network, metadata, _) = Network::<F>::load_with::<serde::de::IgnoredAny>(path)?;
        Model::from_metadata(network, &metadata, path)
    }

    /// The model and the run checkpointed in `path` during [`Model::fit`] (by a
    /// [`Checkpointer`](crate::Checkpointer), or [`Trainer::save_checkpoint`]), ready to go on
    /// with `fit` on the same tables: the same bits as a run never stopped.
    pub fn resume(path: impl AsRef<std::path::Path>) -> Result<(Model<F>, Trainer<F>)> {
        let path = path.as_ref();
        let (trainer, network) = Trainer::<F>::resume(path)?;
        let model = Model::from_metadata(network, trainer.metadata(), path)?;
        Ok((model, trainer))
    }

    /// The model whose description `metadata` (read from `path`) holds.
    fn from_metadata(network: Network<F>, metadata: &Metadata, path: &std::path::Path) -> Result<Model<F>> {
        let problem = |problem: String| Error::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        let json = metadata.get(MODEL_KEY).ok_or_else(|| {
            problem(
                "a network without a model description (no scaler, no class names): load it with Network::load".into(),
            )
        })?;
        let info: ModelInfo =
            serde_json::from_str(json).map_err(|e| problem(format!("the model description is not valid: {e}")))?;
        Model::from_parts(network, info).map_err(|e| problem(e.to_string()))
    }

    /// A model from a network and a description, checked against each other.
    pub fn from_parts(network: Network<F>, info: ModelInfo) -> Result<Model<F>> {
        let sizes = network.sizes();
        let (n_in, n_out) = (sizes[0], sizes[sizes.len() - 1]);
        let bad = |problem: String| Err(Error::Data { what: "model", problem });
        if info.format_version > MODEL_VERSION {
            return bad(format!(
                "its description has format_version {}, newer than this batchprop reads ({MODEL_VERSION})",
                info.format_version
            ));
        }
        info.scaler.validate().map_err(|e| Error::Data {
            what: "model's scaler",
            problem: e,
        })?;
        if info.feature_names.len() != n_in || info.scaler.len() != n_in {
            return bad(format!(
                "{} feature names and {} scaler entries for a network of {n_in} inputs",
                info.feature_names.len(),
                info.scaler.len()
            ));
        }
        match (&info.task, &info.classes, &info.target_scaler) {
            (Task::Classify, Some(c), None) if c.len() == n_out => {}
            (Task::Regress, None, Some(ts)) if ts.len() == n_out => ts.validate().map_err(|e| Error::Data {
                what: "model's target scaler",
                problem: e,
            })?,
            (Task::Regress, None, None) => {}
            _ => {
                return bad(format!(
                    "a {} model needs {} for its {n_out} outputs",
                    info.task.name(),
                    match info.task {
                        Task::Classify => "as many class names (and no target scaler)",
                        Task::Regress => "no class names, and a target scaler of one entry per output",
                    }
                ));
            }
        }
        Ok(Model { network, info })
    }
}
