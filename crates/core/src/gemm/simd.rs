//! The few vector operations the kernels need, for each instruction set they run on.
//!
//! A kernel is written once, generic over [`Simd`], and instantiated per instruction set
//! inside a `#[target_feature]` function (the `per_isa!` macro in `super`), so that the
//! intrinsics below are inlined into code compiled for that instruction set.

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
use std::marker::PhantomData;

use ndarray::LinalgScalar;

/// A vector of `LANES` elements and the operations on it.
///
/// # Safety
/// Every method may use instructions of the set the implementation is for: call them only
/// from code running on a CPU that has it. Pointers must be valid for the lanes accessed.
pub trait Simd {
    type Elem: LinalgScalar + PartialEq;
    type V: Copy;
    const LANES: usize;

    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: Self::Elem) -> Self::V;
    unsafe fn load(p: *const Self::Elem) -> Self::V;
    /// Loads the first `n < LANES` lanes, the others zero.
    unsafe fn load_partial(p: *const Self::Elem, n: usize) -> Self::V;
    unsafe fn store(p: *mut Self::Elem, v: Self::V);
    /// Stores the first `n < LANES` lanes.
    unsafe fn store_partial(p: *mut Self::Elem, v: Self::V, n: usize);
    /// `a · b + c`.
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// The sum of the lanes.
    unsafe fn sum(v: Self::V) -> Self::Elem;
}

/// One lane, plain arithmetic: the fallback where the engine has no vector code (neither
/// x86-64 nor aarch64).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub struct Scalar<F>(PhantomData<F>);

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
impl<F: LinalgScalar + PartialEq> Simd for Scalar<F> {
    type Elem = F;
    type V = F;
    const LANES: usize = 1;

    #[inline(always)]
    unsafe fn zero() -> F {
        F::zero()
    }
    #[inline(always)]
    unsafe fn splat(x: F) -> F {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const F) -> F {
        unsafe { *p }
    }
    #[inline(always)]
    unsafe fn load_partial(_: *const F, _: usize) -> F {
        F::zero()
    }
    #[inline(always)]
    unsafe fn store(p: *mut F, v: F) {
        unsafe { *p = v }
    }
    #[inline(always)]
    unsafe fn store_partial(_: *mut F, _: F, _: usize) {}
    #[inline(always)]
    unsafe fn mul_add(a: F, b: F, c: F) -> F {
        a * b + c
    }
    #[inline(always)]
    unsafe fn mul(a: F, b: F) -> F {
        a * b
    }
    #[inline(always)]
    unsafe fn sum(v: F) -> F {
        v
    }
}

/// The first `n ≤ N` elements at `p` in an array of `N`, the others zero: a partial load for
/// the instruction sets without masked loads (SSE2, NEON), through memory.
///
/// # Safety
/// `p` is valid for `n` reads.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
unsafe fn padded<T: Copy + Default, const N: usize>(p: *const T, n: usize) -> [T; N] {
    let mut v = [T::default(); N];
    unsafe { std::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), n) };
    v
}

/// Writes the first `n ≤ N` elements of `v` to `p`: [`padded`]'s store.
///
/// # Safety
/// `p` is valid for `n` writes.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
unsafe fn store_first<T: Copy, const N: usize>(p: *mut T, v: [T; N], n: usize) {
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), p, n) };
}

