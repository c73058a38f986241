//! Activation functions: `A = σ(Z)` forward, `Δ ← σ'(Z) ⊙ Δ` backward.
//!
//! The chapter stresses that BP1–BP4 hold for any activation function: only σ and σ' enter
//! them. The built-in ones are variants of [`Activation`]; a new element-wise one is added by
//! implementing [`Elementwise`] (σ and σ') and wrapping it with [`Activation::custom`].

use std::{borrow::Cow, fmt, sync::Arc};

use ndarray::{ArrayView2, ArrayViewMut2, Zip};

use crate::Float;

/// An element-wise activation function, defined by σ and σ'.
///
/// ```
/// use batchprop::{Activation, Elementwise, Float};
///
/// /// The "swish" function z·σ(z).
/// #[derive(Debug)]
/// struct Swish;
///
/// impl<F: Float> Elementwise<F> for Swish {
///     fn name(&self) -> &str {
///         "swish"
///     }
///     fn sigma(&self, z: F) -> F {
///         z * batchprop::sigmoid(z)
///     }
///     fn sigma_prime(&self, z: F, a: F) -> F {
///         let s = batchprop::sigmoid(z);
///         a + s * (F::one() - a)
///     }
/// }
///
/// let swish = Activation::<f64>::custom(Swish);
/// assert_eq!(swish.name(), "swish");
/// ```
pub trait Elementwise<F>: fmt::Debug + Send + Sync {
    /// The name written into saved models.
    fn name(&self) -> &str;

    /// σ(z).
    fn sigma(&self, z: F) -> F;

    /// σ'(z), given both `z` and the stored activation `a = σ(z)`: use whichever is cheaper
    /// (`a(1 − a)` for the sigmoid, `1 − a²` for tanh).
    fn sigma_prime(&self, z: F, a: F) -> F;
}

/// The activation function of one layer.
#[derive(Clone, Debug, Default)]
pub enum Activation<F> {
    /// σ(z) = 1 / (1 + e^−z), the book's sigmoid neuron. σ' = a(1 − a).
    #[default]
    Sigmoid,
    /// σ(z) = tanh z. σ' = 1 − a².
    Tanh,
    /// σ(z) = max(0, z). σ' = 1 for z > 0, else 0.
    Relu,
    /// σ(z) = z for z > 0, `slope · z` otherwise (the slope finite and ≥ 0; PyTorch's default
    /// 0.01). σ' = 1 for z > 0, else `slope`.
    LeakyRelu(F),
    /// σ(z) = z: the chapter's "linear neurons". σ' = 1.
    Identity,
    /// a_j = e^{z_j} / Σ_k e^{z_k} over each column (chapter 3). Not element-wise: its
    /// backward pass multiplies by the Jacobian `diag(a) − a aᵀ`.
    Softmax,
    /// A user's element-wise function.
    Custom(Arc<dyn Elementwise<F>>),
}

/// PyTorch's default slope of leaky ReLU.
pub const DEFAULT_LEAKY_SLOPE: f64 = 0.01;

/// The logistic function σ(z) = 1 / (1 + e^−z).
///
/// Never NaN for non-NaN `z`: for very negative `z`, e^−z overflows to ∞ and σ(z) is 0.
#[inline]
pub fn sigmoid<F: Float>(z: F) -> F {
    F::one() / (F::one() + (-z).exp())
}

impl<F: Float> Activation<F> {
    /// The built-in activations, in the order the tools list them (leaky ReLU with its
    /// default slope, 0.01).
    pub fn builtins() -> [Self; 6] {
        [
            Self::Sigmoid,
            Self::Tanh,
            Self::Relu,
            Self::leaky_relu(),
            Self::Identity,
            Self::Softmax,
        ]
    }

    /// Leaky ReLU with PyTorch's default slope, 0.01.
    pub fn leaky_relu() -> Self {
        Self::LeakyRelu(F::from_f64(DEFAULT_LEAKY_SLOPE))
    }

    /// The gain PyTorch's `calculate_gain` gives this activation, for the He initialisation:
    /// √2 for ReLU, √(2 / (1 + a²)) for leaky ReLU of slope `a`, 5/3 for tanh, 1 otherwise.
    pub fn gain(&self) -> f64 {
        match self {
            Self::Relu => 2f64.sqrt(),
            Self::LeakyRelu(a) => (2.0 / (1.0 + a.as_f64() * a.as_f64())).sqrt(),
            Self::Tanh => 5.0 / 3.0,
            _ => 1.0,
        }
    }

