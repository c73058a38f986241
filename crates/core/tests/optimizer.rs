//! The update rules: steps worked by hand, the batched step against the per-example oracle,
//! "off" settings against plain SGD's bits, L1 against finite differences, threads.

mod common;

use batchprop::{Activation, Cost, Network, Optimizer, Rule, Sgd};
use common::{inputs, network, rng, targets};
use ndarray::array;

/// `[1, 1]` with `w = 1`, `b = 1/2`, and a gradient `∂C/∂w = 1/2`, `∂C/∂b = −1` given by hand.
fn one_weight() -> (Network<f64>, batchprop::Gradients<f64>) {
    let net = Network::from_parameters(
        &[1, 1],
        vec![array![[1.0]]],
        vec![array![0.5]],
        vec![Activation::Identity],
        Cost::Quadratic,
    )
    .unwrap();
    let mut grads = net.zero_gradients();
    let (mut gw, mut gb) = grads.layer_mut(1);
    gw[[0, 0]] = 0.5;
    gb[0] = -1.0;
    (net, grads)
}

/// `(w, b)` after each of `steps` updates by `rule` with the hand-made gradient.
fn trajectory(rule: Rule, eta: f64, lambda: f64, n: usize, steps: usize) -> Vec<(f64, f64)> {
    let (mut net, grads) = one_weight();
    let mut opt = Optimizer::new(&net, rule, eta).unwrap().with_l2(lambda, n).unwrap();
    (0..steps)
        .map(|_| {
            opt.apply(&mut net, &grads);
            (net.weights()[0][[0, 0]], net.biases()[0][0])
        })
        .collect()
}

fn close(found: &[(f64, f64)], expected: &[(f64, f64)], tol: f64) {
    for (f, e) in found.iter().zip(expected) {
        assert!(
            (f.0 - e.0).abs() <= tol && (f.1 - e.1).abs() <= tol,
            "found {found:?}, expected {expected:?}"
        );
    }
}

#[test]
fn momentum_worked_by_hand() {
    // b ← μb + g, w ← w − ηb with μ = 0.9, η = 0.1: b = 0.5 then 0.95; w = 0.95 then 0.855.
    // Bias: buffer −1 then −1.9; b = 0.6 then 0.79.
    close(
        &trajectory(Rule::Momentum { mu: 0.9 }, 0.1, 0.0, 1, 2),
        &[(0.95, 0.6), (0.855, 0.79)],
        1e-15,
    );
    // With L2, λ = 1, n = 10: u = g + w/10 = 0.6, then 0.5 + 0.094 = 0.594; b = 0.6, 1.134;
    // w = 0.94, then 0.94 − 0.1134 = 0.8266. The bias is not decayed.
    close(
        &trajectory(Rule::Momentum { mu: 0.9 }, 0.1, 1.0, 10, 2),
        &[(0.94, 0.6), (0.8266, 0.79)],
        1e-15,
    );
}

#[test]
fn nesterov_worked_by_hand() {
    // b ← μb + g, w ← w − η(g + μb): b = 0.5, w = 1 − 0.1(0.5 + 0.45) = 0.905; b = 0.95,
    // w = 0.905 − 0.1(0.5 + 0.855) = 0.7695. Bias: b = −1, b = 0.5 + 0.1(1 + 0.9) = 0.69;
    // b = −1.9, b = 0.69 + 0.1(1 + 1.71) = 0.961.
    close(
        &trajectory(Rule::Nesterov { mu: 0.9 }, 0.1, 0.0, 1, 2),
        &[(0.905, 0.69), (0.7695, 0.961)],
        1e-15,
    );
}

