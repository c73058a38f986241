//! Saving and loading networks as JSON, in network2.py's layout.
//!
//! ```json
//! {
//!   "sizes": [784, 30, 10],
//!   "weights": [[[w¹₁₁, w¹₁₂, …], …], …],   // W^l row by row
//!   "biases": [[[b¹₁], [b¹₂], …], …],       // b^l as (n_l × 1) columns, as numpy stores them
//!   "cost": "QuadraticCost",                 // network2.py's class name
//!   "activations": ["sigmoid", "sigmoid"],   // one per layer after the input
//!   "dtype": "f32",                          // the precision of the numbers
//!   "format_version": 1,                     // this layout's version
//!   "metadata": { "key": "value", … },       // optional: strings a tool keeps with the model
//!   "training": { … }                        // optional: a tool's state, to resume training
//! }
//! ```
//!
//! network2.py's `load` reads these files (it ignores the extra fields); files it wrote load
//! here too, as sigmoid networks in `f64`. Numbers are written in the shortest form that
//! reads back to the same value, so a save → load round trip is exact. A file without
//! `format_version` is version 1; one from a newer version is refused, by name.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    Activation, Cost, Error, Float, Network, Result,
    interop::{Assumed, Format},
    write_atomically,
};

/// The version of the layout [`Network::save`] writes.
pub const FORMAT_VERSION: u32 = 1;

/// The file as written.
#[derive(Serialize)]
struct Saved<'a, F, S> {
    sizes: &'a [usize],
    weights: Vec<Vec<Vec<F>>>,
    biases: Vec<Vec<[F; 1]>>,
    cost: &'static str,
    activations: Vec<std::borrow::Cow<'a, str>>,
    dtype: &'static str,
    format_version: u32,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    metadata: &'a Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    training: Option<&'a S>,
}

/// A model file's string metadata: what a tool keeps beside the parameters (a scaler, class
/// names), carried through every format batchprop saves (safetensors' metadata is the same
/// string map).
pub type Metadata = std::collections::BTreeMap<String, String>;

/// The file as read: numbers in `f64`, shapes unchecked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Loaded {
    sizes: Vec<usize>,
    weights: Vec<Vec<Vec<f64>>>,
    biases: Vec<Biases>,
    cost: String,
    #[serde(default)]
    activations: Option<Vec<String>>,
    #[serde(default)]
    dtype: Option<String>,
    #[serde(default)]
    format_version: Option<u32>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    training: Option<serde_json::Value>,
}

/// A layer's biases, as `(n × 1)` columns (numpy's) or a flat list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Biases {
    Column(Vec<[f64; 1]>),
    Flat(Vec<f64>),
}

/// network2.py's name of a cost class.
pub(crate) fn cost_class(cost: Cost) -> &'static str {
    match cost {
        Cost::Quadratic => "QuadraticCost",
        Cost::CrossEntropy => "CrossEntropyCost",
        Cost::LogLikelihood => "LogLikelihoodCost",
    }
}

fn format_error(problem: impl Into<String>) -> Error {
    Error::ModelFile {
        path: PathBuf::from("<model>"),
        problem: problem.into(),
    }
}

impl<F: Float> Network<F> {
    /// That every file format can hold the network: no custom activation (a loader could not
    /// rebuild it from its name), every parameter finite.
    pub(crate) fn check_savable(&self) -> Result<()> {
        if let Some((l, f)) = (1..).zip(self.activations()).find_map(|(l, a)| match a {
            Activation::Custom(f) => Some((l, f)),
            _ => None,
        }) {
            return Err(format_error(format!(
                "cannot save: layer {l} uses the custom activation {:?}, which a loader could not \
                 rebuild from its name; save the parameters (weights(), biases()) yourself",
                f.name()
            )));
        }
        for (l, (w, b)) in (1..).zip(self.weights().iter().zip(self.biases())) {
            if let Some(v) = w.iter().chain(b).find(|v| !v.is_finite()) {
                return Err(format_error(format!(
                    "cannot save: layer {l} holds the non-finite parameter {v}; training diverged \
                     (try a smaller η, the scaled initialisation, or the cross-entropy cost)"
                )));
            }
        }
        Ok(())
    }

