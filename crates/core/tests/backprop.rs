//! Backpropagation against literal values, finite differences (eq. 46), the per-example
//! oracle, and the chapter's diagonal-matrix form of BP1/BP2.

mod common;

use batchprop::{Activation, Cost, Float, Network, Sgd, gradient_check};
use common::{Swish, inputs, network, rel_err, rng, targets};
use ndarray::{Array2, array};

/// The 2-2-1 sigmoid network with quadratic cost worked by hand below: weights chosen so that
/// every z is 0 or ±ln 3, where σ(0) = 1/2, σ(ln 3) = 3/4, σ(−ln 3) = 1/4.
fn hand_network() -> Network<f64> {
    let ln3 = 3.0f64.ln();
    Network::from_parameters(
        &[2, 2, 1],
        vec![array![[1.0, -1.0], [0.5, 0.5]], array![[2.0, -4.0 / 3.0]]],
        vec![array![0.0, ln3 - 1.0], array![-ln3]],
        vec![Activation::Sigmoid, Activation::Sigmoid],
        Cost::Quadratic,
    )
    .unwrap()
}

fn assert_close(found: &ndarray::ArrayRef2<f64>, expected: &ndarray::ArrayRef2<f64>) {
    assert!(rel_err(found, expected) < 1e-14, "found {found}, expected {expected}");
}