#[test]
fn adam_and_adam_w_worked_by_hand() {
    // A constant gradient: m̂ = g and v̂ = g² at every step, so each step moves by
    // η g / (|g| + ε √(1 − β₂^t)·…) ≈ η: w = 1 − 0.1·0.5/(0.5 + 1e-8) = 0.9 + 2e-9 (to 1e-16).
    // Step 2: m = 0.095, v = 0.00049975, bias corrections 0.19 and 0.001999: the same move.
    let eps_w = |t: f64| t * 0.1 * 1e-8 / 0.5; // what ε takes off each of t moves of w
    let eps_b = |t: f64| t * 0.1 * 1e-8 / 1.0;
    close(
        &trajectory(Rule::adam(), 0.1, 0.0, 1, 2),
        &[
            (0.9 + eps_w(1.0), 0.6 - eps_b(1.0)),
            (0.8 + eps_w(2.0), 0.7 - eps_b(2.0)),
        ],
        1e-12,
    );
    // AdamW, λ = 0.1: w ← w(1 − ηλ) first: 0.99 − 0.1 = 0.89, then 0.8811 − 0.1 = 0.7811 (the
    // first step's ε offset decayed by 0.99 too). The bias is not decayed.
    close(
        &trajectory(Rule::adam_w(), 0.1, 0.1, 1, 2),
        &[
            (0.89 + eps_w(1.0), 0.6 - eps_b(1.0)),
            (0.7811 + 1.99 * eps_w(1.0), 0.7 - eps_b(2.0)),
        ],
        1e-12,
    );
    // Adam's λ is an L2 term in the gradient, per step: u = 0.5 + 0.1·1 = 0.6 moves w by η too.
    close(&trajectory(Rule::adam(), 0.1, 0.1, 1, 1), &[(0.9, 0.6)], 1e-7);
}

fn rules() -> Vec<Rule> {
    vec![
        Rule::Sgd,
        Rule::Momentum { mu: 0.9 },
        Rule::Nesterov { mu: 0.8 },
        Rule::adam(),
        Rule::adam_w(),
    ]
}

#[test]
fn every_rule_matches_the_per_example_oracle() {
    let mut rng = rng(3);
    let (x, y) = (
        inputs::<f64>(6, 8, &mut rng),
        targets::<f64>(Cost::Quadratic, 3, 8, &mut rng),
    );
    for rule in rules() {
        for (lambda, l1) in [(0.0, 0.0), (2.0, 0.0), (0.0, 3.0), (1.0, 0.5)] {
            let start = network::<f64>(
                &[6, 7, 3],
                Activation::Tanh,
                Activation::Sigmoid,
                Cost::Quadratic,
                &mut rng,
            );
            let (mut batched, mut oracle) = (start.clone(), start.clone());
            let make = |net: &Network<f64>| {
                Optimizer::new(net, rule, 0.3)
                    .unwrap()
                    .with_l2(lambda, 50)
                    .unwrap()
                    .with_l1(l1, 50, net)
                    .unwrap()
            };
            let (mut ob, mut oo) = (make(&batched), make(&oracle));
            let mut ws = batched.workspace(8);
            let mut pe = oracle.per_example_workspace();
            for _ in 0..5 {
                batched.step(x.view(), y.view(), &mut ob, &mut ws).unwrap();
                oracle.step_per_example(x.view(), y.view(), &mut oo, &mut pe).unwrap();
            }
            let diff =
                (batched.parameters().iter().zip(oracle.parameters())).fold(0.0f64, |d, (a, b)| d.max((a - b).abs()));
            assert!(diff < 1e-12, "{rule:?} λ {lambda} λ₁ {l1}: {diff:e}");
            let moved =
                (batched.parameters().iter().zip(start.parameters())).fold(0.0f64, |d, (a, b)| d.max((a - b).abs()));
            assert!(moved > 1e-3, "{rule:?} trained");
            assert_eq!(ob.steps(), 5);
        }
    }
}

