//! Save → load round trips, network2.py's files, and model files that must be refused.

mod common;

use batchprop::{Activation, Cost, Init, Network};
use common::{inputs, rng};

fn trained<F: batchprop::Float>() -> Network<F> {
    let mut rng = rng(4);
    Network::builder(&[6, 5, 4, 3])
        .hidden(Activation::Relu)
        .output(Activation::Softmax)
        .cost(Cost::LogLikelihood)
        .init(Init::Scaled)
        .build(&mut rng)
        .unwrap()
}

#[test]
fn save_then_load_reproduces_predictions_exactly() {
    let dir = tempfile::TempDir::new().unwrap();
    let x32 = inputs::<f32>(6, 20, &mut rng(5));
    let x64 = inputs::<f64>(6, 20, &mut rng(5));

    let net = trained::<f32>();
    let path = dir.path().join("net32.json");
    net.save(&path).unwrap();
    let back = Network::<f32>::load(&path).unwrap();
    assert_eq!(back.weights(), net.weights());
    assert_eq!(back.biases(), net.biases());
    assert_eq!(
        back.feedforward(x32.view()).unwrap(),
        net.feedforward(x32.view()).unwrap()
    );
    assert_eq!(back.cost(), Cost::LogLikelihood);
    let names: Vec<String> = back.activations().iter().map(|a| a.name().into_owned()).collect();
    assert_eq!(names, ["relu", "relu", "softmax"]);

    // A leaky ReLU's slope is saved in its name and comes back.
    let leaky = Network::<f64>::builder(&[3, 4, 2])
        .hidden(batchprop::Activation::LeakyRelu(0.2))
        .build(&mut rng(9))
        .unwrap();
    let path = dir.path().join("leaky.json");
    leaky.save(&path).unwrap();
    let back = Network::<f64>::load(&path).unwrap();
    assert!(matches!(back.activations()[0], batchprop::Activation::LeakyRelu(s) if s == 0.2));
    let x3 = inputs::<f64>(3, 5, &mut rng(6));
    assert_eq!(
        back.feedforward(x3.view()).unwrap(),
        leaky.feedforward(x3.view()).unwrap()
    );

    let net = trained::<f64>();
    let path = dir.path().join("net64.json");
    net.save(&path).unwrap();
    let back = Network::<f64>::load(&path).unwrap();
    assert_eq!(
        back.feedforward(x64.view()).unwrap(),
        net.feedforward(x64.view()).unwrap()
    );

    // An f32 file loaded in f64 holds exactly the f32 values.
    let widened = Network::<f64>::load(dir.path().join("net32.json")).unwrap();
    let original = trained::<f32>();
    for (w64, w32) in widened.weights().iter().zip(original.weights()) {
        assert!(w64.iter().zip(w32).all(|(&a, &b)| a == f64::from(b)));
    }

    // Saving over an existing file replaces it.
    trained::<f64>().save(dir.path().join("net32.json")).unwrap();
    assert_eq!(
        Network::<f64>::load(dir.path().join("net32.json")).unwrap().weights(),
        net.weights()
    );
}

#[test]
fn network2_py_files_load() {
    // What network2.py's Network.save writes for a [2, 3, 1] network.
    let json = r#"{"sizes": [2, 3, 1],
        "weights": [[[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], [[0.7, -0.8, 0.9]]],
        "biases": [[[0.01], [0.02], [0.03]], [[-0.04]]],
        "cost": "CrossEntropyCost"}"#;
    let net = Network::<f64>::from_json(json).unwrap();
    assert_eq!(net.sizes(), &[2, 3, 1]);
    assert_eq!(net.cost(), Cost::CrossEntropy);
    assert_eq!(net.weights()[0][[2, 1]], 0.6);
    assert_eq!(net.biases()[1][0], -0.04);
    assert!(net.activations().iter().all(|a| a.name() == "sigmoid"));
}

#[test]
fn bad_model_files_are_refused_with_the_first_problem() {
    let dir = tempfile::TempDir::new().unwrap();
    let good = trained::<f64>().to_json().unwrap();
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "truncated",
            good[..good.len() / 2].to_string(),
            &["not a saved network", "EOF"],
        ),
        ("empty", String::new(), &["not a saved network"]),
        ("not-json", "Epoch 1: 9000 / 10000".into(), &["not a saved network"]),
        ("nan", good.replacen("[[[", "[[[NaN,", 1), &["not a saved network"]),
        ("huge", good.replacen("[[[", "[[[1e999,", 1), &["not a saved network"]),
        (
            "sizes",
            good.replace("\"sizes\":[6,5,4,3]", "\"sizes\":[6,5,9,3]"),
            &["W^2", "[4, 5]", "[9, 5]"],
        ),
        (
            "layers",
            good.replace("\"sizes\":[6,5,4,3]", "\"sizes\":[6,5,4]"),
            &["need 2", "found 3"],
        ),
        (
            "zero",
            good.replace("\"sizes\":[6,5,4,3]", "\"sizes\":[6,0,4,3]"),
            &["at least one neuron"],
        ),
        (
            "cost",
            good.replace("LogLikelihoodCost", "HingeCost"),
            &["unknown cost \"HingeCost\""],
        ),
        (
            "activation",
            good.replace("\"relu\"", "\"swish\""),
            &["unknown activation \"swish\""],
        ),
        ("dtype", good.replace("\"f64\"", "\"f16\""), &["unknown dtype \"f16\""]),
        (
            "extra",
            good.replace("{\"sizes\"", "{\"epochs\":3,\"sizes\""),
            &["unknown field `epochs`"],
        ),
        (
            "incompatible",
            good.replace("\"softmax\"", "\"tanh\""),
            &["log-likelihood cost cannot follow a tanh output layer"],
        ),
        (
            "ragged",
            good.replacen("[[[", "[[[0.5,", 1),
            &["ragged", "row 0 has 7", "row 1 has 6"],
        ),
    ];
    for (name, json, words) in cases {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, &json).unwrap();
        let msg = Network::<f64>::load(&path).unwrap_err().to_string();
        assert!(msg.contains(&path.display().to_string()), "{name}: {msg}");
        for w in words {
            assert!(msg.contains(w), "{name}: {msg:?} does not say {w:?}");
        }
    }
    let msg = Network::<f64>::load(dir.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("missing.json") && msg.contains("No such file"), "{msg}");
}

#[test]
fn a_custom_activation_is_not_saved_under_a_name_nobody_can_load() {
    let net = Network::<f64>::builder(&[3, 4, 2])
        .hidden(Activation::custom(common::Swish))
        .build(&mut rng(1))
        .unwrap();
    let msg = net.to_json().unwrap_err().to_string();
    assert!(msg.contains("custom activation \"swish\""), "{msg}");
}