    /// Wraps a user's element-wise function.
    pub fn custom(f: impl Elementwise<F> + 'static) -> Self {
        Self::Custom(Arc::new(f))
    }

    /// The name written into saved models: `sigmoid`, `tanh`, `relu`, `leaky_relu` (with its
    /// default slope; `leaky_relu:0.2` with another), `identity`, `softmax`, or the custom
    /// function's own.
    pub fn name(&self) -> Cow<'_, str> {
        match self {
            Self::Sigmoid => "sigmoid".into(),
            Self::Tanh => "tanh".into(),
            Self::Relu => "relu".into(),
            Self::LeakyRelu(a) if a.as_f64() == F::from_f64(DEFAULT_LEAKY_SLOPE).as_f64() => "leaky_relu".into(),
            Self::LeakyRelu(a) => format!("leaky_relu:{a}").into(),
            Self::Identity => "identity".into(),
            Self::Softmax => "softmax".into(),
            Self::Custom(f) => f.name().into(),
        }
    }

    /// The built-in activation with this name, if any (`leaky_relu:SLOPE` with a finite,
    /// non-negative slope).
    pub fn from_name(name: &str) -> Option<Self> {
        if let Some(slope) = name.strip_prefix("leaky_relu:") {
            let slope: f64 = slope.parse().ok()?;
            return (slope.is_finite() && slope >= 0.0).then(|| Self::LeakyRelu(F::from_f64(slope)));
        }
        Self::builtins().into_iter().find(|a| a.name() == name)
    }

    /// Whether σ and σ' act on each entry alone (all but softmax, which reads whole
    /// columns): then a layer's rows can be computed apart.
    pub(crate) fn is_elementwise(&self) -> bool {
        !matches!(self, Self::Softmax)
    }

    /// `A = σ(Z)`; both `(n × m)`, one example per column.
    pub fn forward(&self, z: ArrayView2<F>, mut a: ArrayViewMut2<F>) {
        match self {
            Self::Sigmoid => Zip::from(&mut a).and(&z).for_each(|a, &z| *a = sigmoid(z)),
            Self::Tanh => Zip::from(&mut a).and(&z).for_each(|a, &z| *a = z.tanh()),
            // `z < 0` is false for NaN, so a NaN passes through instead of becoming 0.
            Self::Relu => Zip::from(&mut a)
                .and(&z)
                .for_each(|a, &z| *a = if z < F::zero() { F::zero() } else { z }),
            Self::LeakyRelu(slope) => Zip::from(&mut a)
                .and(&z)
                .for_each(|a, &z| *a = if z < F::zero() { *slope * z } else { z }),
            Self::Identity => a.assign(&z),
            Self::Softmax => softmax_forward(z, a),
            Self::Custom(f) => Zip::from(&mut a).and(&z).for_each(|a, &z| *a = f.sigma(z)),
        }
    }

    /// `Δ ← σ'(Z) ⊙ Δ`, the Hadamard product of BP1 and BP2, given the stored `Z` and
    /// `A = σ(Z)`; all `(n × m)`. For softmax, `Δ ← Jᵀ Δ` per column with the Jacobian
    /// `J = diag(a) − a aᵀ`, i.e. `δ_j ← a_j (δ_j − Σ_k a_k δ_k)`.
    pub fn backward(&self, z: ArrayView2<F>, a: ArrayView2<F>, mut delta: ArrayViewMut2<F>) {
        let one = F::one();
        match self {
            Self::Sigmoid => Zip::from(&mut delta).and(&a).for_each(|d, &a| *d *= a * (one - a)),
            Self::Tanh => Zip::from(&mut delta).and(&a).for_each(|d, &a| *d *= one - a * a),
            Self::Relu => Zip::from(&mut delta).and(&a).for_each(|d, &a| {
                if a <= F::zero() {
                    *d = F::zero()
                }
            }),
            // With a slope ≥ 0, a > 0 exactly where z > 0 (a slope of 0 is ReLU's σ').
            Self::LeakyRelu(slope) => Zip::from(&mut delta).and(&a).for_each(|d, &a| {
                if a <= F::zero() {
                    *d *= *slope
                }
            }),
            Self::Identity => {}
            Self::Softmax => softmax_backward(a, delta),
            Self::Custom(f) => Zip::from(&mut delta)
                .and(&z)
                .and(&a)
                .for_each(|d, &z, &a| *d *= f.sigma_prime(z, a)),
        }
    }
}

