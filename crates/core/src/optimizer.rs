//! The update rules of chapter 3 and the ones every user expects: SGD with L1/L2
//! regularisation, momentum, Nesterov momentum, Adam and AdamW, as one stateful type.
//!
//! Conventions (PyTorch's, so that a result can be compared with it), for a mini-batch whose
//! mean-cost gradient is `g`:
//!
//! | rule | update of a weight `w` |
//! |---|---|
//! | SGD | `w ← (1 − ηλ/n) w − η (g + (λ₁/n) sgn w)` (network2.py's L2, eq. 93; L1, eq. 95–97) |
//! | momentum μ | `u = g + (λ/n) w + (λ₁/n) sgn w`, `b ← μ b + u`, `w ← w − η b` |
//! | Nesterov μ | as momentum, then `w ← w − η (u + μ b)` |
//! | Adam β₁ β₂ ε | `u = g + λ w + (λ₁/n) sgn w`; `m ← β₁ m + (1 − β₁) u`, `v ← β₂ v + (1 − β₂) u²`, `w ← w − (η / (1 − β₁^t)) m / (√v / √(1 − β₂^t) + ε)` |
//! | AdamW | `w ← (1 − ηλ) w` first, then Adam with `u = g + (λ₁/n) sgn w` |
//!
//! Biases are never regularised (the book's choice; PyTorch decays them unless told not to).
//! The book's λ means `λ/n` per step for the SGD family; for Adam and AdamW it is PyTorch's
//! `weight_decay`, per step. The momentum buffer `b` starts at 0, so `b = g` after the first
//! step, as PyTorch has it; this equals the book's eq. 107–108 (`v → μv − η∇C`, `w → w + v`,
//! with `v = −ηb`) while η is constant, and when a schedule changes η the buffer is kept.
//!
//! Plain SGD without L1 takes the engine's fused path ([`Network::sgd_step`]) with its bits;
//! momentum fuses the velocity update into the BP4 product (`B ← μB + (1/m) Δ Aᵀ`); the other
//! rules backpropagate into a gradient buffer, then update in one pass over each array.

use ndarray::{ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip};
use serde::{Deserialize, Serialize};

use crate::{
    Dropout, Error, Float, Gradients, Network, PerExampleWorkspace, Result, Sgd, Workspace, dropout::Masks,
    layers::Layers,
};

/// An update rule and its own hyper-parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Rule {
    /// Plain stochastic gradient descent.
    #[default]
    Sgd,
    /// Momentum-based gradient descent (chapter 3, eq. 107–108), with momentum `μ` in [0, 1).
    Momentum { mu: f64 },
    /// Nesterov momentum, as PyTorch's `SGD(nesterov=True)`.
    Nesterov { mu: f64 },
    /// Adam (Kingma & Ba), as `torch.optim.Adam`.
    Adam { beta1: f64, beta2: f64, epsilon: f64 },
    /// Adam with decoupled weight decay (Loshchilov & Hutter), as `torch.optim.AdamW`.
    AdamW { beta1: f64, beta2: f64, epsilon: f64 },
}

impl Rule {
    /// Adam with PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8.
    pub fn adam() -> Self {
        Rule::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }

    /// AdamW with PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8.
    pub fn adam_w() -> Self {
        Rule::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }

