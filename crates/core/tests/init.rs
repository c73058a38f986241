//! The initialisations draw from the distributions they are named for.

mod common;

use batchprop::{Activation, Cost, Init, Network};
use common::rng;

/// Mean and standard deviation of every entry of `W^l`.
fn moments(net: &Network<f64>, l: usize) -> (f64, f64, f64) {
    let w = &net.weights()[l - 1];
    let n = w.len() as f64;
    let mean = w.sum() / n;
    let std = (w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let max = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    (mean, std, max)
}

#[test]
fn kaiming_normal_and_xavier_uniform_have_their_spreads() {
    let sizes = [784, 300, 100];
    for (hidden, gain) in [
        (Activation::Relu, 2f64.sqrt()),
        (Activation::LeakyRelu(0.2), (2.0f64 / 1.04).sqrt()),
        (Activation::Tanh, 5.0 / 3.0),
    ] {
        let he = Network::<f64>::builder(&sizes)
            .hidden(hidden.clone())
            .init(Init::KaimingNormal)
            .build(&mut rng(1))
            .unwrap();
        for l in 1..=2 {
            let (mean, std, _) = moments(&he, l);
            let expected = gain / (sizes[l - 1] as f64).sqrt();
            assert!(
                mean.abs() < 0.01 * expected * 10.0,
                "{} W^{l}: mean {mean}",
                hidden.name()
            );
            assert!(
                (std / expected - 1.0).abs() < 0.02,
                "{} W^{l}: std {std}, expected {expected}",
                hidden.name()
            );
        }
    }
    let xavier = Network::<f64>::builder(&sizes)
        .init(Init::XavierUniform)
        .build(&mut rng(2))
        .unwrap();
    for l in 1..=2 {
        let bound = (6.0 / (sizes[l - 1] + sizes[l]) as f64).sqrt();
        let (mean, std, max) = moments(&xavier, l);
        assert!(max <= bound && max > 0.99 * bound, "W^{l}: max {max}, bound {bound}");
        assert!((std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.02, "W^{l}: std {std}");
        assert!(mean.abs() < 0.01 * bound, "W^{l}: mean {mean}");
    }
    // Biases start as the book's, N(0, 1), for every initialisation.
    let b = &xavier.biases()[0];
    let std = (b.iter().map(|v| v * v).sum::<f64>() / b.len() as f64).sqrt();
    assert!((std - 1.0).abs() < 0.15, "{std}");
}

#[test]
fn a_bad_leaky_slope_is_an_error() {
    for slope in [-0.1, f64::NAN, f64::INFINITY] {
        let err = Network::<f64>::builder(&[2, 3, 1])
            .hidden(Activation::LeakyRelu(slope))
            .cost(Cost::Quadratic)
            .build(&mut rng(0))
            .unwrap_err();
        assert!(err.to_string().contains("leaky ReLU slope"), "{err}");
    }
}
