//! Random networks and batches shared by the integration tests.
#![allow(dead_code)]

use batchprop::{Activation, Cost, Float, Init, Network};
use ndarray::{Array2, ShapeBuilder};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `X: (n_0 × m)` with entries uniform in [-1, 1), column-major (one example after the other,
/// the layout the engine's kernels read in place).
pub fn inputs<F: Float>(n: usize, m: usize, rng: &mut ChaCha8Rng) -> Array2<F> {
    Array2::from_shape_simple_fn((n, m).f(), || F::from_f64(rng.random_range(-1.0..1.0)))
}

/// Targets `Y: (n_L × m)` the cost is defined for: one-hot columns for the log-likelihood,
/// values in [0, 1] otherwise.
pub fn targets<F: Float>(cost: Cost, n: usize, m: usize, rng: &mut ChaCha8Rng) -> Array2<F> {
    match cost {
        Cost::LogLikelihood => {
            let mut y = Array2::zeros((n, m));
            for j in 0..m {
                y[[rng.random_range(0..n), j]] = F::one();
            }
            y
        }
        _ => Array2::from_shape_simple_fn((n, m), || F::from_f64(rng.random_range(0.0..1.0))),
    }
}

/// A random network with the given activations and cost, scaled init.
pub fn network<F: Float>(
    sizes: &[usize],
    hidden: Activation<F>,
    output: Activation<F>,
    cost: Cost,
    rng: &mut ChaCha8Rng,
) -> Network<F> {
    Network::builder(sizes)
        .hidden(hidden)
        .output(output)
        .cost(cost)
        .init(Init::Scaled)
        .build(rng)
        .unwrap()
}

/// `max |a − b| / max |b|`: the error relative to the largest entry of `b`.
pub fn rel_err<F: Float, D: ndarray::Dimension>(a: &ndarray::ArrayRef<F, D>, b: &ndarray::ArrayRef<F, D>) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x.as_f64() - y.as_f64()).abs()));
    if diff == 0.0 { 0.0 } else { diff / scale }
}

/// The swish function z·σ(z), a user-defined activation.
#[derive(Debug)]
pub struct Swish;

impl<F: Float> batchprop::Elementwise<F> for Swish {
    fn name(&self) -> &str {
        "swish"
    }
    fn sigma(&self, z: F) -> F {
        z * batchprop::sigmoid(z)
    }
    fn sigma_prime(&self, z: F, a: F) -> F {
        a + batchprop::sigmoid(z) * (F::one() - a)
    }
}