    /// `sgd`, `momentum`, `nesterov`, `adam` or `adamw`.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Sgd => "sgd",
            Rule::Momentum { .. } => "momentum",
            Rule::Nesterov { .. } => "nesterov",
            Rule::Adam { .. } => "adam",
            Rule::AdamW { .. } => "adamw",
        }
    }

    /// Checks the rule's own hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, requirement| {
            Err(Error::HyperParameter {
                name,
                value,
                requirement,
            })
        };
        let unit = |x: f64| x.is_finite() && (0.0..1.0).contains(&x);
        match *self {
            Rule::Sgd => Ok(()),
            Rule::Momentum { mu } | Rule::Nesterov { mu } if !unit(mu) => bad("mu", mu, "must be in [0, 1)"),
            Rule::Momentum { .. } | Rule::Nesterov { .. } => Ok(()),
            Rule::Adam { beta1, beta2, epsilon } | Rule::AdamW { beta1, beta2, epsilon } => {
                if !unit(beta1) {
                    bad("beta1", beta1, "must be in [0, 1)")
                } else if !unit(beta2) {
                    bad("beta2", beta2, "must be in [0, 1)")
                } else if !(epsilon.is_finite() && epsilon > 0.0) {
                    bad("epsilon", epsilon, "must be finite and positive")
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Momentum with μ = 0 is plain SGD, and takes its path.
    fn effective(self) -> Rule {
        match self {
            Rule::Momentum { mu } | Rule::Nesterov { mu } if mu == 0.0 => Rule::Sgd,
            other => other,
        }
    }
}

/// A rule's state (momentum buffer, Adam's moments and step count) as plain numbers, for a
/// checkpoint; laid out as [`Network::parameters`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState<F> {
    /// Steps taken.
    pub t: u64,
    /// The momentum buffer, or Adam's first moment.
    pub first: Option<Vec<F>>,
    /// Adam's second moment.
    pub second: Option<Vec<F>>,
}

/// An update rule with its hyper-parameters and its state, for one network.
#[derive(Clone, Debug)]
pub struct Optimizer<F: Float> {
    sizes: Vec<usize>, // [n_0, …, n_L] of the network it was made for
    rule: Rule,
    eta: f64,
    lambda: f64,                 // L2: λ/n per step (SGD family), λ (Adam), ηλ decoupled (AdamW)
    l1: f64,                     // L1: (λ₁/n) sgn w in the gradient
    n: usize,                    // the training set's size
    t: u64,                      // steps taken
    first: Option<Layers<F>>,    // momentum buffer b, or Adam's m; shaped as the parameters
    second: Option<Layers<F>>,   // Adam's v
    grads: Option<Gradients<F>>, // the unfused path's gradient buffer
    dropout: Option<Dropout>,    // dropout on the hidden layers, if p > 0
}

/// How a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// Plain SGD fused into BP4: today's bits.
    FusedSgd,
    /// Momentum fused into BP4: `B ← μB + (1/m) Δ Aᵀ`, then the element-wise update.
    FusedMomentum,
    /// Backpropagate into the gradient buffer, then update.
    Unfused,
}

impl<F: Float> Optimizer<F> {
    /// `rule` with learning rate `η` (finite, > 0), its state allocated for `net`.
    pub fn new(net: &Network<F>, rule: Rule, eta: f64) -> Result<Self> {
        Sgd::new(eta)?;
        rule.validate()?;
        let rule = rule.effective();
        let state = || net.params.zeros_like();
        let (first, second) = match rule {
            Rule::Sgd => (None, None),
            Rule::Momentum { .. } | Rule::Nesterov { .. } => (Some(state()?), None),
            Rule::Adam { .. } | Rule::AdamW { .. } => (Some(state()?), Some(state()?)),
        };
        let mut opt = Optimizer {
            sizes: net.sizes().to_vec(),
            rule,
            eta,
            lambda: 0.0,
            l1: 0.0,
            n: 1,
            t: 0,
            first,
            second,
            grads: None,
            dropout: None,
        };
        if opt.path() == Path::Unfused {
            opt.grads = Some(net.zero_gradients());
        }
        Ok(opt)
    }

    /// Adds L2 regularisation `λ` (finite, ≥ 0) for a training set of `n` examples (see the
    /// module's table for what λ means under each rule).
    pub fn with_l2(mut self, lambda: f64, n: usize) -> Result<Self> {
        Sgd::new(self.eta)?.with_l2(lambda, n)?;
        self.lambda = lambda;
        self.n = n;
        Ok(self)
    }

