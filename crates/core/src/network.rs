//! The network: layer sizes, parameters, activations and cost; construction and evaluation.

use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::{Activation, Cost, Error, Float, Result};

/// A fully-connected feed-forward network, as network.py's `Network` class.
///
/// Layers are numbered as in the contract at the top of the crate: 0 is the input, `L` the
/// output; `weights()[l - 1]` is `W^l` and `biases()[l - 1]` is `b^l`.
#[derive(Clone, Debug)]
pub struct Network<F: Float> {
    sizes: Vec<usize>,                  // [n_0, n_1, …, n_L]
    pub(crate) weights: Vec<Array2<F>>, // [l-1] = W^l: (n_l × n_{l-1}), row-major
    pub(crate) biases: Vec<Array1<F>>,  // [l-1] = b^l: (n_l)
    activations: Vec<Activation<F>>,    // [l-1] = σ of layer l
    cost: Cost,
}

/// How [`NetworkBuilder::build`] draws the initial parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Init {
    /// network.py: every weight and bias from `N(0, 1)`.
    #[default]
    Standard,
    /// network2.py's `default_weight_initializer`: weights from `N(0, 1/n_in)`, so that `z`
    /// starts near 0 and sigmoids are not saturated; biases from `N(0, 1)`.
    Scaled,
}

impl Init {
    /// `standard` or `scaled`.
    pub fn name(self) -> &'static str {
        match self {
            Init::Standard => "standard",
            Init::Scaled => "scaled",
        }
    }
}

/// Builds a [`Network`] with freshly drawn parameters; made by [`Network::builder`].
#[derive(Clone, Debug)]
pub struct NetworkBuilder<F: Float> {
    sizes: Vec<usize>,
    hidden: Activation<F>,
    output: Activation<F>,
    cost: Cost,
    init: Init,
}

impl<F: Float> NetworkBuilder<F> {
    /// The activation of every hidden layer (default: sigmoid).
    pub fn hidden(mut self, activation: Activation<F>) -> Self {
        self.hidden = activation;
        self
    }

    /// The activation of the output layer (default: sigmoid).
    pub fn output(mut self, activation: Activation<F>) -> Self {
        self.output = activation;
        self
    }

    /// The cost (default: quadratic).
    pub fn cost(mut self, cost: Cost) -> Self {
        self.cost = cost;
        self
    }

    /// The initialisation (default: [`Init::Standard`]).
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Draws the parameters from `rng`, biases first, then weights, layer by layer as
    /// network.py does. The same seed gives the same network, in `f32` and `f64` alike
    /// (each number is drawn in `f64`, then rounded).
    pub fn build<R: Rng + ?Sized>(self, rng: &mut R) -> Result<Network<F>> {
        check_sizes(&self.sizes)?;
        let sizes = self.sizes;
        let layers = sizes.len() - 1;
        let mut normal = |scale: f64| {
            let v: f64 = StandardNormal.sample(rng);
            F::from_f64(scale * v)
        };
        let biases: Vec<Array1<F>> = sizes[1..]
            .iter()
            .map(|&n| Array1::from_shape_simple_fn(n, || normal(1.0)))
            .collect();
        let weights = sizes
            .windows(2)
            .map(|pair| {
                let (n_in, n_out) = (pair[0], pair[1]);
                let scale = match self.init {
                    Init::Standard => 1.0,
                    Init::Scaled => 1.0 / (n_in as f64).sqrt(),
                };
                Array2::from_shape_simple_fn((n_out, n_in), || normal(scale))
            })
            .collect();
        let mut activations = vec![self.hidden; layers - 1];
        activations.push(self.output);
        Network::from_parameters(&sizes, weights, biases, activations, self.cost)
    }
}

/// Checks that `sizes` describes a network: an input and an output layer, no empty layer.
fn check_sizes(sizes: &[usize]) -> Result<()> {
    let reason = if sizes.len() < 2 {
        "a network needs at least an input and an output layer"
    } else if sizes.contains(&0) {
        "every layer needs at least one neuron"
    } else {
        return Ok(());
    };
    Err(Error::Sizes {
        sizes: sizes.to_vec(),
        reason,
    })
}

/// The first non-finite entry of `array`, as an error naming it.
fn check_finite<F: Float, D: ndarray::Dimension>(what: String, array: &ndarray::ArrayRef<F, D>) -> Result<()> {
    match array.indexed_iter().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((index, value)) => Err(Error::NonFinite {
            what,
            index: ndarray::IntoDimension::into_dimension(index).slice().to_vec(),
            value: value.as_f64(),
        }),
    }
}

impl<F: Float> Network<F> {
    /// network.py's `Network(sizes)`: sigmoid neurons, quadratic cost, `N(0, 1)` parameters.
    pub fn new<R: Rng + ?Sized>(sizes: &[usize], rng: &mut R) -> Result<Self> {
        Self::builder(sizes).build(rng)
    }

