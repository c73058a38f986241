//! # batchprop-data: data files for batchprop (IDX and MNIST, CSV, NumPy)
//!
//! File formats in, data sets out; no network, no training.
//!
//! - [`read_idx`] reads any IDX file (the format MNIST ships in), gzipped or not, checking
//!   its header against the bytes present before allocating.
//! - [`Dataset`] holds a labelled data set, images one per row; [`Dataset::load`] reads any
//!   IDX image/label pair, and [`Mnist::load`] splits MNIST as the book does.
//! - [`Table`] holds any table of numeric features and a target (classes with their names,
//!   or values): [`Table::read_csv`], [`Table::read_numpy`] (`.npz`, or two `.npy` files),
//!   with seeded splits ([`Table::split`]) and feature scaling ([`Scaler`]).
//!
//! A data set hands the engine its inputs as `X: (n_in × N)` ([`Dataset::x`], a view: no
//! copy) and its labels; the trainer (`batchprop-train`) gathers mini-batches from them.
//!
//! ```no_run
//! use batchprop_data::{Mnist, Split};
//!
//! let mnist = Mnist::<f32>::load("data/mnist", Split::Book)?;
//! assert_eq!(mnist.train.x().dim(), (784, 50_000)); // one image per column
//! assert_eq!(mnist.test.labels().len(), 10_000);
//! # Ok::<(), batchprop_data::Error>(())
//! ```

mod csv;
mod dataset;
mod error;
mod float;
mod idx;
mod npy;
mod table;

pub use dataset::{DEFAULT_MAX_LOAD_BYTES, Dataset, ImageBytes, MNIST_FILES, Mnist, Split, mnist_file};
pub use error::{Error, Result};
pub use float::Float;
pub use idx::{Idx, IdxData, IdxType, describe_magic, magic, parse_idx, read_idx};
pub use npy::{NpyArray, NpyKind, NpySource};
pub use table::{ClassOrder, MAX_INFERRED_CLASSES, Scaler, Scaling, Table, Target, Task};

pub use crate::csv::{Column, CsvOptions, csv_header};
