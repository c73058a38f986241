//! Errors reading data sets: each names the file, what was expected and what was found.

use std::{io, path::PathBuf};

/// An error loading an IDX file or a data set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },

    /// The gzip stream is corrupt.
    #[error("{path}: corrupt gzip stream: {source}")]
    Gzip { path: PathBuf, source: io::Error },

    /// The file does not start like an IDX file.
    #[error("{path}: not an IDX file: {problem}")]
    NotIdx { path: PathBuf, problem: String },

    /// The header's dimensions cannot describe the data that follows.
    #[error("{path}: bad IDX dimensions {dims:?}: {problem}")]
    Dimensions {
        path: PathBuf,
        dims: Vec<u64>,
        problem: String,
    },

    /// The file ends inside its header.
    #[error("{path}: truncated header: {ndims} dimensions need a {expected}-byte header, the file holds {found} bytes")]
    TruncatedHeader {
        path: PathBuf,
        ndims: usize,
        expected: u64,
        found: u64,
    },

    /// The file holds fewer bytes than its header announces.
    #[error("{path}: truncated: the header announces {expected} bytes of data, the file holds {found}")]
    Truncated { path: PathBuf, expected: u64, found: u64 },

    /// The file holds more bytes than its header announces.
    #[error("{path}: {found} bytes of data where the header announces {expected}: trailing bytes after the data")]
    Trailing {
        path: PathBuf,
        expected: u64,
        found: String,
    },

    /// A valid IDX file of the wrong kind (labels where images were expected, …).
    #[error("{path}: {problem}")]
    WrongKind { path: PathBuf, problem: String },

    /// Image and label files with different numbers of items.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        images: PathBuf,
        n_images: usize,
        labels: PathBuf,
        n_labels: usize,
    },

    /// A label that is not a class index.
    #[error("{path}: label {label} of item {index} is outside the {classes} classes 0..{classes}")]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: i64,
        classes: usize,
    },

    /// A NaN or infinite value in the data.
    #[error("{path}: value {value} of item {item} at position {position} is not finite")]
    NonFinite {
        path: PathBuf,
        item: usize,
        position: usize,
        value: f64,
    },

    /// A finite value too large for the element type the data set is loaded in.
    #[error("{path}: value {value:e} of item {item} at position {position} does not fit {dtype}")]
    OutOfRange {
        path: PathBuf,
        item: usize,
        position: usize,
        value: f64,
        dtype: &'static str,
    },

    /// Loading the data would allocate more than the load's bound.
    #[error(
        "{path}: loading it would allocate {} in all ({what}), above the limit of {} for one load. \
         A header that claims more data than the file holds is corrupt; if the data is real, raise \
         the limit (the tools' --max-load-gb, or the loaders' _with_limit forms)",
        crate::dataset::bytes(*needed),
        crate::dataset::bytes(*limit)
    )]
    TooLarge {
        path: PathBuf,
        needed: u64,
        limit: u64,
        what: String,
    },

    /// A table (CSV, NumPy) that cannot be read as one: the problem names the line, column or
    /// array.
    #[error("{path}: {problem}")]
    Table { path: PathBuf, problem: String },

    /// A data set too small for what is asked of it.
    #[error("{path}: {problem}")]
    TooFew { path: PathBuf, problem: String },

    /// None of the places searched holds the data set.
    #[error("{0}")]
    NotFound(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
