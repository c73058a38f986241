//! Everything a caller can get wrong is an `Err` whose message names the shapes.

mod common;

use batchprop::{Activation, Cost, Error, Network, Sgd, one_hot};
use common::rng;
use ndarray::{Array1, Array2, array};

fn net() -> Network<f64> {
    Network::new(&[3, 4, 2], &mut rng(0)).unwrap()
}

fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn bad_sizes() {
    for sizes in [&[][..], &[5], &[3, 0, 2], &[0, 2]] {
        let msg = message(Network::<f32>::new(sizes, &mut rng(0)));
        assert!(msg.contains(&format!("{sizes:?}")), "{msg}");
    }
}

#[test]
fn inputs_and_targets_that_do_not_fit_the_network() {
    let mut net = net();
    let mut ws = net.workspace(8);
    let sgd = Sgd::new(1.0).unwrap();
    let good_x = Array2::<f64>::zeros((3, 5));
    let good_y = Array2::<f64>::zeros((2, 5));

    let msg = message(net.sgd_step(Array2::zeros((4, 5)).view(), good_y.view(), &sgd, &mut ws));
    assert!(
        msg.contains("(4 × 5)") && msg.contains("[3, 4, 2]") && msg.contains("3 neurons"),
        "{msg}"
    );

    let msg = message(net.sgd_step(good_x.view(), Array2::zeros((10, 5)).view(), &sgd, &mut ws));
    assert!(msg.contains("(10 × 5)") && msg.contains("2 neurons"), "{msg}");

    let msg = message(net.sgd_step(good_x.view(), Array2::zeros((2, 4)).view(), &sgd, &mut ws));
    assert!(msg.contains("5 columns") && msg.contains("Y has 4"), "{msg}");

    let empty = message(net.sgd_step(
        Array2::zeros((3, 0)).view(),
        Array2::zeros((2, 0)).view(),
        &sgd,
        &mut ws,
    ));
    assert!(empty.contains("empty"), "{empty}");

    let big = message(net.forward(Array2::zeros((3, 9)).view(), &mut ws));
    assert!(big.contains("9 examples") && big.contains("workspace(9)"), "{big}");

    let other = Network::<f64>::new(&[3, 5, 2], &mut rng(0)).unwrap();
    let msg = message(net.forward(good_x.view(), &mut other.workspace(8)));
    assert!(msg.contains("[3, 5, 2]") && msg.contains("[3, 4, 2]"), "{msg}");

    let msg = message(net.sgd_step_per_example(
        Array2::zeros((2, 5)).view(),
        good_y.view(),
        &sgd,
        &mut net.per_example_workspace(),
    ));
    assert!(msg.contains("(2 × 5)"), "{msg}");
    // Nothing above changed the network.
    assert_eq!(net.weights(), self::net().weights());
}

#[test]
fn hyper_parameters_that_cannot_be_used() {
    for eta in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
        let msg = message(Sgd::new(eta));
        assert!(msg.contains("eta"), "{msg}");
    }
    for lambda in [f64::NAN, f64::NEG_INFINITY, -0.1] {
        let msg = message(Sgd::new(0.5).unwrap().with_l2(lambda, 100));
        assert!(msg.contains("lambda"), "{msg}");
    }
    assert!(Sgd::new(0.5).unwrap().with_l2(1.0, 0).is_err());
    let net = net();
    let x = Array2::zeros((3, 1));
    let y = Array2::zeros((2, 1));
    assert!(batchprop::gradient_check(&net, x.view(), y.view(), f64::NAN).is_err());
}

