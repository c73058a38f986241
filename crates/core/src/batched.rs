//! The batched engine: forward pass and BP1–BP4 for a whole mini-batch `X = [x_1 … x_m]`
//! through matrix–matrix products, into buffers allocated once.

use crate::team;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

use crate::{
    Activation, AlignedMatrix, Cost, Error, Float, Gradients, Network, Result, Sgd, dropout::Masks, gemm,
    layers::Layers, optimizer::MomentumStep,
};

/// The buffers of the batched forward and backward passes, allocated once for batches of up
/// to `capacity` examples, so that a training step allocates nothing (on the engine's
/// kernels, with `X` column-major; other layouts go through ndarray's allocating GEMM).
///
/// Every buffer is column-major (`(n_l × capacity)` with each column contiguous) and starts
/// on a 64-byte boundary ([`AlignedMatrix`]): the first `m` columns of a batch are then one
/// contiguous block, each example's activations are contiguous for the per-column softmax,
/// and the GEMMs see unit-stride operands.
#[derive(Clone, Debug)]
pub struct Workspace<F: Float> {
    sizes: Vec<usize>,               // [n_0, …, n_L] of the network it was made for
    capacity: usize,                 // the largest batch it holds
    m: usize,                        // columns filled by the last forward pass
    delta_m: usize,                  // columns filled by the last backward pass
    z: Vec<AlignedMatrix<F>>,        // [l-1] = Z^l: (n_l × capacity), column-major
    a: Vec<AlignedMatrix<F>>,        // [l-1] = A^l: (n_l × capacity), column-major; A^0 = X is the caller's
    delta: Vec<AlignedMatrix<F>>,    // [l-1] = Δ^l: (n_l × capacity), column-major
    dropped: Vec<AlignedMatrix<F>>,  // [l-1] = A^l ⊙ M^l / (1 − p) for hidden l: (n_l × capacity); made on first use
    pub(crate) masks: Option<Masks>, // this step's dropout masks, set by Network::step only
}

impl<F: Float> Workspace<F> {
    /// The largest batch this workspace holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// `Z^l: (n_l × m)` of the last batch, for `l` in `1..=L`.
    pub fn z(&self, l: usize) -> ArrayView2<'_, F> {
        self.z[l - 1].columns(self.m)
    }

    /// `A^l: (n_l × m)` of the last batch, for `l` in `1..=L`.
    pub fn a(&self, l: usize) -> ArrayView2<'_, F> {
        self.a[l - 1].columns(self.m)
    }

    /// `Δ^l: (n_l × m)` of the last backward pass, for `l` in `1..=L`.
    pub fn delta(&self, l: usize) -> ArrayView2<'_, F> {
        self.delta[l - 1].columns(self.delta_m)
    }
}

