//! Mini-batches: a seeded shuffle per epoch, each batch gathered into buffers allocated once.

use batchprop::Float;
use ndarray::{Array2, ArrayView2, s};
use rand::{Rng, seq::SliceRandom};

use crate::Dataset;

/// Walks a data set in mini-batches, in a new random order each epoch.
///
/// Each batch is gathered into reusable buffers, one example per row, and handed out as the
/// engine's column matrices: `x: (n_in × m)` and the one-hot `y: (classes × m)`, both
/// transposed views, hence column-major. Nothing is allocated per batch. The last batch of
/// an epoch holds the remaining `N mod batch_size` examples when that is not zero.
#[derive(Clone, Debug)]
pub struct Batches<F> {
    batch_size: usize,
    order: Vec<usize>,  // (N): this epoch's order of examples
    next: usize,        // position in `order` of the next batch
    images: Array2<F>,  // (batch_size × n_in), row-major: the gathered inputs
    targets: Array2<F>, // (batch_size × classes), row-major: the one-hot targets
    labels: Vec<u8>,    // (batch_size): the gathered labels
}

/// One mini-batch, borrowed from [`Batches`].
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a, F> {
    /// `X: (n_in × m)`, one example per column.
    pub x: ArrayView2<'a, F>,
    /// `Y: (classes × m)`, one-hot.
    pub y: ArrayView2<'a, F>,
    /// The `m` labels.
    pub labels: &'a [u8],
}

impl<F: Float> Batches<F> {
    /// Batches of `batch_size` over `data`, in the data set's own order until
    /// [`Batches::shuffle`] is called.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn new(data: &Dataset<F>, batch_size: usize) -> Self {
        assert!(batch_size > 0, "the batch size must be at least 1");
        let batch_size = batch_size.min(data.len().max(1));
        Batches {
            batch_size,
            order: (0..data.len()).collect(),
            next: 0,
            images: Array2::zeros((batch_size, data.input_size())),
            targets: Array2::zeros((batch_size, data.classes())),
            labels: vec![0; batch_size],
        }
    }

    /// The largest batch handed out, `min(batch_size, N)`.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The number of batches per epoch, `⌈N / batch_size⌉`.
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// Whether an epoch has no batches (an empty data set).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Starts a new epoch in a random order drawn from `rng` (network.py's
    /// `random.shuffle(training_data)`). The order is a permutation of `0..N` that depends
    /// only on the state of `rng`, not on earlier epochs.
    pub fn shuffle<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        for (i, o) in self.order.iter_mut().enumerate() {
            *o = i;
        }
        self.order.shuffle(rng);
        self.next = 0;
    }

    /// Starts a new epoch in the current order.
    pub fn rewind(&mut self) {
        self.next = 0;
    }

    /// Gathers the next batch of this epoch from `data`, or `None` at the end of the epoch.
    ///
    /// # Panics
    /// If `data` is not the data set (or one of the same shape) these batches were made for.
    pub fn next_batch(&mut self, data: &Dataset<F>) -> Option<Batch<'_, F>> {
        assert!(
            data.len() == self.order.len()
                && data.input_size() == self.images.ncols()
                && data.classes() == self.targets.ncols(),
            "batches were made for another data set"
        );
        if self.next >= self.order.len() {
            return None;
        }
        let indices = &self.order[self.next..(self.next + self.batch_size).min(self.order.len())];
        self.next += indices.len();
        let m = indices.len();
        let images = data.images();
        self.targets.fill(F::zero());
        for (row, &i) in indices.iter().enumerate() {
            self.images.row_mut(row).assign(&images.row(i));
            let label = data.labels()[i];
            self.targets[[row, usize::from(label)]] = F::one();
            self.labels[row] = label;
        }
        Some(Batch {
            x: self.images.slice(s![..m, ..]).reversed_axes(),
            y: self.targets.slice(s![..m, ..]).reversed_axes(),
            labels: &self.labels[..m],
        })
    }
}
