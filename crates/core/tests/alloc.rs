//! No allocation in a training step after the first: a counting global allocator.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering},
};

use batchprop::{Activation, Cost, Init, Network, Optimizer, Rule, Sgd};
use ndarray::Array2;
use rand::{SeedableRng, rngs::ChaCha8Rng};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The allocations made while `f` runs, in its quietest of three runs.
///
/// The counter sees every thread of the process, and the runtime around the steps (rayon's
/// workers, the test harness) may allocate once in a while for its own reasons: in 200 runs of
/// this test, one window saw one such allocation. An allocation inside a step happens in
/// every run, at least once per step, so the minimum over three runs of many steps still
/// catches it.
fn allocations_during(mut f: impl FnMut()) -> usize {
    (0..3)
        .map(|_| {
            let before = ALLOCATIONS.load(Ordering::SeqCst);
            f();
            ALLOCATIONS.load(Ordering::SeqCst) - before
        })
        .min()
        .unwrap()
}

/// One test function, so that no other test thread allocates while counting.
///
/// The counter sees every thread, so the rayon pools are made once, warmed up, and kept
/// until the end: a pool's workers allocate while they start and while they shut down.
/// Steps run inside a pool (`pool.install`), as the examples train: a step called from outside
/// any pool, with a multi-threaded global pool, hands its parallel work to rayon's global
/// queue, which allocates a block of slots now and then.
#[test]
fn training_steps_do_not_allocate() {
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let two_threads = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // Shapes large enough for the GEMMs to take their blocked paths.
    let sizes = [784, 30, 10];
    for (hidden, output, cost) in [
        (Activation::Sigmoid, Activation::Sigmoid, Cost::Quadratic),
        (Activation::Relu, Activation::Softmax, Cost::LogLikelihood),
    ] {
        let mut net = Network::<f32>::builder(&sizes)
            .hidden(hidden.clone())
            .output(output)
            .cost(cost)
            .init(Init::Scaled)
            .build(&mut rng)
            .unwrap();
        // Images one per row, as a data set stores them; X is the transposed view (784 × 100),
        // column-major, the layout the kernels read in place.
        let images = Array2::from_shape_fn((100, 784), |(j, i)| ((i * 7 + j * 13) % 17) as f32 / 17.0);
        let x = images.t();
        let y = Array2::from_shape_fn((10, 100), |(i, j)| f32::from(u8::from(i == j % 10)));
        let sgd = Sgd::new(0.1).unwrap().with_l2(1.0, 50_000).unwrap();
        let mut ws = net.workspace(100);
        let mut pe = net.per_example_workspace();
        let mut grads = net.zero_gradients();

        // The first step may allocate once (reading BATCHPROP_ISA); the rest must not.
        one_thread.install(|| net.sgd_step(x, y.view(), &sgd, &mut ws).unwrap());
        let batched = allocations_during(|| {
            one_thread.install(|| {
                for m in [100, 10, 1, 37] {
                    let (xb, yb) = (x.slice(ndarray::s![.., ..m]), y.slice(ndarray::s![.., ..m]));
                    for _ in 0..5 {
                        net.sgd_step(xb, yb, &sgd, &mut ws).unwrap();
                    }
                    net.backprop(xb, yb, &mut ws, &mut grads).unwrap();
                    net.forward(xb, &mut ws).unwrap();
                }
            })
        });
        assert_eq!(batched, 0, "allocations in batched steps ({})", hidden.name());

        // Every update rule, on both engines: the state and the gradient buffer are made with
        // the optimiser (and the per-example one on its first step), then nothing.
        for rule in [
            Rule::Momentum { mu: 0.9 },
            Rule::Nesterov { mu: 0.9 },
            Rule::adam(),
            Rule::adam_w(),
        ] {
            let mut opt = Optimizer::new(&net, rule, 0.01)
                .unwrap()
                .with_l2(1.0, 50_000)
                .unwrap()
                .with_l1(0.5, 50_000, &net)
                .unwrap()
                .with_dropout(batchprop::Dropout::new(0.5, 1).unwrap());
            // The first dropout step makes the workspace's masked-activation buffers.
            one_thread.install(|| net.step(x, y.view(), &mut opt, &mut ws).unwrap());
            one_thread.install(|| net.step_per_example(x, y.view(), &mut opt, &mut pe).unwrap());
            let steps = allocations_during(|| {
                one_thread.install(|| {
                    for m in [100, 10, 1] {
                        let (xb, yb) = (x.slice(ndarray::s![.., ..m]), y.slice(ndarray::s![.., ..m]));
                        net.step(xb, yb, &mut opt, &mut ws).unwrap();
                        net.step_per_example(xb, yb, &mut opt, &mut pe).unwrap();
                    }
                })
            });
            assert_eq!(steps, 0, "allocations in {rule:?} steps ({})", hidden.name());
        }

        let per_example = allocations_during(|| {
            one_thread.install(|| {
                for _ in 0..3 {
                    net.sgd_step_per_example(x, y.view(), &sgd, &mut pe).unwrap();
                }
            })
        });
        assert_eq!(per_example, 0, "allocations in per-example steps ({})", hidden.name());

        // Inside a two-thread pool the steps on 100 examples are split across the team (the
        // calling thread and a helper), still without allocating. The first split starts the
        // helper thread: warm the team up before counting.
        two_threads.install(|| {
            for _ in 0..20 {
                net.sgd_step(x, y.view(), &sgd, &mut ws).unwrap();
            }
            let parallel = allocations_during(|| {
                for _ in 0..20 {
                    net.sgd_step(x, y.view(), &sgd, &mut ws).unwrap();
                }
            });
            assert_eq!(parallel, 0, "allocations in two-thread steps ({})", hidden.name());
        });
    }
}

