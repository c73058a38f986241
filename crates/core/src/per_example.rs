//! The book's per-example loop (network.py's `update_mini_batch` and `backprop`): each
//! example forward- and back-propagated on its own with matrix–vector products, the gradients
//! summed over the mini-batch. Kept as the readable reference the batched engine is tested
//! against, and as the baseline the benchmarks compare it with.
//!
//! It is as fast as such a loop honestly gets: no allocation per example, and the same
//! kernels as the batched engine with `m = 1` (matrix–vector products, and rank-1 updates of
//! `∇W`), so that comparing the two compares the algorithms, not the kernels.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis, Zip};

use crate::{Error, Float, Gradients, Network, Result, Sgd, dropout::Masks, gemm};

/// The buffers of the per-example path, allocated once per network.
#[derive(Clone, Debug)]
pub struct PerExampleWorkspace<F: Float> {
    sizes: Vec<usize>,               // [n_0, …, n_L] of the network it was made for
    z: Vec<Array1<F>>,               // [l-1] = z^l: (n_l)
    a: Vec<Array1<F>>,               // [l-1] = a^l: (n_l); a^0 = x is the caller's
    delta: Vec<Array1<F>>,           // [l-1] = δ^l: (n_l)
    nabla: Gradients<F>,             // Σ_x ∂C_x/∂W^l: (n_l × n_{l-1}), row-major; Σ_x ∂C_x/∂b^l: (n_l)
    cost: F,                         // Σ_x C_x over the last batch
    dropped: Vec<Array1<F>>,         // [l-1] = a^l ⊙ m^l / (1 − p) for hidden l: (n_l)
    pub(crate) masks: Option<Masks>, // this step's dropout masks, set by Network::step_per_example only
}

impl<F: Float> PerExampleWorkspace<F> {
    /// `Σ_x C_x` over the examples of the last batch, each measured in its own forward pass
    /// (before the batch's update).
    pub fn batch_cost_sum(&self) -> F {
        self.cost
    }
}

impl<F: Float> Network<F> {
    /// The buffers for [`Network::sgd_step_per_example`] and
    /// [`Network::backprop_per_example`].
    pub fn per_example_workspace(&self) -> PerExampleWorkspace<F> {
        let vectors = || -> Vec<Array1<F>> { self.sizes()[1..].iter().map(|&n| Array1::zeros(n)).collect() };
        PerExampleWorkspace {
            sizes: self.sizes().to_vec(),
            z: vectors(),
            a: vectors(),
            delta: vectors(),
            nabla: self.zero_gradients(),
            cost: F::zero(),
            dropped: self.sizes()[1..self.num_layers() - 1]
                .iter()
                .map(|&n| Array1::zeros(n))
                .collect(),
            masks: None,
        }
    }

    /// network.py's `update_mini_batch`: back-propagates each column of `X: (n_0 × m)`
    /// with its target column of `Y: (n_L × m)` in turn, sums the gradients, then
    /// `W ← (1 − ηλ/n) W − (η/m) Σ_x ∇W_x`, `b ← b − (η/m) Σ_x ∇b_x`.
    pub fn sgd_step_per_example(
        &mut self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        sgd: &Sgd,
        ws: &mut PerExampleWorkspace<F>,
    ) -> Result<()> {
        let m = self.check_per_example(&x, &y, ws)?;
        let (alpha, beta) = sgd.coefficients::<F>(m);
        self.sum_example_gradients(x, y, ws);
        for l in 1..self.num_layers() {
            let (mut w, mut b) = self.params.layer_mut(l);
            Zip::from(&mut w)
                .and(&ws.nabla.layers.w(l))
                .for_each(|w, &g| *w = beta * *w + alpha * g);
            b.scaled_add(alpha, &ws.nabla.layers.b(l));
        }
        Ok(())
    }

    /// The gradient of the batch's mean cost as the mean of the per-example gradients,
    /// written into `grads`: the oracle for [`Network::backprop`].
    ///
    /// # Panics
    /// If `grads` is not shaped like the parameters (make it with [`Network::zero_gradients`]).
    pub fn backprop_per_example(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        ws: &mut PerExampleWorkspace<F>,
        grads: &mut Gradients<F>,
    ) -> Result<()> {
        let m = self.check_per_example(&x, &y, ws)?;
        self.check_gradients(grads);
        let inv_m = F::one() / F::from_usize(m);
        self.sum_example_gradients(x, y, ws);
        let sums = ws.nabla.as_slice();
        Zip::from(grads.as_mut_slice())
            .and(sums)
            .for_each(|g, &s| *g = s * inv_m);
        Ok(())
    }

