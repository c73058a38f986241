//! The one matrix product the engine is built on.

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};

use crate::Float;

/// `C ← α A B + β C`.
///
/// ndarray hands unit-stride operands (row- or column-major, transposed views included) to
/// BLAS when its `blas` feature is on, and to matrixmultiply otherwise. With `β = 0`, `C` is
/// written without being read.
#[inline]
pub(crate) fn gemm<F: Float>(alpha: F, a: &ArrayView2<F>, b: &ArrayView2<F>, beta: F, c: &mut ArrayViewMut2<F>) {
    general_mat_mul(alpha, a, b, beta, c);
}
