//! safetensors and .npz: round trips, PyTorch-named files from elsewhere, and malformed files.

mod common;

use std::collections::HashMap;

use batchprop::{Activation, Assumed, Cost, Float, Init, Metadata, Network};
use common::{inputs, rng};
use safetensors::{Dtype, tensor::TensorView};

fn trained<F: Float>(hidden: Activation<F>, output: Activation<F>, cost: Cost) -> Network<F> {
    Network::builder(&[6, 5, 4, 3])
        .hidden(hidden)
        .output(output)
        .cost(cost)
        .init(Init::Scaled)
        .build(&mut rng(4))
        .unwrap()
}

fn round_trips<F: Float>() {
    let dir = tempfile::TempDir::new().unwrap();
    let x = inputs::<F>(6, 20, &mut rng(5));
    let metadata = Metadata::from([("batchprop.model".to_string(), "{\"classes\":[\"a\"]}".to_string())]);
    let training = serde_json::json!({"epochs_done": 3, "rng_word_pos": "12"});
    for net in [
        trained::<F>(Activation::Relu, Activation::Softmax, Cost::LogLikelihood),
        trained::<F>(
            Activation::LeakyRelu(F::from_f64(0.2)),
            Activation::Sigmoid,
            Cost::CrossEntropy,
        ),
        trained::<F>(Activation::Tanh, Activation::Identity, Cost::Quadratic),
    ] {
        let json = dir.path().join("net.json");
        net.save_with(&json, &metadata, Some(&training)).unwrap();
        for ext in ["safetensors", "npz"] {
            // JSON → format → JSON: the same file, byte for byte.
            let path = dir.path().join(format!("net.{ext}"));
            let (from_json, m, t) = Network::<F>::load_with::<serde_json::Value>(&json).unwrap();
            from_json.save_with(&path, &m, t.as_ref()).unwrap();
            let (back, m, t) = Network::<F>::load_with::<serde_json::Value>(&path).unwrap();
            assert_eq!(back.weights(), net.weights(), "{ext}");
            assert_eq!(back.biases(), net.biases(), "{ext}");
            assert_eq!(back.cost(), net.cost(), "{ext}");
            assert_eq!(back.feedforward(x.view()).unwrap(), net.feedforward(x.view()).unwrap());
            assert_eq!((&m, t.as_ref()), (&metadata, Some(&training)), "{ext}");
            let again = dir.path().join("again.json");
            back.save_with(&again, &m, t.as_ref()).unwrap();
            assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&json).unwrap(), "{ext}");
            // Told by its bytes, not its name.
            let renamed = dir.path().join(format!("{ext}.bin"));
            std::fs::rename(&path, &renamed).unwrap();
            assert_eq!(Network::<F>::load(&renamed).unwrap().weights(), net.weights());
        }
    }
}

#[test]
fn safetensors_and_npz_round_trip_exactly_in_f32_and_f64() {
    round_trips::<f32>();
    round_trips::<f64>();
}

#[test]
fn the_safetensors_file_is_named_as_pytorch_names_an_nn_sequential() {
    let net = trained::<f32>(Activation::Sigmoid, Activation::Sigmoid, Cost::CrossEntropy);
    let bytes = net.to_safetensors::<()>(&Metadata::new(), None).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort_unstable();
    assert_eq!(
        names,
        ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    );
    let w = file.tensor("2.weight").unwrap();
    assert_eq!((w.dtype(), w.shape()), (Dtype::F32, &[4, 5][..]));
    assert_eq!(file.tensor("4.bias").unwrap().shape(), &[3]);
    // Row-major: element (1, 2) of W² is bytes 4·(1·5 + 2).
    let v = f32::from_le_bytes(w.data()[28..32].try_into().unwrap());
    assert_eq!(v, net.weights()[1][[1, 2]]);
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    assert_eq!(meta["batchprop.sizes"], "[6,5,4,3]");
    assert_eq!(meta["batchprop.activations"], "[\"sigmoid\",\"sigmoid\",\"sigmoid\"]");
    assert_eq!(meta["batchprop.cost"], "CrossEntropyCost");
    assert_eq!(meta["format"], "pt");
    // f64 networks are written as F64.
    let net64 = trained::<f64>(Activation::Sigmoid, Activation::Sigmoid, Cost::CrossEntropy);
    let bytes = net64.to_safetensors::<()>(&Metadata::new(), None).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.tensor("0.weight").unwrap().dtype(), Dtype::F64);
}

