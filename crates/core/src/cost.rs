//! Cost functions: the value `C`, the gradient `∇_a C`, and the output error `Δ^L` (BP1).

use ndarray::{ArrayView2, ArrayViewMut2, Zip};

use crate::{Activation, Error, Float, Result};

/// The cost `C_x` of one example, averaged over a batch as `C = (1/m) Σ_x C_x`.
///
/// Like network2.py's cost classes, each cost gives its value and its output-layer delta; the
/// delta uses the simplified form where the output activation allows it (network2.py's
/// `CrossEntropyCost.delta`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Cost {
    /// `C_x = ½ ‖a − y‖²`, the chapter's cost (eq. 26 of chapter 2).
    #[default]
    Quadratic,
    /// `C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]` (chapter 3). With a sigmoid output
    /// layer, BP1 simplifies to `Δ^L = A^L − Y`: no σ'(z) to slow learning down.
    CrossEntropy,
    /// `C_x = −Σ_j y_j ln a_j`, i.e. `−ln a_y` for a one-hot `y` (chapter 3). With a softmax
    /// output layer, BP1 simplifies to `Δ^L = A^L − Y` for one-hot targets.
    LogLikelihood,
}

/// `x ln y`, taken as 0 when `x` is 0 (so that 0 · ln 0 = 0, as numpy's `nan_to_num` gives
/// network2.py).
fn xlogy<F: Float>(x: F, y: F) -> F {
    if x == F::zero() { F::zero() } else { x * y.ln() }
}

impl Cost {
    /// All costs, in the order the tools list them.
    pub const ALL: [Cost; 3] = [Cost::Quadratic, Cost::CrossEntropy, Cost::LogLikelihood];