    /// Adds L1 regularisation `λ₁` (finite, ≥ 0) for a training set of `n` examples: the
    /// book's eq. 95–97, `(λ₁/n) sgn w` added to each weight's gradient.
    pub fn with_l1(mut self, l1: f64, n: usize, net: &Network<F>) -> Result<Self> {
        if !(l1.is_finite() && l1 >= 0.0) {
            return Err(Error::HyperParameter {
                name: "l1",
                value: l1,
                requirement: "must be finite and non-negative",
            });
        }
        Sgd::new(self.eta)?.with_l2(self.lambda, n)?;
        self.l1 = l1;
        self.n = n;
        if self.path() == Path::Unfused && self.grads.is_none() {
            self.grads = Some(net.zero_gradients());
        }
        Ok(self)
    }

    /// The layer sizes of the network it was made for.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Adds dropout on the hidden layers (chapter 3; see [`Dropout`]): each step's masks are
    /// drawn from `dropout`'s seed and the step count. `p = 0` is no dropout, with its bits.
    pub fn with_dropout(mut self, dropout: Dropout) -> Self {
        self.dropout = (dropout.p() > 0.0).then_some(dropout);
        self
    }

    /// This step's dropout masks, if dropout is on.
    fn masks(&self) -> Option<Masks> {
        self.dropout.map(|dropout| Masks {
            dropout,
            step: self.t,
            first: 0,
        })
    }

