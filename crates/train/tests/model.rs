//! Models: regression errors against values worked by hand, class names mapped between
//! tables, the scaler applied at prediction, and model files checked when loaded.

use batchprop::{Activation, Cost, Network};
use batchprop_data::{Scaler, Scaling, Table, Target, Task};
use batchprop_train::{MODEL_KEY, Model, ModelInfo, Prediction, Score, Settings, Spec, Trainer};
use ndarray::{Array1, Array2, array};

/// `a = x`: a `[1, 1]` identity network with weight 1 and bias 0.
fn identity() -> Network<f64> {
    Network::from_parameters(
        &[1, 1],
        vec![array![[1.0]]],
        vec![Array1::zeros(1)],
        vec![Activation::Identity],
        Cost::Quadratic,
    )
    .unwrap()
}

fn regression_model() -> Model<f64> {
    let info = ModelInfo {
        format_version: 1,
        task: Task::Regress,
        feature_names: vec!["x".into()],
        target_name: "y".into(),
        classes: None,
        scaler: Scaler {
            scaling: Scaling::None,
            shift: vec![0.0],
            scale: vec![1.0],
        },
        // Targets were standardised as (y − 10) / 2: the network's a = x means y = 10 + 2x.
        target_scaler: Some(Scaler {
            scaling: Scaling::Standard,
            shift: vec![10.0],
            scale: vec![2.0],
        }),
    };
    Model::from_parts(identity(), info).unwrap()
}

#[test]
fn regression_errors_are_those_worked_by_hand() {
    let model = regression_model();
    let table = Table::new(
        array![[0.0], [1.0], [2.0], [3.0]],
        vec!["x".into()],
        "y".into(),
        Target::Values(array![[10.0], [13.0], [14.0], [17.0]]),
    )
    .unwrap();
    // Predictions 10, 12, 14, 16: errors 0, 1, 0, 1 → MSE 0.5, MAE 0.5;
    // ȳ = 13.5, SS_tot = 12.25 + 0.25 + 0.25 + 12.25 = 25, SS_res = 2 → R² = 0.92.
    assert_eq!(
        model.predict(table.features()).unwrap(),
        Prediction::Values(array![[10.0], [12.0], [14.0], [16.0]])
    );
    let Score::Values { mse, mae, r2 } = model.score(&table).unwrap() else {
        panic!("a regression score")
    };
    assert!((mse - 0.5).abs() < 1e-12 && (mae - 0.5).abs() < 1e-12, "{mse} {mae}");
    assert!((r2 - 0.92).abs() < 1e-12, "{r2}");
    // The trainer's monitors report the same, in the targets' units.
    let mut trainer = Trainer::new(Settings::book().epochs(1).batch_size(4).eta(1e-300)).unwrap();
    let mut m = regression_model();
    let monitored = Settings {
        monitor: batchprop_train::Monitor::all(),
        ..trainer.settings().clone()
    };
    trainer = Trainer::new(monitored).unwrap();
    m.fit(&table, Some(&table), &mut trainer, &mut ()).unwrap();
    let eval = trainer.history()[0].evaluation.clone().unwrap();
    assert!(
        (eval.mse.unwrap() - 0.5).abs() < 1e-9 && (eval.r2.unwrap() - 0.92).abs() < 1e-9,
        "{eval:?}"
    );
}

#[test]
fn classes_are_mapped_by_name_and_unknown_ones_refused() {
    let train = Table::new(
        array![[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]],
        vec!["x".into()],
        "kind".into(),
        Target::Classes {
            labels: vec![0, 0, 1, 1, 2, 2],
            names: vec!["a".into(), "b".into(), "c".into()],
        },
    )
    .unwrap();
    let mut trainer = Trainer::<f64>::new(Settings::book().epochs(1).batch_size(6).eta(0.1)).unwrap();
    let model = Model::build(&Spec::<f64>::hidden(&[4]), &train, trainer.rng()).unwrap();
    assert_eq!(model.network.sizes(), &[1, 4, 3]);
    // A test table that holds only "c" and "a", numbered its own way.
    let test = Table::new(
        array![[5.0], [0.0]],
        vec!["x".into()],
        "kind".into(),
        Target::Classes {
            labels: vec![0, 1],
            names: vec!["c".into(), "a".into()],
        },
    )
    .unwrap();
    let Score::Classes { total, .. } = model.score(&test).unwrap() else {
        panic!()
    };
    assert_eq!(total, 2);
    let stranger = Table::new(
        array![[5.0], [0.0]],
        vec!["x".into()],
        "kind".into(),
        Target::Classes {
            labels: vec![0, 1],
            names: vec!["c".into(), "zebra".into()],
        },
    )
    .unwrap();
    let err = model.score(&stranger).unwrap_err().to_string();
    assert!(err.contains("\"zebra\" is not one the model knows (a, b, c)"), "{err}");
    let err = model.predict(array![[1.0, 2.0]].view()).unwrap_err().to_string();
    assert!(err.contains("2 features per row where the model takes 1 (x)"), "{err}");
}