#[test]
fn hand_worked_2_2_1_network() {
    let net = hand_network();
    let x = array![[1.0], [1.0]];
    let y = array![[1.0]];
    // Forward: z¹ = W¹x + b¹ = (1 − 1 + 0, ½ + ½ + ln 3 − 1) = (0, ln 3), a¹ = (1/2, 3/4);
    // z² = 2·½ − (4/3)·¾ − ln 3 = −ln 3, a² = 1/4.
    let mut ws = net.workspace(2);
    let out = net.forward(x.view(), &mut ws).unwrap().to_owned();
    assert_close(&out, &array![[0.25]]);
    assert_close(&ws.a(1).to_owned(), &array![[0.5], [0.75]]);
    // C = ½ (1/4 − 1)² = 9/32.
    assert!((net.batch_cost(x.view(), y.view(), &mut ws).unwrap() - 9.0 / 32.0).abs() < 1e-15);

    // BP1: δ² = (a² − y) σ'(z²) = (−3/4)(1/4 · 3/4) = −9/64.
    // BP3/BP4: ∇b² = −9/64, ∇W² = δ² (a¹)ᵀ = (−9/128, −27/256).
    // BP2: δ¹ = (W²)ᵀ δ² ⊙ σ'(z¹) = (−9/32, 3/16) ⊙ (1/4, 3/16) = (−9/128, 9/256).
    // BP3/BP4: ∇b¹ = δ¹, ∇W¹ = δ¹ xᵀ.
    let expected_w = [
        array![[-9.0 / 128.0, -9.0 / 128.0], [9.0 / 256.0, 9.0 / 256.0]],
        array![[-9.0 / 128.0, -27.0 / 256.0]],
    ];
    let expected_b = [array![[-9.0 / 128.0], [9.0 / 256.0]], array![[-9.0 / 64.0]]];
    let mut batched = net.zero_gradients();
    net.backprop(x.view(), y.view(), &mut ws, &mut batched).unwrap();
    let mut single = net.zero_gradients();
    net.backprop_per_example(x.view(), y.view(), &mut net.per_example_workspace(), &mut single)
        .unwrap();
    for grads in [&batched, &single] {
        for l in 0..2 {
            assert_close(&grads.nabla_w()[l], &expected_w[l]);
            assert_close(&grads.nabla_b()[l].insert_axis(ndarray::Axis(1)), &expected_b[l]);
        }
    }
    assert_close(&ws.delta(2).to_owned(), &array![[-9.0 / 64.0]]);
    assert_close(&ws.delta(1).to_owned(), &expected_b[0]);

    // A batch of two: the same x with targets 1 and 0. For y = 0, δ² = (1/4)(3/16) = 3/64 and
    // δ¹ = (3/32, −1/16) ⊙ (1/4, 3/16) = (3/128, −3/256). The batch gradient is the mean:
    // ∇b² = (−9/64 + 3/64)/2 = −3/64, ∇W² = −3/64 (a¹)ᵀ = (−3/128, −9/256),
    // ∇b¹ = ((−9/128 + 3/128)/2, (9/256 − 3/256)/2) = (−3/128, 3/256).
    let x2 = array![[1.0, 1.0], [1.0, 1.0]];
    let y2 = array![[1.0, 0.0]];
    net.backprop(x2.view(), y2.view(), &mut ws, &mut batched).unwrap();
    assert_close(&batched.nabla_w()[1], &array![[-3.0 / 128.0, -9.0 / 256.0]]);
    assert_close(
        &batched.nabla_w()[0],
        &array![[-3.0 / 128.0, -3.0 / 128.0], [3.0 / 256.0, 3.0 / 256.0]],
    );
    assert_close(
        &batched.nabla_b()[1].insert_axis(ndarray::Axis(1)),
        &array![[-3.0 / 64.0]],
    );

    // One SGD step with η = 2 on that batch: b² ← −ln 3 − 2·(−3/64) = −ln 3 + 3/32.
    let mut trained = net.clone();
    trained
        .sgd_step(x2.view(), y2.view(), &Sgd::new(2.0).unwrap(), &mut ws)
        .unwrap();
    assert!((trained.biases()[1][0] - (-3.0f64.ln() + 3.0 / 32.0)).abs() < 1e-15);
    // W² ← W² − 2 ∇W² = (2 + 3/64, −4/3 + 9/128).
    assert_close(
        &trained.weights()[1],
        &array![[2.0 + 3.0 / 64.0, -4.0 / 3.0 + 9.0 / 128.0]],
    );

    // The same step unfused: backprop, then Sgd::apply on the mean gradient.
    let mut applied = net.clone();
    Sgd::new(2.0).unwrap().apply(&mut applied, &batched);
    for (a, t) in applied.parameters().iter().zip(trained.parameters()) {
        assert!((a - t).abs() < 1e-15, "{a} vs {t}");
    }
    // With L2 (λ = 4, n = 16): W ← (1 − 2·4/16) W − 2 ∇W = W/2 − 2 ∇W; b as without it.
    let mut decayed = net.clone();
    let sgd = Sgd::new(2.0).unwrap().with_l2(4.0, 16).unwrap();
    sgd.apply(&mut decayed, &batched);
    assert_close(
        &decayed.weights()[1],
        &array![[1.0 + 3.0 / 64.0, -2.0 / 3.0 + 9.0 / 128.0]],
    );
    assert_eq!(decayed.biases()[1], trained.biases()[1]);
    let mut fused = net.clone();
    fused.sgd_step(x2.view(), y2.view(), &sgd, &mut ws).unwrap();
    for (a, f) in decayed.parameters().iter().zip(fused.parameters()) {
        assert!((a - f).abs() < 1e-15, "{a} vs {f}");
    }
}

#[test]
fn the_per_example_loop_measures_the_batch_cost() {
    // The batch of two above: a² = 3/4 for both; C = ½(1/4)² + ½(3/4)² = 10/32.
    let mut net = hand_network();
    let mut pe = net.per_example_workspace();
    let (x2, y2) = (array![[1.0, 1.0], [1.0, 1.0]], array![[1.0, 0.0]]);
    net.sgd_step_per_example(x2.view(), y2.view(), &Sgd::new(1.0).unwrap(), &mut pe)
        .unwrap();
    assert!((pe.batch_cost_sum() - 10.0 / 32.0).abs() < 1e-15);
}