    /// The rule (momentum 0 reads as plain SGD).
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The learning rate η.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// Sets η (a schedule's); the rule's state is kept.
    pub fn set_eta(&mut self, eta: f64) -> Result<()> {
        Sgd::new(eta)?;
        self.eta = eta;
        Ok(())
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    fn path(&self) -> Path {
        match self.rule {
            Rule::Sgd if self.l1 == 0.0 => Path::FusedSgd,
            Rule::Momentum { .. } => Path::FusedMomentum,
            _ => Path::Unfused,
        }
    }

    /// Plain SGD's coefficients, for the fused path.
    fn sgd(&self) -> Sgd {
        Sgd::new(self.eta)
            .and_then(|s| s.with_l2(self.lambda, self.n))
            .expect("checked when set")
    }

    /// The state, to save in a checkpoint.
    pub fn state(&self) -> OptimizerState<F> {
        OptimizerState {
            t: self.t,
            first: self.first.as_ref().map(|l| l.as_slice().to_vec()),
            second: self.second.as_ref().map(|l| l.as_slice().to_vec()),
        }
    }

    /// Restores a state saved by [`Optimizer::state`] for the same rule and network.
    pub fn set_state(&mut self, state: &OptimizerState<F>) -> Result<()> {
        let fits = |mine: &Option<Layers<F>>, saved: &Option<Vec<F>>| match (mine, saved) {
            (None, None) => true,
            (Some(l), Some(v)) => l.as_slice().len() == v.len(),
            _ => false,
        };
        if !fits(&self.first, &state.first) || !fits(&self.second, &state.second) {
            return Err(Error::HyperParameter {
                name: "optimizer state",
                value: f64::NAN,
                requirement: "does not fit this rule and network (saved for another?)",
            });
        }
        for (mine, saved) in [(&mut self.first, &state.first), (&mut self.second, &state.second)] {
            if let (Some(l), Some(v)) = (mine, saved) {
                l.as_mut_slice().copy_from_slice(v);
            }
        }
        self.t = state.t;
        Ok(())
    }

    /// The update with gradients of the batch's *mean* cost (from [`Network::backprop`] or
    /// [`Network::backprop_per_example`]), by the rule's formula, one pass over each array.
    ///
    /// # Panics
    /// If `grads` or the state are not shaped like `net`'s parameters.
    pub fn apply(&mut self, net: &mut Network<F>, grads: &Gradients<F>) {
        net.check_gradients(grads);
        self.t += 1;
        let eta = self.eta;
        let (l2_sgd, l1) = (self.lambda / self.n as f64, F::from_f64(self.l1 / self.n as f64));
        for l in 1..net.num_layers() {
            let (mut w, mut b) = net.params.layer_mut(l);
            let (gw, gb) = (grads.layers.w(l), grads.layers.b(l));
            match self.rule {
                Rule::Sgd => {
                    let (beta, minus_eta) = (F::from_f64(1.0 - eta * l2_sgd), F::from_f64(-eta));
                    let (ws, gs) = (contiguous(w.view_mut()), gw.to_slice().expect(CONTIGUOUS));
                    crate::Isa::current().run(|| {
                        for (w, &g) in ws.iter_mut().zip(gs) {
                            *w = beta * *w + minus_eta * (g + l1 * sgn(*w));
                        }
                    });
                    b.scaled_add(minus_eta, &gb);
                }
                Rule::Momentum { mu } | Rule::Nesterov { mu } => {
                    let nesterov = matches!(self.rule, Rule::Nesterov { .. });
                    let (mu, eta, l2) = (F::from_f64(mu), F::from_f64(eta), F::from_f64(l2_sgd));
                    let (mut bw, mut bb) = self.first.as_mut().expect("a momentum buffer").layer_mut(l);
                    let step = |w: &mut F, buf: &mut F, u: F| {
                        *buf = mu * *buf + u;
                        *w -= eta * if nesterov { u + mu * *buf } else { *buf };
                    };
                    let (ws, gs, bufs) = (
                        contiguous(w.view_mut()),
                        gw.to_slice().expect(CONTIGUOUS),
                        contiguous(bw.view_mut()),
                    );
                    crate::Isa::current().run(|| {
                        for ((w, &g), buf) in ws.iter_mut().zip(gs).zip(bufs) {
                            step(w, buf, g + l2 * *w + l1 * sgn(*w));
                        }
                    });
                    Zip::from(&mut b)
                        .and(&gb)
                        .and(&mut bb)
                        .for_each(|b, &g, buf| step(b, buf, g));
                }
                Rule::Adam { beta1, beta2, epsilon } | Rule::AdamW { beta1, beta2, epsilon } => {
                    let decoupled = matches!(self.rule, Rule::AdamW { .. });
                    let t = self.t as i32;
                    let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                    let step_size = F::from_f64(eta / bc1);
                    // √v̂ = √v / √(1 − β₂^t), as a product: one division per element, not two.
                    let inv_sqrt_bc2 = F::from_f64(1.0 / bc2.sqrt());
                    let (b1, b2, eps) = (F::from_f64(beta1), F::from_f64(beta2), F::from_f64(epsilon));
                    let (one_b1, one_b2) = (F::from_f64(1.0 - beta1), F::from_f64(1.0 - beta2));
                    let (decay, l2) = if decoupled {
                        (F::from_f64(1.0 - eta * self.lambda), F::zero())
                    } else {
                        (F::one(), F::from_f64(self.lambda))
                    };
                    let step = AdamStep {
                        b1,
                        b2,
                        one_b1,
                        one_b2,
                        step_size,
                        inv_sqrt_bc2,
                        eps,
                        decay,
                        l2,
                        l1,
                    };
                    let (mut mw, mut mb) = self.first.as_mut().expect("Adam's m").layer_mut(l);
                    let (mut vw, mut vb) = self.second.as_mut().expect("Adam's v").layer_mut(l);
                    let (ws, gs) = (contiguous(w.view_mut()), gw.to_slice().expect(CONTIGUOUS));
                    step.weights(ws, gs, contiguous(mw.view_mut()), contiguous(vw.view_mut()));
                    Zip::from(&mut b)
                        .and(&gb)
                        .and(&mut mb)
                        .and(&mut vb)
                        .for_each(|b, &g, m, v| step.adam(b, m, v, g));
                }
            }
        }
    }

    /// The fused momentum step's coefficients and buffer.
    pub(crate) fn momentum_parts(&mut self) -> (MomentumStep<F>, &mut Layers<F>) {
        let mu = match self.rule {
            Rule::Momentum { mu } | Rule::Nesterov { mu } => mu,
            _ => 0.0,
        };
        let step = MomentumStep {
            mu: F::from_f64(mu),
            eta: F::from_f64(self.eta),
            l2: F::from_f64(self.lambda / self.n as f64),
            l1: F::from_f64(self.l1 / self.n as f64),
        };
        (step, self.first.as_mut().expect("a momentum buffer"))
    }
}

/// Adam's coefficients for one step (see [`Optimizer::apply`]).
#[derive(Clone, Copy)]
struct AdamStep<F> {
    b1: F,
    b2: F,
    one_b1: F,       // 1 − β₁
    one_b2: F,       // 1 − β₂
    step_size: F,    // η / (1 − β₁^t)
    inv_sqrt_bc2: F, // 1 / √(1 − β₂^t)
    eps: F,
    decay: F, // 1 − ηλ (AdamW), else 1
    l2: F,    // λ (Adam), else 0
    l1: F,    // λ₁/n
}

impl<F: Float> AdamStep<F> {
    /// `m ← β₁ m + (1 − β₁) u`, `v ← β₂ v + (1 − β₂) u²`, `w ← w − η̂ m / (√v̂ + ε)`.
    #[inline(always)]
    fn adam(&self, w: &mut F, m: &mut F, v: &mut F, u: F) {
        *m = self.b1 * *m + self.one_b1 * u;
        *v = self.b2 * *v + self.one_b2 * u * u;
        *w -= self.step_size * *m / (v.sqrt() * self.inv_sqrt_bc2 + self.eps);
    }

