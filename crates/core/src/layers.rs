//! One 64-byte-aligned buffer for a whole network's `(W^l, b^l)` pairs.
//!
//! The parameters, the gradients and (for the update rules that keep one) the optimiser's
//! state each live in one such buffer, with per-layer ndarray views into it. One buffer
//! means one allocation, one pass for an element-wise update, and one contiguous block to
//! copy, compare or all-reduce. Each array starts on a 64-byte boundary, a cache line and
//! an AVX-512 register, so that the kernels' loads of a row's start never straddle two lines.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

use crate::{
    Error, Float, Result,
    aligned::{ALIGN, AlignedVec},
};

/// Where each layer's arrays sit in the buffer, in elements from its aligned start.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Offsets {
    w: usize, // W^l: (n_l × n_{l-1}), row-major
    b: usize, // b^l: (n_l)
}

/// `[W^1, b^1, W^2, b^2, …]` of a network of layer sizes `[n_0, …, n_L]`, each array
/// 64-byte aligned, in one allocation. Padding between arrays is zero and stays zero.
pub(crate) struct Layers<F> {
    sizes: Vec<usize>,     // [n_0, …, n_L]
    offsets: Vec<Offsets>, // [l-1]: where W^l and b^l start
    data: AlignedVec<F>,   // from W^1 to the end of b^L, padding included
}

/// `n` rounded up to a whole number of `ALIGN`-byte lines of `F`.
fn round_up<F>(n: usize) -> Option<usize> {
    let per_line = (ALIGN / std::mem::size_of::<F>()).max(1);
    n.checked_next_multiple_of(per_line)
}

impl<F: Float> Layers<F> {
    /// Zeroed arrays for `sizes` (already checked to be a network's: ≥ 2 layers, none empty).
    /// A size whose parameters cannot be counted or allocated is an error naming the bytes.
    pub(crate) fn zeros(sizes: &[usize]) -> Result<Self> {
        let what = || format!("the parameters of sizes {sizes:?}");
        let too_large = || Error::Allocation {
            what: what(),
            bytes: None,
        };
        let mut offsets = Vec::with_capacity(sizes.len() - 1);
        let mut len = 0usize;
        for pair in sizes.windows(2) {
            let (n_in, n_out) = (pair[0], pair[1]);
            let w = len;
            let b = n_out
                .checked_mul(n_in)
                .and_then(|n| w.checked_add(n))
                .and_then(round_up::<F>)
                .ok_or_else(too_large)?;
            len = b.checked_add(n_out).and_then(round_up::<F>).ok_or_else(too_large)?;
            offsets.push(Offsets { w, b });
        }
        let data = AlignedVec::zeros(len, what)?;
        Ok(Layers {
            sizes: sizes.to_vec(),
            offsets,
            data,
        })
    }

    /// Zeroed arrays shaped like `self`.
    pub(crate) fn zeros_like(&self) -> Result<Self> {
        Self::zeros(&self.sizes)
    }

    /// `[n_0, …, n_L]`.
    pub(crate) fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The number of layers after the input, `L`.
    pub(crate) fn layers(&self) -> usize {
        self.offsets.len()
    }

    /// The whole buffer, padding included (zeros), from its aligned start.
    pub(crate) fn as_slice(&self) -> &[F] {
        self.data.as_slice()
    }