    /// `quadratic`, `cross-entropy` or `log-likelihood`.
    pub fn name(self) -> &'static str {
        match self {
            Cost::Quadratic => "quadratic",
            Cost::CrossEntropy => "cross-entropy",
            Cost::LogLikelihood => "log-likelihood",
        }
    }

    /// The cost with this name; network2.py's class names (`QuadraticCost`,
    /// `CrossEntropyCost`) are accepted too.
    pub fn from_name(name: &str) -> Option<Cost> {
        match name {
            "QuadraticCost" => Some(Cost::Quadratic),
            "CrossEntropyCost" => Some(Cost::CrossEntropy),
            "LogLikelihoodCost" => Some(Cost::LogLikelihood),
            _ => Cost::ALL.into_iter().find(|c| c.name() == name),
        }
    }

    /// `Σ_x C_x` over the columns of `A` and `Y`, both `(n_L × m)`.
    pub fn value<F: Float>(self, a: ArrayView2<F>, y: ArrayView2<F>) -> F {
        let one = F::one();
        let half = F::from_f64(0.5);
        let mut sum = F::zero();
        match self {
            Cost::Quadratic => Zip::from(&a).and(&y).for_each(|&a, &y| sum += half * (a - y) * (a - y)),
            Cost::CrossEntropy => Zip::from(&a)
                .and(&y)
                .for_each(|&a, &y| sum -= xlogy(y, a) + xlogy(one - y, one - a)),
            Cost::LogLikelihood => Zip::from(&a).and(&y).for_each(|&a, &y| sum -= xlogy(y, a)),
        }
        sum
    }

    /// `Σ_x C_x` over the columns of `Z^L`, `A^L = σ(Z^L)` and `Y`, all `(n_L × m)`, computed
    /// from `Z` where the output activation allows it, so that a saturated output gives a
    /// large finite cost instead of `ln 0 = −∞` (in `f32` a sigmoid reaches exactly 1 at
    /// `z ≈ 17`; network2.py hides the same infinity with `nan_to_num`):
    /// - cross-entropy after a sigmoid: `C = Σ max(z, 0) − z y + ln(1 + e^{−|z|})`;
    /// - log-likelihood after a softmax: `ln a_j = z_j − max z − ln Σ_k e^{z_k − max z}`;
    /// - log-likelihood after a sigmoid: `−ln σ(z) = max(−z, 0) + ln(1 + e^{−|z|})`.
    ///
    /// Otherwise, and for the quadratic cost, [`Cost::value`] on `A`. The engine, the
    /// evaluation and the trainer all measure costs with this.
    pub fn value_at<F: Float>(self, output: &Activation<F>, z: ArrayView2<F>, a: ArrayView2<F>, y: ArrayView2<F>) -> F {
        let (zero, one) = (F::zero(), F::one());
        // ln(1 + e^{−|z|}) + max(−z, 0) = −ln σ(z), without overflow or ln 0.
        let minus_log_sigmoid = |z: F| (-z).max(zero) + (-z.abs()).exp().ln_1p();
        let mut sum = F::zero();
        match (self, output) {
            (Cost::CrossEntropy, Activation::Sigmoid) => Zip::from(&z).and(&y).for_each(|&z, &y| {
                // −y ln σ(z) − (1 − y) ln(1 − σ(z)), with ln(1 − σ(z)) = ln σ(−z).
                sum += y * minus_log_sigmoid(z) + (one - y) * minus_log_sigmoid(-z)
            }),
            (Cost::LogLikelihood, Activation::Sigmoid) => Zip::from(&z).and(&y).for_each(|&z, &y| {
                if y != zero {
                    sum += y * minus_log_sigmoid(z)
                }
            }),
            (Cost::LogLikelihood, Activation::Softmax) => {
                for (z, y) in z.columns().into_iter().zip(y.columns()) {
                    let max = z.fold(F::neg_infinity(), |m, &v| if v > m { v } else { m });
                    let log_total = z.fold(zero, |s, &v| s + (v - max).exp()).ln();
                    Zip::from(&z).and(&y).for_each(|&z, &y| {
                        if y != zero {
                            sum -= y * (z - max - log_total)
                        }
                    });
                }
            }
            _ => sum = self.value(a, y),
        }
        sum
    }

    /// `∇_a C_x` for every column, written into `grad`; all `(n_L × m)`.
    pub fn gradient<F: Float>(self, a: ArrayView2<F>, y: ArrayView2<F>, mut grad: ArrayViewMut2<F>) {
        let one = F::one();
        let zip = Zip::from(&mut grad).and(&a).and(&y);
        match self {
            Cost::Quadratic => zip.for_each(|g, &a, &y| *g = a - y),
            Cost::CrossEntropy => zip.for_each(|g, &a, &y| *g = (a - y) / (a * (one - a))),
            Cost::LogLikelihood => zip.for_each(|g, &a, &y| *g = if y == F::zero() { F::zero() } else { -y / a }),
        }
    }

    /// BP1, `Δ^L = ∇_a C ⊙ σ'(Z^L)`, written into `delta`; all `(n_L × m)`.
    ///
    /// Where the output activation allows, the product is simplified so that no σ' or
    /// division by `a` remains, which stays exact where the outputs saturate (chapter 3):
    /// - cross-entropy after a sigmoid: `δ = a − y`;
    /// - log-likelihood after a softmax: `δ = a Σ_k y_k − y`, i.e. `a − y` for one-hot (or
    ///   any probability) targets;
    /// - log-likelihood after a sigmoid: `δ = −y (1 − a)`.
    pub fn delta<F: Float>(
        self,
        output: &Activation<F>,
        z: ArrayView2<F>,
        a: ArrayView2<F>,
        y: ArrayView2<F>,
        mut delta: ArrayViewMut2<F>,
    ) {
        match (self, output) {
            (Cost::CrossEntropy, Activation::Sigmoid) => {
                Zip::from(&mut delta).and(&a).and(&y).for_each(|d, &a, &y| *d = a - y)
            }
            (Cost::LogLikelihood, Activation::Softmax) => {
                let columns = delta.columns_mut().into_iter().zip(a.columns()).zip(y.columns());
                for ((mut d, a), y) in columns {
                    let total = y.sum();
                    Zip::from(&mut d)
                        .and(&a)
                        .and(&y)
                        .for_each(|d, &a, &y| *d = a * total - y);
                }
            }
            (Cost::LogLikelihood, Activation::Sigmoid) => {
                let one = F::one();
                Zip::from(&mut delta)
                    .and(&a)
                    .and(&y)
                    .for_each(|d, &a, &y| *d = -y * (one - a))
            }
            _ => {
                self.gradient(a, y, delta.view_mut());
                output.backward(z, a, delta);
            }
        }
    }

    /// Checks that this cost is defined for the values the output layer produces.
    pub fn check_output<F: Float>(self, output: &Activation<F>) -> Result<()> {
        let hint = match (self, output) {
            (Cost::Quadratic, _)
            | (Cost::CrossEntropy, Activation::Sigmoid)
            | (Cost::LogLikelihood, Activation::Softmax | Activation::Sigmoid) => return Ok(()),
            // With softmax, BP1 would divide by a(1 − a), which rounds to 0 for a confident
            // output: the book pairs softmax with the log-likelihood instead.
            (Cost::CrossEntropy, Activation::Softmax) => {
                "it is meant for independent sigmoid outputs: use a sigmoid output layer, or the \
                 log-likelihood cost with softmax"
            }
            (Cost::CrossEntropy, _) => {
                "it takes ln a and ln(1 − a), so outputs must lie in (0, 1): use a sigmoid output layer"
            }
            (Cost::LogLikelihood, _) => "it takes ln a, so outputs must lie in (0, 1]: use a softmax output layer",
        };
        Err(Error::Incompatible {
            cost: self.name(),
            activation: output.name().to_string(),
            hint,
        })
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn costs_from_z_equal_the_textbook_formulas_and_stay_finite_when_saturated() {
        // Moderate z: the same value as the formula on A.
        let z = array![[0.3f64, -1.2, 2.0], [-0.4, 0.8, -2.5]];
        let y = array![[1.0, 0.0, 0.25], [0.0, 1.0, 0.75]];
        let y_one_hot = array![[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]];
        for (cost, output, y) in [
            (Cost::CrossEntropy, Activation::Sigmoid, &y),
            (Cost::LogLikelihood, Activation::Sigmoid, &y),
            (Cost::LogLikelihood, Activation::Softmax, &y_one_hot),
            (Cost::Quadratic, Activation::Tanh, &y),
        ] {
            let mut a = z.clone();
            output.forward(z.view(), a.view_mut());
            let (stable, textbook) = (
                cost.value_at(&output, z.view(), a.view(), y.view()),
                cost.value(a.view(), y.view()),
            );
            assert!(
                (stable - textbook).abs() <= 1e-14 * textbook.abs(),
                "{cost:?} {stable} vs {textbook}"
            );
        }
        // Saturated in f32: σ(40) rounds to exactly 1, so ln(1 − a) = −∞; from z it is 40.
        let (z, y) = (array![[40.0f32]], array![[0.0f32]]);
        let mut a = z.clone();
        Activation::Sigmoid.forward(z.view(), a.view_mut());
        assert_eq!(a[[0, 0]], 1.0);
        assert!(Cost::CrossEntropy.value(a.view(), y.view()).is_infinite());
        let stable = Cost::CrossEntropy.value_at(&Activation::Sigmoid, z.view(), a.view(), y.view());
        assert!((stable - 40.0).abs() < 1e-5, "{stable}");
        // Softmax: a class whose output underflows to 0 costs z_max − z_y, not ∞.
        let (z, y) = (array![[0.0f32], [200.0]], array![[1.0f32], [0.0]]);
        let mut a = z.clone();
        Activation::Softmax.forward(z.view(), a.view_mut());
        assert_eq!(a[[0, 0]], 0.0);
        let stable = Cost::LogLikelihood.value_at(&Activation::Softmax, z.view(), a.view(), y.view());
        assert!((stable - 200.0).abs() < 1e-3, "{stable}");
    }

    #[test]
    fn values_by_hand() {
        // Two examples: a = (1/2, 1/4), y = (1, 0).
        let a = array![[0.5f64, 0.25]];
        let y = array![[1.0f64, 0.0]];
        // ½(1/2)² + ½(1/4)² = 1/8 + 1/32 = 5/32
        assert_eq!(Cost::Quadratic.value(a.view(), y.view()), 5.0 / 32.0);
        // −ln(1/2) − ln(3/4) = ln(8/3)
        let ce = Cost::CrossEntropy.value(a.view(), y.view());
        assert!((ce - (8.0f64 / 3.0).ln()).abs() < 1e-15);
        // −ln(1/2); the y = 0 entry adds nothing.
        let ll = Cost::LogLikelihood.value(a.view(), y.view());
        assert!((ll - 2.0f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn cross_entropy_of_a_saturated_correct_output_is_zero() {
        // 0 · ln 0 is taken as 0 (network2.py's nan_to_num).
        let a = array![[1.0f32, 0.0]];
        let y = array![[1.0f32, 0.0]];
        assert_eq!(Cost::CrossEntropy.value(a.view(), y.view()), 0.0);
    }

    #[test]
    fn names_round_trip_and_network2_names() {
        for c in Cost::ALL {
            assert_eq!(Cost::from_name(c.name()), Some(c));
        }
        assert_eq!(Cost::from_name("CrossEntropyCost"), Some(Cost::CrossEntropy));
        assert_eq!(Cost::from_name("hinge"), None);
    }

    #[test]
    fn incompatible_outputs_are_errors() {
        assert!(Cost::CrossEntropy.check_output(&Activation::<f64>::Tanh).is_err());
        assert!(Cost::LogLikelihood.check_output(&Activation::<f64>::Relu).is_err());
        assert!(Cost::Quadratic.check_output(&Activation::<f64>::Identity).is_ok());
        let err = Cost::CrossEntropy
            .check_output(&Activation::<f64>::Identity)
            .unwrap_err();
        assert!(err.to_string().contains("identity output layer"), "{err}");
    }
}

#[cfg(test)]
mod saturation {
    use ndarray::{Array2, array};

    use super::*;

    /// Saturated outputs in f32 (a rounds to exactly 0 or 1) give finite, exact deltas.
    #[test]
    fn simplified_deltas_stay_finite_where_outputs_saturate() {
        // Softmax column with a margin of 40: the top output rounds to 1, the others to 0.
        let z = array![[40.0f32], [0.0], [0.0]];
        let mut a = Array2::zeros((3, 1));
        Activation::Softmax.forward(z.view(), a.view_mut());
        assert_eq!(a[[0, 0]], 1.0);
        let y = array![[1.0f32], [0.0], [0.0]];
        let mut d = Array2::zeros((3, 1));
        Cost::LogLikelihood.delta(&Activation::Softmax, z.view(), a.view(), y.view(), d.view_mut());
        assert!(d.iter().all(|v| v.is_finite()), "{d}");
        // Sigmoid far below zero: a is 0 in f32, δ = −y (1 − a) = −1 exactly.
        let z = array![[-100.0f32]];
        let mut a = Array2::zeros((1, 1));
        Activation::Sigmoid.forward(z.view(), a.view_mut());
        Cost::LogLikelihood.delta(
            &Activation::Sigmoid,
            z.view(),
            a.view(),
            array![[1.0f32]].view(),
            d.slice_mut(ndarray::s![..1, ..]),
        );
        assert_eq!(d[[0, 0]], -1.0);
    }

    /// For targets that are not one-hot, softmax with log-likelihood uses δ = a Σy − y.
    #[test]
    fn softmax_log_likelihood_delta_for_soft_targets() {
        let z = array![[0.0f64], [3.0f64.ln()]]; // a = (1/4, 3/4)
        let mut a = Array2::zeros((2, 1));
        Activation::Softmax.forward(z.view(), a.view_mut());
        let y = array![[0.5f64], [0.0]]; // Σy = 1/2
        let mut d = Array2::zeros((2, 1));
        Cost::LogLikelihood.delta(&Activation::Softmax, z.view(), a.view(), y.view(), d.view_mut());
        // δ = a/2 − y = (1/8 − 1/2, 3/8) = (−3/8, 3/8)
        assert!(
            (d[[0, 0]] + 0.375).abs() < 1e-15 && (d[[1, 0]] - 0.375).abs() < 1e-15,
            "{d}"
        );
    }
}