#[test]
fn off_settings_give_plain_sgds_bits() {
    let mut rng = rng(4);
    let (x, y) = (
        inputs::<f32>(20, 16, &mut rng),
        targets::<f32>(Cost::CrossEntropy, 4, 16, &mut rng),
    );
    let start = network::<f32>(
        &[20, 9, 4],
        Activation::Relu,
        Activation::Sigmoid,
        Cost::CrossEntropy,
        &mut rng,
    );
    let mut plain = start.clone();
    let mut ws = plain.workspace(16);
    let sgd = Sgd::new(0.5).unwrap().with_l2(2.0, 100).unwrap();
    for _ in 0..4 {
        plain.sgd_step(x.view(), y.view(), &sgd, &mut ws).unwrap();
    }
    for rule in [Rule::Sgd, Rule::Momentum { mu: 0.0 }, Rule::Nesterov { mu: 0.0 }] {
        let mut net = start.clone();
        let mut opt = Optimizer::new(&net, rule, 0.5)
            .unwrap()
            .with_l2(2.0, 100)
            .unwrap()
            .with_l1(0.0, 100, &net)
            .unwrap();
        for _ in 0..4 {
            net.step(x.view(), y.view(), &mut opt, &mut ws).unwrap();
        }
        assert_eq!(net.parameters(), plain.parameters(), "{rule:?}");
    }
}

#[test]
fn fused_momentum_equals_its_formula() {
    // The fused path (B ← μB + (1/m)ΔAᵀ in the GEMM) against backprop + the element-wise rule.
    let mut rng = rng(5);
    let (x, y) = (
        inputs::<f64>(30, 40, &mut rng),
        targets::<f64>(Cost::LogLikelihood, 5, 40, &mut rng),
    );
    let start = network::<f64>(
        &[30, 12, 5],
        Activation::Sigmoid,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    let rule = Rule::Momentum { mu: 0.7 };
    let (mut fused, mut unfused) = (start.clone(), start.clone());
    let mut of = Optimizer::new(&fused, rule, 0.2).unwrap().with_l2(3.0, 40).unwrap();
    let mut ou = of.clone();
    let mut ws = fused.workspace(40);
    let mut grads = fused.zero_gradients();
    for _ in 0..6 {
        fused.step(x.view(), y.view(), &mut of, &mut ws).unwrap();
        unfused.backprop(x.view(), y.view(), &mut ws, &mut grads).unwrap();
        ou.apply(&mut unfused, &grads);
    }
    let diff = (fused.parameters().iter().zip(unfused.parameters())).fold(0.0f64, |d, (a, b)| d.max((a - b).abs()));
    assert!(diff < 1e-13, "{diff:e}");
    assert_eq!(of.state().first.unwrap().len(), ou.state().first.unwrap().len());
}

#[test]
fn the_l1_term_is_the_gradient_of_the_l1_penalty() {
    // One SGD step with L1 moves w by −η (∂C/∂w + (λ₁/n) sgn w): compare (w − w')/η with
    // central differences of C(w) + (λ₁/n) Σ|w| (eq. 46), on weights away from 0.
    let mut rng = rng(6);
    let (x, y) = (
        inputs::<f64>(4, 6, &mut rng),
        targets::<f64>(Cost::Quadratic, 2, 6, &mut rng),
    );
    let net = network::<f64>(
        &[4, 3, 2],
        Activation::Tanh,
        Activation::Sigmoid,
        Cost::Quadratic,
        &mut rng,
    );
    let (l1, n, eta) = (5.0, 10, 1e-3);
    let penalised = |net: &Network<f64>| {
        let mut ws = net.workspace(6);
        net.batch_cost(x.view(), y.view(), &mut ws).unwrap()
            + l1 / n as f64
                * net
                    .weights()
                    .iter()
                    .map(|w| w.iter().map(|v| v.abs()).sum::<f64>())
                    .sum::<f64>()
    };
    let mut stepped = net.clone();
    let mut opt = Optimizer::new(&stepped, Rule::Sgd, eta)
        .unwrap()
        .with_l1(l1, n, &stepped)
        .unwrap();
    let mut ws = stepped.workspace(6);
    stepped.step(x.view(), y.view(), &mut opt, &mut ws).unwrap();
    let mut worst = 0.0f64;
    for l in 1..net.num_layers() {
        let (rows, cols) = net.weights()[l - 1].dim();
        for (j, k) in (0..rows).flat_map(|j| (0..cols).map(move |k| (j, k))) {
            let w = net.weights()[l - 1][[j, k]];
            if w.abs() < 1e-3 {
                continue;
            }
            let implied = (w - stepped.weights()[l - 1][[j, k]]) / eta;
            let moved = |d: f64| {
                let mut probe = net.clone();
                probe.layer_mut(l).0[[j, k]] += d;
                penalised(&probe)
            };
            let numeric = (moved(1e-6) - moved(-1e-6)) / 2e-6;
            worst = worst.max((implied - numeric).abs() / numeric.abs().max(1e-3));
        }
    }
    eprintln!("L1: worst relative difference from finite differences {worst:.1e}");
    assert!(worst < 1e-6, "{worst:e}");
}

#[test]
fn bad_hyper_parameters_are_errors() {
    let (net, _) = one_weight();
    for rule in [
        Rule::Momentum { mu: 1.0 },
        Rule::Nesterov { mu: -0.1 },
        Rule::Adam {
            beta1: 1.0,
            beta2: 0.9,
            epsilon: 1e-8,
        },
        Rule::AdamW {
            beta1: 0.9,
            beta2: f64::NAN,
            epsilon: 1e-8,
        },
        Rule::Adam {
            beta1: 0.9,
            beta2: 0.9,
            epsilon: 0.0,
        },
    ] {
        assert!(Optimizer::new(&net, rule, 0.1).is_err(), "{rule:?}");
    }
    assert!(Optimizer::new(&net, Rule::Sgd, 0.0).is_err());

    // A step that fails (a batch of the wrong shape) leaves the network and the step count
    // (which dropout's masks follow) as they were, on every path.
    for rule in rules() {
        let mut net = net.clone();
        let mut opt = Optimizer::new(&net, rule, 0.1).unwrap();
        let (mut ws, mut pe) = (net.workspace(2), net.per_example_workspace());
        let before = net.parameters().to_vec();
        let (x, y) = (array![[1.0, 2.0, 3.0]], array![[0.0, 1.0]]);
        assert!(net.step(x.view(), y.view(), &mut opt, &mut ws).is_err(), "{rule:?}");
        assert!(net.step_per_example(x.view(), y.view(), &mut opt, &mut pe).is_err());
        assert_eq!((net.parameters(), opt.steps()), (&before[..], 0), "{rule:?}");
    }
    assert!(
        Optimizer::new(&net, Rule::Sgd, 0.1)
            .unwrap()
            .with_l1(-1.0, 10, &net)
            .is_err()
    );
}

#[test]
fn every_rule_gives_the_same_bits_on_one_and_two_threads() {
    let mut rng = rng(12);
    let x = inputs::<f32>(256, 64, &mut rng);
    let y = targets::<f32>(Cost::LogLikelihood, 10, 64, &mut rng);
    let start = network::<f32>(
        &[256, 64, 10],
        Activation::Relu,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    for rule in rules() {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut net = start.clone();
                let mut opt = Optimizer::new(&net, rule, 0.01).unwrap().with_l2(1.0, 1000).unwrap();
                let mut ws = net.workspace(64);
                for _ in 0..4 {
                    net.step(x.view(), y.view(), &mut opt, &mut ws).unwrap();
                }
                net
            })
        };
        if batchprop::Backend::current() == batchprop::Backend::Kernels {
            assert_eq!(run(1).parameters(), run(2).parameters(), "{rule:?}");
        }
    }
}

