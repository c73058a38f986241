//! # batchprop-data: IDX files, MNIST, and mini-batches for batchprop
//!
//! - [`read_idx`] reads any IDX file (the format MNIST ships in), gzipped or not, checking
//!   its header against the bytes present before allocating.
//! - [`Dataset`] holds a labelled data set, images one per row; [`Dataset::load`] reads any
//!   IDX image/label pair, and [`Mnist::load`] splits MNIST as the book does.
//! - [`Batches`] walks a data set in shuffled mini-batches, handing the engine
//!   `X: (n_in × m)` and one-hot `Y: (classes × m)` without allocating.
//!
//! ```no_run
//! use batchprop::{Network, Sgd};
//! use batchprop_data::{Batches, Mnist, Split};
//! use rand::{SeedableRng, rngs::ChaCha8Rng};
//!
//! let mnist = Mnist::<f32>::load("data/mnist", Split::Book)?;
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! let mut net = Network::new(&[784, 30, 10], &mut rng)?;
//! let (mut ws, sgd) = (net.workspace(10), Sgd::new(3.0)?);
//! let mut batches = Batches::new(&mnist.train, 10);
//! for epoch in 0..30 {
//!     batches.shuffle(&mut rng);
//!     while let Some(batch) = batches.next_batch(&mnist.train) {
//!         net.sgd_step(batch.x, batch.y, &sgd, &mut ws)?;
//!     }
//!     let correct = net.accuracy(mnist.test.x(), mnist.test.labels())?;
//!     println!("Epoch {epoch}: {correct} / {}", mnist.test.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod dataset;
mod error;
mod idx;

pub use batch::{Batch, Batches};
pub use dataset::{Dataset, MNIST_FILES, Mnist, Split, find_mnist, has_mnist, mnist_dir};
pub use error::{Error, Result};
pub use idx::{Idx, IdxData, IdxType, describe_magic, magic, parse_idx, read_idx};