    fn check_per_example(&self, x: &ArrayView2<F>, y: &ArrayView2<F>, ws: &PerExampleWorkspace<F>) -> Result<usize> {
        if ws.sizes != self.sizes() {
            return Err(Error::WorkspaceMismatch {
                workspace: ws.sizes.clone(),
                network: self.sizes().to_vec(),
            });
        }
        self.check_batch(x, Some(y))
    }

    /// `ws.nabla_w, ws.nabla_b ← Σ_x ∇C_x` over the columns of a checked batch.
    fn sum_example_gradients(&self, x: ArrayView2<F>, y: ArrayView2<F>, ws: &mut PerExampleWorkspace<F>) {
        ws.nabla.as_mut_slice().fill(F::zero());
        ws.cost = F::zero();
        for (c, (x, y)) in x.columns().into_iter().zip(y.columns()).enumerate() {
            self.backprop_example(c, x, y, ws);
        }
    }

    /// network.py's `backprop` for example `c` of the batch, `x: (n_0)` with target
    /// `y: (n_L)`, adding `∂C_x/∂W^l` and `∂C_x/∂b^l` into `ws.nabla_w` and `ws.nabla_b`.
    /// With dropout masks, hidden layer `l` passes on `a^l ⊙ m^l / (1 − p)` and its error is
    /// masked the same way.
    fn backprop_example(&self, c: usize, x: ArrayView1<F>, y: ArrayView1<F>, ws: &mut PerExampleWorkspace<F>) {
        let layers = self.sizes().len() - 1;
        let masks = ws.masks;
        // Forward: z^l = W^l a^{l-1} + b^l, a^l = σ(z^l).
        for l in 1..=layers {
            let (done, todo) = ws.a.split_at_mut(l - 1);
            let a_prev = match (l, masks.is_some()) {
                (1, _) => x.view(),
                (_, true) => ws.dropped[l - 2].view(),
                (_, false) => done[l - 2].view(),
            }; // (n_{l-1})
            let mut z = ws.z[l - 1].view_mut().insert_axis(Axis(1)); // (n_l × 1)
            let a_prev = a_prev.insert_axis(Axis(1)); // (n_{l-1} × 1)
            gemm::forward(&self.params.w(l), &a_prev, &self.params.b(l), &mut z);
            self.activations()[l - 1].forward(z.view(), todo[0].view_mut().insert_axis(Axis(1)));
            if let Some(masks) = masks
                && l < layers
            {
                let a = todo[0].view().insert_axis(Axis(1));
                masks.apply(l, c, a, ws.dropped[l - 1].view_mut().insert_axis(Axis(1)));
            }
        }
        // BP1: δ^L = ∇_a C ⊙ σ'(z^L).
        let last = layers - 1;
        ws.cost += self.cost().value_at(
            &self.activations()[last],
            ws.z[last].view().insert_axis(Axis(1)),
            ws.a[last].view().insert_axis(Axis(1)),
            y.insert_axis(Axis(1)),
        );
        self.cost().delta(
            &self.activations()[last],
            ws.z[last].view().insert_axis(Axis(1)),
            ws.a[last].view().insert_axis(Axis(1)),
            y.insert_axis(Axis(1)),
            ws.delta[last].view_mut().insert_axis(Axis(1)),
        );
        for l in (1..=layers).rev() {
            let (lower, upper) = ws.delta.split_at_mut(l - 1);
            let delta = upper[0].view().insert_axis(Axis(1)); // δ^l: (n_l × 1)
            let a_prev = match (l, masks.is_some()) {
                (1, _) => x.view(),
                (_, true) => ws.dropped[l - 2].view(),
                (_, false) => ws.a[l - 2].view(),
            }; // what layer l saw: (n_{l-1})
            let (mut nabla_w, mut nabla_b) = ws.nabla.layers.layer_mut(l);
            // BP3: ∂C/∂b^l = δ^l.
            nabla_b += &delta.column(0);
            // BP4: ∂C/∂W^l = δ^l (a^{l-1})ᵀ, a rank-1 update of the sum.
            let one = F::one();
            gemm::nt(one, &delta, &a_prev.insert_axis(Axis(1)), one, &mut nabla_w);
            // BP2: δ^{l-1} = ((W^l)ᵀ δ^l) ⊙ σ'(z^{l-1}).
            if l > 1 {
                let mut delta_prev = lower[l - 2].view_mut().insert_axis(Axis(1)); // (n_{l-1} × 1)
                gemm::tn(&self.params.w(l), &delta, &mut delta_prev);
                if let Some(masks) = masks {
                    masks.apply_to_delta(l - 1, c, delta_prev.view_mut());
                }
                self.activations()[l - 2].backward(
                    ws.z[l - 2].view().insert_axis(Axis(1)),
                    ws.a[l - 2].view().insert_axis(Axis(1)),
                    delta_prev,
                );
            }
        }
    }
}