/// A safetensors file of `tensors` (name, dtype, shape, little-endian bytes) and `metadata`.
fn safetensors_file(
    tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
    metadata: Option<HashMap<String, String>>,
) -> Vec<u8> {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, metadata).unwrap()
}

fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

fn f16_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values
        .into_iter()
        .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
        .collect()
}

/// A `state_dict` of `nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))`, values
/// chosen to be exact in F16.
fn torch_like(encode: fn(Vec<f32>) -> Vec<u8>, dtype: Dtype) -> Vec<u8> {
    safetensors_file(
        &[
            (
                "0.weight",
                dtype,
                vec![3, 2],
                encode(vec![1.0, -1.0, 0.5, 0.25, -2.0, 1.5]),
            ),
            ("0.bias", dtype, vec![3], encode(vec![0.0, 0.5, 1.0])),
            (
                "2.weight",
                dtype,
                vec![2, 3],
                encode(vec![1.0, 2.0, -1.0, 0.5, 0.0, 0.25]),
            ),
            ("2.bias", dtype, vec![2], encode(vec![-0.5, 0.125])),
        ],
        None,
    )
}

fn relu_identity() -> Assumed<f32> {
    Assumed {
        hidden: Some(Activation::Relu),
        output: Some(Activation::Identity),
        ..Assumed::default()
    }
}

#[test]
fn a_pytorch_state_dict_loads_with_the_activations_given_and_predicts_by_hand() {
    // x = (2, 1): z¹ = W¹x + b¹ = (2 − 1 + 0, 1 + 0.25 + 0.5, −4 + 1.5 + 1) = (1, 1.75, −1.5),
    // a¹ = relu(z¹) = (1, 1.75, 0); z² = W²a¹ + b² = (1 + 3.5 − 0.5, 0.5 + 0.125) = (4, 0.625).
    let x = ndarray::array![[2.0f32], [1.0]];
    for (dtype, bytes, note) in [
        (Dtype::F32, torch_like(f32_bytes, Dtype::F32), None),
        (
            Dtype::F16,
            torch_like(f16_bytes, Dtype::F16),
            Some("F16 parameters converted to f32"),
        ),
    ] {
        let opened = Network::<f32>::from_safetensors::<()>(&bytes, &relu_identity()).unwrap();
        assert_eq!(opened.network.sizes(), [2, 3, 2], "{dtype:?}");
        assert_eq!(
            opened.network.feedforward(x.view()).unwrap(),
            ndarray::array![[4.0], [0.625]]
        );
        assert_eq!(opened.network.cost(), Cost::Quadratic);
        assert!(
            opened.notes.iter().any(|n| n.contains("cost assumed quadratic")),
            "{:?}",
            opened.notes
        );
        assert_eq!(
            opened.notes.iter().any(|n| Some(n.as_str()) == note),
            note.is_some(),
            "{:?}",
            opened.notes
        );
    }
    // Without the activations the error names the flags that give them.
    let err = Network::<f32>::from_safetensors::<()>(&torch_like(f32_bytes, Dtype::F32), &Assumed::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--activation") && err.contains("PyTorch state_dict"),
        "{err}"
    );
    // BF16 too.
    let bf16: Vec<u8> = [1.0f32, -1.0, 0.5, 0.25, -2.0, 1.5]
        .into_iter()
        .flat_map(|v| half::bf16::from_f32(v).to_le_bytes())
        .collect();
    let mut tensors = vec![("0.weight", Dtype::BF16, vec![3, 2], bf16)];
    tensors.push(("0.bias", Dtype::F32, vec![3], f32_bytes([0.0, 0.5, 1.0])));
    let one = Assumed {
        output: Some(Activation::Relu),
        ..Assumed::default()
    };
    let opened = Network::<f32>::from_safetensors::<()>(&safetensors_file(&tensors, None), &one).unwrap();
    assert_eq!(opened.network.weights()[0][[2, 1]], 1.5);
}

