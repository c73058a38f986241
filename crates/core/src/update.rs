//! The update rule: how the gradient of a mini-batch moves the parameters.
//!
//! Plain stochastic gradient descent with network2.py's L2 regularisation. It is applied in
//! one of two ways: fused into the BP4 product by [`Network::sgd_step`] (no gradient is
//! stored), or to gradients already computed ([`Sgd::apply`], after [`Network::backprop`]),
//! which is what a caller that combines gradients from several sources needs.

use crate::{Error, Float, Gradients, Network, Result};

/// The hyper-parameters of a stochastic gradient descent step.
///
/// `W ← (1 − ηλ/n) W − (η/m) ∇W`, `b ← b − (η/m) ∇b`, with `∇W, ∇b` summed over the `m`
/// examples of the mini-batch, and `n` the size of the training set (network2.py's L2
/// regularisation, eq. 93 of chapter 3; `λ = 0` is network.py's plain SGD).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    eta: f64,
    lambda: f64,
    n: usize,
}

impl Sgd {
    /// Plain SGD with learning rate `η` (finite, > 0).
    pub fn new(eta: f64) -> Result<Self> {
        if !(eta.is_finite() && eta > 0.0) {
            return Err(Error::HyperParameter {
                name: "eta",
                value: eta,
                requirement: "must be finite and positive",
            });
        }
        Ok(Sgd { eta, lambda: 0.0, n: 1 })
    }

    /// Adds L2 regularisation `λ` (finite, ≥ 0) for a training set of `n` examples.
    pub fn with_l2(self, lambda: f64, n: usize) -> Result<Self> {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::HyperParameter {
                name: "lambda",
                value: lambda,
                requirement: "must be finite and non-negative",
            });
        }
        if n == 0 {
            return Err(Error::HyperParameter {
                name: "n",
                value: 0.0,
                requirement: "(the training set size) must be at least 1",
            });
        }
        Ok(Sgd { lambda, n, ..self })
    }

    /// The learning rate η.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// The L2 regularisation λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// `β = 1 − ηλ/n`, the factor the L2 term (weight decay) puts on `W` each step.
    fn decay<F: Float>(&self) -> F {
        F::from_f64(1.0 - self.eta * self.lambda / self.n as f64)
    }

    /// `(α, β) = (−η/m, 1 − ηλ/n)` of the update `W ← β W + α Σ_x ∇W_x` for a batch of `m`.
    pub(crate) fn coefficients<F: Float>(&self, m: usize) -> (F, F) {
        (F::from_f64(-self.eta / m as f64), self.decay())
    }

    /// The update with gradients of the batch's *mean* cost, as [`Network::backprop`] gives
    /// them: `W ← (1 − ηλ/n) W − η ∂C/∂W`, `b ← b − η ∂C/∂b`, one pass over each array.
    ///
    /// # Panics
    /// If `grads` is not shaped like the network's parameters (make it with
    /// [`Network::zero_gradients`]).
    pub fn apply<F: Float>(&self, net: &mut Network<F>, grads: &Gradients<F>) {
        net.check_gradients(grads);
        let (minus_eta, beta) = (F::from_f64(-self.eta), self.decay::<F>());
        for l in 1..net.num_layers() {
            let (mut w, mut b) = net.params.layer_mut(l);
            w.zip_mut_with(&grads.layers.w(l), |w, &g| *w = beta * *w + minus_eta * g);
            b.scaled_add(minus_eta, &grads.layers.b(l));
        }
    }
}