/// Every buffer a step touches that the engine owns starts on a 64-byte boundary (a cache
/// line, an AVX-512 register): each `W^l` and `b^l`, each gradient array, and the workspace's
/// `Z^l`, `A^l` and `Δ^l`, on shapes whose sizes are not multiples of 16 (so that only the
/// layout, not luck, aligns the arrays after the first).
#[test]
fn every_buffer_the_step_touches_is_aligned() {
    fn aligned<T>(what: &str, p: *const T) {
        assert_eq!(p as usize % 64, 0, "{what} starts at {p:?}");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for sizes in [vec![13, 7, 3], vec![784, 30, 10], vec![5, 17, 9, 2]] {
        let mut net = Network::<f64>::builder(&sizes).build(&mut rng).unwrap();
        let (n0, m) = (sizes[0], 7);
        let x = Array2::from_shape_fn((n0, m), |(i, j)| ((i + j) % 5) as f64 / 5.0);
        let y = Array2::from_shape_fn((sizes[sizes.len() - 1], m), |(i, j)| f64::from(u8::from(i == j % 2)));
        let mut ws = net.workspace(m);
        let mut grads = net.zero_gradients();
        net.backprop(x.view(), y.view(), &mut ws, &mut grads).unwrap();
        net.sgd_step(x.view(), y.view(), &Sgd::new(0.1).unwrap(), &mut ws)
            .unwrap();
        for l in 1..sizes.len() {
            let what = |name: &str| format!("{name}^{l} of {sizes:?}");
            aligned(&what("W"), net.weights()[l - 1].as_ptr());
            aligned(&what("b"), net.biases()[l - 1].as_ptr());
            aligned(&what("∇W"), grads.nabla_w()[l - 1].as_ptr());
            aligned(&what("∇b"), grads.nabla_b()[l - 1].as_ptr());
            aligned(&what("Z"), ws.z(l).as_ptr());
            aligned(&what("A"), ws.a(l).as_ptr());
            aligned(&what("Δ"), ws.delta(l).as_ptr());
        }
    }
}