#[test]
fn layers_named_by_the_user_load_in_the_order_given() {
    let names = [("fc1", "0"), ("out", "2")];
    let mut bytes = torch_like(f32_bytes, Dtype::F32);
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = names
        .iter()
        .flat_map(|(new, old)| {
            ["weight", "bias"].map(|p| {
                let t = file.tensor(&format!("{old}.{p}")).unwrap();
                (format!("{new}.{p}"), t.dtype(), t.shape().to_vec(), t.data().to_vec())
            })
        })
        .collect();
    let tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), *d, s.clone(), b.clone()))
        .collect();
    bytes = safetensors_file(&tensors, None);
    let err = Network::<f32>::from_safetensors::<()>(&bytes, &relu_identity())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--layers"), "{err}");
    let assumed = Assumed {
        layers: Some(vec!["fc1".into(), "out".into()]),
        ..relu_identity()
    };
    let net = Network::<f32>::from_safetensors::<()>(&bytes, &assumed)
        .unwrap()
        .network;
    assert_eq!(net.sizes(), [2, 3, 2]);
}

#[test]
fn malformed_safetensors_files_are_refused_naming_the_tensor() {
    let w1 = |shape: Vec<usize>| {
        (
            "0.weight",
            Dtype::F32,
            shape.clone(),
            f32_bytes(vec![0.5; shape.iter().product()]),
        )
    };
    let b1 = ("0.bias", Dtype::F32, vec![3], f32_bytes([0.0, 0.5, 1.0]));
    let w2 = ("2.weight", Dtype::F32, vec![2, 3], f32_bytes([0.25; 6]));
    let b2 = ("2.bias", Dtype::F32, vec![2], f32_bytes([0.0; 2]));
    let meta = |k: &str, v: &str| {
        Some(HashMap::from([
            ("batchprop.sizes".to_string(), "[2,3,2]".to_string()),
            (
                "batchprop.activations".to_string(),
                "[\"relu\",\"identity\"]".to_string(),
            ),
            ("batchprop.cost".to_string(), "QuadraticCost".to_string()),
            (k.to_string(), v.to_string()),
        ]))
    };
    let good = safetensors_file(&[w1(vec![3, 2]), b1.clone(), w2.clone(), b2.clone()], meta("x", "y"));
    assert!(Network::<f32>::from_safetensors::<()>(&good, &Assumed::default()).is_ok());
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "chain",
            safetensors_file(
                &[
                    w1(vec![3, 2]),
                    b1.clone(),
                    ("2.weight", Dtype::F32, vec![2, 4], f32_bytes([0.0; 8])),
                    b2.clone(),
                ],
                None,
            ),
            &["2.weight", "[2, 4]", "do not chain"],
        ),
        (
            "bias",
            safetensors_file(&[w1(vec![3, 2]), b1.clone(), w2.clone()], None),
            &["no tensor 2.bias"],
        ),
        (
            "extra",
            safetensors_file(
                &[
                    w1(vec![3, 2]),
                    b1.clone(),
                    w2.clone(),
                    b2.clone(),
                    ("1.running_mean", Dtype::F32, vec![3], f32_bytes([0.0; 3])),
                ],
                None,
            ),
            &["1.running_mean", "neither"],
        ),
        (
            "bias shape",
            safetensors_file(
                &[
                    w1(vec![3, 2]),
                    ("0.bias", Dtype::F32, vec![2], f32_bytes([0.0; 2])),
                    w2.clone(),
                    b2.clone(),
                ],
                None,
            ),
            &["0.bias", "[2]", "(3,)"],
        ),
        (
            "nan",
            safetensors_file(
                &[
                    w1(vec![3, 2]),
                    ("0.bias", Dtype::F32, vec![3], f32_bytes([0.0, f32::NAN, 1.0])),
                    w2.clone(),
                    b2.clone(),
                ],
                None,
            ),
            &["0.bias", "non-finite"],
        ),
        (
            "dtype",
            safetensors_file(
                &[
                    ("0.weight", Dtype::I64, vec![1, 1], vec![0; 8]),
                    ("0.bias", Dtype::F32, vec![1], f32_bytes([0.0])),
                ],
                None,
            ),
            &["0.weight is I64", "F32, F64, F16 and BF16"],
        ),
        (
            "metadata",
            safetensors_file(
                &[w1(vec![3, 2]), b1.clone(), w2.clone(), b2.clone()],
                meta("batchprop.sizes", "[2,3,"),
            ),
            &["batchprop.sizes", "does not parse"],
        ),
        (
            "metadata sizes",
            safetensors_file(
                &[w1(vec![3, 2]), b1.clone(), w2.clone(), b2.clone()],
                meta("batchprop.sizes", "[2,3,3]"),
            ),
            &["sizes [2, 3, 3]", "the tensors [2, 3, 2]"],
        ),
        (
            "version",
            safetensors_file(
                &[w1(vec![3, 2]), b1.clone(), w2.clone(), b2.clone()],
                meta("batchprop.format_version", "9"),
            ),
            &["format_version 9"],
        ),
        (
            "truncated",
            good[..good.len() - 5].to_vec(),
            &["not a valid safetensors file"],
        ),
        (
            "header",
            {
                let mut g = good.clone();
                g[..8].copy_from_slice(&u64::MAX.to_le_bytes());
                g
            },
            &["not a valid safetensors file"],
        ),
    ];
    for (name, bytes, words) in cases {
        let assumed = relu_identity();
        let msg = Network::<f32>::from_safetensors::<()>(&bytes, &assumed)
            .unwrap_err()
            .to_string();
        for w in words {
            assert!(msg.contains(w), "{name}: {msg:?} does not say {w:?}");
        }
    }
}