impl<F: Float> Network<F> {
    /// A workspace for batches of up to `capacity` examples.
    ///
    /// # Panics
    /// If its buffers cannot be allocated: [`Network::try_workspace`] returns that as an error.
    pub fn workspace(&self, capacity: usize) -> Workspace<F> {
        self.try_workspace(capacity).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A workspace for batches of up to `capacity` examples, or an error naming the bytes
    /// its buffers would need if they cannot be allocated.
    pub fn try_workspace(&self, capacity: usize) -> Result<Workspace<F>> {
        let buffers = || -> Result<Vec<AlignedMatrix<F>>> {
            self.sizes()[1..]
                .iter()
                .map(|&n| {
                    AlignedMatrix::zeros(n, capacity).map_err(|e| match e {
                        Error::Allocation { bytes, .. } => Error::Allocation {
                            what: format!("a workspace for batches of {capacity} on sizes {:?}", self.sizes()),
                            bytes,
                        },
                        other => other,
                    })
                })
                .collect()
        };
        Ok(Workspace {
            sizes: self.sizes().to_vec(),
            capacity,
            m: 0,
            delta_m: 0,
            z: buffers()?,
            a: buffers()?,
            delta: buffers()?,
            dropped: Vec::new(),
            masks: None,
        })
    }

    /// Zero gradients shaped like the parameters.
    pub fn zero_gradients(&self) -> Gradients<F> {
        Gradients {
            layers: self
                .params
                .zeros_like()
                .expect("allocated once already, for the parameters"),
        }
    }

    /// The batched forward pass: `Z^l = W^l A^{l-1} + b^l 1ᵀ`, `A^l = σ(Z^l)` for
    /// `l = 1 … L`, with `A^0 = X: (n_0 × m)`. Returns `A^L: (n_L × m)`, a view into `ws`.
    pub fn forward<'w>(&self, x: ArrayView2<F>, ws: &'w mut Workspace<F>) -> Result<ArrayView2<'w, F>> {
        self.check_workspace(&x, None, ws)?;
        ws.masks = None; // evaluation and prediction never drop
        self.forward_unchecked(x, ws);
        Ok(ws.a(self.sizes().len() - 1))
    }

    /// One step of mini-batch SGD on `X: (n_0 × m)` with targets `Y: (n_L × m)`, all `m`
    /// examples forward- and back-propagated at once.
    ///
    /// The update is fused into the BP4 GEMM (`W ← β W + α Δ^l (A^{l-1})ᵀ` with
    /// `α = −η/m`, `β = 1 − ηλ/n`), so no gradient is ever stored. Each `W^l` is updated
    /// right after BP2 has used it to compute `Δ^{l-1}`.
    ///
    /// The shapes are checked; the values of `X` and `Y` are not (that would cost a pass over
    /// the batch per step): a NaN in `X` turns the parameters it reaches into NaN, and the
    /// step still returns `Ok`. Check data once before training (`batchprop_train::Examples`
    /// does), and parameters after ([`Network::first_non_finite`], which the trainer runs
    /// after every epoch, beside its check of every batch's cost).
    pub fn sgd_step(&mut self, x: ArrayView2<F>, y: ArrayView2<F>, sgd: &Sgd, ws: &mut Workspace<F>) -> Result<()> {
        let m = self.check_workspace(&x, Some(&y), ws)?;
        let (alpha, beta) = sgd.coefficients::<F>(m);
        self.forward_unchecked(x, ws);
        let Network {
            params,
            activations,
            cost,
        } = self;
        backward(activations, *cost, x, y, ws, &mut Fused { params, alpha, beta });
        Ok(())
    }

    /// A momentum step with the velocity update fused into the BP4 product:
    /// `B^l ← μ B^l + (1/m) Δ^l (A^{l-1})ᵀ`, then `W^l ← W^l − η (B^l + (λ/n) W^l + …)`.
    pub(crate) fn momentum_step(
        &mut self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        step: MomentumStep<F>,
        buffer: &mut Layers<F>,
        ws: &mut Workspace<F>,
    ) -> Result<()> {
        let m = self.check_workspace(&x, Some(&y), ws)?;
        self.forward_unchecked(x, ws);
        let Network {
            params,
            activations,
            cost,
        } = self;
        let sink = &mut IntoMomentum {
            params,
            buffer,
            step,
            inv_m: F::one() / F::from_usize(m),
        };
        backward(activations, *cost, x, y, ws, sink);
        Ok(())
    }

    /// The gradient of the batch's mean cost, `∂C/∂W^l = (1/m) Δ^l (A^{l-1})ᵀ` (BP4) and
    /// `∂C/∂b^l = (1/m) Δ^l 1` (BP3), written into `grads`.
    ///
    /// # Panics
    /// If `grads` is not shaped like the parameters (make it with [`Network::zero_gradients`]).
    pub fn backprop(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        ws: &mut Workspace<F>,
        grads: &mut Gradients<F>,
    ) -> Result<()> {
        let m = self.check_workspace(&x, Some(&y), ws)?;
        self.backprop_scaled(x, y, ws, grads, F::one() / F::from_usize(m))
    }

    /// [`Network::backprop`] with the sums over the batch's columns scaled by `inv_m`
    /// rather than `1/m` (a process's share of a larger batch: `1/m` of the whole).
    pub(crate) fn backprop_scaled(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        ws: &mut Workspace<F>,
        grads: &mut Gradients<F>,
        inv_m: F,
    ) -> Result<()> {
        self.check_workspace(&x, Some(&y), ws)?;
        self.check_gradients(grads);
        self.forward_unchecked(x, ws);
        let sink = &mut IntoGradients {
            params: &self.params,
            grads: &mut grads.layers,
            inv_m,
        };
        backward(&self.activations, self.cost(), x, y, ws, sink);
        Ok(())
    }

    /// The mean cost `(1/m) Σ_x C_x` of a batch (no regularisation term).
    pub fn batch_cost(&self, x: ArrayView2<F>, y: ArrayView2<F>, ws: &mut Workspace<F>) -> Result<F> {
        let m = self.check_workspace(&x, Some(&y), ws)?;
        self.forward_unchecked(x, ws);
        let last = self.num_layers() - 1;
        let cost = self
            .cost()
            .value_at(&self.activations()[last - 1], ws.z(last), ws.a(last), y);
        Ok(cost / F::from_usize(m))
    }

    /// Checks a batch against the network and the workspace; returns `m`.
    fn check_workspace(&self, x: &ArrayView2<F>, y: Option<&ArrayView2<F>>, ws: &Workspace<F>) -> Result<usize> {
        if ws.sizes != self.sizes() {
            return Err(Error::WorkspaceMismatch {
                workspace: ws.sizes.clone(),
                network: self.sizes().to_vec(),
            });
        }
        let m = self.check_batch(x, y)?;
        if m > ws.capacity {
            return Err(Error::BatchTooLarge {
                m,
                capacity: ws.capacity,
            });
        }
        Ok(m)
    }

    /// # Panics
    /// If `grads` is not shaped like the parameters (make it with [`Network::zero_gradients`]).
    pub(crate) fn check_gradients(&self, grads: &Gradients<F>) {
        assert!(
            grads.layers.sizes() == self.sizes(),
            "gradients are not shaped like the parameters: make them with Network::zero_gradients"
        );
    }

    /// The forward pass on a checked batch: `Z^l = W^l A^{l-1} + b^l 1ᵀ`, `A^l = σ(Z^l)`, in
    /// blocks of rows of `W^l` across the team when the product is large enough (see
    /// [`row_block`]), or blocks of columns when σ is not element-wise (softmax).
    ///
    /// With dropout masks in `ws`, each hidden layer's `A^l` is kept as it is (σ' reads it)
    /// and its masked, scaled copy `D^l = A^l ⊙ M^l / (1 − p)` feeds the next layer.
    fn forward_unchecked(&self, x: ArrayView2<F>, ws: &mut Workspace<F>) {
        let m = x.ncols();
        ws.m = m;
        let layers = self.num_layers() - 1;
        if ws.masks.is_some() && ws.dropped.len() != layers - 1 {
            let capacity = ws.capacity;
            ws.dropped = self.sizes()[1..layers]
                .iter()
                .map(|&n| AlignedMatrix::zeros(n, capacity).expect("as large as A^l, already allocated"))
                .collect();
        }
        for l in 1..=layers {
            let (done, todo) = ws.a.split_at_mut(l - 1);
            let a_prev = match (l, ws.masks.is_some()) {
                (1, _) => x.view(),
                (_, true) => ws.dropped[l - 2].columns(m),
                (_, false) => done[l - 2].columns(m),
            }; // (n_{l-1} × m)
            let mut z = ws.z[l - 1].columns_mut(m); // (n_l × m)
            let mut a = todo[0].columns_mut(m); // (n_l × m)
            let (w, b, sigma) = (self.params.w(l), self.params.b(l), &self.activations()[l - 1]);
            let layer = |w: ArrayView2<F>, b: ArrayView1<F>, a_prev: ArrayView2<F>, mut z: ArrayViewMut2<F>, a| {
                gemm::forward(&w, &a_prev, &b, &mut z);
                sigma.forward(z.view(), a);
            };
            let work = w.len() * m;
            let rows = row_block(work, w.nrows(), sigma.is_elementwise());
            let cols = block(work, m, MIN_COLUMNS_PER_PART);
            if rows < w.nrows() {
                let parts = (w.axis_chunks_iter(Axis(0), rows))
                    .zip(b.axis_chunks_iter(Axis(0), rows))
                    .zip(z.axis_chunks_iter_mut(Axis(0), rows))
                    .zip(a.axis_chunks_iter_mut(Axis(0), rows));
                team::for_each(parts, |(((w, b), z), a)| layer(w, b, a_prev, z, a));
            } else if cols == m {
                layer(w, b, a_prev, z, a);
            } else {
                let parts = (a_prev.axis_chunks_iter(Axis(1), cols))
                    .zip(z.axis_chunks_iter_mut(Axis(1), cols))
                    .zip(a.axis_chunks_iter_mut(Axis(1), cols));
                team::for_each(parts, |((a_prev, z), a)| layer(w, b, a_prev, z, a));
            }
            if let Some(masks) = ws.masks
                && l < layers
            {
                masks.apply(l, 0, ws.a[l - 1].columns(m), ws.dropped[l - 1].columns_mut(m));
            }
        }
    }
}