#[cfg(target_arch = "x86_64")]
pub use x86::*;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Simd, padded, store_first};

    /// 16 × f32 in a ZMM register (AVX-512F).
    pub struct Avx512F32;
    /// 8 × f64 in a ZMM register (AVX-512F).
    pub struct Avx512F64;
    /// 8 × f32 in a YMM register (AVX2 + FMA).
    pub struct Avx2F32;
    /// 4 × f64 in a YMM register (AVX2 + FMA).
    pub struct Avx2F64;

    impl Simd for Avx512F32 {
        type Elem = f32;
        type V = __m512;
        const LANES: usize = 16;

        #[inline(always)]
        unsafe fn zero() -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> __m512 {
            unsafe { _mm512_maskz_loadu_ps((1u16 << n) - 1, p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f32, v: __m512, n: usize) {
            unsafe { _mm512_mask_storeu_ps(p, (1u16 << n) - 1, v) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m512) -> f32 {
            unsafe { _mm512_reduce_add_ps(v) }
        }
    }

    impl Simd for Avx512F64 {
        type Elem = f64;
        type V = __m512d;
        const LANES: usize = 8;

        #[inline(always)]
        unsafe fn zero() -> __m512d {
            unsafe { _mm512_setzero_pd() }
        }
        #[inline(always)]
        unsafe fn splat(x: f64) -> __m512d {
            unsafe { _mm512_set1_pd(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> __m512d {
            unsafe { _mm512_loadu_pd(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f64, n: usize) -> __m512d {
            unsafe { _mm512_maskz_loadu_pd((1u8 << n) - 1, p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f64, v: __m512d) {
            unsafe { _mm512_storeu_pd(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f64, v: __m512d, n: usize) {
            unsafe { _mm512_mask_storeu_pd(p, (1u8 << n) - 1, v) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            unsafe { _mm512_fmadd_pd(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_mul_pd(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m512d) -> f64 {
            unsafe { _mm512_reduce_add_pd(v) }
        }
    }

    /// Lanes `0..n` set, as the integer mask `maskload`/`maskstore` take.
    #[inline(always)]
    unsafe fn mask_epi32(n: usize) -> __m256i {
        unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
    }

    #[inline(always)]
    unsafe fn mask_epi64(n: usize) -> __m256i {
        unsafe { _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), _mm256_setr_epi64x(0, 1, 2, 3)) }
    }

    impl Simd for Avx2F32 {
        type Elem = f32;
        type V = __m256;
        const LANES: usize = 8;

        #[inline(always)]
        unsafe fn zero() -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> __m256 {
            unsafe { _mm256_maskload_ps(p, mask_epi32(n)) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f32, v: __m256, n: usize) {
            unsafe { _mm256_maskstore_ps(p, mask_epi32(n), v) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m256) -> f32 {
            unsafe {
                let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
                let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
            }
        }
    }

    impl Simd for Avx2F64 {
        type Elem = f64;
        type V = __m256d;
        const LANES: usize = 4;

        #[inline(always)]
        unsafe fn zero() -> __m256d {
            unsafe { _mm256_setzero_pd() }
        }
        #[inline(always)]
        unsafe fn splat(x: f64) -> __m256d {
            unsafe { _mm256_set1_pd(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> __m256d {
            unsafe { _mm256_loadu_pd(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f64, n: usize) -> __m256d {
            unsafe { _mm256_maskload_pd(p, mask_epi64(n)) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f64, v: __m256d) {
            unsafe { _mm256_storeu_pd(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f64, v: __m256d, n: usize) {
            unsafe { _mm256_maskstore_pd(p, mask_epi64(n), v) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            unsafe { _mm256_fmadd_pd(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
            unsafe { _mm256_mul_pd(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m256d) -> f64 {
            unsafe {
                let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
                _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
            }
        }
    }

    /// 4 × f32 in an XMM register (SSE2, every x86-64): the [`Isa::Baseline`](super::super::Isa::Baseline)
    /// kernels on x86-64. No FMA in the baseline: `mul_add` multiplies, then adds.
    pub struct Sse2F32;
    /// 2 × f64 in an XMM register (SSE2, every x86-64).
    pub struct Sse2F64;

    impl Simd for Sse2F32 {
        type Elem = f32;
        type V = __m128;
        const LANES: usize = 4;

        #[inline(always)]
        unsafe fn zero() -> __m128 {
            unsafe { _mm_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m128 {
            unsafe { _mm_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m128 {
            unsafe { _mm_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> __m128 {
            unsafe { _mm_loadu_ps(padded::<f32, 4>(p, n).as_ptr()) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m128) {
            unsafe { _mm_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f32, v: __m128, n: usize) {
            let mut out = [0.0; 4];
            unsafe {
                _mm_storeu_ps(out.as_mut_ptr(), v);
                store_first(p, out, n);
            }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m128, b: __m128, c: __m128) -> __m128 {
            unsafe { _mm_add_ps(_mm_mul_ps(a, b), c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m128, b: __m128) -> __m128 {
            unsafe { _mm_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m128) -> f32 {
            unsafe {
                let s = _mm_add_ps(v, _mm_movehl_ps(v, v));
                _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s)))
            }
        }
    }

    impl Simd for Sse2F64 {
        type Elem = f64;
        type V = __m128d;
        const LANES: usize = 2;

        #[inline(always)]
        unsafe fn zero() -> __m128d {
            unsafe { _mm_setzero_pd() }
        }
        #[inline(always)]
        unsafe fn splat(x: f64) -> __m128d {
            unsafe { _mm_set1_pd(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> __m128d {
            unsafe { _mm_loadu_pd(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f64, n: usize) -> __m128d {
            // `n < 2`: the first lane or none.
            if n == 0 {
                unsafe { _mm_setzero_pd() }
            } else {
                unsafe { _mm_load_sd(p) }
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f64, v: __m128d) {
            unsafe { _mm_storeu_pd(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f64, v: __m128d, n: usize) {
            if n == 1 {
                unsafe { _mm_store_sd(p, v) }
            }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m128d, b: __m128d, c: __m128d) -> __m128d {
            unsafe { _mm_add_pd(_mm_mul_pd(a, b), c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m128d, b: __m128d) -> __m128d {
            unsafe { _mm_mul_pd(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m128d) -> f64 {
            unsafe { _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v))) }
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub use arm::*;

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;

    use super::{Simd, padded, store_first};

    /// 4 × f32 in a NEON register (every aarch64): the [`Isa::Baseline`](super::super::Isa::Baseline)
    /// kernels on aarch64.
    pub struct NeonF32;
    /// 2 × f64 in a NEON register.
    pub struct NeonF64;

    impl Simd for NeonF32 {
        type Elem = f32;
        type V = float32x4_t;
        const LANES: usize = 4;

        #[inline(always)]
        unsafe fn zero() -> float32x4_t {
            unsafe { vdupq_n_f32(0.0) }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> float32x4_t {
            unsafe { vdupq_n_f32(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> float32x4_t {
            unsafe { vld1q_f32(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> float32x4_t {
            unsafe { vld1q_f32(padded::<f32, 4>(p, n).as_ptr()) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: float32x4_t) {
            unsafe { vst1q_f32(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f32, v: float32x4_t, n: usize) {
            let mut out = [0.0; 4];
            unsafe {
                vst1q_f32(out.as_mut_ptr(), v);
                store_first(p, out, n);
            }
        }
        #[inline(always)]
        unsafe fn mul_add(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
            unsafe { vfmaq_f32(c, a, b) }
        }
        #[inline(always)]
        unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            unsafe { vmulq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: float32x4_t) -> f32 {
            unsafe { vaddvq_f32(v) }
        }
    }

    impl Simd for NeonF64 {
        type Elem = f64;
        type V = float64x2_t;
        const LANES: usize = 2;

        #[inline(always)]
        unsafe fn zero() -> float64x2_t {
            unsafe { vdupq_n_f64(0.0) }
        }
        #[inline(always)]
        unsafe fn splat(x: f64) -> float64x2_t {
            unsafe { vdupq_n_f64(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> float64x2_t {
            unsafe { vld1q_f64(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f64, n: usize) -> float64x2_t {
            unsafe { vld1q_f64(padded::<f64, 2>(p, n).as_ptr()) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f64, v: float64x2_t) {
            unsafe { vst1q_f64(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f64, v: float64x2_t, n: usize) {
            let mut out = [0.0; 2];
            unsafe {
                vst1q_f64(out.as_mut_ptr(), v);
                store_first(p, out, n);
            }
        }
        #[inline(always)]
        unsafe fn mul_add(a: float64x2_t, b: float64x2_t, c: float64x2_t) -> float64x2_t {
            unsafe { vfmaq_f64(c, a, b) }
        }
        #[inline(always)]
        unsafe fn mul(a: float64x2_t, b: float64x2_t) -> float64x2_t {
            unsafe { vmulq_f64(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: float64x2_t) -> f64 {
            unsafe { vaddvq_f64(v) }
        }
    }
}