    /// The weights' update, `u = g + λ w + (λ₁/n) sgn w` with AdamW's decay first, in the
    /// widest vectors this CPU has ([`Isa::current`]): the crate is built for baseline x86-64,
    /// whose four-lane square roots and divisions made this pass cost as much as the step's
    /// products at mini-batches of 10. Each element's arithmetic is the same (no fused
    /// multiply–adds), so every instruction set gives the same bits.
    fn weights(&self, w: &mut [F], g: &[F], m: &mut [F], v: &mut [F]) {
        crate::Isa::current().run(|| self.weights_loop(w, g, m, v))
    }

    #[inline(always)]
    fn weights_loop(&self, w: &mut [F], g: &[F], m: &mut [F], v: &mut [F]) {
        for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
            let u = g + self.l2 * *w + self.l1 * sgn(*w);
            *w *= self.decay;
            self.adam(w, m, v, u);
        }
    }
}

/// Why a parameter-shaped view is one slice: every parameter, gradient and state array is a
/// view into one aligned buffer, layer after layer.
const CONTIGUOUS: &str = "the aligned buffers are contiguous";

/// A parameter-shaped view as the slice it is.
fn contiguous<F>(a: ArrayViewMut2<'_, F>) -> &mut [F] {
    a.into_slice().expect(CONTIGUOUS)
}

/// `sgn w`, 0 at 0.
#[inline(always)]
fn sgn<F: Float>(w: F) -> F {
    if w > F::zero() {
        F::one()
    } else if w < F::zero() {
        -F::one()
    } else {
        F::zero()
    }
}

/// The coefficients of a momentum step fused into BP4.
#[derive(Clone, Copy)]
pub(crate) struct MomentumStep<F> {
    pub(crate) mu: F,
    eta: F,
    l2: F, // λ/n
    l1: F, // λ₁/n
}

impl<F: Float> MomentumStep<F> {
    /// Layer `l`'s update once BP4 has written `B ← μB + (1/m) Δ Aᵀ` (and `B_b ← μB_b + (1/m) Δ 1`)
    /// into the buffer: `B += (λ/n) W + (λ₁/n) sgn W`, `W ← W − η B`, `b ← b − η B_b`.
    pub(crate) fn finish(&self, w: ArrayViewMut2<F>, b: ArrayViewMut1<F>, bw: ArrayViewMut2<F>, bb: ArrayViewMut1<F>) {
        let MomentumStep { eta, l2, l1, .. } = *self;
        let (ws, bufs) = (contiguous(w), contiguous(bw));
        crate::Isa::current().run(|| {
            for (w, buf) in ws.iter_mut().zip(bufs) {
                *buf += l2 * *w + l1 * sgn(*w);
                *w -= eta * *buf;
            }
        });
        Zip::from(b).and(&bb).for_each(|b, &buf| *b -= eta * buf);
    }
}