/// What the backward pass does with each layer's `Δ^l` and `A^{l-1}` once BP2 has used
/// `W^l`: update the parameters in place ([`Fused`]) or write the gradient
/// ([`IntoGradients`]). One backward pass serves both.
trait LayerSink<F: Float> {
    /// `W^l`, as it was before the sink touched layer `l` (BP2 reads it).
    fn w(&self, l: usize) -> ArrayView2<'_, F>;

    /// BP3 and BP4 for layer `l`: `Δ^l: (n_l × m)`, `A^{l-1}: (n_{l-1} × m)`.
    fn layer(&mut self, l: usize, delta: ArrayView2<F>, a_prev: ArrayView2<F>);
}

/// The fused SGD update: `W^l ← β W^l + α Δ^l (A^{l-1})ᵀ`, `b^l ← b^l + α Δ^l 1`.
struct Fused<'a, F> {
    params: &'a mut Layers<F>,
    alpha: F, // −η/m
    beta: F,  // 1 − ηλ/n
}

impl<F: Float> LayerSink<F> for Fused<'_, F> {
    fn w(&self, l: usize) -> ArrayView2<'_, F> {
        self.params.w(l)
    }

    fn layer(&mut self, l: usize, delta: ArrayView2<F>, a_prev: ArrayView2<F>) {
        let (w, b) = self.params.layer_mut(l);
        update_layer(self.alpha, delta, a_prev, (self.beta, w), (F::one(), b));
    }
}