    /// A builder for other activations, costs or initialisations.
    pub fn builder(sizes: &[usize]) -> NetworkBuilder<F> {
        NetworkBuilder {
            sizes: sizes.to_vec(),
            hidden: Activation::Sigmoid,
            output: Activation::Sigmoid,
            cost: Cost::Quadratic,
            init: Init::Standard,
        }
    }

    /// A network from explicit parameters, checked against `sizes`: `weights[l-1]` must be
    /// `(n_l × n_{l-1})`, `biases[l-1]` `(n_l)`, one activation per layer after the input,
    /// every number finite, and the cost defined for the output activation.
    pub fn from_parameters(
        sizes: &[usize],
        weights: Vec<Array2<F>>,
        biases: Vec<Array1<F>>,
        activations: Vec<Activation<F>>,
        cost: Cost,
    ) -> Result<Self> {
        check_sizes(sizes)?;
        let layers = sizes.len() - 1;
        for (what, found) in [
            ("weights", weights.len()),
            ("biases", biases.len()),
            ("activations", activations.len()),
        ] {
            if found != layers {
                return Err(Error::LayerCount {
                    what,
                    sizes: sizes.to_vec(),
                    expected: layers,
                    found,
                });
            }
        }
        for (l, (w, b)) in (1..).zip(weights.iter().zip(&biases)) {
            let shape_error = |what: String, expected: &[usize], found: &[usize]| Error::ParameterShape {
                what,
                sizes: sizes.to_vec(),
                expected: expected.to_vec(),
                found: found.to_vec(),
            };
            let expected = [sizes[l], sizes[l - 1]];
            if w.shape() != expected {
                return Err(shape_error(format!("W^{l} (weights[{}])", l - 1), &expected, w.shape()));
            }
            if b.len() != sizes[l] {
                return Err(shape_error(
                    format!("b^{l} (biases[{}])", l - 1),
                    &[sizes[l]],
                    b.shape(),
                ));
            }
            check_finite(format!("W^{l} (weights[{}])", l - 1), w)?;
            check_finite(format!("b^{l} (biases[{}])", l - 1), b)?;
        }
        cost.check_output(&activations[layers - 1])?;
        // Row-major, as the contract says and the kernels read: a column-major W would send
        // every product through the general (allocating) path.
        let weights = weights
            .into_iter()
            .map(|w| {
                if w.is_standard_layout() {
                    w
                } else {
                    w.as_standard_layout().into_owned()
                }
            })
            .collect();
        Ok(Network {
            sizes: sizes.to_vec(),
            weights,
            biases,
            activations,
            cost,
        })
    }

    /// `[n_0, n_1, …, n_L]`.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// `L + 1`, counting the input layer, as network.py's `num_layers`.
    pub fn num_layers(&self) -> usize {
        self.sizes.len()
    }

    /// `[W^1, …, W^L]`, `W^l` of shape `(n_l × n_{l-1})`.
    pub fn weights(&self) -> &[Array2<F>] {
        &self.weights
    }

    /// `[b^1, …, b^L]`, `b^l` of length `n_l`.
    pub fn biases(&self) -> &[Array1<F>] {
        &self.biases
    }

    /// The activation of each layer after the input, `[σ^1, …, σ^L]`.
    pub fn activations(&self) -> &[Activation<F>] {
        &self.activations
    }

    /// The cost the network is trained on.
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// The number of weights and biases, `P`.
    pub fn num_parameters(&self) -> usize {
        self.sizes.windows(2).map(|p| p[1] * (p[0] + 1)).sum()
    }

    /// Checks `X: (n_0 × m)` and `Y: (n_L × m)` against the network; returns `m ≥ 1`.
    pub(crate) fn check_batch(&self, x: &ArrayView2<F>, y: Option<&ArrayView2<F>>) -> Result<usize> {
        let (n_in, n_out) = (self.sizes[0], self.sizes[self.sizes.len() - 1]);
        if x.nrows() != n_in {
            return Err(Error::InputRows {
                sizes: self.sizes.clone(),
                expected: n_in,
                rows: x.nrows(),
                cols: x.ncols(),
            });
        }
        if let Some(y) = y {
            if y.nrows() != n_out {
                return Err(Error::TargetRows {
                    sizes: self.sizes.clone(),
                    expected: n_out,
                    rows: y.nrows(),
                    cols: y.ncols(),
                });
            }
            if y.ncols() != x.ncols() {
                return Err(Error::ColumnMismatch {
                    x_cols: x.ncols(),
                    y_cols: y.ncols(),
                });
            }
        }
        match x.ncols() {
            0 => Err(Error::EmptyBatch),
            m => Ok(m),
        }
    }

