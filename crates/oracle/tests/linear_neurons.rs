//! The chapter's exercise "backpropagation with linear neurons": with σ(z) = z and the
//! quadratic cost, full-batch gradient descent minimises a least-squares problem, so the
//! trained network must reproduce the least-squares fit that LAPACK (through ndarray-linalg)
//! computes independently.
#![cfg(feature = "openblas-system")]

use batchprop::{Activation, Cost, Network, Sgd};
use ndarray::{Array1, Array2, Axis, ShapeBuilder, concatenate, s};
use ndarray_linalg::LeastSquaresSvd;
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

/// `X: (n × N)` uniform in [-1, 1), and `Y = A X + c 1ᵀ + noise: (k × N)`.
fn data(n: usize, k: usize, examples: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_simple_fn((n, examples).f(), || rng.random_range(-1.0..1.0));
    let a = Array2::from_shape_simple_fn((k, n), || rng.random_range(-2.0..2.0));
    let c = Array1::from_shape_simple_fn(k, || rng.random_range(-1.0..1.0));
    let noise = Array2::from_shape_simple_fn((k, examples), || 0.3 * rng.random_range(-1.0..1.0));
    let y = a.dot(&x) + &c.insert_axis(Axis(1)) + noise;
    (x, y)
}

/// The least-squares fit of `Y ≈ Θᵀ [X; 1]` by LAPACK's SVD solver: returns the fitted values
/// `(k × N)` and `Θ: ((n + 1) × k)`.
fn least_squares(x: &Array2<f64>, y: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let ones = Array2::ones((1, x.ncols()));
    let design = concatenate(Axis(0), &[x.view(), ones.view()]).unwrap().t().to_owned(); // (N × (n + 1))
    let theta = design.least_squares(&y.t().to_owned()).unwrap().solution; // ((n + 1) × k)
    (design.dot(&theta).t().to_owned(), theta)
}

fn linear_network(sizes: &[usize], seed: u64) -> Network<f64> {
    Network::builder(sizes)
        .hidden(Activation::Identity)
        .output(Activation::Identity)
        .cost(Cost::Quadratic)
        .init(batchprop::Init::Scaled)
        .build(&mut ChaCha8Rng::seed_from_u64(seed))
        .unwrap()
}

/// Full-batch gradient descent: every step sees all `N` examples at once.
fn descend(net: &mut Network<f64>, x: &Array2<f64>, y: &Array2<f64>, eta: f64, steps: usize) {
    let mut ws = net.workspace(x.ncols());
    let sgd = Sgd::new(eta).unwrap();
    for _ in 0..steps {
        net.sgd_step(x.view(), y.view(), &sgd, &mut ws).unwrap();
    }
}

fn rel(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().map(|v| v * v).sum::<f64>().sqrt() / b.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn one_linear_layer_converges_to_the_least_squares_solution() {
    let (x, y) = data(6, 3, 80, 1);
    let (fit, theta) = least_squares(&x, &y);
    let mut net = linear_network(&[6, 3], 2);
    descend(&mut net, &x, &y, 0.5, 4000);
    // The parameters themselves: W = Θ[..n]ᵀ, b = Θ[n].
    assert!(rel(&net.weights()[0].to_owned(), &theta.slice(s![..6, ..]).t().to_owned()) < 1e-9);
    let b = net.biases()[0].to_owned().insert_axis(Axis(0));
    assert!(rel(&b, &theta.slice(s![6.., ..]).to_owned()) < 1e-9);
    assert!(rel(&net.feedforward(x.view()).unwrap(), &fit) < 1e-9);
}

#[test]
fn a_deep_linear_network_converges_to_the_least_squares_fit() {
    // [6, 5, 4, 3]: the product W³W²W¹ is a linear map of rank ≤ 3, as the fit is, so the
    // least-squares minimum is reachable and gradient descent finds it.
    let (x, y) = data(6, 3, 80, 3);
    let (fit, _) = least_squares(&x, &y);
    let mut net = linear_network(&[6, 5, 4, 3], 4);
    let before = rel(&net.feedforward(x.view()).unwrap(), &fit);
    descend(&mut net, &x, &y, 0.1, 30_000);
    let after = rel(&net.feedforward(x.view()).unwrap(), &fit);
    assert!(before > 0.5, "the initial network is far from the fit: {before}");
    assert!(after < 1e-7, "relative distance to the least-squares fit: {after:e}");
}
