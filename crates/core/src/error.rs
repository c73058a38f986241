//! Everything a caller can get wrong, as values rather than panics.

/// An error from building, training or evaluating a [`Network`](crate::Network).
///
/// Every message names the shapes or values involved; most end with a hint.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `sizes` has fewer than two layers, or a layer with no neurons.
    #[error("invalid network sizes {sizes:?}: {reason}")]
    Sizes { sizes: Vec<usize>, reason: &'static str },

    /// A list of per-layer things (weights, biases, activations) has the wrong length.
    #[error("{what}: sizes {sizes:?} need {expected} (one per layer after the input), found {found}")]
    LayerCount {
        what: &'static str,
        sizes: Vec<usize>,
        expected: usize,
        found: usize,
    },

    /// A weight matrix or bias vector does not have the shape `sizes` implies.
    #[error("{what} has shape {found:?}, but sizes {sizes:?} need {expected:?}")]
    ParameterShape {
        what: String,
        sizes: Vec<usize>,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    /// A parameter is NaN or infinite.
    #[error("{what} at index {index:?} is {value}: parameters must be finite")]
    NonFinite {
        what: String,
        index: Vec<usize>,
        value: f64,
    },

    /// The input matrix `X` does not have `n_0` rows.
    #[error(
        "input X is ({rows} × {cols}) but the input layer of sizes {sizes:?} has {expected} neurons: \
         X must be (n_0 × m), one example per column"
    )]
    InputRows {
        sizes: Vec<usize>,
        expected: usize,
        rows: usize,
        cols: usize,
    },

    /// The target matrix `Y` does not have `n_L` rows.
    #[error(
        "targets Y are ({rows} × {cols}) but the output layer of sizes {sizes:?} has {expected} neurons: \
         Y must be (n_L × m), one target per column"
    )]
    TargetRows {
        sizes: Vec<usize>,
        expected: usize,
        rows: usize,
        cols: usize,
    },

    /// `X` and `Y` hold different numbers of examples.
    #[error("X has {x_cols} columns (examples) but Y has {y_cols}: every example needs its target column")]
    ColumnMismatch { x_cols: usize, y_cols: usize },

    /// The number of labels differs from the number of examples.
    #[error("X has {examples} columns (examples) but {labels} labels were given")]
    LabelCount { examples: usize, labels: usize },

    /// A class label is not the index of an output neuron.
    #[error("label {label} of example {index} is out of range: the output layer has {classes} neurons")]
    LabelOutOfRange { index: usize, label: usize, classes: usize },

    /// A batch with no examples.
    #[error("the batch is empty: X has 0 columns")]
    EmptyBatch,

    /// A batch larger than the workspace it is run in.
    #[error(
        "a batch of {m} examples does not fit a workspace made for {capacity}: \
         make it with `network.workspace({m})` (or larger)"
    )]
    BatchTooLarge { m: usize, capacity: usize },

    /// A workspace made for another network shape.
    #[error("the workspace was made for sizes {workspace:?} but the network has sizes {network:?}")]
    WorkspaceMismatch { workspace: Vec<usize>, network: Vec<usize> },

    /// A learning rate, regularisation or step that cannot be used.
    #[error("{name} = {value} {requirement}")]
    HyperParameter {
        name: &'static str,
        value: f64,
        requirement: &'static str,
    },

    /// A file could not be read or written. The operating system's error is the source
    /// (shared, so that the error stays `Clone`).
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },

    /// Buffers too large to allocate (or to count in bytes at all).
    #[error(
        "cannot allocate {what}: {}",
        match bytes {
            Some(b) => format!("{b} bytes needed, more than this machine can give"),
            None => "more bytes than an address can count".to_string(),
        }
    )]
    Allocation { what: String, bytes: Option<usize> },

    /// A saved model that cannot be loaded (or a network that cannot be saved).
    #[error("{}: {problem}", path.display())]
    ModelFile { path: std::path::PathBuf, problem: String },

    /// A cost whose formula is undefined for the output layer's values.
    #[error("the {cost} cost cannot follow a {activation} output layer: {hint}")]
    Incompatible {
        cost: &'static str,
        activation: String,
        hint: &'static str,
    },
}

impl Error {
    /// The error of an I/O operation on `path`.
    pub fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source: std::sync::Arc::new(source),
        }
    }

    /// This error as found in the model file `path`.
    pub(crate) fn in_file(self, path: &std::path::Path) -> Error {
        match self {
            Error::ModelFile { .. } | Error::Io { .. } => self,
            other => Error::ModelFile {
                path: path.to_path_buf(),
                problem: other.to_string(),
            },
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
