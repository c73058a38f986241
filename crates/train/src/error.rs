//! Everything a training run can get wrong, as values: bad settings, data that does not fit
//! the network, a run that diverged, a checkpoint that cannot be read.

use std::path::PathBuf;

/// An error from validating, running, saving or resuming a training run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the engine: shapes, parameters, files.
    #[error(transparent)]
    Core(#[from] batchprop::Error),

    /// A setting that cannot be used, before any data is seen.
    #[error("setting {name} = {value} {requirement}")]
    Setting {
        name: &'static str,
        value: String,
        requirement: &'static str,
    },

    /// The data does not fit the settings or the network (checked before the first epoch).
    #[error("{what}: {problem}")]
    Data { what: &'static str, problem: String },

    /// A non-finite value in the input data.
    #[error("{what}: input {row} of example {example} is {value}: inputs must be finite")]
    NonFiniteInput {
        what: &'static str,
        example: usize,
        row: usize,
        value: f64,
    },

    /// The parameters or the cost stopped being finite.
    #[error("training diverged {} {what} is {value}. Try {hint}", at(*epoch, *batch))]
    Diverged {
        /// Counted from 0.
        epoch: usize,
        /// The mini-batch within the epoch, if the cost of one gave it away.
        batch: Option<usize>,
        /// What went non-finite: "the mini-batch's cost", or a parameter array `W^l` / `b^l`.
        what: String,
        value: f64,
        /// What to change, in library terms.
        hint: String,
    },

    /// A checkpoint that cannot be resumed.
    #[error("{}: {problem}", path.display())]
    Checkpoint { path: PathBuf, problem: String },

    /// An observer's own failure, passed through.
    #[error("{0}")]
    Observer(Box<dyn std::error::Error + Send + Sync>),
}

fn at(epoch: usize, batch: Option<usize>) -> String {
    match batch {
        Some(b) => format!("at epoch {epoch}, batch {b}:"),
        None => format!("in epoch {epoch}:"),
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
