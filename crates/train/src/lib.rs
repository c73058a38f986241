//! # batchprop-train: the training loop, once
//!
//! network2.py's `SGD`, typed and reusable, on the batched engine of `batchprop`: epochs of
//! seeded shuffles and mini-batches, evaluation and network2.py's four monitors after each
//! epoch, the running training cost, divergence detection, chapter 3's early stopping and
//! learning-rate schedule, observers, and checkpoints that resume with the same bits.
//!
//! - [`Examples`]: the input, `X: (n_0 × N)` and class labels or target values; any
//!   [`Source`] of mini-batches.
//! - [`Settings`]: epochs, batch size, η, λ, seed, engine, monitors, policies; validated.
//! - [`Trainer`]: runs them ([`Trainer::fit`]), keeps the [`Epoch`] records, saves and
//!   resumes checkpoints.
//! - [`Observer`]: hooks between steps and epochs (progress, logging, [`Checkpointer`]).
//! - [`Model`]: a network with its input scaler and class names (or target units), trained
//!   from a `batchprop_data::Table` ([`Model::build`], [`Model::fit`]), saved and loaded in one
//!   file, answering for raw rows ([`Model::predict`]).
//!
//! `docs/library.md` in the repository is a tutorial from `Cargo.toml` to a trained, saved
//! network.

mod collective;
mod error;
mod history;
mod model;
#[cfg(feature = "mpi")]
mod mpi;
mod observer;
mod settings;
mod source;
mod trainer;

pub use collective::{Collective, OneProcess};
pub use error::{Error, Result};
pub use history::{Epoch, Metrics, Warning};
pub use model::{MODEL_KEY, Model, ModelFloat, ModelInfo, Prediction, Score, Scorer, Spec};
#[cfg(feature = "mpi")]
pub use mpi::Mpi;
pub use observer::{Checkpointer, Control, EpochEnd, Observer, StopFlag};
pub use settings::{Engine, Metric, Monitor, Settings};
pub use source::{Examples, Images, Leveled, Levels, Source, Targets};
pub use trainer::{Finish, Trainer};

/// docs/library.md's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/library.md")]
pub struct LibraryDoctests;

/// The README's examples (they use the engine and the trainer), compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
