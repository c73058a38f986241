//! The three matrix products backpropagation is made of, on the engine's own kernels.
//!
//! | | product | where |
//! |---|---|---|
//! | [`forward`] | `Z ← b 1ᵀ + W A` | the forward pass of a layer |
//! | [`tn`] | `D' ← Wᵀ D` | BP2, before the `⊙ σ'(Z)` |
//! | [`nt`] | `W ← β W + α D Aᵀ` | BP4 with the SGD update fused (or `β = 0` for `∇W`) |
//!
//! Each runs on the best instruction set the CPU has (AVX-512F, AVX2 + FMA, or the
//! architecture's baseline vectors: SSE2 on x86-64, NEON on aarch64), detected once;
//! `BATCHPROP_ISA=avx512|avx2|baseline` picks a lower one (`sse2`, `neon` and the old
//! `scalar` name the baseline too). The kernels need the layouts the engine's buffers have (rows of `W` contiguous, columns of
//! `A`, `Z`, `D'` contiguous); any other layout, such as a row-major `X`, goes through
//! ndarray's `general_mat_mul` instead, which is correct but allocates per call.
//!
//! With the `blas` feature (`openblas-system` links OpenBLAS), every product goes through
//! CBLAS instead ([`Backend::Blas`]), unless `BATCHPROP_GEMM=kernels`.
//!
//! # Threads
//!
//! The engine has one source of parallelism at a time. By default it splits large batches
//! across the current rayon pool and calls OpenBLAS single-threaded (it sets
//! `openblas_set_num_threads(1)`). If `OPENBLAS_NUM_THREADS` is set above 1, OpenBLAS keeps
//! that many threads for each product and the engine does not split batches.

mod kernels;
mod simd;

use std::sync::{
    OnceLock,
    atomic::{AtomicU8, Ordering},
};

use kernels::{Blocking, Mat, MatMut};
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder, linalg::general_mat_mul};
use simd::Simd;

/// The instruction set the kernels run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// 512-bit vectors (x86-64 with AVX-512F).
    Avx512,
    /// 256-bit vectors with fused multiply–add (x86-64 with AVX2 and FMA).
    Avx2,
    /// The vectors every CPU of the architecture has: 128-bit SSE2 on x86-64 (no FMA), NEON
    /// on aarch64; one-lane scalar code elsewhere.
    Baseline,
}

impl Isa {
    /// `avx512`, `avx2`, or the baseline's name: `sse2`, `neon` or `scalar`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Baseline if cfg!(target_arch = "x86_64") => "sse2",
            Isa::Baseline if cfg!(target_arch = "aarch64") => "neon",
            Isa::Baseline => "scalar",
        }
    }

    /// The instruction set `BATCHPROP_ISA` names: its [`name`](Isa::name), or `baseline` (or
    /// `scalar`, its name before it was vectorised) for [`Isa::Baseline`].
    pub fn named(name: &str) -> Option<Isa> {
        match name {
            "baseline" | "scalar" => Some(Isa::Baseline),
            _ => Isa::ALL.into_iter().find(|isa| isa.name() == name),
        }
    }

    /// Whether this CPU can run it.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The instruction sets, best first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Baseline];

    /// The instruction set the kernels use: the best this CPU supports, or the one named by
    /// `BATCHPROP_ISA` if the CPU supports that (else a line on stderr says why not). Decided
    /// once per process.
    pub fn current() -> Isa {
        static CURRENT: OnceLock<Isa> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let best = Isa::ALL
                .into_iter()
                .find(|isa| isa.is_supported())
                .unwrap_or(Isa::Baseline);
            let Ok(name) = std::env::var("BATCHPROP_ISA") else {
                return best;
            };
            match Isa::named(&name) {
                Some(isa) if isa.is_supported() => isa,
                // A misspelt or unsupported name would otherwise be ignored without a word
                // (and a benchmark measure the wrong kernels): said once, on stderr.
                named => {
                    let why = if named.is_some() {
                        "is not supported by this CPU"
                    } else {
                        "names no instruction set (avx512, avx2, baseline)"
                    };
                    eprintln!("batchprop: BATCHPROP_ISA={name} {why}; using {}", best.name());
                    best
                }
            }
        })
    }

    /// `f()` compiled for this instruction set's vectors (one the CPU supports), for the
    /// element-wise passes outside the kernels (the update rules, the trainer's pixel
    /// conversion): the crates are built for the baseline, so a loop left to itself runs in
    /// SSE2's four lanes. `f` must be a loop the compiler can vectorise and inline (a small
    /// closure); it gets the same bits on every instruction set as long as it asks for no
    /// fused multiply–add (`mul_add` is one instruction on AVX2 and AVX-512, a library call
    /// on the baseline).
    ///
    /// # Panics
    /// If this CPU does not support `self`.
    #[inline(always)]
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            fn avx512<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            match self {
                // SAFETY: checked to be supported first.
                Isa::Avx512 if self.is_supported() => return unsafe { avx512(f) },
                Isa::Avx2 if self.is_supported() => return unsafe { avx2(f) },
                Isa::Baseline => {}
                _ => panic!("{} is not supported by this CPU", self.name()),
            }
        }
        f()
    }
}