    /// The network as JSON (see the module documentation for the layout).
    ///
    /// Fails if a parameter is not finite (a network that diverged in training).
    pub fn to_json(&self) -> Result<String> {
        self.to_json_with_state::<()>(None)
    }

    /// [`Network::to_json`] with a `training` object: whatever a tool needs to resume training
    /// (epochs done, random state, settings), as the tool's own serde type. Loading ignores it
    /// unless asked for it.
    pub fn to_json_with_state<S: Serialize>(&self, training: Option<&S>) -> Result<String> {
        self.to_json_with(&Metadata::new(), training)
    }

    /// [`Network::to_json_with_state`] with string `metadata` (see [`Metadata`]).
    pub fn to_json_with<S: Serialize>(&self, metadata: &Metadata, training: Option<&S>) -> Result<String> {
        self.check_savable()?;
        let saved = Saved {
            sizes: self.sizes(),
            weights: self
                .weights()
                .iter()
                .map(|w| w.rows().into_iter().map(|r| r.to_vec()).collect())
                .collect(),
            biases: self.biases().iter().map(|b| b.iter().map(|&v| [v]).collect()).collect(),
            cost: cost_class(self.cost()),
            activations: self.activations().iter().map(Activation::name).collect(),
            dtype: F::NAME,
            format_version: FORMAT_VERSION,
            metadata,
            training,
        };
        serde_json::to_string(&saved).map_err(|e| format_error(e.to_string()))
    }

    /// Writes the network to `path` atomically ([`write_atomically`]): an interrupted save
    /// leaves the previous file intact, a symbolic link is followed, the replaced file's
    /// permissions are kept, and a directory, FIFO or device at `path` is refused.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_with_state::<()>(path, None)
    }

    /// [`Network::save`] with a `training` object (see [`Network::to_json_with_state`]).
    pub fn save_with_state<S: Serialize>(&self, path: impl AsRef<Path>, training: Option<&S>) -> Result<()> {
        self.save_with(path, &Metadata::new(), training)
    }

    /// [`Network::save_with_state`] with string `metadata`.
    pub fn save_with<S: Serialize>(
        &self,
        path: impl AsRef<Path>,
        metadata: &Metadata,
        training: Option<&S>,
    ) -> Result<()> {
        let path = path.as_ref();
        let bytes = match Format::of_path(path) {
            Format::Json => self.to_json_with(metadata, training).map(String::into_bytes),
            Format::Safetensors => self.to_safetensors(metadata, training),
            Format::Npz => self.to_npz(metadata, training),
            Format::Onnx if training.is_some() => Err(format_error(
                "an .onnx file is an inference graph and cannot hold a training state: checkpoint to .json",
            )),
            Format::Onnx => self.to_onnx(metadata),
        };
        write_atomically(path, &bytes.map_err(|e| e.in_file(path))?)
    }
}

impl<F: Float> Network<F> {
    /// A network from JSON written by [`Network::to_json`] or network2.py's `save`, with
    /// every shape, number and name checked; the first problem found is the error.
    pub fn from_json(json: &str) -> Result<Self> {
        Self::from_json_with_state::<serde::de::IgnoredAny>(json).map(|(net, _)| net)
    }

    /// [`Network::from_json`], also returning the file's `training` object, if any, read as
    /// the caller's type `S` (`serde_json::Value` takes anything).
    pub fn from_json_with_state<S: DeserializeOwned>(json: &str) -> Result<(Self, Option<S>)> {
        Self::from_json_with(json).map(|(net, _, training)| (net, training))
    }