impl<F: Float> Network<F> {
    /// One training step on `X: (n_0 × m)`, `Y: (n_L × m)` by `opt`'s rule: plain SGD fused
    /// into BP4 ([`Network::sgd_step`], the same bits), momentum fused into BP4, the other
    /// rules through [`Network::backprop`] and [`Optimizer::apply`]. As with
    /// [`Network::sgd_step`], the values of `X` and `Y` are not checked.
    pub fn step(
        &mut self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        opt: &mut Optimizer<F>,
        ws: &mut Workspace<F>,
    ) -> Result<()> {
        ws.masks = opt.masks();
        let result = self.step_masked(x, y, opt, ws);
        ws.masks = None;
        result
    }

    /// [`Network::step`] with `ws.masks` set for the step.
    fn step_masked(
        &mut self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        opt: &mut Optimizer<F>,
        ws: &mut Workspace<F>,
    ) -> Result<()> {
        match opt.path() {
            Path::FusedSgd => {
                self.sgd_step(x, y, &opt.sgd(), ws)?;
                opt.t += 1;
                Ok(())
            }
            Path::FusedMomentum => {
                let (step, buffer) = opt.momentum_parts();
                self.momentum_step(x, y, step, buffer, ws)?;
                opt.t += 1;
                Ok(())
            }
            Path::Unfused => {
                let mut grads = opt.grads.take().expect("allocated for the unfused rules");
                let result = self.backprop(x, y, ws, &mut grads);
                if result.is_ok() {
                    opt.apply(self, &grads);
                }
                opt.grads = Some(grads);
                result
            }
        }
    }

    /// [`Network::step`] with the book's per-example loop as the gradient (the oracle): plain
    /// SGD as [`Network::sgd_step_per_example`], every other rule through
    /// [`Network::backprop_per_example`] and [`Optimizer::apply`].
    pub fn step_per_example(
        &mut self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        opt: &mut Optimizer<F>,
        ws: &mut PerExampleWorkspace<F>,
    ) -> Result<()> {
        ws.masks = opt.masks();
        let result = self.step_per_example_masked(x, y, opt, ws);
        ws.masks = None;
        result
    }

    fn step_per_example_masked(
        &mut self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        opt: &mut Optimizer<F>,
        ws: &mut PerExampleWorkspace<F>,
    ) -> Result<()> {
        if opt.path() == Path::FusedSgd {
            self.sgd_step_per_example(x, y, &opt.sgd(), ws)?;
            opt.t += 1;
            return Ok(());
        }
        let mut grads = match opt.grads.take() {
            Some(g) => g,
            None => self.zero_gradients(),
        };
        let result = self.backprop_per_example(x, y, ws, &mut grads);
        if result.is_ok() {
            opt.apply(self, &grads);
        }
        opt.grads = Some(grads);
        result
    }
}

/// The columns of a mini-batch that one process computes in data-parallel training:
/// `first..first + m_r` of a batch of `of` examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// The batch's column of the share's first example.
    pub first: usize,
    /// The whole batch's size, `m`.
    pub of: usize,
}

impl Share {
    /// Process `rank`'s share of a batch of `m` among `processes`: columns
    /// `⌊rank m / P⌋..⌊(rank + 1) m / P⌋` (sizes differ by at most one; a share may be empty
    /// when `m < P`).
    pub fn of_batch(m: usize, rank: usize, processes: usize) -> std::ops::Range<usize> {
        assert!(rank < processes, "rank {rank} of {processes} processes");
        (rank * m / processes)..((rank + 1) * m / processes)
    }
}