/// Every (hidden, output, cost) combination the costs allow, including a custom activation.
fn combinations() -> Vec<(Activation<f64>, Activation<f64>, Cost)> {
    let mut hidden = Activation::<f64>::builtins().to_vec();
    hidden.push(Activation::custom(Swish));
    let mut combos = Vec::new();
    for h in &hidden {
        for o in Activation::<f64>::builtins() {
            for cost in Cost::ALL {
                if cost.check_output(&o).is_ok() {
                    combos.push((h.clone(), o.clone(), cost));
                }
            }
        }
    }
    combos
}

#[test]
fn finite_differences_agree_with_backprop_for_every_activation_and_cost() {
    let shapes: [&[usize]; 3] = [&[3, 4, 2], &[5, 3, 4, 3], &[2, 6, 5, 4, 2]];
    let combos = combinations();
    // Quadratic after any of the 6 built-in outputs; cross-entropy after sigmoid;
    // log-likelihood after softmax or sigmoid: 9 pairings, after each of 7 hidden activations
    // (the 6 built-in ones, leaky ReLU among them, and swish).
    assert_eq!(combos.len(), 7 * (6 + 1 + 2));
    let mut worst = 0.0f64;
    for (seed, sizes) in (0..).zip(shapes) {
        for (hidden, output, cost) in &combos {
            let mut rng = rng(seed);
            let net = network(sizes, hidden.clone(), output.clone(), *cost, &mut rng);
            let m = 3 + seed as usize;
            let x = inputs::<f64>(sizes[0], m, &mut rng);
            // Targets uniform in [0, 1], for every cost: not one-hot, so that the simplified
            // deltas are checked where they must not assume Σ_j y_j = 1.
            let y = targets::<f64>(Cost::Quadratic, sizes[sizes.len() - 1], m, &mut rng);
            let check = gradient_check(&net, x.view(), y.view(), 1e-5).unwrap();
            let what = format!("{sizes:?} {} → {} with {}", hidden.name(), output.name(), cost.name());
            assert_eq!(check.parameters, net.num_parameters(), "{what}");
            assert!(check.max_rel_diff <= 1e-6, "{what}: {check:?}");
            worst = worst.max(check.max_rel_diff);
        }
    }
    eprintln!("worst max relative difference over all checks: {worst:e}");
}

#[test]
fn gradient_check_catches_a_wrong_gradient() {
    // Claiming tanh while computing σ' as sigmoid's a(1 − a) must be caught.
    #[derive(Debug)]
    struct WrongTanh;
    impl batchprop::Elementwise<f64> for WrongTanh {
        fn name(&self) -> &str {
            "wrong-tanh"
        }
        fn sigma(&self, z: f64) -> f64 {
            z.tanh()
        }
        fn sigma_prime(&self, _z: f64, a: f64) -> f64 {
            a * (1.0 - a)
        }
    }
    let mut rng = rng(7);
    let net = network(
        &[3, 4, 2],
        Activation::custom(WrongTanh),
        Activation::Sigmoid,
        Cost::Quadratic,
        &mut rng,
    );
    let x = inputs::<f64>(3, 4, &mut rng);
    let y = targets::<f64>(Cost::Quadratic, 2, 4, &mut rng);
    let check = gradient_check(&net, x.view(), y.view(), 1e-5).unwrap();
    assert!(check.max_rel_diff > 1e-2, "{check:?}");
    assert!(check.worst_array.ends_with("^1"), "{check:?}");
}

