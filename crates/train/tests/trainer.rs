//! The trainer: it learns, it is deterministic, its settings are checked, its policies do
//! what chapter 3 says, its observers can stop it, and a resumed run is the same run.

mod common;

use batchprop::{Activation, Cost, Init, Network, Rule};
use batchprop_train::{
    Checkpointer, Control, Engine, Epoch, EpochEnd, Error, Examples, Finish, Metric, Monitor, Observer, Settings,
    Source, Targets, Trainer, Warning,
};
use common::{circle_network, circles};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, array};

fn settings() -> Settings {
    Settings::book().epochs(8).batch_size(10).eta(1.0).seed(1)
}

/// Trains on 1000 circle points, evaluating on 500 others; returns the trainer and network.
fn run(settings: Settings) -> (Trainer<f64>, Network<f64>, Finish) {
    let (x, labels) = circles(1000, 100);
    let (xe, le) = circles(500, 300);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let eval = Examples::classes(xe.view(), &le, 2).unwrap();
    let mut trainer = Trainer::new(settings).unwrap();
    let mut net = circle_network(&mut trainer, 16);
    let finish = trainer.fit(&mut net, &train, Some(&eval), &mut ()).unwrap();
    (trainer, net, finish)
}

/// The parts of a record that do not depend on the clock.
fn results(history: &[Epoch]) -> Vec<String> {
    history
        .iter()
        .map(|e| {
            format!(
                "{} {} {:?} {:?} {:?}",
                e.epoch,
                e.eta.to_bits(),
                e.running_cost.to_bits(),
                e.training,
                e.evaluation
            )
        })
        .collect()
}

#[test]
fn a_hidden_layer_learns_the_circle() {
    let (trainer, net, finish) = run(settings().epochs(60));
    assert_eq!(finish, Finish::Completed);
    let (x, labels) = circles(1000, 200);
    let correct = net.accuracy(x.view(), &labels).unwrap();
    eprintln!("circle: {correct} / 1000 test points");
    assert!(correct >= 960, "{correct} / 1000");
    assert_eq!(trainer.history().len(), 60);
    let first = &trainer.history()[0];
    assert!(first.running_cost > trainer.history()[59].running_cost);
    assert!(first.examples_per_second > 0.0 && first.train_seconds > 0.0);
    // A network that has not been trained is no better than guessing the majority class.
    let mut fresh = Trainer::new(settings()).unwrap();
    let untrained = circle_network(&mut fresh, 16).accuracy(x.view(), &labels).unwrap();
    assert!(untrained < 800, "{untrained} / 1000 before training");
}

#[test]
fn the_same_seed_gives_bit_identical_runs() {
    let (a, net_a, _) = run(settings().epochs(3));
    let (b, net_b, _) = run(settings().epochs(3));
    let (_, net_c, _) = run(settings().epochs(3).seed(2));
    assert_eq!(net_a.parameters(), net_b.parameters());
    assert_eq!(results(a.history()), results(b.history()));
    assert_ne!(net_a.parameters(), net_c.parameters());
}

#[test]
fn one_and_two_threads_give_the_same_bits() {
    // Mini-batches of 64 on [2, 64, 2] are split across two threads by the engine.
    let go = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let (x, labels) = circles(1024, 100);
            let train = Examples::classes(x.view(), &labels, 2).unwrap();
            let mut trainer = Trainer::new(settings().epochs(2).batch_size(64).monitor(Monitor::all())).unwrap();
            let mut net = circle_network(&mut trainer, 600);
            trainer.fit(&mut net, &train, Some(&train), &mut ()).unwrap();
            (net, results(trainer.history()))
        })
    };
    let (one, two) = (go(1), go(2));
    if batchprop::Backend::current() == batchprop::Backend::Kernels {
        assert_eq!(one.0.parameters(), two.0.parameters());
        assert_eq!(one.1, two.1);
    }
}