impl<F: Float> Network<F> {
    /// One step of synchronous data-parallel training, this process's share of a mini-batch:
    /// `x: (n_0 × m_r)` and `y: (n_L × m_r)` are the batch's columns
    /// `share.first..share.first + m_r`. The share's part of the batch's mean-cost gradient,
    /// `(1/m) Σ` over its columns (BP1–BP4, with each example's dropout mask keyed by its
    /// column of the whole batch, as on one process), is written into the gradient buffer,
    /// which `reduce` must replace by the sum of every process's (an all-reduce); then `opt`'s
    /// rule applies it. Given the same parameters, every process ends the step with the same
    /// ones; the sum's order differs from one process's, so the bits may too.
    ///
    /// An empty share (`m_r = 0`, when `m` is smaller than the number of processes)
    /// contributes zeros.
    #[allow(clippy::too_many_arguments)]
    pub fn step_share(
        &mut self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        share: Share,
        opt: &mut Optimizer<F>,
        ws: &mut Workspace<F>,
        reduce: impl FnOnce(&mut [F]),
    ) -> Result<()> {
        let m_r = x.ncols();
        if share.first + m_r > share.of {
            return Err(Error::BatchTooLarge {
                m: share.first + m_r,
                capacity: share.of,
            });
        }
        let mut grads = match opt.grads.take() {
            Some(g) => g,
            None => self.zero_gradients(),
        };
        ws.masks = opt.masks().map(|masks| Masks {
            first: share.first,
            ..masks
        });
        let result = if m_r == 0 {
            grads.as_mut_slice().fill(F::zero());
            Ok(())
        } else {
            self.backprop_scaled(x, y, ws, &mut grads, F::one() / F::from_usize(share.of))
        };
        ws.masks = None;
        if result.is_ok() {
            reduce(grads.as_mut_slice());
            opt.apply(self, &grads);
        }
        opt.grads = Some(grads);
        result
    }
}

impl<F: Float> Network<F> {
    /// [`Network::backprop`] with the dropout masks of training step `step` held fixed: the
    /// gradient of the cost of the thinned network that step trains (for checking it against
    /// finite differences of [`Network::batch_cost_with_dropout`]).
    pub fn backprop_with_dropout(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        (dropout, step): (&Dropout, u64),
        ws: &mut Workspace<F>,
        grads: &mut Gradients<F>,
    ) -> Result<()> {
        ws.masks = Some(Masks {
            dropout: *dropout,
            step,
            first: 0,
        });
        let result = self.backprop(x, y, ws, grads);
        ws.masks = None;
        result
    }

    /// [`Network::batch_cost`] of the network thinned by the dropout masks of step `step`.
    pub fn batch_cost_with_dropout(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        (dropout, step): (&Dropout, u64),
        ws: &mut Workspace<F>,
    ) -> Result<F> {
        ws.masks = Some(Masks {
            dropout: *dropout,
            step,
            first: 0,
        });
        let result = self.batch_cost(x, y, ws);
        ws.masks = None;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam's weight pass in this CPU's widest vectors gives the bits of the plain loop.
    fn vectors_equal_the_loop<F: Float>() {
        let n = 1003; // not a multiple of any vector width
        let value = |k: usize, scale: f64| F::from_f64(((k * 7919 % 1000) as f64 / 500.0 - 1.0) * scale);
        let g: Vec<F> = (0..n).map(|k| value(k, 0.3)).collect();
        // Some weights exactly 0 (sgn 0), some moments 0.
        let w0: Vec<F> = (0..n)
            .map(|k| if k % 11 == 0 { F::zero() } else { value(k + 5, 1.0) })
            .collect();
        let m0: Vec<F> = (0..n).map(|k| value(k + 9, 0.01)).collect();
        let v0: Vec<F> = (0..n)
            .map(|k| {
                if k % 5 == 0 {
                    F::zero()
                } else {
                    value(k + 3, 0.01).abs()
                }
            })
            .collect();
        let f = F::from_f64;
        let step = AdamStep {
            b1: f(0.9),
            b2: f(0.999),
            one_b1: f(0.1),
            one_b2: f(0.001),
            step_size: f(0.001 / (1.0 - 0.9f64.powi(3))),
            inv_sqrt_bc2: f(1.0 / (1.0 - 0.999f64.powi(3)).sqrt()),
            eps: f(1e-8),
            decay: f(1.0 - 1e-4),
            l2: f(1e-3),
            l1: f(1e-4),
        };
        let (mut w1, mut m1, mut v1) = (w0.clone(), m0.clone(), v0.clone());
        let (mut w2, mut m2, mut v2) = (w0, m0, v0);
        step.weights(&mut w1, &g, &mut m1, &mut v1);
        step.weights_loop(&mut w2, &g, &mut m2, &mut v2);
        let bits = |x: &[F]| x.iter().map(|v| v.as_f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&w1), bits(&w2), "{}", crate::Isa::current().name());
        assert_eq!(bits(&m1), bits(&m2));
        assert_eq!(bits(&v1), bits(&v2));
    }

