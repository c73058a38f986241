//! Synchronous data-parallel training, with the processes simulated by threads (a
//! [`Collective`] over shared memory): 1, 2 and 3 processes (uneven shares) train as one
//! does, to rounding; every process keeps the same parameters; they stop together; data or
//! networks that differ between them are errors on every process, not a hang.

mod common;

use std::sync::{Arc, Barrier, Mutex};

use batchprop::{Network, Rule};
use batchprop_train::{Collective, Control, Epoch, Examples, Observer, OneProcess, Settings, Trainer};
use common::{circle_network, circles};

/// `size` processes as threads: each writes its values into its slot, and after a barrier
/// every one sums the slots in rank order (so all get the same bits).
struct Threads {
    rank: usize,
    size: usize,
    slots: Arc<Mutex<Vec<Vec<f64>>>>,
    barrier: Arc<Barrier>,
}

fn threads(size: usize) -> Vec<Threads> {
    let slots = Arc::new(Mutex::new(vec![Vec::new(); size]));
    let barrier = Arc::new(Barrier::new(size));
    (0..size)
        .map(|rank| Threads {
            rank,
            size,
            slots: slots.clone(),
            barrier: barrier.clone(),
        })
        .collect()
}

impl Collective for Threads {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn sum_f32(&self, values: &mut [f32]) {
        let mut wide: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
        self.sum_f64(&mut wide);
        values.iter_mut().zip(wide).for_each(|(v, w)| *v = w as f32);
    }

    fn sum_f64(&self, values: &mut [f64]) {
        self.slots.lock().unwrap()[self.rank] = values.to_vec();
        self.barrier.wait();
        {
            let slots = self.slots.lock().unwrap();
            for (i, v) in values.iter_mut().enumerate() {
                *v = slots.iter().map(|s| s[i]).sum();
            }
        }
        self.barrier.wait(); // every slot read before the next call writes one
    }
}