/// The batched gradient equals the mean of the per-example gradients, within `tol` relative
/// to the largest entry of each layer's gradient.
fn batched_equals_per_example<F: Float>(tol: f64) {
    let mut worst = 0.0f64;
    for (seed, sizes) in (0..).zip([&[4usize, 7, 3][..], &[6, 5, 5, 2], &[10, 3, 8, 4]]) {
        for (hidden, output, cost) in [
            (Activation::Sigmoid, Activation::Sigmoid, Cost::Quadratic),
            (Activation::Relu, Activation::Softmax, Cost::LogLikelihood),
            (Activation::Tanh, Activation::Sigmoid, Cost::CrossEntropy),
        ] {
            let mut rng = rng(seed);
            let net = network::<F>(sizes, hidden, output, cost, &mut rng);
            for m in [1, 2, 17] {
                let x = inputs::<F>(sizes[0], m, &mut rng);
                let y = targets::<F>(cost, sizes[sizes.len() - 1], m, &mut rng);
                let (mut batched, mut oracle) = (net.zero_gradients(), net.zero_gradients());
                net.backprop(x.view(), y.view(), &mut net.workspace(m), &mut batched)
                    .unwrap();
                net.backprop_per_example(x.view(), y.view(), &mut net.per_example_workspace(), &mut oracle)
                    .unwrap();
                for l in 0..sizes.len() - 1 {
                    let e = rel_err(&batched.nabla_w()[l], &oracle.nabla_w()[l])
                        .max(rel_err(&batched.nabla_b()[l], &oracle.nabla_b()[l]));
                    assert!(e <= tol, "{} {sizes:?} m={m} layer {}: {e:e}", F::NAME, l + 1);
                    worst = worst.max(e);
                }
            }
        }
    }
    eprintln!(
        "{}: worst relative difference batched vs per-example: {worst:e}",
        F::NAME
    );
}

#[test]
fn batched_gradient_is_the_mean_of_per_example_gradients_f64() {
    batched_equals_per_example::<f64>(1e-12);
}

#[test]
fn batched_gradient_is_the_mean_of_per_example_gradients_f32() {
    batched_equals_per_example::<f32>(1e-5);
}

