//! The element types a data set can hold.

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// `f32` or `f64`: the precision a data set is converted to when loaded.
///
/// The data crate's own bound, so that it depends on no engine: `Dataset<f32>` hands the
/// engine (`batchprop::Network<f32>`) its inputs as they are.
pub trait Float:
    Copy + Clone + Default + PartialEq + PartialOrd + std::fmt::Debug + Send + Sync + 'static + sealed::Sealed
{
    /// `"f32"` or `"f64"`.
    const DTYPE: &'static str;

    /// `x` rounded to this type.
    fn from_f64(x: f64) -> Self;

    /// This value as `f64` (exact).
    fn to_f64(self) -> f64;

    /// Neither NaN nor infinite.
    fn is_finite(self) -> bool;
}

impl Float for f32 {
    const DTYPE: &'static str = "f32";
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "f64";
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}
