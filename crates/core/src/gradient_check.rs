//! The gradient by finite differences (the chapter's eq. 46), and the check of
//! backpropagation against it.
//!
//! Eq. 46 is `∂C/∂w_j ≈ (C(w + ε e_j) − C(w)) / ε`: one forward pass per parameter, plus one,
//! where backpropagation needs one forward and one backward pass for all of them. That gap is
//! the chapter's answer to "in what sense is backpropagation a fast algorithm?"
//! ([`numerical_gradient`]; the benchmarks time both). The check uses the central form
//! `(C(w + ε e_j) − C(w − ε e_j)) / 2ε`, twice the passes but a truncation error of `O(ε²)`
//! instead of `O(ε)`.

use ndarray::ArrayView2;

use crate::{Error, Float, Gradients, Network, Result, Workspace};

/// One weight or bias, with layers numbered from 1 as in `W^l`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parameter {
    /// `w^l_{jk}`, row `j`, column `k` of `W^l`.
    Weight { layer: usize, j: usize, k: usize },
    /// `b^l_j`.
    Bias { layer: usize, j: usize },
}

/// How far backpropagation's gradient `g` is from the finite-difference one `ĝ`.
///
/// The relative difference is taken per parameter array (each `W^l`, each `b^l`):
/// `‖g − ĝ‖ / max(‖g‖, ‖ĝ‖)` in the 2-norm. Per array rather than per entry, because an
/// entry whose true gradient is near zero is dominated by the finite difference's own
/// truncation error (`ε² C‴ / 6`, about 1e-11 at `ε = 1e-5`); per array rather than over the
/// whole gradient, so that a wrong bias gradient is not hidden by large weight gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientCheck {
    /// The largest relative difference over the parameter arrays.
    pub max_rel_diff: f64,
    /// The array where it is largest, as `W^l` or `b^l`.
    pub worst_array: String,
    /// `max_p |g_p − ĝ_p|` over every parameter.
    pub max_abs_diff: f64,
    /// The parameter where the absolute difference is largest.
    pub worst_parameter: Parameter,
    /// The number of parameters checked, `P`.
    pub parameters: usize,
}

impl<F: Float> Network<F> {
    fn parameter_mut(&mut self, p: Parameter) -> &mut F {
        match p {
            Parameter::Weight { layer, j, k } => {
                let cols = self.sizes()[layer - 1];
                &mut self.params.layer_mut(layer).0.into_slice().expect("W^l is contiguous")[j * cols + k]
            }
            Parameter::Bias { layer, j } => &mut self.params.layer_mut(layer).1.into_slice().expect("contiguous")[j],
        }
    }

    /// The mean cost of the batch with parameter `p` moved by `step`, then restored.
    fn cost_moved(
        &mut self,
        p: Parameter,
        step: F,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        ws: &mut Workspace<F>,
    ) -> Result<F> {
        let original = *self.parameter_mut(p);
        *self.parameter_mut(p) = original + step;
        let cost = self.batch_cost(x, y, ws);
        *self.parameter_mut(p) = original;
        cost
    }
}

fn check_epsilon(epsilon: f64) -> Result<()> {
    if epsilon.is_finite() && epsilon > 0.0 {
        Ok(())
    } else {
        Err(Error::HyperParameter {
            name: "epsilon",
            value: epsilon,
            requirement: "must be finite and positive",
        })
    }
}

/// The gradient of the batch's mean cost by the chapter's eq. 46,
/// `∂C/∂w_j ≈ (C(w + ε e_j) − C(w)) / ε`: `P + 1` forward passes for `P` parameters.
///
/// For checking, [`gradient_check`] uses central differences, which are more accurate.
pub fn numerical_gradient<F: Float>(
    net: &Network<F>,
    x: ArrayView2<F>,
    y: ArrayView2<F>,
    epsilon: f64,
) -> Result<Gradients<F>> {
    check_epsilon(epsilon)?;
    let mut ws = net.workspace(x.ncols());
    let base = net.batch_cost(x, y, &mut ws)?;
    let mut probe = net.clone();
    let mut grads = net.zero_gradients();
    let eps = F::from_f64(epsilon);
    for layer in 1..net.num_layers() {
        let (mut nabla_w, mut nabla_b) = grads.layers.layer_mut(layer);
        for ((j, k), g) in nabla_w.indexed_iter_mut() {
            *g = (probe.cost_moved(Parameter::Weight { layer, j, k }, eps, x, y, &mut ws)? - base) / eps;
        }
        for (j, g) in nabla_b.indexed_iter_mut() {
            *g = (probe.cost_moved(Parameter::Bias { layer, j }, eps, x, y, &mut ws)? - base) / eps;
        }
    }
    Ok(grads)
}

/// Compares [`Network::backprop`]'s gradient of the mean cost of the batch
/// `(X: (n_0 × m), Y: (n_L × m))` with central differences of step `epsilon`, over every
/// parameter. In `f64`, `epsilon ≈ 1e-5` balances truncation against rounding error.
pub fn gradient_check<F: Float>(
    net: &Network<F>,
    x: ArrayView2<F>,
    y: ArrayView2<F>,
    epsilon: f64,
) -> Result<GradientCheck> {
    check_epsilon(epsilon)?;
    let mut ws = net.workspace(x.ncols());
    let mut grads = net.zero_gradients();
    net.backprop(x, y, &mut ws, &mut grads)?;

    let mut probe = net.clone();
    let eps = F::from_f64(epsilon);
    let mut numeric = |p: Parameter| -> Result<f64> {
        let plus = probe.cost_moved(p, eps, x, y, &mut ws)?;
        let minus = probe.cost_moved(p, -eps, x, y, &mut ws)?;
        Ok((plus - minus).as_f64() / (2.0 * epsilon))
    };

    let mut report = GradientCheck {
        max_rel_diff: 0.0,
        worst_array: String::new(),
        max_abs_diff: 0.0,
        worst_parameter: Parameter::Bias { layer: 1, j: 0 },
        parameters: net.num_parameters(),
    };
    for (layer, (nabla_w, nabla_b)) in (1..).zip(grads.nabla_w().into_iter().zip(grads.nabla_b())) {
        let weights = nabla_w
            .indexed_iter()
            .map(|((j, k), &g)| (Parameter::Weight { layer, j, k }, g));
        let biases = nabla_b.indexed_iter().map(|(j, &g)| (Parameter::Bias { layer, j }, g));
        for (name, array) in [
            (format!("W^{layer}"), weights.collect::<Vec<_>>()),
            (format!("b^{layer}"), biases.collect()),
        ] {
            // Squared 2-norms of g − ĝ, g and ĝ over the array.
            let (mut diff, mut analytic_norm, mut numeric_norm) = (0.0, 0.0, 0.0);
            for (p, g) in array {
                let (g, n) = (g.as_f64(), numeric(p)?);
                let abs = (g - n).abs();
                if abs > report.max_abs_diff || abs.is_nan() {
                    report.max_abs_diff = abs;
                    report.worst_parameter = p;
                }
                diff += abs * abs;
                analytic_norm += g * g;
                numeric_norm += n * n;
            }
            let rel = if diff == 0.0 {
                0.0
            } else {
                diff.sqrt() / f64::max(analytic_norm, numeric_norm).sqrt()
            };
            if rel > report.max_rel_diff || rel.is_nan() {
                report.max_rel_diff = rel;
                report.worst_array = name;
            }
        }
    }
    Ok(report)
}
