//! The few vector operations the kernels need, for each instruction set they run on.
//!
//! A kernel is written once, generic over [`Simd`], and instantiated per instruction set
//! inside a `#[target_feature]` function (the `per_isa!` macro in `super`), so that the
//! intrinsics below are inlined into code compiled for that instruction set.

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

/// One lane, plain arithmetic: the portable fallback.
pub struct Scalar<F>(PhantomData<F>);

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

#[cfg(target_arch = "x86_64")]
pub use x86::*;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Simd;

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
}