#[test]
fn dropout_matches_the_per_example_oracle_and_p_0_is_no_dropout() {
    let mut rng = rng(7);
    let (x, y) = (
        inputs::<f64>(6, 9, &mut rng),
        targets::<f64>(Cost::LogLikelihood, 3, 9, &mut rng),
    );
    let start = network::<f64>(
        &[6, 8, 7, 3],
        Activation::Sigmoid,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    for rule in rules() {
        let make = |net: &Network<f64>, p: f64| {
            Optimizer::new(net, rule, 0.05)
                .unwrap()
                .with_l2(1.0, 30)
                .unwrap()
                .with_dropout(batchprop::Dropout::new(p, 11).unwrap())
        };
        let (mut batched, mut oracle, mut plain, mut zero) =
            (start.clone(), start.clone(), start.clone(), start.clone());
        let (mut ob, mut oo, mut op, mut oz) = (
            make(&start, 0.5),
            make(&start, 0.5),
            make(&start, 0.0),
            Optimizer::new(&start, rule, 0.05).unwrap().with_l2(1.0, 30).unwrap(),
        );
        let mut ws = batched.workspace(9);
        let mut pe = oracle.per_example_workspace();
        for _ in 0..4 {
            batched.step(x.view(), y.view(), &mut ob, &mut ws).unwrap();
            oracle.step_per_example(x.view(), y.view(), &mut oo, &mut pe).unwrap();
            plain.step(x.view(), y.view(), &mut op, &mut ws).unwrap();
            zero.step(x.view(), y.view(), &mut oz, &mut ws).unwrap();
        }
        let diff =
            (batched.parameters().iter().zip(oracle.parameters())).fold(0.0f64, |d, (a, b)| d.max((a - b).abs()));
        assert!(diff < 1e-12, "{rule:?} with dropout: {diff:e}");
        assert_eq!(
            plain.parameters(),
            zero.parameters(),
            "{rule:?}: p = 0 is no dropout, bit for bit"
        );
        assert_ne!(
            batched.parameters(),
            plain.parameters(),
            "{rule:?}: dropout changes the steps"
        );
    }
}

#[test]
fn dropouts_gradient_agrees_with_finite_differences_for_a_fixed_mask() {
    let mut rng = rng(8);
    let (x, y) = (
        inputs::<f64>(5, 7, &mut rng),
        targets::<f64>(Cost::Quadratic, 2, 7, &mut rng),
    );
    let net = network::<f64>(
        &[5, 6, 4, 2],
        Activation::Tanh,
        Activation::Sigmoid,
        Cost::Quadratic,
        &mut rng,
    );
    let dropout = batchprop::Dropout::new(0.4, 3).unwrap();
    let mut ws = net.workspace(7);
    let mut grads = net.zero_gradients();
    net.backprop_with_dropout(x.view(), y.view(), (&dropout, 5), &mut ws, &mut grads)
        .unwrap();
    let cost = |net: &Network<f64>| {
        let mut ws = net.workspace(7);
        net.batch_cost_with_dropout(x.view(), y.view(), (&dropout, 5), &mut ws)
            .unwrap()
    };
    let mut worst = 0.0f64;
    for l in 1..net.num_layers() {
        let (rows, cols) = net.weights()[l - 1].dim();
        let (mut diff, mut norm) = (0.0, 0.0);
        for (j, k) in (0..rows).flat_map(|j| (0..cols).map(move |k| (j, k))) {
            let moved = |d: f64| {
                let mut probe = net.clone();
                probe.layer_mut(l).0[[j, k]] += d;
                cost(&probe)
            };
            let numeric = (moved(1e-6) - moved(-1e-6)) / 2e-6;
            let analytic = grads.nabla_w()[l - 1][[j, k]];
            diff += (numeric - analytic) * (numeric - analytic);
            norm += analytic * analytic;
        }
        worst = worst.max((diff / norm).sqrt());
    }
    eprintln!("dropout: worst relative difference from finite differences {worst:.1e}");
    assert!(worst < 1e-7, "{worst:e}");
    // And it is not the unthinned network's gradient.
    let mut plain = net.zero_gradients();
    net.backprop(x.view(), y.view(), &mut ws, &mut plain).unwrap();
    assert_ne!(plain.as_slice(), grads.as_slice());
}

#[test]
fn dropout_gives_the_same_bits_on_one_and_two_threads() {
    let mut rng = rng(13);
    let x = inputs::<f32>(256, 64, &mut rng);
    let y = targets::<f32>(Cost::LogLikelihood, 10, 64, &mut rng);
    let start = network::<f32>(
        &[256, 64, 32, 10],
        Activation::Relu,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut net = start.clone();
            let mut opt = Optimizer::new(&net, Rule::Momentum { mu: 0.5 }, 0.01)
                .unwrap()
                .with_dropout(batchprop::Dropout::new(0.5, 2).unwrap());
            let mut ws = net.workspace(64);
            for _ in 0..3 {
                net.step(x.view(), y.view(), &mut opt, &mut ws).unwrap();
            }
            net
        })
    };
    if batchprop::Backend::current() == batchprop::Backend::Kernels {
        assert_eq!(run(1).parameters(), run(2).parameters());
    }
}