/// Where the engine's matrix products run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The engine's own kernels (this module), on [`Isa::current`].
    Kernels,
    /// CBLAS `?gemm` through ndarray's `general_mat_mul` (the `blas` feature).
    Blas,
}

impl Backend {
    /// `kernels` or `blas`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Kernels => "kernels",
            Backend::Blas => "blas",
        }
    }

    /// Whether this build can use it.
    pub fn is_available(self) -> bool {
        self == Backend::Kernels || cfg!(feature = "blas")
    }

    /// The backend in use: BLAS when the `blas` feature is on, unless `BATCHPROP_GEMM=kernels`
    /// (or [`Backend::set`]) chose otherwise.
    pub fn current() -> Backend {
        match BACKEND.load(Ordering::Relaxed) {
            1 => Backend::Kernels,
            2 => Backend::Blas,
            _ => {
                let default = if cfg!(feature = "blas") {
                    Backend::Blas
                } else {
                    Backend::Kernels
                };
                let chosen = match std::env::var("BATCHPROP_GEMM").as_deref() {
                    Ok("kernels") => Backend::Kernels,
                    Ok("blas") if Backend::Blas.is_available() => Backend::Blas,
                    _ => default,
                };
                Backend::set(chosen);
                chosen
            }
        }
    }

    /// Makes every following product use `backend` (process-wide). Returns `false`, and
    /// changes nothing, if this build cannot use it.
    pub fn set(backend: Backend) -> bool {
        if !backend.is_available() {
            return false;
        }
        if backend == Backend::Blas {
            openblas::init_threads();
        }
        BACKEND.store(if backend == Backend::Kernels { 1 } else { 2 }, Ordering::Relaxed);
        true
    }

    /// A description for the tools to print: `avx512 kernels`, or the BLAS library, its
    /// kernel and threads (`OpenBLAS 0.3.21 … Cooperlake, 1 thread`).
    pub fn describe(self) -> String {
        match self {
            Backend::Kernels => format!("{} kernels", Isa::current().name()),
            Backend::Blas => openblas::describe(),
        }
    }
}

/// 0: not decided yet, 1: kernels, 2: BLAS.
static BACKEND: AtomicU8 = AtomicU8::new(0);

/// Whether the engine may split a batch across the rayon pool: not when OpenBLAS runs each
/// product on several threads itself.
pub(crate) fn engine_splits() -> bool {
    Backend::current() == Backend::Kernels || openblas::threads() <= 1
}

#[cfg(feature = "openblas-system")]
mod openblas {
    use std::{ffi::CStr, os::raw::c_char, sync::Once};

    unsafe extern "C" {
        fn openblas_set_num_threads(n: i32);
        fn openblas_get_num_threads() -> i32;
        fn openblas_get_corename() -> *const c_char;
        fn openblas_get_config() -> *const c_char;
    }

    /// OpenBLAS runs single-threaded unless the user set `OPENBLAS_NUM_THREADS`: the engine
    /// splits batches across its own threads instead.
    pub fn init_threads() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            if std::env::var_os("OPENBLAS_NUM_THREADS").is_none() {
                // SAFETY: a plain call into the linked OpenBLAS.
                unsafe { openblas_set_num_threads(1) }
            }
        });
    }

    pub fn threads() -> usize {
        // SAFETY: a plain call into the linked OpenBLAS.
        unsafe { openblas_get_num_threads() }.max(1) as usize
    }

    pub fn describe() -> String {
        // SAFETY: OpenBLAS returns static NUL-terminated strings.
        let (config, core) = unsafe {
            (
                CStr::from_ptr(openblas_get_config()).to_string_lossy(),
                CStr::from_ptr(openblas_get_corename()).to_string_lossy(),
            )
        };
        let version = config.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let n = threads();
        format!(
            "{version} ({core} kernels, {n} thread{})",
            if n == 1 { "" } else { "s" }
        )
    }
}

