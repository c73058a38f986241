//! What the benchmarks share: the shapes and batch sizes, real MNIST batches, the FLOP count
//! of a training step, the machine's GEMM peak, and robust timing.

use std::time::Instant;

use batchprop::{AlignedMatrix, Float};
use batchprop_data::{Dataset, Mnist, Split};
use batchprop_examples::mnist_dir;
use ndarray::{Array2, ArrayView2, ShapeBuilder, s};
use rayon::prelude::*;

/// The network shapes benchmarked.
pub const SHAPES: [&[usize]; 3] = [&[784, 30, 10], &[784, 100, 10], &[784, 256, 128, 10]];

/// The (shape, mini-batch) pairs the update rules are benchmarked on, beside plain SGD.
pub const RULE_CASES: [(&[usize], usize); 2] = [(&[784, 30, 10], 10), (&[784, 100, 10], 100)];

/// The update rules benchmarked beside plain SGD (`sgd_step`): a name, the rule, the η each
/// is run at, and the dropout probability.
pub fn rules() -> [(&'static str, batchprop::Rule, f64, f64); 6] {
    use batchprop::Rule;
    [
        ("sgd", Rule::Sgd, 0.1, 0.0),
        ("momentum", Rule::Momentum { mu: 0.9 }, 0.01, 0.0),
        ("nesterov", Rule::Nesterov { mu: 0.9 }, 0.01, 0.0),
        ("adam", Rule::adam(), 1e-3, 0.0),
        ("adamw", Rule::adam_w(), 1e-3, 0.0),
        ("sgd+dropout0.5", Rule::Sgd, 0.1, 0.5),
    ]
}

/// An optimiser for one of [`rules`]' rows.
pub fn optimizer<F: batchprop::Float>(
    net: &batchprop::Network<F>,
    (rule, eta, p): (batchprop::Rule, f64, f64),
) -> batchprop::Optimizer<F> {
    let dropout = batchprop::Dropout::new(p, 0).expect("a valid p");
    batchprop::Optimizer::new(net, rule, eta)
        .expect("a valid rule")
        .with_dropout(dropout)
}

/// The mini-batch sizes benchmarked.
pub const BATCHES: [usize; 5] = [1, 10, 32, 100, 1000];

/// MNIST's training and test sets in `F` (from `$MNIST_DIR` or the repository's data/mnist).
pub fn mnist<F: Float + batchprop_data::Float>() -> Mnist<F> {
    let dir = mnist_dir(None, &batchprop_data::MNIST_FILES).unwrap_or_else(|e| panic!("{e}"));
    Mnist::load(dir, Split::Book).unwrap_or_else(|e| panic!("{e}"))
}

/// The first `m` examples of `data` as the trainer hands them to the engine: `X: (784 × m)`
/// and the one-hot `Y: (10 × m)`, copied into 64-byte-aligned buffers as the trainer's
/// mini-batches are.
pub fn batch<F: Float>(data: &Dataset<F>, m: usize) -> (AlignedMatrix<F>, AlignedMatrix<F>) {
    let mut x = AlignedMatrix::zeros(data.x().nrows(), m).expect("a small batch");
    x.view_mut().assign(&data.x().slice(s![.., ..m]));
    let mut y = AlignedMatrix::zeros(data.classes(), m).expect("a small batch");
    let mut y_view = y.view_mut();
    for (j, &label) in data.labels()[..m].iter().enumerate() {
        y_view[[label as usize, j]] = F::one();
    }
    (x, y)
}

/// Floating-point operations of one SGD step on a batch of `m`: per layer `l`, the forward
/// product `W^l A^{l-1}` and the BP4 product `Δ^l (A^{l-1})ᵀ`, `2 n_l n_{l-1} m` each, and
/// for `l ≥ 2` the BP2 product `(W^l)ᵀ Δ^l`, as many again. Element-wise work is not
/// counted.
pub fn step_flops(sizes: &[usize], m: usize) -> f64 {
    sizes
        .windows(2)
        .enumerate()
        .map(|(i, p)| {
            let products = if i == 0 { 2.0 } else { 3.0 };
            products * 2.0 * (p[0] * p[1] * m) as f64
        })
        .sum()
}

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Seconds per call of `f`: calls it for about `seconds`, in as many calls as that takes
/// (at least 2), and returns the mean.
pub fn seconds_per_call(seconds: f64, mut f: impl FnMut()) -> f64 {
    f(); // warm caches and buffers
    let start = Instant::now();
    let mut calls = 0u64;
    while calls < 2 || start.elapsed().as_secs_f64() < seconds {
        f();
        calls += 1;
    }
    start.elapsed().as_secs_f64() / calls as f64
}

/// GFLOP/s of `product(W, A, Z)` computing `Z ← W A` for square `n × n` matrices (`W`
/// row-major, `A` and `Z` column-major), the columns of `A` and `Z` split over `threads` rayon
/// threads: the best of `rounds`.
fn square_gflops<F: Float>(
    n: usize,
    threads: usize,
    rounds: usize,
    product: impl Fn(&ArrayView2<F>, &ArrayView2<F>, &mut ndarray::ArrayViewMut2<F>) + Sync,
) -> f64 {
    let w = Array2::<F>::from_shape_fn((n, n), |(i, j)| F::from_f64(((i * 7 + j * 3) % 13) as f64 / 13.0));
    let a = Array2::<F>::from_shape_fn((n, n).f(), |(i, j)| F::from_f64(((i * 5 + j) % 11) as f64 / 11.0));
    let mut z = Array2::<F>::zeros((n, n).f());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let chunk = n.div_ceil(threads);
    let mut best = 0.0f64;
    for _ in 0..rounds {
        let start = Instant::now();
        pool.install(|| {
            (a.axis_chunks_iter(ndarray::Axis(1), chunk).into_par_iter())
                .zip(z.axis_chunks_iter_mut(ndarray::Axis(1), chunk))
                .for_each(|(a, mut z)| product(&w.view(), &a, &mut z));
        });
        best = best.max(2.0 * (n * n * n) as f64 / start.elapsed().as_secs_f64() / 1e9);
    }
    best
}

/// GFLOP/s of matrixmultiply (the packing GEMM ndarray uses, AVX-512 kernels on) on a square
/// `n × n` product over `threads` threads, the best of `rounds`.
pub fn square_gemm_gflops<F: Float>(n: usize, threads: usize, rounds: usize) -> f64 {
    square_gflops::<F>(n, threads, rounds, gemm)
}

/// GFLOP/s of batchprop's `forward` product (on the current [`batchprop::Backend`]) on a
/// square `n × n` product over `threads` threads, the best of `rounds`.
pub fn square_kernel_gflops<F: Float>(n: usize, threads: usize, rounds: usize) -> f64 {
    let b = ndarray::Array1::<F>::zeros(n);
    square_gflops::<F>(n, threads, rounds, |w, a, z| {
        batchprop::gemm::forward(w, a, &b.view(), z)
    })
}

/// `C ← A B` with matrixmultiply directly (not through ndarray, whose build of it leaves the
/// AVX-512 kernels off).
fn gemm<F: Float>(a: &ArrayView2<F>, b: &ArrayView2<F>, c: &mut ndarray::ArrayViewMut2<F>) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (sa, sb, sc) = (a.strides(), b.strides(), [c.strides()[0], c.strides()[1]]);
    macro_rules! call {
        ($gemm:ident) => {
            // SAFETY: the views are valid for their shapes and strides and `c` does not overlap them.
            unsafe {
                matrixmultiply::$gemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr().cast(),
                    sa[0],
                    sa[1],
                    b.as_ptr().cast(),
                    sb[0],
                    sb[1],
                    0.0,
                    c.as_mut_ptr().cast(),
                    sc[0],
                    sc[1],
                )
            }
        };
    }
    if F::NAME == "f32" { call!(sgemm) } else { call!(dgemm) }
}