/// Synchronous data-parallel steps simulated in one process: each of `processes` shares
/// of the batch computes its part of the gradient, the parts are summed (the all-reduce),
/// and each share applies the sum. Returns every share's network after `steps` steps.
fn steps_in_shares(
    start: &Network<f64>,
    make: &dyn Fn(&Network<f64>) -> Optimizer<f64>,
    (x, y): (&ndarray::Array2<f64>, &ndarray::Array2<f64>),
    processes: usize,
    steps: usize,
) -> Vec<Network<f64>> {
    use batchprop::Share;
    use ndarray::s;
    let m = x.ncols();
    let mut nets: Vec<Network<f64>> = vec![start.clone(); processes];
    let mut opts: Vec<Optimizer<f64>> = nets.iter().map(make).collect();
    let mut ws = start.workspace(m);
    for _ in 0..steps {
        // Each share's part, from a copy of its network and rule (discarded after).
        let mut total = vec![0.0; start.parameters().len()];
        for r in 0..processes {
            let cols = Share::of_batch(m, r, processes);
            let share = Share {
                first: cols.start,
                of: m,
            };
            let (mut net, mut opt) = (nets[r].clone(), opts[r].clone());
            let (xr, yr) = (x.slice(s![.., cols.clone()]), y.slice(s![.., cols]));
            net.step_share(xr, yr, share, &mut opt, &mut ws, |g| {
                total.iter_mut().zip(g.iter()).for_each(|(t, g)| *t += g)
            })
            .unwrap();
        }
        for r in 0..processes {
            let cols = Share::of_batch(m, r, processes);
            let share = Share {
                first: cols.start,
                of: m,
            };
            let (xr, yr) = (x.slice(s![.., cols.clone()]), y.slice(s![.., cols]));
            nets[r]
                .step_share(xr, yr, share, &mut opts[r], &mut ws, |g| g.copy_from_slice(&total))
                .unwrap();
        }
    }
    nets
}