    /// The outputs `A^L: (n_L × m)` for inputs `X: (n_0 × m)`, in a new array; network.py's
    /// `feedforward`, for a whole batch. Use [`Network::forward`] with a workspace to avoid
    /// the allocations.
    pub fn feedforward(&self, x: ArrayView2<F>) -> Result<Array2<F>> {
        let chunks = self.map_chunks(x, |_, a| a.to_owned())?;
        let views: Vec<ArrayView2<F>> = chunks.iter().map(|a| a.view()).collect();
        Ok(ndarray::concatenate(Axis(1), &views).expect("chunks of one network's outputs"))
    }

    /// The number of columns of `X: (n_0 × N)` whose most active output neuron is the label
    /// (network.py's `evaluate`).
    pub fn accuracy<L: Copy + Into<usize> + Sync>(&self, x: ArrayView2<F>, labels: &[L]) -> Result<usize> {
        let classes = self.sizes[self.sizes.len() - 1];
        check_labels(x.ncols(), labels, classes)?;
        let counts = self.map_chunks(x, |start, a| {
            (a.columns().into_iter().zip(&labels[start..]))
                .filter(|(column, label)| argmax(column.view()) == (**label).into())
                .count()
        })?;
        Ok(counts.into_iter().sum())
    }

    /// network2.py's `total_cost`: `(1/N) Σ_x C_x + (λ / 2N) Σ_l ‖W^l‖²` over the `N` columns of
    /// `X: (n_0 × N)` and `Y: (n_L × N)`.
    pub fn total_cost(&self, x: ArrayView2<F>, y: ArrayView2<F>, lambda: f64) -> Result<F> {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::HyperParameter {
                name: "lambda",
                value: lambda,
                requirement: "must be finite and non-negative",
            });
        }
        let n = self.check_batch(&x, Some(&y))?;
        // Summed in chunk order, so the result does not depend on the number of threads.
        let costs = self.map_chunks(x, |start, a| {
            self.cost.value(a, y.slice(s![.., start..start + a.ncols()]))
        })?;
        let cost = costs.into_iter().fold(F::zero(), |acc, c| acc + c);
        let norms = self
            .weights
            .iter()
            .fold(F::zero(), |acc, w| acc + w.fold(F::zero(), |s, &v| s + v * v));
        let n = F::from_usize(n);
        Ok(cost / n + F::from_f64(0.5 * lambda) / n * norms)
    }

    /// Runs the forward pass over `X` in chunks of at most [`EVAL_CHUNK`] columns, spread
    /// over the current rayon pool, and returns `f(first column, A^L of the chunk)` for each
    /// chunk, in order.
    fn map_chunks<T: Send>(&self, x: ArrayView2<F>, f: impl Fn(usize, ArrayView2<F>) -> T + Sync) -> Result<Vec<T>> {
        let n = self.check_batch(&x, None)?;
        let chunks: Vec<(usize, ArrayView2<F>)> = (0..)
            .step_by(EVAL_CHUNK)
            .zip(x.axis_chunks_iter(Axis(1), EVAL_CHUNK))
            .collect();
        chunks
            .into_par_iter()
            .map_init(
                || self.workspace(n.min(EVAL_CHUNK)),
                |ws, (start, chunk)| Ok(f(start, self.forward(chunk, ws)?)),
            )
            .collect()
    }
}

/// Columns per forward pass when evaluating a whole data set.
pub const EVAL_CHUNK: usize = 1000;

/// Checks `labels` against `examples` columns and `classes` output neurons.
pub(crate) fn check_labels<L: Copy + Into<usize>>(examples: usize, labels: &[L], classes: usize) -> Result<()> {
    if labels.len() != examples {
        return Err(Error::LabelCount {
            examples,
            labels: labels.len(),
        });
    }
    match labels.iter().position(|&l| l.into() >= classes) {
        None => Ok(()),
        Some(index) => Err(Error::LabelOutOfRange {
            index,
            label: labels[index].into(),
            classes,
        }),
    }
}

/// The index of the largest entry, as numpy's `argmax`: the first of equal ones, and the
/// first NaN if there is one (so that a network whose outputs went NaN is not scored on its
/// finite outputs).
pub fn argmax<F: Float>(column: ndarray::ArrayView1<F>) -> usize {
    let mut best = 0;
    for (i, &v) in column.iter().enumerate() {
        if v.is_nan() {
            return i;
        }
        if v > column[best] {
            best = i;
        }
    }
    best
}

/// The one-hot targets `Y: (classes × N)` for class labels, as network.py's
/// `vectorized_result` for a whole data set.
pub fn one_hot<F: Float, L: Copy + Into<usize>>(labels: &[L], classes: usize) -> Result<Array2<F>> {
    check_labels(labels.len(), labels, classes)?;
    let mut y = Array2::zeros((classes, labels.len()));
    for (j, &label) in labels.iter().enumerate() {
        y[[label.into(), j]] = F::one();
    }
    Ok(y)
}