#[test]
fn model_files_round_trip_and_edited_ones_are_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("model.json");
    let model = regression_model();
    model.save(&path).unwrap();
    let back = Model::<f64>::load(&path).unwrap();
    assert_eq!(back.info, model.info);
    assert_eq!(back.network.parameters(), model.network.parameters());
    // network2.py's layout still: a plain network loader reads the file too.
    Network::<f64>::load(&path).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let edited = |from: &str, to: &str| {
        assert!(text.contains(from), "{from} in {text}");
        let bad = dir.path().join("edited.json");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        Model::<f64>::load(&bad).unwrap_err().to_string()
    };
    let msg = edited(r#"\"scale\":[2.0]"#, r#"\"scale\":[0.0]"#);
    assert!(msg.contains("edited.json") && msg.contains("scale positive"), "{msg}");
    let msg = edited(r#"\"feature_names\":[\"x\"]"#, r#"\"feature_names\":[\"x\",\"z\"]"#);
    assert!(msg.contains("2 feature names"), "{msg}");
    let msg = edited(r#"\"task\":\"regress\""#, r#"\"task\":\"classify\""#);
    assert!(msg.contains("a classify model needs"), "{msg}");
    let msg = edited(MODEL_KEY, "somebody.else");
    assert!(msg.contains("without a model description"), "{msg}");
    // A plain network is not a model.
    let plain = dir.path().join("plain.json");
    identity().save(&plain).unwrap();
    assert!(
        Model::<f64>::load(&plain)
            .unwrap_err()
            .to_string()
            .contains("Network::load")
    );
}

#[test]
fn a_regressor_learns_a_line_in_its_own_units() {
    // y = 1000 + 300 x₀ − 200 x₁: standardised for training, answered in its own units.
    let x = Array2::from_shape_fn((200, 2), |(i, j)| [(i * 37) % 101, (i * 53 + 7) % 97][j] as f64 / 10.0);
    let y = Array2::from_shape_fn((200, 1), |(i, _)| 1000.0 + 300.0 * x[[i, 0]] - 200.0 * x[[i, 1]]);
    let table = Table::new(x, vec!["a".into(), "b".into()], "y".into(), Target::Values(y)).unwrap();
    let mut trainer = Trainer::new(
        Settings::book()
            .epochs(300)
            .batch_size(20)
            .eta(0.01)
            .rule(batchprop::Rule::adam())
            .seed(3),
    )
    .unwrap();
    let mut model = Model::build(&Spec::<f64>::hidden(&[8]), &table, trainer.rng()).unwrap();
    model.fit(&table, None, &mut trainer, &mut ()).unwrap();
    let Score::Values { r2, mae, .. } = model.score(&table).unwrap() else {
        panic!()
    };
    assert!(r2 > 0.99 && mae < 60.0, "r2 {r2}, mae {mae}");
    let Prediction::Values(v) = model.predict(array![[5.0, 5.0]].view()).unwrap() else {
        panic!()
    };
    assert!((v[[0, 0]] - 1500.0).abs() < 60.0, "{v}");
}

#[test]
fn a_model_run_stopped_mid_epoch_resumes_from_its_checkpoint_with_the_same_bits() {
    use batchprop_train::{Checkpointer, Control, Finish, Observer};
    // Three classes in the plane, by name, with a standard scaler fitted on the table.
    let x = Array2::from_shape_fn((90, 2), |(i, j)| {
        ((i * [37, 53][j] + 11 * j) % 89) as f32 / 9.0 + (i % 3) as f32
    });
    let labels: Vec<u32> = (0..90).map(|i| (i % 3) as u32).collect();
    let names = vec!["setosa".to_string(), "versicolor".into(), "virginica".into()];
    let target = Target::Classes { labels, names };
    let table = Table::new(x, vec!["a".into(), "b".into()], "species".into(), target).unwrap();
    let settings = Settings::book()
        .epochs(6)
        .batch_size(8)
        .eta(0.01)
        .rule(batchprop::Rule::adam())
        .seed(5);
    let spec = Spec::<f32>::hidden(&[7]);

    let mut whole = Trainer::new(settings.clone()).unwrap();
    let mut whole_model = Model::build(&spec, &table, whole.rng()).unwrap();
    whole_model.fit(&table, Some(&table), &mut whole, &mut ()).unwrap();

    /// Stops after mini-batch 4 of epoch 2.
    struct Interrupt;
    impl Observer<f32> for Interrupt {
        fn batch_end(&mut self, epoch: usize, batch: usize) -> Control {
            if (epoch, batch) == (2, 4) {
                Control::Stop
            } else {
                Control::Continue
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.checkpoint.json");
    let mut part = Trainer::new(settings).unwrap();
    let mut model = Model::build(&spec, &table, part.rng()).unwrap();
    let mut checkpoints = Checkpointer {
        path: path.clone(),
        every: 1,
    };
    let finish = model
        .fit(&table, Some(&table), &mut part, &mut (Interrupt, &mut checkpoints))
        .unwrap();
    assert_eq!(
        finish,
        Finish::Interrupted {
            epoch: 2,
            batches_done: 5
        }
    );
    part.save_checkpoint(&model.network, &path).unwrap();
    // The checkpoint is a model file too: scaler and class names ride in its metadata.
    assert_eq!(Model::<f32>::load(&path).unwrap().info, model.info);

    let (mut model, mut resumed) = Model::<f32>::resume(&path).unwrap();
    assert_eq!(model.info, whole_model.info);
    model.fit(&table, Some(&table), &mut resumed, &mut ()).unwrap();
    assert_eq!(model.network.parameters(), whole_model.network.parameters());
    assert_eq!(resumed.history().len(), whole.history().len());
}
