//! Buffers that start on a 64-byte boundary: a cache line, and one AVX-512 register.
//!
//! The engine's kernels read `W`'s rows and the batch's columns with unaligned vector loads;
//! from a 16-byte-aligned start (what the allocator gives a large `Vec`) three loads in four
//! of 64 bytes straddle two cache lines. Every buffer a training step touches is therefore
//! one of these: the parameters, gradients and optimiser state ([`crate::layers`]), the
//! workspace's `Z^l`, `A^l` and `Δ^l`, and the trainer's mini-batch `X` and `Y`.
//!
//! The alignment comes from over-allocating a plain `Vec<F>` and starting at the first
//! aligned element: safe code only, and the `Vec` frees itself with `F`'s own layout. (An
//! aligned allocation handed to an `Array2` would be freed with the wrong layout.)

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::{Error, Float, Result};

/// Bytes every aligned buffer starts on.
pub const ALIGN: usize = 64;

/// `len` elements of `F`, zeroed, the first at a 64-byte-aligned address.
pub(crate) struct AlignedVec<F> {
    data: Vec<F>, // (start + len), over-allocated by up to ALIGN bytes
    start: usize, // the first element of data at a 64-byte-aligned address
    len: usize,
}

impl<F: Float> AlignedVec<F> {
    /// `len` zeros, or [`Error::Allocation`] naming `what` and the bytes if they cannot be
    /// allocated.
    pub(crate) fn zeros(len: usize, what: impl FnOnce() -> String) -> Result<Self> {
        let pad = (ALIGN / std::mem::size_of::<F>()).max(1);
        let Some(total) = len.checked_add(pad) else {
            return Err(Error::Allocation {
                what: what(),
                bytes: None,
            });
        };
        let mut data = Vec::new();
        if data.try_reserve_exact(total).is_err() {
            let bytes = len.checked_mul(std::mem::size_of::<F>());
            return Err(Error::Allocation { what: what(), bytes });
        }
        data.resize(total, F::zero());
        let start = data.as_ptr().align_offset(ALIGN).min(pad);
        Ok(AlignedVec { data, start, len })
    }

    pub(crate) fn as_slice(&self) -> &[F] {
        &self.data[self.start..self.start + self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [F] {
        &mut self.data[self.start..self.start + self.len]
    }
}

impl<F: Float> Clone for AlignedVec<F> {
    /// A new aligned buffer (a cloned `Vec` could start at another offset from a line).
    fn clone(&self) -> Self {
        let mut copy = Self::zeros(self.len, String::new).expect("the original was allocated");
        copy.as_mut_slice().copy_from_slice(self.as_slice());
        copy
    }
}

/// A column-major `(rows × cols)` matrix whose storage starts on a 64-byte boundary, handed
/// out as ndarray views: the mini-batch buffers of the engine and the trainer. Column `j`
/// starts `j · rows` elements after the first, so with 784-pixel images (3,136 bytes, 49
/// lines) every column of an f32 batch is aligned.
pub struct AlignedMatrix<F> {
    rows: usize,
    cols: usize,
    data: AlignedVec<F>, // (rows × cols), column-major
}

impl<F: Float> AlignedMatrix<F> {
    /// A zero `(rows × cols)` matrix, or [`Error::Allocation`] if it cannot be allocated.
    pub fn zeros(rows: usize, cols: usize) -> Result<Self> {
        let what = || format!("a {rows} × {cols} matrix of {}", F::NAME);
        let len = rows.checked_mul(cols).ok_or_else(|| Error::Allocation {
            what: what(),
            bytes: None,
        })?;
        Ok(AlignedMatrix {
            rows,
            cols,
            data: AlignedVec::zeros(len, what)?,
        })
    }

    /// `(rows, cols)`.
    pub fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The whole matrix.
    pub fn view(&self) -> ArrayView2<'_, F> {
        self.columns(self.cols)
    }

    /// The whole matrix, writable.
    pub fn view_mut(&mut self) -> ArrayViewMut2<'_, F> {
        self.columns_mut(self.cols)
    }

    /// The first `m ≤ cols` columns, `(rows × m)`: one contiguous block.
    ///
    /// # Panics
    /// If `m > cols`.
    pub fn columns(&self, m: usize) -> ArrayView2<'_, F> {
        assert!(m <= self.cols, "{m} columns of a matrix of {}", self.cols);
        ArrayView2::from_shape((self.rows, m).f(), &self.data.as_slice()[..self.rows * m])
            .expect("laid out for its shape")
    }

    /// The first `m ≤ cols` columns, writable.
    ///
    /// # Panics
    /// If `m > cols`.
    pub fn columns_mut(&mut self, m: usize) -> ArrayViewMut2<'_, F> {
        assert!(m <= self.cols, "{m} columns of a matrix of {}", self.cols);
        let rows = self.rows;
        ArrayViewMut2::from_shape((rows, m).f(), &mut self.data.as_mut_slice()[..rows * m])
            .expect("laid out for its shape")
    }
}

impl<F: Float> Clone for AlignedMatrix<F> {
    fn clone(&self) -> Self {
        AlignedMatrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.clone(),
        }
    }
}

impl<F: Float> std::fmt::Debug for AlignedMatrix<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.view().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_and_their_clones_start_aligned() {
        for (rows, cols) in [(784, 10), (30, 7), (1, 1), (0, 4)] {
            let mut m = AlignedMatrix::<f32>::zeros(rows, cols).unwrap();
            assert_eq!(m.view().as_ptr().align_offset(ALIGN), 0);
            m.view_mut().fill(2.0);
            let copy = m.clone();
            assert_eq!(copy.view().as_ptr().align_offset(ALIGN), 0);
            assert_eq!(copy.view(), m.view());
            assert_eq!(copy.columns(cols / 2).dim(), (rows, cols / 2));
            if rows > 1 && cols > 1 {
                assert_eq!(copy.columns(cols).strides(), [1, rows as isize]);
            }
        }
        let m = AlignedMatrix::<f64>::zeros(784, 3).unwrap();
        assert!(
            m.view()
                .columns()
                .into_iter()
                .all(|c| c.as_ptr().align_offset(ALIGN) == 0)
        );
    }

    #[test]
    fn sizes_that_cannot_be_allocated_are_errors() {
        let err = AlignedMatrix::<f32>::zeros(usize::MAX, 2).unwrap_err();
        assert!(matches!(err, Error::Allocation { .. }), "{err}");
        let err = AlignedMatrix::<f64>::zeros(1 << 31, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("bytes"), "{err}");
    }
}