#[cfg(not(feature = "openblas-system"))]
mod openblas {
    pub fn init_threads() {}
    pub fn threads() -> usize {
        1
    }
    pub fn describe() -> String {
        "CBLAS (linked by the user)".into()
    }
}

/// The kernels of one element type on each instruction set. Implemented for `f32` and `f64`
/// only; public in a private module, so that it can be a bound of [`crate::Float`] without
/// being nameable outside.
pub trait Element: ndarray::LinalgScalar + PartialEq {
    #[doc(hidden)]
    #[cfg(target_arch = "x86_64")]
    type Avx512: Simd<Elem = Self>;
    #[doc(hidden)]
    #[cfg(target_arch = "x86_64")]
    type Avx2: Simd<Elem = Self>;
    #[doc(hidden)]
    type Baseline: Simd<Elem = Self>;
}

#[cfg(target_arch = "x86_64")]
impl Element for f32 {
    type Avx512 = simd::Avx512F32;
    type Avx2 = simd::Avx2F32;
    type Baseline = simd::Sse2F32;
}

#[cfg(target_arch = "x86_64")]
impl Element for f64 {
    type Avx512 = simd::Avx512F64;
    type Avx2 = simd::Avx2F64;
    type Baseline = simd::Sse2F64;
}

#[cfg(target_arch = "aarch64")]
impl Element for f32 {
    type Baseline = simd::NeonF32;
}