#[test]
fn explicit_parameters_are_checked() {
    let sig = || vec![Activation::<f64>::Sigmoid; 2];
    let w = || vec![Array2::zeros((4, 3)), Array2::zeros((2, 4))];
    let b = || vec![Array1::zeros(4), Array1::zeros(2)];
    let sizes = [3, 4, 2];
    assert!(Network::from_parameters(&sizes, w(), b(), sig(), Cost::Quadratic).is_ok());

    let msg = message(Network::from_parameters(
        &sizes,
        vec![Array2::zeros((4, 3)), Array2::zeros((4, 2))],
        b(),
        sig(),
        Cost::Quadratic,
    ));
    assert!(
        msg.contains("W^2") && msg.contains("[4, 2]") && msg.contains("[2, 4]"),
        "{msg}"
    );

    let msg = message(Network::from_parameters(
        &sizes,
        w(),
        vec![Array1::zeros(4), Array1::zeros(3)],
        sig(),
        Cost::Quadratic,
    ));
    assert!(msg.contains("b^2") && msg.contains("[3]"), "{msg}");

    let msg = message(Network::from_parameters(
        &sizes,
        w()[..1].to_vec(),
        b(),
        sig(),
        Cost::Quadratic,
    ));
    assert!(
        msg.contains("weights") && msg.contains("need 2") && msg.contains("found 1"),
        "{msg}"
    );

    let msg = message(Network::from_parameters(
        &sizes,
        w(),
        b(),
        sig()[..1].to_vec(),
        Cost::Quadratic,
    ));
    assert!(msg.contains("activations"), "{msg}");

    let mut nan = w();
    nan[1][[1, 3]] = f64::NAN;
    let msg = message(Network::from_parameters(&sizes, nan, b(), sig(), Cost::Quadratic));
    assert!(
        msg.contains("W^2") && msg.contains("[1, 3]") && msg.contains("NaN"),
        "{msg}"
    );

    let mut inf = b();
    inf[0][2] = f64::INFINITY;
    let msg = message(Network::from_parameters(&sizes, w(), inf, sig(), Cost::Quadratic));
    assert!(msg.contains("b^1") && msg.contains("inf"), "{msg}");

    let msg = message(Network::from_parameters(
        &sizes,
        w(),
        b(),
        vec![Activation::Sigmoid, Activation::Tanh],
        Cost::CrossEntropy,
    ));
    assert!(msg.contains("cross-entropy") && msg.contains("tanh"), "{msg}");
    let msg = message(
        Network::<f64>::builder(&sizes)
            .output(Activation::Identity)
            .cost(Cost::LogLikelihood)
            .build(&mut rng(0)),
    );
    assert!(msg.contains("softmax"), "{msg}");
}

#[test]
fn labels_that_do_not_fit() {
    let net = net();
    let x = Array2::zeros((3, 3));
    let msg = message(net.accuracy(x.view(), &[0u32, 1]));
    assert!(msg.contains("3 columns") && msg.contains("2 labels"), "{msg}");
    let msg = message(net.accuracy(x.view(), &[0u32, 1, 2]));
    assert!(
        msg.contains("label 2 of example 2") && msg.contains("2 neurons"),
        "{msg}"
    );
    assert!(one_hot::<f32>(&[0, 7], 3).is_err());
    assert_eq!(
        one_hot::<f32>(&[2, 0], 3).unwrap(),
        array![[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]
    );
}

#[test]
fn review_fixes() {
    let net = net();
    let x = Array2::<f64>::zeros((3, 2));
    let y = Array2::<f64>::zeros((2, 2));
    // λ is checked in total_cost as in Sgd.
    assert!(message(net.total_cost(x.view(), y.view(), f64::NAN)).contains("lambda"));
    assert!(net.total_cost(x.view(), y.view(), -1.0).is_err());
    // argmax returns the first NaN, as numpy does.
    assert_eq!(batchprop::argmax(array![0.5, f64::NAN, 2.0].view()), 1);
    assert_eq!(batchprop::argmax(array![0.5, 2.0, 2.0].view()), 1);
    // Column-major weights are stored row-major.
    let w1 = Array2::<f64>::zeros((4, 3))
        .reversed_axes()
        .as_standard_layout()
        .to_owned()
        .reversed_axes();
    assert!(!w1.is_standard_layout());
    let built = Network::from_parameters(
        &[3, 4, 2],
        vec![w1, Array2::zeros((2, 4))],
        vec![Array1::zeros(4), Array1::zeros(2)],
        vec![Activation::Sigmoid; 2],
        Cost::Quadratic,
    )
    .unwrap();
    assert!(built.weights()[0].is_standard_layout());
    // Cross-entropy after softmax is refused with the alternative.
    let msg = message(
        Network::<f64>::builder(&[3, 2])
            .output(Activation::Softmax)
            .cost(Cost::CrossEntropy)
            .build(&mut rng(0)),
    );
    assert!(msg.contains("log-likelihood cost with softmax"), "{msg}");
}

#[test]
fn sizes_that_cannot_be_allocated_are_errors_not_aborts() {
    let rng = &mut rng(0);
    for sizes in [
        &[784, usize::MAX, 10][..],
        &[784, 100_000_000_000, 10],
        &[1 << 40, 1 << 30, 10],
    ] {
        match Network::<f32>::new(sizes, rng) {
            Err(e @ Error::Allocation { .. }) => {
                assert!(e.to_string().contains("cannot allocate"), "{e}");
            }
            other => panic!("{sizes:?}: {other:?}"),
        }
    }
    let net = Network::<f32>::new(&[784, 30, 10], rng).unwrap();
    for capacity in [usize::MAX / 2, 1 << 50] {
        let err = net.try_workspace(capacity).unwrap_err();
        assert!(err.to_string().contains("workspace for batches of"), "{err}");
    }
}