fn sgd_steps_agree<F: Float>(tol: f64) {
    let mut rng = rng(3);
    let sizes = [8, 6, 5, 3];
    let start = network::<F>(
        &sizes,
        Activation::Sigmoid,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    for sgd in [
        Sgd::new(0.5).unwrap(),
        Sgd::new(0.5).unwrap().with_l2(5.0, 100).unwrap(),
    ] {
        let (mut batched, mut per_example) = (start.clone(), start.clone());
        let mut ws = batched.workspace(10);
        let mut pe = per_example.per_example_workspace();
        for _ in 0..5 {
            let x = inputs::<F>(8, 10, &mut rng);
            let y = targets::<F>(Cost::LogLikelihood, 3, 10, &mut rng);
            batched.sgd_step(x.view(), y.view(), &sgd, &mut ws).unwrap();
            per_example
                .sgd_step_per_example(x.view(), y.view(), &sgd, &mut pe)
                .unwrap();
        }
        for l in 0..3 {
            assert!(
                rel_err(&batched.weights()[l], &per_example.weights()[l]) <= tol,
                "{} W^{}",
                F::NAME,
                l + 1
            );
            assert!(
                rel_err(&batched.biases()[l], &per_example.biases()[l]) <= tol,
                "{} b^{}",
                F::NAME,
                l + 1
            );
            assert!(
                rel_err(&batched.weights()[l], &start.weights()[l]) > 1e-3,
                "the steps changed nothing"
            );
        }
    }
}

#[test]
fn batched_sgd_steps_equal_per_example_sgd_steps() {
    sgd_steps_agree::<f64>(1e-12);
    sgd_steps_agree::<f32>(1e-5);
}

/// The chapter's "alternate presentation of the equations of backpropagation": with
/// `Σ(z)` the diagonal matrix of σ'(z), `δ^L = Σ(z^L) ∇_a C` and
/// `δ^l = Σ(z^l) (W^{l+1})ᵀ δ^{l+1}`. Built densely here, it must give the engine's deltas.
#[test]
fn diagonal_sigma_form_gives_the_same_deltas() {
    let mut rng = rng(11);
    let sizes = [4, 6, 5, 3];
    let net = network::<f64>(&sizes, Activation::Tanh, Activation::Sigmoid, Cost::Quadratic, &mut rng);
    let m = 4;
    let x = inputs::<f64>(4, m, &mut rng);
    let y = targets::<f64>(Cost::Quadratic, 3, m, &mut rng);
    let mut ws = net.workspace(m);
    net.backprop(x.view(), y.view(), &mut ws, &mut net.zero_gradients())
        .unwrap();

    for j in 0..m {
        // Σ(z^l) = diag(σ'(z^l)) for example j.
        let diag = |l: usize| -> Array2<f64> {
            let a = ws.a(l).column(j).to_owned();
            let s = match l {
                3 => a.mapv(|a| a * (1.0 - a)),
                _ => a.mapv(|a| 1.0 - a * a),
            };
            Array2::from_diag(&s)
        };
        let grad_a = &ws.a(3).column(j) - &y.column(j); // ∇_a C for the quadratic cost
        let mut delta = diag(3).dot(&grad_a);
        assert!(rel_err(&delta, &ws.delta(3).column(j).to_owned()) < 1e-14);
        for l in [2, 1] {
            delta = diag(l).dot(&net.weights()[l].t().dot(&delta));
            assert!(rel_err(&delta, &ws.delta(l).column(j).to_owned()) < 1e-14, "Δ^{l}");
        }
    }
}

/// A row-major `X` (examples strided) takes ndarray's general GEMM instead of the kernels:
/// the same gradient and the same step.
#[test]
fn row_major_inputs_give_the_same_results() {
    let mut rng = rng(21);
    let sizes = [20, 9, 4];
    let net = network::<f64>(
        &sizes,
        Activation::Relu,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    let x = inputs::<f64>(20, 12, &mut rng);
    let y = targets::<f64>(Cost::LogLikelihood, 4, 12, &mut rng);
    let x_row_major = x.as_standard_layout().to_owned();
    assert_ne!(x.strides(), x_row_major.strides());
    let mut ws = net.workspace(12);
    let (mut g1, mut g2) = (net.zero_gradients(), net.zero_gradients());
    net.backprop(x.view(), y.view(), &mut ws, &mut g1).unwrap();
    net.backprop(x_row_major.view(), y.view(), &mut ws, &mut g2).unwrap();
    for l in 0..2 {
        assert!(rel_err(&g1.nabla_w()[l], &g2.nabla_w()[l]) < 1e-14);
    }
    let sgd = Sgd::new(0.5).unwrap();
    let (mut a, mut b) = (net.clone(), net.clone());
    a.sgd_step(x.view(), y.view(), &sgd, &mut ws).unwrap();
    b.sgd_step(x_row_major.view(), y.view(), &sgd, &mut ws).unwrap();
    assert!(rel_err(&a.weights()[0], &b.weights()[0]) < 1e-14);
}

/// Eq. 46 as the chapter writes it (forward differences) agrees with backprop to O(ε).
#[test]
fn forward_differences_of_eq_46_agree_to_first_order() {
    let mut rng = rng(8);
    let net = network::<f64>(
        &[5, 4, 3],
        Activation::Sigmoid,
        Activation::Sigmoid,
        Cost::Quadratic,
        &mut rng,
    );
    let x = inputs::<f64>(5, 6, &mut rng);
    let y = targets::<f64>(Cost::Quadratic, 3, 6, &mut rng);
    let mut exact = net.zero_gradients();
    net.backprop(x.view(), y.view(), &mut net.workspace(6), &mut exact)
        .unwrap();
    for (eps, tol) in [(1e-4, 1e-3), (1e-6, 1e-5)] {
        let numeric = batchprop::numerical_gradient(&net, x.view(), y.view(), eps).unwrap();
        for l in 0..2 {
            let e = rel_err(&numeric.nabla_w()[l], &exact.nabla_w()[l])
                .max(rel_err(&numeric.nabla_b()[l], &exact.nabla_b()[l]));
            assert!(e < tol, "ε = {eps}: layer {}: {e:e}", l + 1);
        }
    }
}