/// An `.npy` file of f64 `values` whose header claims `shape`.
fn npy(shape: &str, values: &[f64]) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

fn npz(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(format!("{name}.npy"), zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn an_npz_holds_the_books_arrays_and_bad_ones_are_refused() {
    // network2.py's arrays as np.savez writes them: W1 (3, 2), b1 (3, 1), W2 (2, 3), b2 (2, 1).
    let w1 = npy("(3, 2)", &[1.0, -1.0, 0.5, 0.25, -2.0, 1.5]);
    let b1 = npy("(3, 1)", &[0.0, 0.5, 1.0]);
    let w2 = npy("(2, 3)", &[1.0, 2.0, -1.0, 0.5, 0.0, 0.25]);
    let b2 = npy("(2, 1)", &[-0.5, 0.125]);
    let good = npz(&[
        ("W1", w1.clone()),
        ("b1", b1.clone()),
        ("W2", w2.clone()),
        ("b2", b2.clone()),
    ]);
    let net = Network::<f64>::from_npz::<()>(
        &good,
        &Assumed {
            hidden: Some(Activation::Relu),
            output: Some(Activation::Identity),
            ..Assumed::default()
        },
    )
    .unwrap()
    .network;
    assert_eq!(
        net.feedforward(ndarray::array![[2.0], [1.0]].view()).unwrap(),
        ndarray::array![[4.0], [0.625]]
    );

    let assumed = Assumed {
        hidden: Some(Activation::Relu),
        output: Some(Activation::Identity),
        ..Assumed::default()
    };
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "missing b2",
            npz(&[("W1", w1.clone()), ("b1", b1.clone()), ("W2", w2.clone())]),
            &["no array b2"],
        ),
        (
            "extra",
            npz(&[("W1", w1.clone()), ("b1", b1.clone()), ("W3", w2.clone())]),
            &["W3"],
        ),
        (
            // A header claiming 10¹² × 10³ values in 48 bytes: refused, nothing allocated.
            "claims",
            npz(&[("W1", npy("(1000000000000, 1000)", &[0.0; 6])), ("b1", b1.clone())]),
            &["W1"],
        ),
        (
            "short",
            npz(&[("W1", npy("(3, 2)", &[0.0; 5])), ("b1", b1.clone())]),
            &["W1"],
        ),
        (
            "chain",
            npz(&[
                ("W1", w1.clone()),
                ("b1", b1.clone()),
                ("W2", npy("(2, 4)", &[0.0; 8])),
                ("b2", b2.clone()),
            ]),
            &["W2", "do not chain"],
        ),
        (
            "nan",
            npz(&[("W1", w1.clone()), ("b1", npy("(3, 1)", &[0.0, f64::NAN, 1.0]))]),
            &["b1", "non-finite"],
        ),
        (
            "not zip",
            b"PK\x03\x04 and nothing else".to_vec(),
            &["not a valid .npz archive"],
        ),
        ("empty", npz(&[]), &["no array W1"]),
    ];
    for (name, bytes, words) in cases {
        let msg = Network::<f64>::from_npz::<()>(&bytes, &assumed)
            .unwrap_err()
            .to_string();
        for w in words {
            assert!(msg.contains(w), "{name}: {msg:?} does not say {w:?}");
        }
    }
}