#[cfg(target_arch = "aarch64")]
impl Element for f64 {
    type Baseline = simd::NeonF64;
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
impl Element for f32 {
    type Baseline = simd::Scalar<f32>;
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
impl Element for f64 {
    type Baseline = simd::Scalar<f64>;
}

/// Block sizes per instruction set, for its number of vector registers: 32 with AVX-512
/// (and NEON), 16 with AVX2 (and SSE2). Without FMA, SSE2's multiply needs a temporary
/// register: 3 × 3 accumulators and 3 + 3 operands still leave it one.
const AVX512: Blocking = Blocking {
    forward: (4, 4),
    tn: (4, 4),
    nt: (4, 4),
};
const AVX2: Blocking = Blocking {
    forward: (3, 3),
    tn: (3, 3),
    nt: (3, 3),
};
const BASELINE: Blocking = if cfg!(target_arch = "aarch64") {
    AVX512
} else if cfg!(target_arch = "x86_64") {
    AVX2
} else {
    Blocking {
        forward: (2, 2),
        tn: (2, 4),
        nt: (2, 4),
    }
};

/// Instantiates a generic kernel once per instruction set, each compiled with that set's
/// target features so that the `Simd` intrinsics inline into it.
macro_rules! per_isa {
    ($name:ident => $kernel:ident($($arg:ident: $ty:ty),*)) => {
        unsafe fn $name<F: Element>(isa: Isa, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512<F: Element, S: Simd<Elem = F>>($($arg: $ty),*) {
                unsafe { kernels::$kernel::<S>($($arg,)* AVX512) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<F: Element, S: Simd<Elem = F>>($($arg: $ty),*) {
                unsafe { kernels::$kernel::<S>($($arg,)* AVX2) }
            }
            unsafe {
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => avx512::<F, F::Avx512>($($arg),*),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => avx2::<F, F::Avx2>($($arg),*),
                    _ => kernels::$kernel::<F::Baseline>($($arg,)* BASELINE),
                }
            }
        }
    };
}

per_isa!(forward_kernel => forward(nkm: (usize, usize, usize), w: Mat<F>, a: Mat<F>, b: Mat<F>, z: MatMut<F>));
per_isa!(tn_kernel => tn(nkm: (usize, usize, usize), w: Mat<F>, d: Mat<F>, out: MatMut<F>));
per_isa!(nt_kernel => nt(nkm: (usize, usize, usize), alpha: F, d: Mat<F>, a: Mat<F>, beta: F, w: MatMut<F>));

fn mat<F>(v: &ArrayView2<F>) -> Mat<F> {
    let s = v.strides();
    Mat {
        ptr: v.as_ptr(),
        rs: s[0],
        cs: s[1],
    }
}

fn mat_mut<F>(v: &mut ArrayViewMut2<F>) -> MatMut<F> {
    let s = v.strides();
    let (rs, cs) = (s[0], s[1]);
    MatMut {
        ptr: v.as_mut_ptr(),
        rs,
        cs,
    }
}

/// Whether the elements along `axis` are contiguous (or there is at most one).
fn unit_stride<F>(v: &ArrayView2<F>, axis: Axis) -> bool {
    v.len_of(axis) <= 1 || v.stride_of(axis) == 1
}

/// `Z ← b 1ᵀ + W A`: `W: (n × k)`, `A: (k × m)`, `b: (n)`, `Z: (n × m)`.
///
/// # Panics
/// If the shapes do not match.
pub fn forward<F: Element>(w: &ArrayView2<F>, a: &ArrayView2<F>, b: &ArrayView1<F>, z: &mut ArrayViewMut2<F>) {
    let ((n, k), m) = (w.dim(), a.ncols());
    assert!(
        a.nrows() == k && b.len() == n && z.dim() == (n, m),
        "forward: shapes do not match"
    );
    match Backend::current() {
        Backend::Kernels => forward_on(Isa::current(), w, a, b, z),
        Backend::Blas => forward_general(w, a, b, z),
    }
}

fn forward_general<F: Element>(w: &ArrayView2<F>, a: &ArrayView2<F>, b: &ArrayView1<F>, z: &mut ArrayViewMut2<F>) {
    z.assign(&b.view().insert_axis(Axis(1)));
    gemm_general(F::one(), w, a, F::one(), z);
}

/// `C ← α A B + β C` through ndarray's `general_mat_mul` (BLAS with the `blas` feature).
///
/// ndarray gives an axis of length 1 the stride 0 (a batch of one example, a single
/// column), which CBLAS rejects, so ndarray would fall back to matrixmultiply and allocate.
/// The operands are passed with the strides such an axis has in a contiguous layout.
fn gemm_general<F: Element>(alpha: F, a: &ArrayView2<F>, b: &ArrayView2<F>, beta: F, c: &mut ArrayViewMut2<F>) {
    let (a, b) = (unit_axes_strided(a.view()), unit_axes_strided(b.view()));
    let (shape, strides, ptr) = (c.dim(), [c.strides()[0], c.strides()[1]], c.as_mut_ptr());
    match blas_strides(shape, strides) {
        // SAFETY: the same elements as `c` (an axis of length 1 is never stepped along), and
        // `c` is borrowed mutably for as long as the new view lives.
        Some(s) => general_mat_mul(alpha, &a, &b, beta, &mut unsafe {
            ArrayViewMut2::from_shape_ptr(shape.strides(s), ptr)
        }),
        None => general_mat_mul(alpha, &a, &b, beta, c),
    }
}

/// `v` with its length-1 axes given a nonzero stride (see [`gemm_general`]).
fn unit_axes_strided<F>(v: ArrayView2<'_, F>) -> ArrayView2<'_, F> {
    let s = v.strides();
    match blas_strides(v.dim(), [s[0], s[1]]) {
        // SAFETY: the same elements as `v`: an axis of length 1 is never stepped along.
        Some(strides) => unsafe { ArrayView2::from_shape_ptr(v.dim().strides(strides), v.as_ptr()) },
        None => v,
    }
}

/// The strides to give a `(rows × cols)` view whose length-1 axes have stride 0, or `None`
/// if it has none (or has a negative stride, which the `usize` strides cannot express).
fn blas_strides((rows, cols): (usize, usize), [s0, s1]: [isize; 2]) -> Option<(usize, usize)> {
    if s0 < 0 || s1 < 0 || !((rows == 1 && s0 == 0) || (cols == 1 && s1 == 0)) {
        return None;
    }
    let (mut s0, mut s1) = (s0 as usize, s1 as usize);
    if rows == 1 && s0 == 0 {
        s0 = (cols * s1).max(1);
    }
    if cols == 1 && s1 == 0 {
        s1 = (rows * s0).max(1);
    }
    Some((s0, s1))
}

fn forward_on<F: Element>(isa: Isa, w: &ArrayView2<F>, a: &ArrayView2<F>, b: &ArrayView1<F>, z: &mut ArrayViewMut2<F>) {
    let ((n, k), m) = (w.dim(), a.ncols());
    assert!(
        a.nrows() == k && b.len() == n && z.dim() == (n, m),
        "forward: shapes do not match"
    );
    if unit_stride(w, Axis(1)) && unit_stride(a, Axis(0)) {
        let b = b.view().insert_axis(Axis(1));
        // SAFETY: the views are valid for their shapes and strides, `z` is borrowed mutably
        // so it cannot overlap them, and `isa` comes from `Isa::current` or a supported test.
        unsafe { forward_kernel::<F>(isa, (n, k, m), mat(w), mat(a), mat(&b), mat_mut(z)) }
    } else {
        forward_general(w, a, b, z);
    }
}

/// `D' ← Wᵀ D`: `W: (n × k)`, `D: (n × m)`, `D': (k × m)`.
///
/// # Panics
/// If the shapes do not match.
pub fn tn<F: Element>(w: &ArrayView2<F>, d: &ArrayView2<F>, out: &mut ArrayViewMut2<F>) {
    match Backend::current() {
        Backend::Kernels => tn_on(Isa::current(), w, d, out),
        Backend::Blas => gemm_general(F::one(), &w.t(), d, F::zero(), out),
    }
}

fn tn_on<F: Element>(isa: Isa, w: &ArrayView2<F>, d: &ArrayView2<F>, out: &mut ArrayViewMut2<F>) {
    let ((n, k), m) = (w.dim(), d.ncols());
    assert!(d.nrows() == n && out.dim() == (k, m), "tn: shapes do not match");
    if unit_stride(w, Axis(1)) && unit_stride(&out.view(), Axis(0)) {
        // SAFETY: as in `forward_on`.
        unsafe { tn_kernel::<F>(isa, (n, k, m), mat(w), mat(d), mat_mut(out)) }
    } else {
        gemm_general(F::one(), &w.t(), d, F::zero(), out);
    }
}

/// `W ← β W + α D Aᵀ`: `W: (n × k)`, `D: (n × m)`, `A: (k × m)`. With `β = 0`, `W` is
/// overwritten without being read.
///
/// # Panics
/// If the shapes do not match.
pub fn nt<F: Element>(alpha: F, d: &ArrayView2<F>, a: &ArrayView2<F>, beta: F, w: &mut ArrayViewMut2<F>) {
    match Backend::current() {
        Backend::Kernels => nt_on(Isa::current(), alpha, d, a, beta, w),
        Backend::Blas => gemm_general(alpha, d, &a.t(), beta, w),
    }
}

fn nt_on<F: Element>(isa: Isa, alpha: F, d: &ArrayView2<F>, a: &ArrayView2<F>, beta: F, w: &mut ArrayViewMut2<F>) {
    let ((n, m), k) = (d.dim(), a.nrows());
    assert!(a.ncols() == m && w.dim() == (n, k), "nt: shapes do not match");
    if unit_stride(&w.view(), Axis(1)) && unit_stride(a, Axis(0)) {
        // SAFETY: as in `forward_on`.
        unsafe { nt_kernel::<F>(isa, (n, k, m), alpha, mat(d), mat(a), beta, mat_mut(w)) }
    } else {
        gemm_general(alpha, d, &a.t(), beta, w);
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2, ShapeBuilder, s};

    use super::*;
    use crate::Float;

    /// Deterministic values in [-1, 1) without a random number generator.
    fn values<F: Float>(shape: (usize, usize), seed: usize, column_major: bool) -> Array2<F> {
        let f = |(i, j): (usize, usize)| F::from_f64((((i * 131 + j * 71 + seed * 17) % 97) as f64) / 48.5 - 1.0);
        if column_major {
            Array2::from_shape_fn(shape.f(), f)
        } else {
            Array2::from_shape_fn(shape, f)
        }
    }

    /// The reference: plain triple loops in f64.
    fn naive(a: &ArrayView2<f64>, b: &ArrayView2<f64>) -> Array2<f64> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            (0..a.ncols()).map(|p| a[[i, p]] * b[[p, j]]).sum()
        })
    }

