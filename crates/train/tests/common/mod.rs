//! Data and networks shared by the trainer's tests.
#![allow(dead_code)]

use batchprop::{Activation, Cost, Init, Network};
use batchprop_train::Trainer;
use ndarray::Array2;
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

/// Points uniform in [-1, 1]², labelled 1 inside the circle of radius 0.7 and 0 outside: not
/// linearly separable, so the hidden layer has to learn something. Returns `X: (2 × n)` and
/// the labels.
pub fn circles(n: usize, seed: u64) -> (Array2<f64>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_simple_fn((2, n), || rng.random_range(-1.0..1.0));
    let labels = x
        .columns()
        .into_iter()
        .map(|p| u32::from(p[0] * p[0] + p[1] * p[1] < 0.49))
        .collect();
    (x, labels)
}

/// `[2, hidden, 2]` (sigmoid, softmax, log-likelihood, scaled init) drawn from the trainer's
/// generator, as the examples do.
pub fn circle_network(trainer: &mut Trainer<f64>, hidden: usize) -> Network<f64> {
    Network::builder(&[2, hidden, 2])
        .output(Activation::Softmax)
        .cost(Cost::LogLikelihood)
        .init(Init::Scaled)
        .build(trainer.rng())
        .unwrap()
}