#[test]
fn formats_are_told_by_their_bytes() {
    use batchprop::Format;
    // A safetensors header of 0x7B20 bytes starts with " {" (space, brace): still safetensors.
    let mut st = (0x7B20u64).to_le_bytes().to_vec();
    st.push(b'{');
    st.resize(8 + 0x7B20, b' ');
    assert_eq!(Format::sniff(&st), Some(Format::Safetensors));
    assert_eq!(Format::sniff(b"        {\"sizes\": [1, 1]}"), Some(Format::Json));
    assert_eq!(Format::sniff(b"{\"sizes\":[2,1]}"), Some(Format::Json));
    assert_eq!(Format::sniff(b"PK\x03\x04rest"), Some(Format::Npz));
    assert_eq!(Format::sniff(b"\x08\x07"), None);
}

#[test]
fn files_are_refused_by_name_where_they_cannot_be_saved() {
    let dir = tempfile::TempDir::new().unwrap();
    let net = trained::<f32>(Activation::Relu, Activation::Softmax, Cost::LogLikelihood);
    // ONNX is an inference graph: written, never read back, and no place for a run's state.
    net.save(dir.path().join("net.onnx")).unwrap();
    let msg = Network::<f32>::load(dir.path().join("net.onnx"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("export only"), "{msg}");
    let msg = net
        .save_with(dir.path().join("run.onnx"), &Metadata::new(), Some(&1))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("checkpoint to .json"), "{msg}");
    let reserved = Metadata::from([("batchprop.sizes".to_string(), "[1]".to_string())]);
    let msg = net
        .save_with::<()>(dir.path().join("net.safetensors"), &reserved, None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("batchprop.sizes"), "{msg}");
    // A loaded file that is no format at all says what batchprop reads.
    std::fs::write(dir.path().join("noise.onnx"), b"\x08\x07\x12").unwrap();
    let msg = Network::<f32>::load(dir.path().join("noise.onnx"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("safetensors or .npz") && msg.contains("export only"),
        "{msg}"
    );
    // Under another name it is read as the JSON it would be.
    std::fs::write(dir.path().join("noise.bin"), b"\x00\x01\x02").unwrap();
    let msg = Network::<f32>::load(dir.path().join("noise.bin"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not a saved network"), "{msg}");
}

#[test]
fn a_file_written_by_pythons_safetensors_predicts_what_numpy_computes() {
    // tests/data/make_torch_like.py: nn.Sequential(Linear(4, 3), Tanh(), Linear(3, 2)).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("torch_like.json")).unwrap()).unwrap();
    let rows = |key: &str| -> Vec<Vec<f64>> { serde_json::from_value(expected[key].clone()).unwrap() };
    let (inputs, outputs) = (rows("inputs"), rows("outputs"));
    let assumed = Assumed {
        hidden: Some(Activation::Tanh),
        output: Some(Activation::Identity),
        ..Assumed::default()
    };
    let opened = Network::<f64>::open::<()>(dir.join("torch_like.safetensors"), &assumed).unwrap();
    assert_eq!(opened.network.sizes(), [4, 3, 2]);
    // One example per column here, one per row in NumPy.
    let x = ndarray::Array2::from_shape_fn((4, inputs.len()), |(i, j)| inputs[j][i]);
    let a = opened.network.feedforward(x.view()).unwrap();
    for (j, row) in outputs.iter().enumerate() {
        for (i, &want) in row.iter().enumerate() {
            assert!(
                (a[[i, j]] - want).abs() <= 1e-12 * want.abs().max(1.0),
                "({i}, {j}): {} vs {want}",
                a[[i, j]]
            );
        }
    }
}
