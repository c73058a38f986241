//! The two element types the engine is generic over.

use ndarray::NdFloat;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// `f32` or `f64`: one generic implementation serves both.
///
/// Sealed: the GEMM backends (matrixmultiply, BLAS) only exist for these two.
pub trait Float:
    NdFloat + sealed::Sealed + crate::gemm::Element + serde::Serialize + serde::de::DeserializeOwned
{
    /// `"f32"` or `"f64"`, as the tools print it.
    const NAME: &'static str;

    /// `x` rounded to this type.
    fn from_f64(x: f64) -> Self;

    /// `self` widened to `f64` (exact).
    fn as_f64(self) -> f64;

    /// `n` as this type (rounded for `f32` past 2^24).
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    #[inline]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    #[inline]
    fn from_f64(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
}
