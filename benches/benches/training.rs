//! Criterion benchmarks: one SGD step, batched against the book's per-example loop, on real
//! MNIST mini-batches; inference over the test set; and the gradient by finite differences
//! (eq. 46) against one backpropagation.
//!
//! ```sh
//! cargo bench -p batchprop-bench                 # everything (a few minutes)
//! cargo bench -p batchprop-bench -- 'step/\[784,30,10\]'
//! cargo test -p batchprop-bench --benches        # each benchmark once (CI)
//! ```
//!
//! Reports read as examples per second (`Throughput::Elements(m)`). Everything runs inside a
//! one-thread rayon pool; group names carry the network, dtype, kernel instruction set and
//! thread count. (`speedup` measures two threads.)

use std::hint::black_box;

use batchprop::{Backend, Float, Isa, Network, Sgd, numerical_gradient};
use batchprop_bench::{BATCHES, RULE_CASES, SHAPES, batch, mnist, optimizer, rules};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use rand::{SeedableRng, rngs::ChaCha8Rng};

fn name(sizes: &[usize]) -> String {
    format!("{sizes:?}").replace(' ', "")
}

/// `avx512` (the engine's kernels on that instruction set) or `blas`.
fn backend() -> &'static str {
    match Backend::current() {
        Backend::Kernels => Isa::current().name(),
        Backend::Blas => "blas",
    }
}

fn network<F: Float>(sizes: &[usize]) -> Network<F> {
    Network::builder(sizes)
        .init(batchprop::Init::Scaled)
        .build(&mut ChaCha8Rng::seed_from_u64(0))
        .expect("a valid network")
}

/// One SGD step on the first `m` MNIST training images, for every shape and `m`.
fn steps<F: Float + batchprop_data::Float>(c: &mut Criterion, shapes: &[&[usize]]) {
    let data = mnist::<F>();
    let sgd = Sgd::new(0.1).expect("a valid η");
    for sizes in shapes {
        let mut group = c.benchmark_group(format!("step/{}/{}/{}/1-thread", name(sizes), F::NAME, backend()));
        group.sample_size(20);
        for m in BATCHES {
            let (x_buf, y) = batch(&data.train, m);
            let x = x_buf.view(); // X: (784 × m), aligned
            group.throughput(Throughput::Elements(m as u64));
            let mut net = network::<F>(sizes);
            let mut ws = net.workspace(m);
            group.bench_with_input(BenchmarkId::new("batched", m), &m, |b, _| {
                b.iter(|| net.sgd_step(x, y.view(), &sgd, &mut ws).expect("a step"))
            });
            let mut net = network::<F>(sizes);
            let mut pe = net.per_example_workspace();
            group.bench_with_input(BenchmarkId::new("per_example", m), &m, |b, _| {
                b.iter(|| net.sgd_step_per_example(x, y.view(), &sgd, &mut pe).expect("a step"))
            });
        }
        group.finish();
    }
}

/// One step of each update rule beside plain SGD's fused step, f32.
fn rules_f32(c: &mut Criterion) {
    let data = mnist::<f32>();
    for (sizes, m) in RULE_CASES {
        let mut group = c.benchmark_group(format!("rules/{}/f32/{}/1-thread", name(sizes), backend()));
        group.sample_size(20);
        group.throughput(Throughput::Elements(m as u64));
        let (x_buf, y) = batch(&data.train, m);
        let x = x_buf.view(); // X: (784 × m), aligned
        let mut net = network::<f32>(sizes);
        let mut ws = net.workspace(m);
        let sgd = Sgd::new(0.1).expect("a valid η");
        group.bench_with_input(BenchmarkId::new("sgd_step", m), &m, |b, _| {
            b.iter(|| net.sgd_step(x, y.view(), &sgd, &mut ws).expect("a step"))
        });
        for (name, rule, eta, p) in rules() {
            let mut net = network::<f32>(sizes);
            let mut opt = optimizer(&net, (rule, eta, p));
            group.bench_with_input(BenchmarkId::new(name, m), &m, |b, _| {
                b.iter(|| net.step(x, y.view(), &mut opt, &mut ws).expect("a step"))
            });
        }
        group.finish();
    }
}

fn steps_f32(c: &mut Criterion) {
    steps::<f32>(c, &SHAPES);
}

fn steps_f64(c: &mut Criterion) {
    steps::<f64>(c, &SHAPES[..1]);
}

/// The forward pass over the 10,000 test images: in batches of 1000, and one at a time.
fn inference(c: &mut Criterion) {
    let data = mnist::<f32>();
    let test = &data.test;
    for sizes in &SHAPES[..2] {
        let net = network::<f32>(sizes);
        let mut group = c.benchmark_group(format!("inference/{}/f32/{}/1-thread", name(sizes), backend()));
        group.sample_size(10);
        group.throughput(Throughput::Elements(test.len() as u64));
        let mut ws = net.workspace(1000);
        group.bench_function("batched", |b| {
            b.iter(|| {
                for chunk in test.x().axis_chunks_iter(ndarray::Axis(1), 1000) {
                    black_box(net.forward(chunk, &mut ws).expect("a forward pass"));
                }
            })
        });
        let mut ws = net.workspace(1);
        group.bench_function("one_at_a_time", |b| {
            b.iter(|| {
                for chunk in test.x().axis_chunks_iter(ndarray::Axis(1), 1) {
                    black_box(net.forward(chunk, &mut ws).expect("a forward pass"));
                }
            })
        });
        group.finish();
    }
}

/// The chapter's "in what sense is backpropagation a fast algorithm?": the gradient of a
/// small network on 10 MNIST images by eq. 46 (P + 1 forward passes) against one backprop.
fn gradient(c: &mut Criterion) {
    let data = mnist::<f64>();
    let sizes = [784, 10, 10];
    let net = network::<f64>(&sizes);
    let (x_buf, y) = batch(&data.train, 10);
    let x = x_buf.view(); // X: (784 × m), aligned
    let mut group = c.benchmark_group(format!("gradient/{}/f64/{}/1-thread", name(&sizes), backend()));
    group.sample_size(10);
    let mut ws = net.workspace(10);
    let mut grads = net.zero_gradients();
    group.bench_function("backprop", |b| {
        b.iter(|| net.backprop(x, y.view(), &mut ws, &mut grads).expect("a gradient"))
    });
    group.bench_function(format!("finite_differences_{}_parameters", net.num_parameters()), |b| {
        b.iter(|| black_box(numerical_gradient(&net, x, y.view(), 1e-6).expect("a gradient")))
    });
    group.finish();
}

criterion_group!(benches, steps_f32, steps_f64, rules_f32, inference, gradient);

/// criterion_main!, inside a one-thread rayon pool: the engine splits large batches across
/// the pool it runs in, and these groups are the single-threaded ones.
fn main() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    pool.install(benches);
    criterion::Criterion::default().configure_from_args().final_summary();
}