/// `process(collective)` on `size` threads, one per simulated process; their results in rank
/// order.
fn on_threads<T: Send>(size: usize, process: impl Fn(Threads) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let process = &process;
        let handles: Vec<_> = threads(size)
            .into_iter()
            .map(|c| scope.spawn(move || process(c)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The parts of a record that do not depend on the clock.
fn outcome(history: &[Epoch]) -> Vec<String> {
    history
        .iter()
        .map(|e| {
            format!(
                "{} {:?} {:?} {:.9} {:?}",
                e.epoch,
                e.running_accuracy,
                e.evaluation.as_ref().map(|m| m.correct),
                e.running_cost,
                e.evaluation.as_ref().and_then(|m| m.cost).map(|c| format!("{c:.9}"))
            )
        })
        .collect()
}

/// Trains on 1000 circle points (evaluating on 300) on `processes` threads; returns each
/// process's network and history.
fn run(
    settings: &Settings,
    processes: usize,
    observe: impl Fn(usize) -> Box<dyn Observer<f64> + Send> + Sync,
) -> Vec<(Network<f64>, Vec<Epoch>)> {
    let (x, labels) = circles(1000, 100);
    let (xe, le) = circles(300, 300);
    on_threads(processes, |c| {
        let train = Examples::classes(x.view(), &labels, 2).unwrap();
        let eval = Examples::classes(xe.view(), &le, 2).unwrap();
        let mut trainer = Trainer::new(settings.clone()).unwrap();
        let mut net = circle_network(&mut trainer, 16);
        let mut observer = observe(c.rank());
        trainer
            .fit_distributed(&mut net, &train, Some(&eval), &mut &mut *observer, &c)
            .unwrap();
        (net, trainer.history().to_vec())
    })
}

fn settings() -> Settings {
    Settings::book().epochs(3).batch_size(10).eta(0.5).seed(4)
}

#[test]
fn one_two_and_three_processes_train_alike() {
    for (rule, dropout) in [(Rule::Sgd, 0.0), (Rule::adam(), 0.0), (Rule::Momentum { mu: 0.9 }, 0.3)] {
        let s = settings().rule(rule).dropout(dropout).lambda(0.5);
        let one = run(&s, 1, |_| Box::new(()));
        for processes in [2, 3] {
            let many = run(&s, processes, |_| Box::new(()));
            for (net, history) in &many {
                assert_eq!(
                    net.parameters(),
                    many[0].0.parameters(),
                    "{rule:?}: every process the same"
                );
                assert_eq!(outcome(history), outcome(&many[0].1));
            }
            let drift = many[0]
                .0
                .parameters()
                .iter()
                .zip(one[0].0.parameters())
                .fold(0.0f64, |d, (a, b)| d.max((a - b).abs() / b.abs().max(1e-3)));
            assert!(
                drift < 1e-9,
                "{rule:?} dropout {dropout}, {processes} processes: drift {drift:e}"
            );
            // The same counts; the costs to 9 digits.
            assert_eq!(
                outcome(&many[0].1),
                outcome(&one[0].1),
                "{rule:?}, {processes} processes"
            );
        }
        // One process through the collective is the trainer's own run, to rounding (the
        // fused and unfused updates differ in the last bits).
        let (x, labels) = circles(1000, 100);
        let (xe, le) = circles(300, 300);
        let train = Examples::classes(x.view(), &labels, 2).unwrap();
        let eval = Examples::classes(xe.view(), &le, 2).unwrap();
        let mut trainer = Trainer::new(s.clone()).unwrap();
        let mut net = circle_network(&mut trainer, 16);
        trainer.fit(&mut net, &train, Some(&eval), &mut ()).unwrap();
        assert_eq!(
            outcome(trainer.history()),
            outcome(&one[0].1),
            "{rule:?}: fit and one process"
        );
        let mut solo = Trainer::new(s.clone()).unwrap();
        let mut solo_net = circle_network(&mut solo, 16);
        solo.fit_distributed(&mut solo_net, &train, Some(&eval), &mut (), &OneProcess)
            .unwrap();
        assert_eq!(solo_net.parameters(), one[0].0.parameters(), "OneProcess is one thread");
    }
}

/// Asks to stop after batch 37 of epoch 1, on one process only.
struct StopAt(bool);

impl Observer<f64> for StopAt {
    fn batch_end(&mut self, epoch: usize, batch: usize) -> Control {
        if self.0 && (epoch, batch) == (1, 37) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn one_process_asking_to_stop_stops_them_all() {
    let runs = run(&settings(), 3, |rank| Box::new(StopAt(rank == 1)));
    for (net, history) in &runs {
        assert_eq!(history.len(), 1, "interrupted in epoch 1");
        assert_eq!(net.parameters(), runs[0].0.parameters());
    }
}

#[test]
fn processes_that_differ_are_an_error_on_each() {
    // Each process's error, its data and settings made from its rank.
    let errors = |size: usize, examples: fn(usize) -> usize, seed: fn(usize) -> u64| {
        on_threads(size, |c| {
            let (x, labels) = circles(examples(c.rank()), 1);
            let train = Examples::classes(x.view(), &labels, 2).unwrap();
            let mut trainer = Trainer::new(settings().seed(seed(c.rank()))).unwrap();
            let mut net = circle_network(&mut trainer, 4);
            let e = trainer
                .fit_distributed(&mut net, &train, None, &mut (), &c)
                .unwrap_err();
            e.to_string()
        })
    };
    // Different data sizes.
    for e in errors(2, |rank| 100 + rank, |_| 4) {
        assert!(e.contains("the processes hold different data"), "{e}");
    }
    // Different initial networks (ranks 0 and 1 alike, 2 not).
    for e in errors(3, |_| 100, |rank| rank as u64 / 2) {
        assert!(e.contains("start from different networks"), "{e}");
    }
}

#[test]
fn the_per_example_engine_does_not_run_distributed() {
    let (x, labels) = circles(100, 1);
    let train = Examples::classes(x.view(), &labels, 2).unwrap();
    let mut trainer = Trainer::new(settings().engine(batchprop_train::Engine::PerExample)).unwrap();
    let mut net = circle_network(&mut trainer, 4);
    let e = trainer
        .fit_distributed(&mut net, &train, None, &mut (), &OneProcess)
        .unwrap_err();
    assert!(e.to_string().contains("batched engine"), "{e}");
}