/// The gradient: `∇W^l = (1/m) Δ^l (A^{l-1})ᵀ` (BP4), `∇b^l = (1/m) Δ^l 1` (BP3).
struct IntoGradients<'a, F> {
    params: &'a Layers<F>,
    grads: &'a mut Layers<F>,
    inv_m: F, // 1/m
}

impl<F: Float> LayerSink<F> for IntoGradients<'_, F> {
    fn w(&self, l: usize) -> ArrayView2<'_, F> {
        self.params.w(l)
    }

    fn layer(&mut self, l: usize, delta: ArrayView2<F>, a_prev: ArrayView2<F>) {
        let (nabla_w, nabla_b) = self.grads.layer_mut(l);
        update_layer(self.inv_m, delta, a_prev, (F::zero(), nabla_w), (F::zero(), nabla_b));
    }
}

/// Momentum fused into BP4: `B^l ← μ B^l + (1/m) Δ^l (A^{l-1})ᵀ`, `B_b^l ← μ B_b^l + (1/m) Δ^l 1`,
/// then the element-wise rest of the update of layer `l`.
struct IntoMomentum<'a, F> {
    params: &'a mut Layers<F>,
    buffer: &'a mut Layers<F>, // B: the momentum buffer, shaped as the parameters
    step: MomentumStep<F>,
    inv_m: F, // 1/m
}

impl<F: Float> LayerSink<F> for IntoMomentum<'_, F> {
    fn w(&self, l: usize) -> ArrayView2<'_, F> {
        self.params.w(l)
    }

    fn layer(&mut self, l: usize, delta: ArrayView2<F>, a_prev: ArrayView2<F>) {
        let mu = self.step.mu;
        let (mut bw, mut bb) = self.buffer.layer_mut(l);
        update_layer(self.inv_m, delta, a_prev, (mu, bw.view_mut()), (mu, bb.view_mut()));
        let (w, b) = self.params.layer_mut(l);
        self.step.finish(w, b, bw, bb);
    }
}