    fn wide<F: Float>(v: &ArrayView2<F>) -> Array2<f64> {
        v.mapv(|x| x.as_f64())
    }

    fn assert_close<F: Float>(found: &ArrayView2<F>, expected: &Array2<f64>, what: &str) {
        let tol = if F::NAME == "f32" { 1e-5 } else { 1e-13 };
        let scale = expected.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (f, e) in found.iter().zip(expected) {
            assert!((f.as_f64() - e).abs() <= tol * scale, "{what}: {f} vs {e}");
        }
    }

    /// Shapes that exercise every block remainder: 1, below, at and above a vector of 4, 8
    /// and 16 lanes, several blocks.
    const DIMS: [usize; 8] = [1, 3, 4, 7, 8, 16, 17, 70];

    fn every_kernel_on<F: Float>(isa: Isa) {
        for (t, &n) in DIMS.iter().enumerate() {
            for &k in &DIMS {
                // With the unit tests' 1 KiB panels (kernels.rs), m = 13 crosses a panel
                // boundary once k ≥ 17 and m = 70 once k ≥ 4: every kernel's panel loop and
                // its last, partial panel are exercised.
                for &m in &[1, 2, 5, 10, 13, 70] {
                    let what = format!("{} {} n={n} k={k} m={m}", isa.name(), F::NAME);
                    let w = values::<F>((n, k), t, false);
                    let a = values::<F>((k, m), t + 1, true);
                    let b = Array1::from_shape_fn(n, |i| F::from_f64(i as f64 * 0.25 - 1.0));
                    let (ww, aw) = (wide(&w.view()), wide(&a.view()));

                    // forward, into a column-major Z with a leading dimension larger than n
                    let mut z_buf = Array2::from_elem((n + 3, m).f(), F::nan());
                    let mut z = z_buf.slice_mut(s![..n, ..]);
                    forward_on(isa, &w.view(), &a.view(), &b.view(), &mut z);
                    let expected = naive(&ww.view(), &aw.view()) + &b.mapv(|x| x.as_f64()).insert_axis(Axis(1));
                    assert_close(&z.view(), &expected, &format!("forward {what}"));

                    // tn: D' = Wᵀ D
                    let d = values::<F>((n, m), t + 2, true);
                    let mut out = Array2::from_elem((k, m).f(), F::nan());
                    tn_on(isa, &w.view(), &d.view(), &mut out.view_mut());
                    assert_close(
                        &out.view(),
                        &naive(&ww.t(), &wide(&d.view()).view()),
                        &format!("tn {what}"),
                    );

                    // nt: W = βW + α D Aᵀ, for β = 0 (W unread: NaN must not leak), 1 and 0.5
                    let dat = naive(&wide(&d.view()).view(), &aw.t());
                    for beta in [0.0, 1.0, 0.5] {
                        let mut w2 = if beta == 0.0 {
                            Array2::from_elem((n, k), F::nan())
                        } else {
                            w.clone()
                        };
                        let (alpha, beta_f) = (F::from_f64(-0.3), F::from_f64(beta));
                        nt_on(isa, alpha, &d.view(), &a.view(), beta_f, &mut w2.view_mut());
                        let expected = if beta == 0.0 {
                            &dat * -0.3
                        } else {
                            &ww * beta + &dat * -0.3
                        };
                        assert_close(&w2.view(), &expected, &format!("nt β={beta} {what}"));
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_on_every_supported_isa_matches_the_triple_loop() {
        for isa in Isa::ALL.into_iter().filter(|isa| isa.is_supported()) {
            every_kernel_on::<f32>(isa);
            every_kernel_on::<f64>(isa);
        }
    }

    #[test]
    fn other_layouts_take_the_general_path_and_agree() {
        // A row-major A and a row-major W^T: neither fits the kernels.
        let w = values::<f64>((5, 9), 1, true); // column-major W: rows strided
        let a = values::<f64>((9, 4), 2, false); // row-major A: columns strided
        let b = Array1::from_elem(5, 0.5);
        let mut z = Array2::zeros((5, 4));
        forward(&w.view(), &a.view(), &b.view(), &mut z.view_mut());
        let expected = naive(&w.view(), &a.view()) + 0.5;
        assert_close(&z.view(), &expected, "forward, general path");
    }

    #[test]
    fn the_current_isa_is_supported() {
        assert!(Isa::current().is_supported());
    }

    #[test]
    fn batchprop_isa_names_the_kernels_that_run() {
        for isa in Isa::ALL {
            assert_eq!(Isa::named(isa.name()), Some(isa));
        }
        assert_eq!(Isa::named("baseline"), Some(Isa::Baseline));
        assert_eq!(Isa::named("scalar"), Some(Isa::Baseline));
        assert_eq!(Isa::named("avx"), None);
        // CI runs the tests once per instruction set through this variable: a name it does
        // not take would test the best one twice.
        if let Ok(name) = std::env::var("BATCHPROP_ISA") {
            let isa = Isa::named(&name).unwrap_or_else(|| panic!("BATCHPROP_ISA={name} names no instruction set"));
            if isa.is_supported() {
                assert_eq!(Isa::current(), isa, "BATCHPROP_ISA={name}");
            }
        }
    }
}
