//! The network: layer sizes, parameters, activations and cost; construction and evaluation.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, s};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::{Activation, Cost, Error, Float, Result, layers::Layers};

/// A fully-connected feed-forward network, as network.py's `Network` class.
///
/// Layers are numbered as in the contract at the top of the crate: 0 is the input, `L` the
/// output; `weights()[l - 1]` is `W^l` and `biases()[l - 1]` is `b^l`.
///
/// The parameters live in one 64-byte-aligned buffer, `[W^1, b^1, …, W^L, b^L]`;
/// [`Network::weights`] and [`Network::biases`] are views into it.
#[derive(Clone, Debug)]
pub struct Network<F: Float> {
    pub(crate) params: Layers<F>, // [W^1, b^1, …]: W^l (n_l × n_{l-1}) row-major, b^l (n_l)
    pub(crate) activations: Vec<Activation<F>>, // [l-1] = σ of layer l
    pub(crate) cost: Cost,
}

/// The gradient of the mean cost `C = (1/m) Σ_x C_x` of a batch, from
/// [`Network::backprop`] or [`Network::backprop_per_example`], in one buffer laid out as the
/// network's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<F: Float> {
    pub(crate) layers: Layers<F>, // [∇W^1, ∇b^1, …]: ∂C/∂W^l (n_l × n_{l-1}) row-major, ∂C/∂b^l (n_l)
}

impl<F: Float> Gradients<F> {
    /// `[∂C/∂W^1, …, ∂C/∂W^L]`, each `(n_l × n_{l-1})` like `W^l`.
    pub fn nabla_w(&self) -> Vec<ArrayView2<'_, F>> {
        self.layers.all_w()
    }

    /// `[∂C/∂b^1, …, ∂C/∂b^L]`, each of length `n_l`.
    pub fn nabla_b(&self) -> Vec<ArrayView1<'_, F>> {
        self.layers.all_b()
    }

    /// `∂C/∂W^l` and `∂C/∂b^l` of layer `l` (in `1..=L`), writable.
    ///
    /// # Panics
    /// If `l` is not in `1..=L`.
    pub fn layer_mut(&mut self, l: usize) -> (ArrayViewMut2<'_, F>, ArrayViewMut1<'_, F>) {
        assert!(
            (1..=self.layers.layers()).contains(&l),
            "layer {l} is not in 1..={}",
            self.layers.layers()
        );
        self.layers.layer_mut(l)
    }

    /// Every entry in one slice, laid out as [`Network::parameters`].
    pub fn as_slice(&self) -> &[F] {
        self.layers.as_slice()
    }

    /// Every entry in one writable slice (to sum gradients from several sources, say),
    /// laid out as [`Network::parameters`]. Keep the padding between arrays zero.
    pub fn as_mut_slice(&mut self) -> &mut [F] {
        self.layers.as_mut_slice()
    }
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
    /// He et al.'s, PyTorch's `kaiming_normal_` (fan-in mode): weights from
    /// `N(0, gain² / n_in)` with the hidden activation's gain ([`Activation::gain`]: √2 for
    /// ReLU); biases from `N(0, 1)` as the book's.
    KaimingNormal,
    /// Glorot & Bengio's, PyTorch's `xavier_uniform_`: weights uniform in `±√(6 / (n_in +
    /// n_out))`; biases from `N(0, 1)` as the book's.
    XavierUniform,
}