/// a_j = e^{z_j − max z} / Σ_k e^{z_k − max z}, per column; the shift keeps e^z finite.
fn softmax_forward<F: Float>(z: ArrayView2<F>, mut a: ArrayViewMut2<F>) {
    for (z, mut a) in z.columns().into_iter().zip(a.columns_mut()) {
        let max = z.fold(F::neg_infinity(), |m, &v| if v > m { v } else { m });
        let mut sum = F::zero();
        Zip::from(&mut a).and(&z).for_each(|a, &z| {
            *a = (z - max).exp();
            sum += *a;
        });
        a /= sum;
    }
}

/// δ ← (diag(a) − a aᵀ) δ per column (the Jacobian is symmetric).
fn softmax_backward<F: Float>(a: ArrayView2<F>, mut delta: ArrayViewMut2<F>) {
    for (a, mut d) in a.columns().into_iter().zip(delta.columns_mut()) {
        let a_dot_d = a.dot(&d);
        Zip::from(&mut d).and(&a).for_each(|d, &a| *d = a * (*d - a_dot_d));
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    #[test]
    fn sigmoid_values_and_derivative() {
        // σ(0) = 1/2, σ'(0) = 1/4; σ(ln 3) = 1/(1 + 1/3) = 3/4.
        assert_eq!(sigmoid(0.0f64), 0.5);
        assert!((sigmoid(3.0f64.ln()) - 0.75).abs() < 1e-15);
        let z = array![[0.0f64]];
        let mut d = array![[1.0]];
        let a = array![[0.5]];
        Activation::Sigmoid.backward(z.view(), a.view(), d.view_mut());
        assert_eq!(d[[0, 0]], 0.25);
    }

    #[test]
    fn sigmoid_saturates_without_nan() {
        let z = array![[-1000.0f32, 1000.0, -f32::MAX, f32::MAX, -89.0, 89.0]];
        let mut a = Array2::zeros(z.raw_dim());
        Activation::Sigmoid.forward(z.view(), a.view_mut());
        assert_eq!(a, array![[0.0f32, 1.0, 0.0, 1.0, a[[0, 4]], 1.0]]);
        assert!(a[[0, 4]] >= 0.0 && a[[0, 4]] < 1e-38);
    }

    #[test]
    fn relu_passes_nan_through() {
        let z = array![[-1.0f64, 0.0, 2.0, f64::NAN]];
        let mut a = Array2::zeros(z.raw_dim());
        Activation::Relu.forward(z.view(), a.view_mut());
        assert_eq!(a.slice(ndarray::s![.., ..3]), array![[0.0, 0.0, 2.0]]);
        assert!(a[[0, 3]].is_nan());
    }

    #[test]
    fn softmax_columns_sum_to_one_and_survive_large_z() {
        // Column 0: z = (0, ln 3) gives (1/4, 3/4); column 1 would overflow e^z unshifted.
        let z = array![[0.0f64, 1000.0], [3.0f64.ln(), 1000.0]];
        let mut a = Array2::zeros(z.raw_dim());
        Activation::Softmax.forward(z.view(), a.view_mut());
        assert!((a[[0, 0]] - 0.25).abs() < 1e-15 && (a[[1, 0]] - 0.75).abs() < 1e-15);
        assert_eq!(a.column(1), array![0.5, 0.5]);
    }

    #[test]
    fn leaky_relu_values_slopes_and_names() {
        let z = array![[-2.0f64, 0.0, 3.0]];
        let mut a = Array2::zeros(z.raw_dim());
        let leaky = Activation::LeakyRelu(0.1);
        leaky.forward(z.view(), a.view_mut());
        assert_eq!(a, array![[-0.2, 0.0, 3.0]]);
        let mut d = array![[1.0, 1.0, 1.0]];
        leaky.backward(z.view(), a.view(), d.view_mut());
        assert_eq!(d, array![[0.1, 0.1, 1.0]]);
        assert_eq!(leaky.name(), "leaky_relu:0.1");
        assert_eq!(Activation::<f64>::leaky_relu().name(), "leaky_relu");
        assert!(matches!(Activation::<f64>::from_name("leaky_relu:0.1"), Some(Activation::LeakyRelu(s)) if s == 0.1));
        for bad in ["leaky_relu:-1", "leaky_relu:NaN", "leaky_relu:x"] {
            assert!(Activation::<f64>::from_name(bad).is_none(), "{bad}");
        }
        // PyTorch's calculate_gain('leaky_relu', 0.1) = √(2 / 1.01).
        assert!((leaky.gain() - (2.0f64 / 1.01).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn names_round_trip() {
        for act in Activation::<f32>::builtins() {
            assert_eq!(Activation::<f32>::from_name(&act.name()).unwrap().name(), act.name());
        }
        assert!(Activation::<f32>::from_name("swish").is_none());
    }
}