#[test]
fn shares_of_a_batch_step_as_the_whole_batch() {
    let mut rng = rng(13);
    let (x, y) = (
        inputs::<f64>(6, 10, &mut rng),
        targets::<f64>(Cost::LogLikelihood, 3, 10, &mut rng),
    );
    let start = network::<f64>(
        &[6, 8, 7, 3],
        Activation::Sigmoid,
        Activation::Softmax,
        Cost::LogLikelihood,
        &mut rng,
    );
    for rule in rules() {
        for p in [0.0, 0.5] {
            let make = |net: &Network<f64>| {
                Optimizer::new(net, rule, 0.05)
                    .unwrap()
                    .with_l2(1.0, 30)
                    .unwrap()
                    .with_l1(0.5, 30, net)
                    .unwrap()
                    .with_dropout(batchprop::Dropout::new(p, 11).unwrap())
            };
            let mut whole = start.clone();
            let (mut opt, mut ws) = (make(&whole), whole.workspace(10));
            for _ in 0..4 {
                whole.step(x.view(), y.view(), &mut opt, &mut ws).unwrap();
            }
            // 1, 2, 3 (uneven: 3, 3, 4) and 12 processes (10 examples: two shares empty).
            for processes in [1, 2, 3, 12] {
                let nets = steps_in_shares(&start, &make, (&x, &y), processes, 4);
                for net in &nets[1..] {
                    assert_eq!(net.parameters(), nets[0].parameters(), "{rule:?}: every share the same");
                }
                let diff = (nets[0].parameters().iter().zip(whole.parameters()))
                    .fold(0.0f64, |d, (a, b)| d.max((a - b).abs() / b.abs().max(1.0)));
                assert!(diff < 1e-12, "{rule:?} p {p}, {processes} processes: {diff:e}");
            }
        }
    }
}