impl Init {
    /// `standard` or `scaled`.
    pub fn name(self) -> &'static str {
        match self {
            Init::Standard => "standard",
            Init::Scaled => "scaled",
            Init::KaimingNormal => "kaiming-normal",
            Init::XavierUniform => "xavier-uniform",
        }
    }

    /// Every initialisation, in the order the tools list them.
    pub const ALL: [Init; 4] = [Init::Standard, Init::Scaled, Init::KaimingNormal, Init::XavierUniform];

    /// The initialisation with this [`Init::name`].
    pub fn from_name(name: &str) -> Option<Init> {
        Init::ALL.into_iter().find(|i| i.name() == name)
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
        let gain = self.hidden.gain();
        let mut activations = vec![self.hidden; layers - 1];
        activations.push(self.output);
        check_activations(&activations)?;
        self.cost.check_output(&activations[layers - 1])?;
        let mut params = Layers::zeros(&sizes)?;
        let normal = |rng: &mut R, scale: f64| {
            let v: f64 = StandardNormal.sample(rng);
            F::from_f64(scale * v)
        };
        for l in 1..=layers {
            params.layer_mut(l).1.iter_mut().for_each(|b| *b = normal(rng, 1.0));
        }
        for l in 1..=layers {
            let (n_in, n_out) = (sizes[l - 1] as f64, sizes[l] as f64);
            let (mut w, _) = params.layer_mut(l);
            match self.init {
                Init::Standard => w.iter_mut().for_each(|w| *w = normal(rng, 1.0)),
                Init::Scaled => w.iter_mut().for_each(|w| *w = normal(rng, 1.0 / n_in.sqrt())),
                Init::KaimingNormal => w.iter_mut().for_each(|w| *w = normal(rng, gain / n_in.sqrt())),
                Init::XavierUniform => {
                    let bound = (6.0 / (n_in + n_out)).sqrt();
                    let uniform = rand_distr::Uniform::new(-bound, bound).expect("a finite bound");
                    w.iter_mut().for_each(|w| *w = F::from_f64(uniform.sample(rng)));
                }
            }
        }
        Ok(Network {
            params,
            activations,
            cost: self.cost,
        })
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

/// Checks the activations' own parameters (a leaky ReLU's slope: finite, ≥ 0).
fn check_activations<F: Float>(activations: &[Activation<F>]) -> Result<()> {
    for (l, a) in (1..).zip(activations) {
        if let Activation::LeakyRelu(slope) = a
            && !(slope.is_finite() && *slope >= F::zero())
        {
            return Err(Error::HyperParameter {
                name: if l == activations.len() {
                    "output leaky ReLU slope"
                } else {
                    "leaky ReLU slope"
                },
                value: slope.as_f64(),
                requirement: "must be finite and non-negative",
            });
        }
    }
    Ok(())
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
        check_activations(&activations)?;
        cost.check_output(&activations[layers - 1])?;
        // Copied into the aligned buffer, row-major whatever the layout given.
        let mut params = Layers::zeros(sizes)?;
        for (l, (w, b)) in (1..).zip(weights.iter().zip(&biases)) {
            let (mut w_l, mut b_l) = params.layer_mut(l);
            w_l.assign(w);
            b_l.assign(b);
        }
        Ok(Network {
            params,
            activations,
            cost,
        })
    }

    /// `[n_0, n_1, …, n_L]`.
    pub fn sizes(&self) -> &[usize] {
        self.params.sizes()
    }

    /// `L + 1`, counting the input layer, as network.py's `num_layers`.
    pub fn num_layers(&self) -> usize {
        self.sizes().len()
    }

    /// `[W^1, …, W^L]`, `W^l` of shape `(n_l × n_{l-1})`: views into the parameter buffer.
    pub fn weights(&self) -> Vec<ArrayView2<'_, F>> {
        self.params.all_w()
    }

    /// `[b^1, …, b^L]`, `b^l` of length `n_l`: views into the parameter buffer.
    pub fn biases(&self) -> Vec<ArrayView1<'_, F>> {
        self.params.all_b()
    }

    /// `W^l` and `b^l` of layer `l` (in `1..=L`), writable: to set the parameters by hand.
    ///
    /// # Panics
    /// If `l` is not in `1..=L`.
    pub fn layer_mut(&mut self, l: usize) -> (ArrayViewMut2<'_, F>, ArrayViewMut1<'_, F>) {
        assert!(
            (1..self.num_layers()).contains(&l),
            "layer {l} is not in 1..={}",
            self.num_layers() - 1
        );
        self.params.layer_mut(l)
    }

    /// Every parameter in one slice: `W^1` (row-major), `b^1`, `W^2`, …, each array starting
    /// on a 64-byte boundary, with zeros between them. To copy, compare or sum whole networks.
    pub fn parameters(&self) -> &[F] {
        self.params.as_slice()
    }

    /// [`Network::parameters`], writable (to restore a copy, or average replicas). Keep the
    /// padding between arrays zero.
    pub fn parameters_mut(&mut self) -> &mut [F] {
        self.params.as_mut_slice()
    }

    /// The first non-finite parameter, as (`W^l` or `b^l`, its value), if any.
    pub fn first_non_finite(&self) -> Option<(String, F)> {
        (1..self.num_layers()).find_map(|l| {
            let w = self
                .params
                .w(l)
                .iter()
                .find(|v| !v.is_finite())
                .map(|&v| (format!("W^{l}"), v));
            w.or_else(|| {
                self.params
                    .b(l)
                    .iter()
                    .find(|v| !v.is_finite())
                    .map(|&v| (format!("b^{l}"), v))
            })
        })
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
        self.sizes().windows(2).map(|p| p[1] * (p[0] + 1)).sum()
    }

    /// Checks `X: (n_0 × m)` and `Y: (n_L × m)` against the network; returns `m ≥ 1`.
    pub(crate) fn check_batch(&self, x: &ArrayView2<F>, y: Option<&ArrayView2<F>>) -> Result<usize> {
        let sizes = self.sizes();
        let (n_in, n_out) = (sizes[0], sizes[sizes.len() - 1]);
        if x.nrows() != n_in {
            return Err(Error::InputRows {
                sizes: sizes.to_vec(),
                expected: n_in,
                rows: x.nrows(),
                cols: x.ncols(),
            });
        }
        if let Some(y) = y {
            if y.nrows() != n_out {
                return Err(Error::TargetRows {
                    sizes: sizes.to_vec(),
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
        let chunks = self.map_chunks(x, |_, _, a| a.to_owned())?;
        let views: Vec<ArrayView2<F>> = chunks.iter().map(|a| a.view()).collect();
        Ok(ndarray::concatenate(Axis(1), &views).expect("chunks of one network's outputs"))
    }

    /// The number of columns of `X: (n_0 × N)` whose most active output neuron is the label
    /// (network.py's `evaluate`).
    pub fn accuracy(&self, x: ArrayView2<F>, labels: &[u32]) -> Result<usize> {
        let classes = self.sizes()[self.num_layers() - 1];
        check_labels(x.ncols(), labels, classes)?;
        let counts = self.map_chunks(x, |start, _, a| {
            (a.columns().into_iter().zip(&labels[start..]))
                .filter(|(column, label)| argmax(column.view()) == **label as usize)
                .count()
        })?;
        Ok(counts.into_iter().sum())
    }

    /// network2.py's `total_cost`: `(1/N) Σ_x C_x + (λ / 2N) Σ_l ‖W^l‖²` over the `N` columns of
    /// `X: (n_0 × N)` and `Y: (n_L × N)`.
    pub fn total_cost(&self, x: ArrayView2<F>, y: ArrayView2<F>, lambda: f64) -> Result<F> {
        let n = F::from_usize(x.ncols());
        let cost = self.cost_sum(x, y)?;
        self.regularised_mean(cost, n, lambda)
    }

    /// `Σ_x C_x` over the `N` columns of `X: (n_0 × N)` and `Y: (n_L × N)`, without
    /// regularisation: the forward pass in chunks of 1000 columns across the current rayon
    /// pool, summed in chunk order (the same bits on any number of threads).
    pub fn cost_sum(&self, x: ArrayView2<F>, y: ArrayView2<F>) -> Result<F> {
        self.check_batch(&x, Some(&y))?;
        let output = &self.activations[self.num_layers() - 2];
        let costs = self.map_chunks(x, |start, z, a| {
            let y = y.slice(s![.., start..start + a.ncols()]);
            self.cost.value_at(output, z, a, y)
        })?;
        Ok(costs.into_iter().fold(F::zero(), |acc, c| acc + c))
    }

    /// `cost_sum / n + (λ / 2n) Σ_l ‖W^l‖²`: [`Network::total_cost`] from a cost sum over
    /// `n` examples (computed in parts, say).
    pub fn regularised_mean(&self, cost_sum: F, n: F, lambda: f64) -> Result<F> {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::HyperParameter {
                name: "lambda",
                value: lambda,
                requirement: "must be finite and non-negative",
            });
        }
        let norms = (1..self.num_layers()).fold(F::zero(), |acc, l| {
            acc + self.params.w(l).fold(F::zero(), |s, &v| s + v * v)
        });
        Ok(cost_sum / n + F::from_f64(0.5 * lambda) / n * norms)
    }

    /// Runs the forward pass over `X` in chunks of at most [`EVAL_CHUNK`] columns, spread
    /// over the current rayon pool, and returns `f(first column, Z^L, A^L of the chunk)` for
    /// each chunk, in order.
    fn map_chunks<T: Send>(
        &self,
        x: ArrayView2<F>,
        f: impl Fn(usize, ArrayView2<F>, ArrayView2<F>) -> T + Sync,
    ) -> Result<Vec<T>> {
        let n = self.check_batch(&x, None)?;
        let chunks: Vec<(usize, ArrayView2<F>)> = (0..)
            .step_by(EVAL_CHUNK)
            .zip(x.axis_chunks_iter(Axis(1), EVAL_CHUNK))
            .collect();
        chunks
            .into_par_iter()
            .map_init(
                || self.workspace(n.min(EVAL_CHUNK)),
                |ws, (start, chunk)| {
                    self.forward(chunk, ws)?;
                    let last = self.num_layers() - 1;
                    Ok(f(start, ws.z(last), ws.a(last)))
                },
            )
            .collect()
    }
}

/// Columns per forward pass when evaluating a whole data set.
pub(crate) const EVAL_CHUNK: usize = 1000;

/// Checks `labels` against `examples` columns and `classes` output neurons.
pub(crate) fn check_labels(examples: usize, labels: &[u32], classes: usize) -> Result<()> {
    if labels.len() != examples {
        return Err(Error::LabelCount {
            examples,
            labels: labels.len(),
        });
    }
    match labels.iter().position(|&l| l as usize >= classes) {
        None => Ok(()),
        Some(index) => Err(Error::LabelOutOfRange {
            index,
            label: labels[index] as usize,
            classes,
        }),
    }
}

/// The index of the largest entry, as numpy's `argmax`: the first of equal ones, and the
/// first NaN if there is one (so that a network whose outputs went NaN is not scored on its
/// finite outputs).
pub fn argmax<F: Float>(column: ndarray::ArrayView1<F>) -> usize {
    match column.as_slice() {
        Some(values) => argmax_of(values.iter().copied()),
        None => argmax_of(column.iter().copied()),
    }
}

/// [`argmax`] of a column's values in order (a slice's iterator where the column is
/// contiguous: the trainer calls it on every example of every batch). The running maximum is
/// a select, not a branch: which output is largest is what the CPU cannot predict.
#[inline]
fn argmax_of<F: Float>(mut values: impl Iterator<Item = F>) -> usize {
    let Some(mut top) = values.next() else { return 0 };
    if top.is_nan() {
        return 0;
    }
    let mut best = 0;
    for (i, v) in (1..).zip(values) {
        if v.is_nan() {
            return i;
        }
        let higher = v > top;
        best = if higher { i } else { best };
        top = if higher { v } else { top };
    }
    best
}

/// The one-hot targets `Y: (classes × N)` for class labels, as network.py's
/// `vectorized_result` for a whole data set.
pub fn one_hot<F: Float>(labels: &[u32], classes: usize) -> Result<Array2<F>> {
    check_labels(labels.len(), labels, classes)?;
    let mut y = Array2::zeros((classes, labels.len()));
    for (j, &label) in labels.iter().enumerate() {
        y[[label as usize, j]] = F::one();
    }
    Ok(y)
}