    /// SGD's, momentum's and Nesterov's weight passes (with L1 and L2), in this CPU's vectors
    /// or those `BATCHPROP_ISA` names (CI runs the library's tests on each), give the bits of
    /// each rule's formula worked one element at a time: two steps, so that the momentum
    /// buffer is not 0; weights exactly 0 among them (sgn 0); sizes no vector width divides.
    #[test]
    fn the_sgd_and_momentum_passes_give_their_formula_s_bits() {
        use rand::SeedableRng;
        let (eta, lambda, l1, n, mu) = (0.3, 2.0, 0.5, 40, 0.9);
        for rule in [Rule::Sgd, Rule::Momentum { mu }, Rule::Nesterov { mu }] {
            let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(3);
            let mut net = Network::<f32>::builder(&[37, 19, 3]).build(&mut rng).unwrap();
            let mut grads = net.zero_gradients();
            for l in 1..net.num_layers() {
                let (mut w, _) = net.params.layer_mut(l);
                w.iter_mut().step_by(7).for_each(|w| *w = 0.0);
                let (mut g, mut gb) = grads.layers.layer_mut(l);
                g.iter_mut()
                    .enumerate()
                    .for_each(|(k, g)| *g = ((k * 37 % 101) as f32 - 50.0) / 70.0);
                gb.fill(0.25);
            }
            let mut opt = Optimizer::new(&net, rule, eta).unwrap().with_l2(lambda, n).unwrap();
            opt = opt.with_l1(l1, n, &net).unwrap();
            let mut expected: Vec<Vec<f32>> = (1..net.num_layers())
                .map(|l| net.params.w(l).iter().copied().collect())
                .collect();
            let mut buffers: Vec<Vec<f32>> = expected.iter().map(|w| vec![0.0; w.len()]).collect();
            let (l2c, l1c) = (lambda / n as f64, (l1 / n as f64) as f32);
            for _ in 0..2 {
                opt.apply(&mut net, &grads);
                for (l, (w, b)) in expected.iter_mut().zip(&mut buffers).enumerate() {
                    for ((w, b), &g) in w.iter_mut().zip(b).zip(grads.layers.w(l + 1)) {
                        match rule {
                            Rule::Sgd => {
                                let (beta, minus_eta) = ((1.0 - eta * l2c) as f32, -eta as f32);
                                *w = beta * *w + minus_eta * (g + l1c * sgn(*w));
                            }
                            _ => {
                                let u = g + l2c as f32 * *w + l1c * sgn(*w);
                                *b = mu as f32 * *b + u;
                                let by = if matches!(rule, Rule::Nesterov { .. }) {
                                    u + mu as f32 * *b
                                } else {
                                    *b
                                };
                                *w -= eta as f32 * by;
                            }
                        }
                    }
                }
            }
            for (l, w) in expected.iter().enumerate() {
                let found: Vec<u32> = net.params.w(l + 1).iter().map(|w| w.to_bits()).collect();
                let want: Vec<u32> = w.iter().map(|w| w.to_bits()).collect();
                assert_eq!(
                    found,
                    want,
                    "{} on {}, layer {}",
                    rule.name(),
                    crate::Isa::current().name(),
                    l + 1
                );
            }
        }
    }

    #[test]
    fn adam_in_vectors_gives_the_loop_s_bits() {
        vectors_equal_the_loop::<f32>();
        vectors_equal_the_loop::<f64>();
    }
}
