//! Training steps give the same bits on any number of threads. (Whole training runs, their
//! learning and their determinism are tested in `crates/train`.)

mod common;

use batchprop::{Activation, Cost, Sgd};
use common::rng;
use ndarray::Array2;

/// Splitting a batch across threads splits columns (and rows of `W`), never a sum: with the
/// engine's kernels, training and evaluation give the same bits on one thread and on two.
/// (OpenBLAS picks its code path by the shape of each product, so the BLAS backend agrees to
/// rounding only.)
#[test]
fn one_and_two_threads_give_the_same_bits() {
    // [4096, 128, 10]: the first layer's W has 524k entries, so its products split even at
    // m = 1, by rows of W (the forward pass and BP4) since the batch is too narrow to split
    // by columns.
    for m in [1, 7, 10] {
        same_bits_on_one_and_two_threads(&[4096, 128, 10], m);
    }
    // [256, 64, 10] from m = 32 up: the first layer's products (16k multiply–adds a column)
    // split by columns, and BP4 by rows of W.
    for m in [32, 64, 100, 1000] {
        same_bits_on_one_and_two_threads(&[256, 64, 10], m);
    }
    // [32, 256, 256, 10] with m = 8: BP2 through W² (524k) splits Δ¹ by rows.
    same_bits_on_one_and_two_threads(&[32, 256, 256, 10], 8);
}

fn same_bits_on_one_and_two_threads(sizes: &[usize], m: usize) {
    let mut rng = rng(12);
    let x = common::inputs::<f32>(sizes[0], m, &mut rng);
    let y: Array2<f32> = common::targets(Cost::LogLikelihood, 10, m, &mut rng);
    let labels: Vec<u32> = y.columns().into_iter().map(|c| batchprop::argmax(c) as u32).collect();
    let start = common::network::<f32>(
        sizes,
        Activation::Relu,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut net = start.clone();
            let mut ws = net.workspace(m);
            let sgd = Sgd::new(0.1).unwrap().with_l2(1.0, 1000).unwrap();
            for _ in 0..3 {
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
            assert!(common::rel_err(a, &b) < 1e-5);
        }
        assert!((cost1 - cost2).abs() <= 1e-5 * cost1.abs());
    }
}