    /// [`Network::from_json_with_state`], also returning the file's metadata (empty if none).
    pub fn from_json_with<S: DeserializeOwned>(json: &str) -> Result<(Self, Metadata, Option<S>)> {
        let loaded: Loaded =
            serde_json::from_str(json).map_err(|e| format_error(format!("not a saved network: {e}")))?;
        if let Some(v) = loaded.format_version.filter(|&v| v > FORMAT_VERSION) {
            return Err(format_error(format!(
                "format_version {v} is newer than this batchprop reads ({FORMAT_VERSION}): \
                 load it with a newer batchprop"
            )));
        }
        let layers = loaded.sizes.len().saturating_sub(1);
        let round: fn(f64) -> f64 = match loaded.dtype.as_deref() {
            None | Some("f64") => |v| v,
            Some("f32") => |v| f64::from(v as f32),
            Some(other) => {
                return Err(format_error(format!(
                    "unknown dtype {other:?} (expected \"f32\" or \"f64\")"
                )));
            }
        };
        let number = |v: f64| F::from_f64(round(v));

        let cost = Cost::from_name(&loaded.cost).ok_or_else(|| {
            format_error(format!(
                "unknown cost {:?} (known: quadratic, cross-entropy, log-likelihood, or \
                 QuadraticCost, CrossEntropyCost, LogLikelihoodCost)",
                loaded.cost
            ))
        })?;
        let activations = match loaded.activations {
            // network2.py's files have no activations: its networks are all sigmoid.
            None => vec![Activation::Sigmoid; layers],
            Some(names) => names
                .iter()
                .map(|name| {
                    Activation::from_name(name).ok_or_else(|| {
                        format_error(format!(
                            "unknown activation {name:?} (known: sigmoid, tanh, relu, leaky_relu, leaky_relu:SLOPE, identity, softmax)"
                        ))
                    })
                })
                .collect::<Result<_>>()?,
        };
        let weights = loaded
            .weights
            .iter()
            .enumerate()
            .map(|(i, rows)| {
                let cols = rows.first().map_or(0, Vec::len);
                if let Some(j) = rows.iter().position(|r| r.len() != cols) {
                    return Err(format_error(format!(
                        "weights[{i}] is ragged: row 0 has {cols} entries, row {j} has {}",
                        rows[j].len()
                    )));
                }
                let flat: Vec<F> = rows.iter().flatten().map(|&v| number(v)).collect();
                Ok(Array2::from_shape_vec((rows.len(), cols), flat).expect("rows checked"))
            })
            .collect::<Result<Vec<_>>>()?;
        let biases = loaded
            .biases
            .iter()
            .map(|b| match b {
                Biases::Column(c) => c.iter().map(|v| number(v[0])).collect::<Array1<F>>(),
                Biases::Flat(f) => f.iter().map(|&v| number(v)).collect(),
            })
            .collect();
        let net = Network::from_parameters(&loaded.sizes, weights, biases, activations, cost)?;
        let training = loaded
            .training
            .map(|t| serde_json::from_value(t))
            .transpose()
            .map_err(|e| format_error(format!("the training state is not valid: {e}")))?;
        Ok((net, loaded.metadata, training))
    }

    /// Loads a network saved by [`Network::save`] (or network2.py).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_with_state::<serde::de::IgnoredAny>(path).map(|(net, _)| net)
    }

    /// [`Network::load`], also returning the file's `training` object, if any, as `S`.
    pub fn load_with_state<S: DeserializeOwned>(path: impl AsRef<Path>) -> Result<(Self, Option<S>)> {
        Self::load_with(path).map(|(net, _, training)| (net, training))
    }

    /// [`Network::load_with_state`], also returning the file's metadata (empty if none).
    pub fn load_with<S: DeserializeOwned>(path: impl AsRef<Path>) -> Result<(Self, Metadata, Option<S>)> {
        let opened = Network::open(path, &Assumed::default())?;
        Ok((opened.network, opened.metadata, opened.training))
    }
}