/// The backward pass after [`Network::forward_unchecked`] has filled `ws` for the batch
/// `X: (n_0 × m)`: BP1 for `Δ^L`, then for `l = L … 1` BP2 (`Δ^{l-1}` from `W^l`, for
/// `l ≥ 2`) followed by the sink's BP3/BP4 for layer `l`.
fn backward<F: Float>(
    activations: &[Activation<F>],
    cost: Cost,
    x: ArrayView2<F>,
    y: ArrayView2<F>,
    ws: &mut Workspace<F>,
    sink: &mut impl LayerSink<F>,
) {
    output_error(activations, cost, y, ws);
    let m = ws.m;
    for l in (1..=activations.len()).rev() {
        if l > 1 {
            backpropagate_error(sink.w(l), &activations[l - 2], l, ws);
        }
        let delta = ws.delta[l - 1].columns(m); // Δ^l: (n_l × m)
        let a_prev = match (l, ws.masks.is_some()) {
            (1, _) => x.view(),
            (_, true) => ws.dropped[l - 2].columns(m), // D^{l-1}: what layer l saw
            (_, false) => ws.a[l - 2].columns(m),
        }; // A^{l-1}: (n_{l-1} × m)
        sink.layer(l, delta, a_prev);
    }
}

/// BP1: `Δ^L = ∇_a C ⊙ σ'(Z^L)`, or the cost's simplified form (cheap: never split).
fn output_error<F: Float>(activations: &[Activation<F>], cost: Cost, y: ArrayView2<F>, ws: &mut Workspace<F>) {
    let (last, m) = (activations.len() - 1, ws.m);
    ws.delta_m = m;
    cost.delta(
        &activations[last],
        ws.z[last].columns(m),
        ws.a[last].columns(m),
        y,
        ws.delta[last].columns_mut(m),
    );
}

/// BP2: `Δ^{l-1} = ((W^l)ᵀ Δ^l) ⊙ σ'(Z^{l-1})`, for `l ≥ 2` (the input layer's delta is
/// never needed), with `sigma` the activation of layer `l − 1`. `(W^l)ᵀ` is never formed:
/// the kernel reads the rows of `W^l`.
fn backpropagate_error<F: Float>(w: ArrayView2<F>, sigma: &Activation<F>, l: usize, ws: &mut Workspace<F>) {
    let m = ws.m;
    let (lower, upper) = ws.delta.split_at_mut(l - 1);
    let delta = upper[0].columns(m); // Δ^l: (n_l × m)
    let mut delta_prev = lower[l - 2].columns_mut(m); // Δ^{l-1}: (n_{l-1} × m)
    let (z, a) = (ws.z[l - 2].columns(m), ws.a[l - 2].columns(m)); // (n_{l-1} × m)
    let masks = ws.masks;
    // `w`: the columns of `W^l` for the rows of `Δ^{l-1}` given; `offset`: the first column
    // of the batch given (for the dropout masks).
    let step = |w: ArrayView2<F>,
                offset: usize,
                delta: ArrayView2<F>,
                mut delta_prev: ArrayViewMut2<F>,
                z: ArrayView2<F>,
                a: ArrayView2<F>| {
        gemm::tn(&w, &delta, &mut delta_prev);
        if let Some(masks) = masks {
            // Dropout: the error reaches only the kept neurons, scaled as their outputs were.
            masks.apply_to_delta(l - 1, offset, delta_prev.view_mut());
        }
        sigma.backward(z, a, delta_prev);
    };
    let work = w.len() * m;
    // Rows of `Δ^{l-1}` are columns of `W^l`; dropout's masks are indexed by column of the
    // batch, so a masked step splits by columns only.
    let rows = row_block(work, w.ncols(), masks.is_none() && sigma.is_elementwise());
    let cols = block(work, m, MIN_COLUMNS_PER_PART);
    if rows < w.ncols() {
        let parts = (w.axis_chunks_iter(Axis(1), rows))
            .zip(delta_prev.axis_chunks_iter_mut(Axis(0), rows))
            .zip(z.axis_chunks_iter(Axis(0), rows))
            .zip(a.axis_chunks_iter(Axis(0), rows));
        team::for_each(parts, |(((w, delta_prev), z), a)| step(w, 0, delta, delta_prev, z, a));
    } else if cols == m {
        step(w, 0, delta, delta_prev, z, a);
    } else {
        let parts = (delta.axis_chunks_iter(Axis(1), cols))
            .zip(delta_prev.axis_chunks_iter_mut(Axis(1), cols))
            .zip(z.axis_chunks_iter(Axis(1), cols))
            .zip(a.axis_chunks_iter(Axis(1), cols))
            .enumerate();
        team::for_each(parts, |(k, (((delta, delta_prev), z), a))| {
            step(w, k * cols, delta, delta_prev, z, a)
        });
    }
}