    /// The whole buffer, padding included, from its aligned start. Writers keep the padding 0.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [F] {
        self.data.as_mut_slice()
    }

    fn shape(&self, l: usize) -> (usize, usize) {
        (self.sizes[l], self.sizes[l - 1])
    }

    /// `W^l: (n_l × n_{l-1})`, row-major, for `l` in `1..=L`.
    pub(crate) fn w(&self, l: usize) -> ArrayView2<'_, F> {
        let (o, (rows, cols)) = (&self.offsets[l - 1], self.shape(l));
        ArrayView2::from_shape((rows, cols), &self.as_slice()[o.w..o.w + rows * cols]).expect("laid out for its shape")
    }

    /// `b^l: (n_l)`, for `l` in `1..=L`.
    pub(crate) fn b(&self, l: usize) -> ArrayView1<'_, F> {
        let start = self.offsets[l - 1].b;
        ArrayView1::from(&self.as_slice()[start..start + self.sizes[l]])
    }

    /// `W^l` and `b^l`, both writable.
    pub(crate) fn layer_mut(&mut self, l: usize) -> (ArrayViewMut2<'_, F>, ArrayViewMut1<'_, F>) {
        let (o, (rows, cols)) = (self.offsets[l - 1].clone(), self.shape(l));
        let (w_part, b_part) = self.data.as_mut_slice()[o.w..].split_at_mut(o.b - o.w);
        let w = ArrayViewMut2::from_shape((rows, cols), &mut w_part[..rows * cols]).expect("laid out for its shape");
        (w, ArrayViewMut1::from(&mut b_part[..rows]))
    }

    /// `[W^1, …, W^L]` as views.
    pub(crate) fn all_w(&self) -> Vec<ArrayView2<'_, F>> {
        (1..=self.layers()).map(|l| self.w(l)).collect()
    }

    /// `[b^1, …, b^L]` as views.
    pub(crate) fn all_b(&self) -> Vec<ArrayView1<'_, F>> {
        (1..=self.layers()).map(|l| self.b(l)).collect()
    }
}

impl<F: Float> Clone for Layers<F> {
    fn clone(&self) -> Self {
        Layers {
            sizes: self.sizes.clone(),
            offsets: self.offsets.clone(),
            data: self.data.clone(),
        }
    }
}

impl<F: Float> PartialEq for Layers<F> {
    fn eq(&self, other: &Self) -> bool {
        self.sizes == other.sizes && self.as_slice() == other.as_slice()
    }
}

impl<F: Float> std::fmt::Debug for Layers<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layers")
            .field("sizes", &self.sizes)
            .field("w", &self.all_w())
            .field("b", &self.all_b())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_array_is_aligned_and_the_layout_round_trips() {
        for sizes in [&[3usize, 5, 2][..], &[784, 30, 10], &[1, 1]] {
            let mut layers = Layers::<f32>::zeros(sizes).unwrap();
            for l in 1..sizes.len() {
                assert_eq!(layers.w(l).as_ptr().align_offset(ALIGN), 0);
                assert_eq!(layers.b(l).as_ptr().align_offset(ALIGN), 0);
                let (mut w, mut b) = layers.layer_mut(l);
                w.fill(l as f32);
                b.fill(-(l as f32));
            }
            let copy = layers.clone();
            assert_eq!(copy.as_slice().as_ptr().align_offset(ALIGN), 0);
            assert_eq!(copy, layers);
            for l in 1..sizes.len() {
                assert_eq!(copy.w(l).dim(), (sizes[l], sizes[l - 1]));
                assert!(copy.w(l).iter().all(|&v| v == l as f32));
                assert!(copy.b(l).iter().all(|&v| v == -(l as f32)));
            }
            // The padding is untouched: the sum of the buffer is the sum of the arrays.
            let total: f32 = copy.as_slice().iter().sum();
            let expected: f32 = (1..sizes.len())
                .map(|l| (l * sizes[l] * sizes[l - 1]) as f32 - (l * sizes[l]) as f32)
                .sum();
            assert_eq!(total, expected);
        }
    }

    #[test]
    fn sizes_that_cannot_be_allocated_are_errors() {
        let err = Layers::<f32>::zeros(&[784, usize::MAX, 10]).unwrap_err();
        assert!(matches!(err, Error::Allocation { .. }), "{err}");
        let err = Layers::<f64>::zeros(&[1 << 20, 1 << 20, 1 << 20]).unwrap_err();
        assert!(err.to_string().contains("bytes"), "{err}");
    }
}
