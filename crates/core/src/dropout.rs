//! Dropout on the hidden layers (chapter 3, "Dropout"), with inverted scaling.
//!
//! While training, each hidden neuron of each example is kept with probability `1 − p` and
//! its activation scaled by `1/(1 − p)`; dropped ones output 0. The same mask multiplies the
//! backpropagated error in BP2 (`Δ^l ⊙ M^l / (1 − p)`), and σ'(z) is taken at the unmasked
//! activation. Evaluation and prediction use the network unchanged: the scaling keeps each
//! neuron's expected output what it is without dropout. This is the book's "delete half the
//! hidden neurons, then halve the outgoing weights at test time" (p = 1/2) with the halving
//! moved into training: the same expectation, and a trained network that needs no rescaling.
//!
//! Masks are counter-based: whether neuron `j` of layer `l` is kept for the `c`-th example of
//! step `t` is a pure function of `(seed, t, l, c, j)` (SplitMix64's mixer), drawn from no
//! random stream. So the masks do not depend on how a batch is split across threads or
//! processes, a resumed run draws the ones it would have drawn, and the shuffle's stream is
//! untouched (p = 0 gives the same bits as no dropout).

use ndarray::{ArrayView2, ArrayViewMut2, Zip};
use serde::{Deserialize, Serialize};

use crate::{Error, Float, Result};

/// The dropout probability `p` of the hidden layers and the seed of its masks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropout {
    p: f64,
    seed: u64,
}

impl Dropout {
    /// Dropout with probability `p` in [0, 1) (0: none), masks drawn from `seed`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(p.is_finite() && (0.0..1.0).contains(&p)) {
            return Err(Error::HyperParameter {
                name: "dropout",
                value: p,
                requirement: "must be in [0, 1)",
            });
        }
        Ok(Dropout { p, seed })
    }

    /// The probability of dropping a hidden neuron.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Whether neuron `neuron` of hidden layer `layer` is kept for the `column`-th example of
    /// training step `step`: a pure function of its arguments and the seed.
    pub fn keeps(&self, step: u64, layer: usize, column: usize, neuron: usize) -> bool {
        self.keeps_in(self.column_key(step, layer, column), neuron)
    }

    /// The part of the key shared by one example's neurons (hashed once per column).
    fn column_key(&self, step: u64, layer: usize, column: usize) -> u64 {
        let mut h = mix(self.seed ^ 0x9e37_79b9_7f4a_7c15);
        for key in [step, layer as u64, column as u64] {
            h = mix(h ^ key);
        }
        h
    }

    /// Whether `neuron` is kept, given its example's [`Dropout::column_key`].
    fn keeps_in(&self, column_key: u64, neuron: usize) -> bool {
        let h = mix(column_key ^ neuron as u64);
        // The top 53 bits as a uniform number in [0, 1).
        (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64) >= self.p
    }
}

/// SplitMix64's finaliser: a bijection of u64 whose output bits all depend on every input bit.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The masks of one training step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Masks {
    pub(crate) dropout: Dropout,
    pub(crate) step: u64,
    pub(crate) first: usize, // the batch's column of the workspace's first (a process's share)
}

impl Masks {
    /// `D = A ⊙ M^l / (1 − p)` for the columns `offset..` of hidden layer `l`; both
    /// `(n_l × cols)`.
    pub(crate) fn apply<F: Float>(&self, l: usize, offset: usize, a: ArrayView2<F>, mut d: ArrayViewMut2<F>) {
        let scale = F::from_f64(1.0 / (1.0 - self.dropout.p));
        for (c, (mut d, a)) in d.columns_mut().into_iter().zip(a.columns()).enumerate() {
            let key = self.dropout.column_key(self.step, l, self.first + offset + c);
            Zip::indexed(&mut d).and(&a).for_each(|j, d, &a| {
                *d = if self.dropout.keeps_in(key, j) {
                    a * scale
                } else {
                    F::zero()
                }
            });
        }
    }

    /// `Δ ← Δ ⊙ M^l / (1 − p)` for the columns `offset..` of hidden layer `l` (BP2).
    pub(crate) fn apply_to_delta<F: Float>(&self, l: usize, offset: usize, mut delta: ArrayViewMut2<F>) {
        let scale = F::from_f64(1.0 / (1.0 - self.dropout.p));
        for (c, mut delta) in delta.columns_mut().into_iter().enumerate() {
            let key = self.dropout.column_key(self.step, l, self.first + offset + c);
            Zip::indexed(&mut delta).for_each(|j, d| {
                *d = if self.dropout.keeps_in(key, j) {
                    *d * scale
                } else {
                    F::zero()
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_drop_about_p_and_depend_only_on_their_arguments() {
        let d = Dropout::new(0.3, 7).unwrap();
        let n = 100_000;
        let kept = (0..n).filter(|&c| d.keeps(5, 1, c, 3)).count();
        assert!((kept as f64 / n as f64 - 0.7).abs() < 0.01, "{kept}");
        assert_eq!(d.keeps(5, 1, 42, 3), d.keeps(5, 1, 42, 3));
        let differs = |f: &dyn Fn(usize) -> bool, g: &dyn Fn(usize) -> bool| (0..1000).any(|c| f(c) != g(c));
        assert!(
            differs(&|c| d.keeps(5, 1, c, 3), &|c| d.keeps(6, 1, c, 3)),
            "another step"
        );
        assert!(
            differs(&|c| d.keeps(5, 1, c, 3), &|c| d.keeps(5, 2, c, 3)),
            "another layer"
        );
        let other = Dropout::new(0.3, 8).unwrap();
        assert!(
            differs(&|c| d.keeps(5, 1, c, 3), &|c| other.keeps(5, 1, c, 3)),
            "another seed"
        );
        assert!((0..1000).all(|c| Dropout::new(0.0, 1).unwrap().keeps(0, 1, c, 0)));
        for p in [-0.1, 1.0, f64::NAN] {
            assert!(Dropout::new(p, 0).is_err());
        }
    }
}