#[test]
fn bad_settings_are_typed_errors_before_any_data() {
    let cases: Vec<(Settings, &str)> = vec![
        (settings().epochs(0), "epochs"),
        (settings().batch_size(0), "batch_size"),
        (settings().eta(0.0), "eta"),
        (settings().eta(-1.0), "eta"),
        (settings().eta(f64::NAN), "eta"),
        (settings().eta(f64::INFINITY), "eta"),
        (settings().lambda(-0.5), "lambda"),
        (settings().lambda(f64::NAN), "lambda"),
        (settings().early_stop(0), "early_stop"),
        (settings().eta_schedule(0), "eta_schedule"),
        (settings().l1(-1.0), "l1"),
    ];
    assert!(Trainer::<f32>::new(settings().dropout(1.0)).is_err());
    for (bad, name) in cases {
        match Trainer::<f32>::new(bad.clone()) {
            Err(Error::Setting { name: n, .. }) => assert_eq!(n, name, "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn a_bad_update_rule_is_an_error_before_any_data() {
    for rule in [
        Rule::Momentum { mu: 1.5 },
        Rule::Adam {
            beta1: 0.9,
            beta2: 1.0,
            epsilon: 1e-8,
        },
    ] {
        let err = Trainer::<f32>::new(settings().rule(rule)).unwrap_err();
        assert!(
            matches!(err, Error::Core(batchprop::Error::HyperParameter { .. })),
            "{err}"
        );
    }
}

#[test]
fn every_rule_learns_the_circle() {
    for (rule, eta) in [
        (Rule::Momentum { mu: 0.9 }, 0.1),
        (Rule::Nesterov { mu: 0.9 }, 0.1),
        (Rule::adam(), 0.01),
        (Rule::adam_w(), 0.01),
    ] {
        let (trainer, _, _) = run(settings().epochs(30).eta(eta).rule(rule).lambda(0.001));
        let correct = trainer
            .history()
            .last()
            .unwrap()
            .evaluation
            .as_ref()
            .unwrap()
            .correct
            .unwrap();
        assert!(correct >= 470, "{rule:?}: {correct} / 500");
    }
}

#[test]
fn data_that_does_not_fit_is_a_typed_error_before_the_first_epoch() {
    let (x, labels) = circles(100, 1);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let fit = |settings: Settings, net_sizes: &[usize], eval: Option<&dyn Source<f64>>| {
        let mut trainer = Trainer::new(settings).unwrap();
        let mut net = Network::<f64>::builder(net_sizes)
            .output(Activation::Softmax)
            .cost(Cost::LogLikelihood)
            .build(trainer.rng())
            .unwrap();
        let before = net.parameters().to_vec();
        let err = trainer.fit(&mut net, &train, eval, &mut ()).unwrap_err();
        assert_eq!(net.parameters(), &before[..], "nothing trained before the check");
        assert!(trainer.history().is_empty());
        err.to_string()
    };
    let msg = fit(settings().batch_size(101), &[2, 4, 2], None);
    assert!(
        msg.contains("batch size 101") && msg.contains("100 training examples"),
        "{msg}"
    );
    let msg = fit(settings(), &[3, 4, 2], None);
    assert!(
        msg.contains("[3, 4, 2]") && msg.contains("first layer must be 2"),
        "{msg}"
    );
    let msg = fit(settings(), &[2, 4, 3], None);
    assert!(msg.contains("2 classes") && msg.contains("last 2"), "{msg}");
    let msg = fit(settings().early_stop(3), &[2, 4, 2], None);
    assert!(
        msg.contains("early stopping") && msg.contains("none was given"),
        "{msg}"
    );
    let y = Array2::<f64>::zeros((2, 100));
    let values = Examples::values(x.view(), y.view()).unwrap();
    let msg = fit(settings().eta_schedule(3), &[2, 4, 2], Some(&values));
    assert!(msg.contains("Metric::Cost"), "{msg}");

    // The examples themselves.
    let err = Examples::classes(x.view(), &labels[..99], 2).unwrap_err();
    assert!(err.to_string().contains("99 labels"), "{err}");
    let mut three = labels.clone();
    three[7] = 2;
    let err = Examples::classes(x.view(), &three, 2).unwrap_err();
    assert!(err.to_string().contains("label 2 of example 7"), "{err}");
    let mut nan = x.clone();
    nan[[1, 42]] = f64::NAN;
    match Examples::classes(nan.view(), &labels, 2) {
        Err(Error::NonFiniteInput {
            example: 42, row: 1, ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn early_stopping_gives_back_the_best_epochs_parameters() {
    // A large η makes the evaluation accuracy wander, so it stops improving early.
    struct Snapshots(Vec<Vec<f64>>);
    impl Observer<f64> for Snapshots {
        fn epoch_end(&mut self, end: &EpochEnd<'_, f64>) -> batchprop_train::Result<Control> {
            self.0.push(end.network.parameters().to_vec());
            Ok(Control::Continue)
        }
    }
    let (x, labels) = circles(1000, 100);
    let (xe, le) = circles(200, 300);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let eval = Examples::classes(xe.view(), &le, 2).unwrap();
    let mut trainer = Trainer::new(settings().epochs(200).eta(3.0).early_stop(3)).unwrap();
    let mut net = circle_network(&mut trainer, 16);
    let mut snapshots = Snapshots(Vec::new());
    let finish = trainer.fit(&mut net, &train, Some(&eval), &mut snapshots).unwrap();

    let accuracy: Vec<usize> = trainer
        .history()
        .iter()
        .map(|e| e.evaluation.as_ref().unwrap().correct.unwrap())
        .collect();
    let best = (0..accuracy.len())
        .max_by_key(|&e| (accuracy[e], std::cmp::Reverse(e)))
        .unwrap();
    eprintln!("accuracy per epoch {accuracy:?}, best epoch {best}");
    assert_eq!(finish, Finish::EarlyStopped { best_epoch: best });
    assert_eq!(trainer.best_epoch(), Some(best));
    // It ran exactly 3 epochs past the best one, and none of them improved on it.
    assert_eq!(accuracy.len(), best + 4);
    assert!(accuracy[best + 1..].iter().all(|&a| a <= accuracy[best]));
    assert!(accuracy.len() < 200, "the run stopped early");
    assert_eq!(net.parameters(), &snapshots.0[best][..]);
    assert_ne!(net.parameters(), &snapshots.0.last().unwrap()[..]);
}

/// η as chapter 3's schedule sets it, replayed on the recorded accuracies: halve after
/// `patience` epochs without a new best (counted afresh after each halving); stop when η has
/// fallen to η₀/128.
fn replay_schedule(accuracy: &[usize], eta0: f64, patience: usize) -> (Vec<f64>, bool) {
    let (mut eta, mut best, mut since) = (eta0, None::<usize>, 0);
    let mut etas = Vec::new();
    for &a in accuracy {
        etas.push(eta);
        if best.is_none_or(|b| a > b) {
            best = Some(a);
            since = 0;
        } else {
            since += 1;
            if since == patience {
                since = 0;
                eta /= 2.0;
                if eta <= eta0 / 128.0 {
                    return (etas, true);
                }
            }
        }
    }
    (etas, false)
}

#[test]
fn the_eta_schedule_halves_eta_as_specified_and_ends_the_run() {
    // A tiny evaluation set: its accuracy reaches its best quickly and then stalls, so η
    // halves every 2 epochs until it reaches η₀/128.
    let (x, labels) = circles(1000, 100);
    let (xe, le) = circles(20, 300);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let eval = Examples::classes(xe.view(), &le, 2).unwrap();
    let mut trainer = Trainer::new(settings().epochs(500).eta(2.0).eta_schedule(2)).unwrap();
    let mut net = circle_network(&mut trainer, 16);
    let finish = trainer.fit(&mut net, &train, Some(&eval), &mut ()).unwrap();
    let history = trainer.history();
    let accuracy: Vec<usize> = history
        .iter()
        .map(|e| e.evaluation.as_ref().unwrap().correct.unwrap())
        .collect();
    let etas: Vec<f64> = history.iter().map(|e| e.eta).collect();
    let (expected, exhausted) = replay_schedule(&accuracy, 2.0, 2);
    assert_eq!(etas, expected, "accuracies {accuracy:?}");
    assert!(exhausted);
    assert_eq!(finish, Finish::EtaExhausted);
    // Every η from η₀ down to η₀/64 was used, each a half of the one before.
    let mut distinct = etas.clone();
    distinct.dedup();
    assert_eq!(distinct, (0..7).map(|k| 2.0 / f64::from(1 << k)).collect::<Vec<_>>());
    assert_eq!(trainer.eta(), 2.0 / 128.0);
}

#[test]
fn an_observer_can_stop_the_run_and_fit_continues_it() {
    struct StopAfter(usize);
    impl Observer<f64> for StopAfter {
        fn epoch_end(&mut self, end: &EpochEnd<'_, f64>) -> batchprop_train::Result<Control> {
            Ok(if end.record.epoch + 1 == self.0 {
                Control::Stop
            } else {
                Control::Continue
            })
        }
    }
    let (x, labels) = circles(300, 100);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let mut trainer = Trainer::new(settings().epochs(5)).unwrap();
    let mut net = circle_network(&mut trainer, 8);
    assert_eq!(
        trainer.fit(&mut net, &train, None, &mut StopAfter(2)).unwrap(),
        Finish::Stopped
    );
    assert_eq!(trainer.epochs_done(), 2);
    assert!(trainer.history()[0].evaluation.is_none());
    // Called again, the run goes on where it stopped, and ends as an uninterrupted one.
    assert_eq!(trainer.fit(&mut net, &train, None, &mut ()).unwrap(), Finish::Completed);
    let mut whole = Trainer::new(settings().epochs(5)).unwrap();
    let mut net2 = circle_network(&mut whole, 8);
    whole.fit(&mut net2, &train, None, &mut ()).unwrap();
    assert_eq!(net.parameters(), net2.parameters());
    assert_eq!(results(trainer.history()), results(whole.history()));
}

#[test]
fn a_resumed_run_gives_the_same_bits_as_an_uninterrupted_one() {
    let dir = tempfile::TempDir::new().unwrap();
    let ((x, labels), (xe, le)) = (circles(500, 100), circles(100, 300));
    let (train, eval) = (OwnedExamples::new(&x, &labels), OwnedExamples::new(&xe, &le));
    for base in [
        settings().epochs(6).monitor(Monitor::all()),
        settings().epochs(6).eta(4.0).eta_schedule(1).early_stop(4),
        settings().epochs(6).engine(Engine::PerExample),
        // The update rules' state (momentum buffer, Adam's moments) is saved and restored too.
        settings().epochs(6).eta(0.3).rule(Rule::Momentum { mu: 0.9 }).l1(0.5),
        settings().epochs(6).eta(0.01).rule(Rule::adam()).lambda(0.01),
        settings()
            .epochs(6)
            .eta(0.3)
            .rule(Rule::Nesterov { mu: 0.5 })
            .engine(Engine::PerExample),
        // Dropout's masks are counter-based: the resumed steps draw the same ones.
        settings().epochs(6).eta(0.5).dropout(0.3),
    ] {
        let mut whole = Trainer::<f32>::new(base.clone()).unwrap();
        let mut whole_net = Network::<f32>::builder(&[2, 8, 2])
            .init(Init::Scaled)
            .build(whole.rng())
            .unwrap();
        let whole_finish = whole.fit(&mut whole_net, &train, Some(&eval), &mut ()).unwrap();

        // Checkpointed every 2 epochs, stopped after 3 (as if killed), resumed from epoch 2.
        let path = dir.path().join("run.json");
        let mut part = Trainer::<f32>::new(base.clone()).unwrap();
        let mut net = Network::<f32>::builder(&[2, 8, 2])
            .init(Init::Scaled)
            .build(part.rng())
            .unwrap();
        part.tags_mut().insert("split".into(), "book".into());
        let mut observer = (
            Checkpointer {
                path: path.clone(),
                every: 2,
            },
            StopAt(3),
        );
        part.fit(&mut net, &train, Some(&eval), &mut observer).unwrap();
        let (mut resumed, mut net) = Trainer::<f32>::resume(&path).unwrap();
        assert_eq!(resumed.epochs_done(), 2);
        assert_eq!(resumed.tags()["split"], "book");
        let finish = resumed.fit(&mut net, &train, Some(&eval), &mut ()).unwrap();
        assert_eq!(finish, whole_finish, "{base:?}");
        assert_eq!(net.parameters(), whole_net.parameters(), "{base:?}");
        assert_eq!(results(resumed.history()), results(whole.history()), "{base:?}");

        // Interrupted between two mini-batches of epoch 3 (Ctrl-C), checkpointed there and
        // resumed; and, in the same process, simply continued with another `fit`.
        let fresh = || {
            let mut t = Trainer::<f32>::new(base.clone()).unwrap();
            let net = Network::<f32>::builder(&[2, 8, 2])
                .init(Init::Scaled)
                .build(t.rng())
                .unwrap();
            (t, net)
        };
        for save in [true, false] {
            let (mut part, mut net) = fresh();
            let finish = part.fit(&mut net, &train, Some(&eval), &mut Interrupt(3, 17)).unwrap();
            assert_eq!(
                finish,
                Finish::Interrupted {
                    epoch: 3,
                    batches_done: 18
                },
                "{base:?}"
            );
            assert_eq!(part.epochs_done(), 3);
            let (mut resumed, mut net) = if save {
                part.save_checkpoint(&net, &path).unwrap();
                Trainer::<f32>::resume(&path).unwrap()
            } else {
                (part, net)
            };
            let finish = resumed.fit(&mut net, &train, Some(&eval), &mut ()).unwrap();
            assert_eq!(finish, whole_finish, "{base:?}");
            assert_eq!(net.parameters(), whole_net.parameters(), "{base:?} saved: {save}");
            assert_eq!(results(resumed.history()), results(whole.history()), "{base:?}");
            assert_eq!(resumed.warnings(), whole.warnings());
        }
    }

    /// Stops after mini-batch `.1` of epoch `.0`.
    struct Interrupt(usize, usize);
    impl Observer<f32> for Interrupt {
        fn batch_end(&mut self, epoch: usize, batch: usize) -> Control {
            if (epoch, batch) == (self.0, self.1) {
                Control::Stop
            } else {
                Control::Continue
            }
        }
    }

    struct StopAt(usize);
    impl Observer<f32> for StopAt {
        fn epoch_end(&mut self, end: &EpochEnd<'_, f32>) -> batchprop_train::Result<Control> {
            Ok(if end.record.epoch + 1 == self.0 {
                Control::Stop
            } else {
                Control::Continue
            })
        }
    }
}

/// f32 examples that own their arrays, and a [`Source`] that gathers (no `inputs()`): the
/// trainer's evaluation then takes its gathering path.
struct OwnedExamples {
    x: Array2<f32>,
    labels: Vec<u32>,
}

impl OwnedExamples {
    fn new(x: &Array2<f64>, labels: &[u32]) -> Self {
        OwnedExamples {
            x: x.mapv(|v| v as f32),
            labels: labels.to_vec(),
        }
    }
}

impl Source<f32> for OwnedExamples {
    fn len(&self) -> usize {
        self.x.ncols()
    }
    fn input_size(&self) -> usize {
        self.x.nrows()
    }
    fn targets(&self) -> Targets<'_, f32> {
        Targets::Classes {
            labels: &self.labels,
            classes: 2,
        }
    }
    fn gather(&self, indices: &[usize], mut x: ArrayViewMut2<f32>) {
        for (mut c, &i) in x.columns_mut().into_iter().zip(indices) {
            c.assign(&self.x.column(i));
        }
    }
}

#[test]
fn gathered_evaluation_equals_evaluation_in_place() {
    // 2500 examples: three chunks of the gathering path, the last one partial.
    let (x, labels) = circles(2500, 100);
    let x32 = x.mapv(|v| v as f32);
    let in_place = Examples::classes(x32.view(), &labels, 2).unwrap();
    let gathered = OwnedExamples::new(&x, &labels);
    let go = |eval: &dyn Source<f32>| {
        let mut trainer = Trainer::<f32>::new(settings().epochs(2).lambda(1.0).monitor(Monitor::all())).unwrap();
        let mut net = Network::<f32>::builder(&[2, 8, 2]).build(trainer.rng()).unwrap();
        trainer.fit(&mut net, &in_place, Some(eval), &mut ()).unwrap();
        trainer.history().to_vec()
    };
    let (a, b) = (go(&in_place), go(&gathered));
    assert!(a[1].evaluation.as_ref().unwrap().cost.is_some());
    assert_eq!(results(&a), results(&b));
}

#[test]
fn per_example_and_batched_engines_give_the_same_record() {
    let (batched, net_b, _) = run(settings().epochs(3).monitor(Monitor::all()));
    let (per_example, net_p, _) = run(settings().epochs(3).monitor(Monitor::all()).engine(Engine::PerExample));
    for (b, p) in batched.history().iter().zip(per_example.history()) {
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(1.0);
        assert!(close(b.running_cost, p.running_cost), "{b:?} {p:?}");
        let (bt, pt) = (b.training.as_ref().unwrap(), p.training.as_ref().unwrap());
        assert!(close(bt.cost.unwrap(), pt.cost.unwrap()));
        assert_eq!(bt.correct, pt.correct);
        let (be, pe) = (b.evaluation.as_ref().unwrap(), p.evaluation.as_ref().unwrap());
        assert!(close(be.cost.unwrap(), pe.cost.unwrap()));
        assert_eq!(be.correct, pe.correct);
    }
    for (b, p) in net_b.parameters().iter().zip(net_p.parameters()) {
        assert!((b - p).abs() < 1e-9, "{b} vs {p}");
    }
}

#[test]
fn divergence_is_a_typed_error_with_where_and_a_hint() {
    let (x, labels) = circles(200, 1);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    // Linear outputs under the quadratic cost at η = 10^300: the weights overflow to ∞.
    let mut trainer = Trainer::new(settings().eta(1e300)).unwrap();
    let mut net = Network::<f64>::builder(&[2, 8, 2])
        .hidden(Activation::Relu)
        .output(Activation::Identity)
        .build(trainer.rng())
        .unwrap();
    match trainer.fit(&mut net, &train, None, &mut ()).unwrap_err() {
        e @ Error::Diverged { epoch: 0, .. } => {
            let msg = e.to_string();
            assert!(
                msg.contains("training diverged") && msg.contains("a smaller η"),
                "{msg}"
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_saturated_output_neuron_is_a_warning_once() {
    struct Warnings(Vec<Warning>);
    impl Observer<f64> for Warnings {
        fn warning(&mut self, w: &Warning) {
            self.0.push(w.clone());
        }
    }
    let (x, labels) = circles(200, 1);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let mut trainer = Trainer::new(settings().epochs(5).eta(0.1)).unwrap();
    let mut net = Network::<f64>::builder(&[2, 4, 2]).build(trainer.rng()).unwrap();
    // Output neuron 1 starts deep in the sigmoid's flat tail: a ≈ e^-30 for every input.
    net.layer_mut(2).1[1] = -30.0;
    let mut warnings = Warnings(Vec::new());
    trainer.fit(&mut net, &train, None, &mut warnings).unwrap();
    assert_eq!(warnings.0.len(), 1, "{:?}", warnings.0);
    // Stuck for three epochs in a row: the warning comes after the third (epoch 2).
    assert!(
        matches!(
            warnings.0[0],
            Warning::Saturated {
                epoch: 2,
                neuron: 1,
                ..
            }
        ),
        "{:?}",
        warnings.0
    );
    assert_eq!(trainer.warnings(), &warnings.0[..]);
    assert!(warnings.0[0].to_string().contains("cross-entropy"));

    // The same network under the cross-entropy cost learns its way out: no warning.
    let mut trainer = Trainer::new(settings().epochs(5).eta(0.1)).unwrap();
    let mut net = Network::<f64>::builder(&[2, 4, 2])
        .cost(Cost::CrossEntropy)
        .build(trainer.rng())
        .unwrap();
    net.layer_mut(2).1[1] = -30.0;
    trainer.fit(&mut net, &train, None, &mut ()).unwrap();
    assert!(trainer.warnings().is_empty());
}

#[test]
fn checkpoints_are_validated_when_resumed() {
    let dir = tempfile::TempDir::new().unwrap();
    let (x, labels) = circles(100, 1);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let mut trainer = Trainer::new(settings().epochs(2)).unwrap();
    let mut net = circle_network(&mut trainer, 4);
    let path = dir.path().join("run.json");
    trainer
        .fit(
            &mut net,
            &train,
            None,
            &mut Checkpointer {
                path: path.clone(),
                every: 0,
            },
        )
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"format_version\""));
    let edited = |from: &str, to: &str| {
        assert!(text.contains(from), "{from}");
        let bad = dir.path().join("edited.json");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        Trainer::<f64>::resume(&bad).unwrap_err().to_string()
    };
    let msg = edited("\"batch_size\":10", "\"batch_size\":0");
    assert!(msg.contains("batch_size = 0") && msg.contains("edited.json"), "{msg}");
    let msg = edited("\"epochs\":2", "\"epochs\":0");
    assert!(msg.contains("epochs = 0"), "{msg}");
    let msg = edited("\"batch_size\":10", "\"batch_sise\":10");
    assert!(msg.contains("batch_sise"), "{msg}");
    let msg = edited("\"rng_word_pos\":\"", "\"rng_word_pos\":\"x");
    assert!(msg.contains("rng_word_pos"), "{msg}");
    // A plain network file is not a checkpoint.
    let plain = dir.path().join("plain.json");
    net.save(&plain).unwrap();
    let msg = Trainer::<f64>::resume(&plain).unwrap_err().to_string();
    assert!(msg.contains("no training state"), "{msg}");

    // A run interrupted mid-epoch goes on only with the data and place it was saved with.
    struct Interrupt;
    impl Observer<f64> for Interrupt {
        fn batch_end(&mut self, _epoch: usize, batch: usize) -> Control {
            if batch == 3 { Control::Stop } else { Control::Continue }
        }
    }
    let mut trainer = Trainer::new(settings().epochs(2)).unwrap();
    let mut net = circle_network(&mut trainer, 4);
    trainer.fit(&mut net, &train, None, &mut Interrupt).unwrap();
    trainer.save_checkpoint(&net, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let resumed_fit = |text: &str, data: &Examples<'_, f64>| {
        let bad = dir.path().join("edited.json");
        std::fs::write(&bad, text).unwrap();
        let (mut t, mut net) = Trainer::<f64>::resume(&bad).unwrap();
        t.fit(&mut net, data, None, &mut ()).unwrap_err().to_string()
    };
    let msg = resumed_fit(&text.replacen("\"batches_done\":4", "\"batches_done\":99", 1), &train);
    assert!(msg.contains("epoch in progress") && msg.contains("99 of 10"), "{msg}");
    let (x50, l50) = circles(50, 1);
    let msg = resumed_fit(&text, &Examples::classes(x50.view(), &l50, 2).unwrap());
    assert!(msg.contains("100 training examples; this data has 50"), "{msg}");
}

#[test]
fn files_saved_by_the_old_mnist_tool_still_resume() {
    // The training state version 0.1 of `mnist --save` wrote, after 1 of 3 epochs.
    let dir = tempfile::TempDir::new().unwrap();
    let (x, labels) = circles(100, 1);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let mut whole = Trainer::new(settings().epochs(3).seed(4)).unwrap();
    let mut net = Network::<f64>::builder(&[2, 4, 2]).build(whole.rng()).unwrap();
    let start = net.clone();
    whole.fit(&mut net, &train, None, &mut StopFirst).unwrap();
    let state = serde_json::json!({
        "epochs_done": 1,
        "rng_word_pos": whole.rng().get_word_pos().to_string(),
        "config": {"sizes": [2, 4, 2], "epochs": 3, "batch_size": 10, "eta": 1.0, "lambda": 0.0,
                   "cost": "quadratic", "hidden": "sigmoid", "init": "standard", "seed": 4,
                   "per_example": false, "monitor": false, "full_train": true},
    });
    let path = dir.path().join("old.json");
    net.save_with_state(&path, Some(&state)).unwrap();
    let (mut resumed, mut resumed_net) = Trainer::<f64>::resume(&path).unwrap();
    assert_eq!(resumed.tags()["full_train"], "true");
    resumed.fit(&mut resumed_net, &train, None, &mut ()).unwrap();
    whole.fit(&mut net, &train, None, &mut ()).unwrap();
    assert_eq!(resumed_net.parameters(), net.parameters());
    assert_ne!(net.parameters(), start.parameters());

    struct StopFirst;
    impl Observer<f64> for StopFirst {
        fn epoch_end(&mut self, _: &EpochEnd<'_, f64>) -> batchprop_train::Result<Control> {
            Ok(Control::Stop)
        }
    }
}

#[test]
fn regression_targets_train_and_early_stop_on_the_cost() {
    // y = x₀ − x₁ on [-1, 1]², an identity output under the quadratic cost.
    let (x, _) = circles(400, 5);
    let y = x.row(0).to_owned() - x.row(1);
    let y = y.insert_axis(ndarray::Axis(0));
    let data = Examples::values(x.view(), y.view()).unwrap();
    let mut trainer = Trainer::new(settings().epochs(40).eta(0.05).early_stop(5).metric(Metric::Cost)).unwrap();
    let mut net = Network::<f64>::builder(&[2, 8, 1])
        .hidden(Activation::Tanh)
        .output(Activation::Identity)
        .init(Init::Scaled)
        .build(trainer.rng())
        .unwrap();
    trainer.fit(&mut net, &data, Some(&data), &mut ()).unwrap();
    let costs: Vec<f64> = trainer
        .history()
        .iter()
        .map(|e| e.evaluation.as_ref().unwrap().cost.unwrap())
        .collect();
    assert!(trainer.history()[0].evaluation.as_ref().unwrap().correct.is_none());
    assert!(costs.last().unwrap() < &(costs[0] / 10.0), "{costs:?}");
    let out = net.feedforward(array![[0.5], [0.25]].view()).unwrap();
    assert!((out[[0, 0]] - 0.25).abs() < 0.1, "{out}");
    let _: ArrayView2<f64> = data.x();
}

/// Records which examples each gathered mini-batch holds.
struct Recording<'a> {
    inner: Examples<'a, f64>,
    batches: std::sync::Mutex<Vec<Vec<usize>>>,
}

impl Source<f64> for Recording<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn input_size(&self) -> usize {
        self.inner.input_size()
    }
    fn targets(&self) -> Targets<'_, f64> {
        self.inner.targets()
    }
    fn gather(&self, indices: &[usize], x: ArrayViewMut2<f64>) {
        self.batches.lock().unwrap().push(indices.to_vec());
        self.inner.gather(indices, x);
    }
}

#[test]
fn every_example_once_per_epoch_in_a_seeded_order() {
    let (x, labels) = circles(1000, 1);
    let epochs = |seed: u64| {
        let data = Recording {
            inner: Examples::classes(x.view(), &labels, 2).unwrap(),
            batches: Default::default(),
        };
        let mut trainer = Trainer::new(settings().epochs(2).batch_size(32).seed(seed)).unwrap();
        let mut net = circle_network(&mut trainer, 4);
        trainer.fit(&mut net, &data, None, &mut ()).unwrap();
        data.batches.into_inner().unwrap()
    };
    let batches = epochs(1);
    assert_eq!(batches.len(), 2 * 32); // 31 full batches and one of 8, per epoch
    for epoch in batches.chunks(32) {
        let sizes: Vec<usize> = epoch.iter().map(Vec::len).collect();
        assert!(sizes[..31].iter().all(|&m| m == 32) && sizes[31] == 8, "{sizes:?}");
        let mut seen: Vec<usize> = epoch.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>(), "every example exactly once");
    }
    assert_ne!(batches[..32], batches[32..], "each epoch its own order");
    assert_eq!(epochs(1), batches, "the same seed gives the same order");
    assert_ne!(epochs(2), batches, "another seed gives another order");
}

#[test]
fn a_run_at_chance_level_with_saturated_outputs_is_diverged() {
    // Three classes by the point's angle; η = 10^5 saturates every sigmoid output while all
    // numbers stay finite: the running accuracy sits at chance for two epochs.
    let (x, _) = circles(600, 8);
    let labels: Vec<u32> = x
        .columns()
        .into_iter()
        .map(|p| ((p[1].atan2(p[0]) + std::f64::consts::PI) / (2.0 * std::f64::consts::PI / 3.0)).min(2.0) as u32)
        .collect();
    let data = Examples::classes(x.view(), &labels, 3).unwrap();
    let fit = |eta: f64| {
        let mut trainer = Trainer::new(settings().epochs(6).eta(eta)).unwrap();
        let mut net = Network::<f64>::builder(&[2, 8, 3])
            .cost(Cost::CrossEntropy)
            .build(trainer.rng())
            .unwrap();
        let result = trainer.fit(&mut net, &data, None, &mut ());
        (result, trainer.history().to_vec())
    };
    let (ok, history) = fit(0.5);
    assert!(ok.is_ok(), "{ok:?}");
    assert!(history.last().unwrap().running_accuracy.unwrap() > 0.6, "{history:?}");
    match fit(1e5) {
        (Err(e @ Error::Diverged { batch: None, .. }), history) => {
            assert!(e.to_string().contains("chance level"), "{e}");
            assert!(history.len() <= 2, "stopped by the second epoch at chance");
        }
        (other, history) => panic!("{other:?} after {history:?}"),
    }
}

#[test]
fn without_shuffle_the_batches_go_in_the_data_s_order() {
    let (x, labels) = circles(100, 7);
    let y = batchprop::one_hot::<f64>(&labels, 2).unwrap();
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let unshuffled = settings().epochs(2).batch_size(30).shuffle(false);
    let mut trainer = Trainer::new(unshuffled.clone()).unwrap();
    let mut net = circle_network(&mut trainer, 8);
    let by_hand_start = net.clone();
    trainer.fit(&mut net, &train, None, &mut ()).unwrap();

    // By hand: batches of 30, 30, 30 and 10 in order, twice.
    let mut by_hand = by_hand_start.clone();
    let mut opt = batchprop::Optimizer::new(&by_hand, Rule::Sgd, unshuffled.eta).unwrap();
    let mut ws = by_hand.workspace(30);
    for _ in 0..2 {
        for first in (0..100).step_by(30) {
            // Column-major copies, as the trainer gathers them (the kernels' order of sums
            // follows the layout).
            let cols = ndarray::s![.., first..(first + 30).min(100)];
            let column_major = |a: ArrayView2<f64>| a.t().as_standard_layout().reversed_axes().to_owned();
            let (xb, yb) = (column_major(x.slice(cols)), column_major(y.slice(cols)));
            by_hand.step(xb.view(), yb.view(), &mut opt, &mut ws).unwrap();
        }
    }
    assert_eq!(net.parameters(), by_hand.parameters());

    // The seed no longer matters; with shuffling it does.
    let from_start = |settings: Settings| {
        let mut net = by_hand_start.clone();
        Trainer::new(settings)
            .unwrap()
            .fit(&mut net, &train, None, &mut ())
            .unwrap();
        net
    };
    assert_eq!(from_start(unshuffled.clone().seed(99)).parameters(), net.parameters());
    assert_ne!(from_start(unshuffled.shuffle(true)).parameters(), net.parameters());
}