/// Multiply–adds below which a product is not split across threads: about 5 µs of work,
/// where a split costs about 1 µs on the team (0.6–1.1 µs measured on a Zen 4, against
/// rayon's 1.2–1.6 µs, 23–27 µs once its idle worker had gone to sleep).
const MIN_WORK_PER_PART: usize = 1 << 18;

/// Columns of the batch below which a block is not split off: the kernels work in blocks of
/// 4 columns, and a thin remainder runs at matrix–vector speed.
const MIN_COLUMNS_PER_PART: usize = 16;

/// Rows of `W` below which a block of rows is not split off.
const MIN_ROWS_PER_PART: usize = 4;

/// The block of rows that splits `len` rows of a product of `work` multiply–adds into one
/// part per thread of the current rayon pool, where its rows can be computed apart
/// (`splittable`); `len` itself otherwise (then the caller splits columns of the batch). Rows
/// come first: the forward pass, BP2 and BP4 then cut `W^l` into the same rows, which the
/// team gives the same thread step after step, so each core keeps its rows of `W^l` (read
/// forward, written by BP4) in its own cache. Splitting the forward pass by columns instead
/// made every core read all of `W^l` after the other had written half of it: two threads gave
/// 1.31× one at mb 32 on `[784, 100, 10]`, by rows 1.68× (Zen 4, medians of 6 alternated runs).
fn row_block(work: usize, len: usize, splittable: bool) -> usize {
    if splittable {
        block(work, len, MIN_ROWS_PER_PART)
    } else {
        len
    }
}

/// The block length that splits `len` columns (or rows) of a product of `work` multiply–adds
/// into one part per thread of the current rayon pool, each worth at least
/// [`MIN_WORK_PER_PART`] and `min_len` long; `len` itself when the product is not worth
/// splitting. Splitting along columns of the batch, or rows of `W`, never changes the order
/// of any sum, so the results are the same bits on any number of threads.
fn block(work: usize, len: usize, min_len: usize) -> usize {
    if !gemm::engine_splits() {
        return len;
    }
    let parts = team::parts(work, MIN_WORK_PER_PART).min(len / min_len).max(1);
    len.div_ceil(parts)
}

/// BP4 and BP3 for one layer, fused into the update of its parameters:
/// `W ← β W + α Δ Aᵀ` and `b ← γ b + α Δ 1`, with `Δ: (n_l × m)`, `A: (n_{l-1} × m)`, in blocks
/// of rows of `W` across the team when the product is large enough. With
/// `β = γ = 0` this writes the gradient itself.
fn update_layer<F: Float>(
    alpha: F,
    delta: ArrayView2<F>,
    a_prev: ArrayView2<F>,
    (beta, mut w): (F, ArrayViewMut2<F>),
    (gamma, mut b): (F, ArrayViewMut1<F>),
) {
    let rows = |delta: ArrayView2<F>, mut w: ArrayViewMut2<F>, mut b: ArrayViewMut1<F>| {
        gemm::nt(alpha, &delta, &a_prev, beta, &mut w);
        if gamma == F::zero() {
            b.fill(F::zero());
        } else if gamma != F::one() {
            b *= gamma;
        }
        for column in delta.columns() {
            b.scaled_add(alpha, &column);
        }
    };
    let (n, m) = delta.dim();
    let block_rows = block(w.len() * m, n, MIN_ROWS_PER_PART);
    if block_rows == n {
        rows(delta, w, b);
    } else {
        let parts = (delta.axis_chunks_iter(Axis(0), block_rows))
            .zip(w.axis_chunks_iter_mut(Axis(0), block_rows))
            .zip(b.axis_chunks_iter_mut(Axis(0), block_rows));
        team::for_each(parts, |((delta, w), b)| rows(delta, w, b));
    }
}
