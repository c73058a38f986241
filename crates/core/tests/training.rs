//! Training learns, and the same seed gives the same network.

mod common;

use batchprop::{Activation, Cost, Init, Network, Sgd, one_hot};
use common::rng;
use ndarray::{Array2, Axis};
use rand::{RngExt, seq::SliceRandom};

/// Points uniform in [-1, 1]², labelled 1 inside the circle of radius 0.7 and 0 outside: not
/// linearly separable, so the hidden layer has to learn something. Returns `X: (2 × n)` and
/// the labels.
fn circles(n: usize, seed: u64) -> (Array2<f64>, Vec<u8>) {
    let mut rng = rng(seed);
    let x = Array2::from_shape_simple_fn((2, n), || rng.random_range(-1.0..1.0));
    let labels = x
        .columns()
        .into_iter()
        .map(|p| u8::from(p[0] * p[0] + p[1] * p[1] < 0.49))
        .collect();
    (x, labels)
}

/// Trains `[2, 16, 2]` (sigmoid, softmax, log-likelihood) for `epochs` of mini-batches of 10
/// with a seeded shuffle, as network.py's `SGD` does.
fn train(seed: u64, epochs: usize) -> Network<f64> {
    let (x, labels) = circles(1000, 100);
    let y: Array2<f64> = one_hot(&labels, 2).unwrap();
    let mut rng = rng(seed);
    let mut net = Network::builder(&[2, 16, 2])
        .output(Activation::Softmax)
        .cost(Cost::LogLikelihood)
        .init(Init::Scaled)
        .build(&mut rng)
        .unwrap();
    let sgd = Sgd::new(1.0).unwrap();
    let mut ws = net.workspace(10);
    let mut order: Vec<usize> = (0..x.ncols()).collect();
    for _ in 0..epochs {
        order.shuffle(&mut rng);
        for batch in order.chunks(10) {
            let xb = x.select(Axis(1), batch);
            let yb = y.select(Axis(1), batch);
            net.sgd_step(xb.view(), yb.view(), &sgd, &mut ws).unwrap();
        }
    }
    net
}

#[test]
fn a_hidden_layer_learns_the_circle() {
    let net = train(1, 60);
    let (x, labels) = circles(1000, 200);
    let correct = net.accuracy(x.view(), &labels).unwrap();
    eprintln!("circle: {correct} / 1000 test points");
    assert!(correct >= 960, "{correct} / 1000");
    // A network that has not been trained is no better than guessing the majority class.
    let untrained = train(1, 0).accuracy(x.view(), &labels).unwrap();
    assert!(untrained < 800, "{untrained} / 1000 before training");
}

#[test]
fn the_same_seed_gives_bit_identical_training() {
    let (a, b, c) = (train(5, 3), train(5, 3), train(6, 3));
    assert_eq!(a.weights(), b.weights());
    assert_eq!(a.biases(), b.biases());
    assert_ne!(a.weights(), c.weights());
}

/// Splitting a batch across threads splits columns (and rows of `W`), never a sum: with the
/// engine's kernels, training and evaluation give the same bits on one thread and on two.
/// (OpenBLAS picks its code path by the shape of each product, so the BLAS backend agrees to
/// rounding only.)
#[test]
fn one_and_two_threads_give_the_same_bits() {
    // [256, 64, 10] with m = 64: the first layer's products are 1M multiply–adds, which the
    // engine splits across two threads.
    let mut rng = rng(12);
    let x = common::inputs::<f32>(256, 64, &mut rng);
    let y: Array2<f32> = common::targets(Cost::LogLikelihood, 10, 64, &mut rng);
    let labels: Vec<u8> = y.columns().into_iter().map(|c| batchprop::argmax(c) as u8).collect();
    let start = common::network::<f32>(
        &[256, 64, 10],
        Activation::Relu,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut net = start.clone();
            let mut ws = net.workspace(64);
            let sgd = Sgd::new(0.1).unwrap().with_l2(1.0, 1000).unwrap();
            for _ in 0..5 {
                net.sgd_step(x.view(), y.view(), &sgd, &mut ws).unwrap();
            }
            let cost = net.total_cost(x.view(), y.view(), 1.0).unwrap();
            let correct = net.accuracy(x.view(), &labels).unwrap();
            (net, cost, correct)
        })
    };
    let (one, cost1, correct1) = run(1);
    let (two, cost2, correct2) = run(2);
    assert_ne!(one.weights(), start.weights());
    if batchprop::Backend::current() == batchprop::Backend::Kernels {
        assert_eq!(one.weights(), two.weights());
        assert_eq!(one.biases(), two.biases());
        assert_eq!((cost1.to_bits(), correct1), (cost2.to_bits(), correct2));
    } else {
        for (a, b) in one.weights().iter().zip(two.weights()) {
            assert!(common::rel_err(a, b) < 1e-5);
        }
        assert!((cost1 - cost2).abs() <= 1e-5 * cost1.abs());
    }
}