/// A measured GEMM peak: GFLOP/s and the library that reached it.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    pub gflops: f64,
    pub by: &'static str,
}

/// The machine's measured GEMM peak on `threads` threads: the best of batchprop's own
/// kernels, matrixmultiply and (with the `openblas-system` feature) OpenBLAS on a square
/// 1024³ product, best of 10 rounds each, and which of them it was.
pub fn gemm_peak<F: Float>(threads: usize) -> Peak {
    let mut candidates = vec![
        Peak {
            gflops: square_kernel_gflops::<F>(1024, threads, 10),
            by: "batchprop kernels",
        },
        Peak {
            gflops: square_gemm_gflops::<F>(1024, threads, 10),
            by: "matrixmultiply",
        },
    ];
    let current = batchprop::Backend::current();
    if batchprop::Backend::set(batchprop::Backend::Blas) {
        candidates.push(Peak {
            gflops: square_kernel_gflops::<F>(1024, threads, 10),
            by: "OpenBLAS",
        });
        batchprop::Backend::set(current);
    }
    candidates
        .into_iter()
        .max_by(|a, b| a.gflops.total_cmp(&b.gflops))
        .expect("two candidates at least")
}

/// The CPU's model name, from `/proc/cpuinfo` where there is one.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_of_the_book_network() {
        // [784, 30, 10], m = 10: layer 1 forward + BP4 = 2 · 2 · 784 · 30 · 10 = 940,800;
        // layer 2 forward + BP2 + BP4 = 3 · 2 · 30 · 10 · 10 = 18,000.
        assert_eq!(step_flops(&[784, 30, 10], 10), 958_800.0);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
