//! The three matrix products of backpropagation, as register-blocked loops over [`Simd`]
//! vectors that read the operands where they lie: no packing, no buffers, no allocation.
//!
//! Each kernel walks its output in blocks small enough to stay in registers, and vectorises
//! along the one axis where its operands are contiguous:
//!
//! | kernel | computes | contiguous along | block |
//! |---|---|---|---|
//! | [`forward`] | `Z = b 1ᵀ + W A` | rows of `W`, columns of `A` | R × C dot products |
//! | [`tn`] | `D' = Wᵀ D` | rows of `W`, columns of `D'` | C columns × V vectors (axpys) |
//! | [`nt`] | `W = β W + α D Aᵀ` | rows of `W`, columns of `A` | R rows × V vectors (axpys) |
//!
//! With `m` small (a mini-batch of 10), a packing GEMM spends about as long copying `W` into
//! its buffers as multiplying; here `W` is read in place (once per block of 3–4 columns of
//! the batch in [`forward`] and [`tn`], once in all in [`nt`]) and written once by [`nt`],
//! which fuses the SGD update into BP4.

use num_traits::{One, Zero};

use super::simd::Simd;

/// A read-only matrix: element `(i, j)` at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub struct Mat<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// A writable matrix: element `(i, j)` at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub struct MatMut<T> {
    pub ptr: *mut T,
    pub rs: isize,
    pub cs: isize,
}

impl<T> Mat<T> {
    /// The matrix whose `(0, 0)` is this one's `(i, j)`.
    #[inline(always)]
    unsafe fn shift(self, i: usize, j: usize) -> Self {
        Mat {
            ptr: unsafe { self.ptr.offset(i as isize * self.rs + j as isize * self.cs) },
            ..self
        }
    }

    #[inline(always)]
    unsafe fn at(self, i: usize, j: usize) -> *const T {
        unsafe { self.shift(i, j).ptr }
    }
}

impl<T> MatMut<T> {
    #[inline(always)]
    unsafe fn shift(self, i: usize, j: usize) -> Self {
        MatMut {
            ptr: unsafe { self.ptr.offset(i as isize * self.rs + j as isize * self.cs) },
            ..self
        }
    }

    #[inline(always)]
    unsafe fn at(self, i: usize, j: usize) -> *mut T {
        unsafe { self.shift(i, j).ptr }
    }
}

/// Block sizes of the kernels for one instruction set (each 1 to 4): enough independent
/// accumulators to hide the FMA latency, few enough to stay in the register file.
#[derive(Clone, Copy, Debug)]
pub struct Blocking {
    /// Rows × columns of `Z` per block of [`forward`].
    pub forward: (usize, usize),
    /// Columns of `D'` × vectors down them per block of [`tn`].
    pub tn: (usize, usize),
    /// Rows of `W` × vectors along them per block of [`nt`].
    pub nt: (usize, usize),
}

/// Calls `$f::<$S, r, c>(args…)` for runtime `r, c ∈ 1..=4`, so that the block sizes are
/// constants inside the block and its accumulators live in registers.
macro_rules! blocked {
    ($f:ident::<$S:ty>($r:expr, $c:expr)($($arg:expr),* $(,)?)) => {
        match ($r, $c) {
            (1, 1) => $f::<$S, 1, 1>($($arg),*),
            (1, 2) => $f::<$S, 1, 2>($($arg),*),
            (1, 3) => $f::<$S, 1, 3>($($arg),*),
            (1, _) => $f::<$S, 1, 4>($($arg),*),
            (2, 1) => $f::<$S, 2, 1>($($arg),*),
            (2, 2) => $f::<$S, 2, 2>($($arg),*),
            (2, 3) => $f::<$S, 2, 3>($($arg),*),
            (2, _) => $f::<$S, 2, 4>($($arg),*),
            (3, 1) => $f::<$S, 3, 1>($($arg),*),
            (3, 2) => $f::<$S, 3, 2>($($arg),*),
            (3, 3) => $f::<$S, 3, 3>($($arg),*),
            (3, _) => $f::<$S, 3, 4>($($arg),*),
            (_, 1) => $f::<$S, 4, 1>($($arg),*),
            (_, 2) => $f::<$S, 4, 2>($($arg),*),
            (_, 3) => $f::<$S, 4, 3>($($arg),*),
            (_, _) => $f::<$S, 4, 4>($($arg),*),
        }
    };
}

/// Loads the first `n ≤ LANES` elements at `ptr`, the other lanes zero.
#[inline(always)]
unsafe fn load<S: Simd>(ptr: *const S::Elem, n: usize) -> S::V {
    unsafe {
        if n == S::LANES {
            S::load(ptr)
        } else {
            S::load_partial(ptr, n)
        }
    }
}

/// Stores the first `n ≤ LANES` lanes.
#[inline(always)]
unsafe fn store<S: Simd>(ptr: *mut S::Elem, v: S::V, n: usize) {
    unsafe {
        if n == S::LANES {
            S::store(ptr, v)
        } else {
            S::store_partial(ptr, v, n)
        }
    }
}

/// `Z ← b 1ᵀ + W A` for `W: (n × k)` with contiguous rows (`w.cs = 1`), `A: (k × m)` with
/// contiguous columns (`a.rs = 1`), `b: (n)` with stride `sb`, and `Z: (n × m)`.
///
/// # Safety
/// The pointers must be valid for the shapes and strides given, `Z` must not overlap the
/// inputs, and the CPU must support `S`'s instructions.
#[inline(always)]
pub unsafe fn forward<S: Simd>(
    (n, k, m): (usize, usize, usize),
    w: Mat<S::Elem>,
    a: Mat<S::Elem>,
    b: Mat<S::Elem>,
    z: MatMut<S::Elem>,
    blocking: Blocking,
) {
    let (rows, cols) = blocking.forward;
    // Panels of A's columns small enough to stay in L2 while every row block of W passes.
    for (j0, j1) in panels(m, panel_len::<S::Elem>(k, cols)) {
        let mut i = 0;
        while i < n {
            let r = rows.min(n - i);
            let mut j = j0;
            while j < j1 {
                let c = cols.min(j1 - j);
                unsafe {
                    let (w, a, b, z) = (w.shift(i, 0), a.shift(0, j), b.shift(i, 0), z.shift(i, j));
                    blocked!(forward_block::<S>(r, c)(k, w, a, b, z));
                }
                j += c;
            }
            i += r;
        }
    }
}

/// One `R × C` block of [`forward`]: `R·C` vector accumulators along `k`, summed at the end.
#[inline(always)]
unsafe fn forward_block<S: Simd, const R: usize, const C: usize>(
    k: usize,
    w: Mat<S::Elem>,
    a: Mat<S::Elem>,
    b: Mat<S::Elem>,
    z: MatMut<S::Elem>,
) {
    // Adds the products of lanes `p..p + lanes` of the rows of W and the columns of A.
    #[inline(always)]
    unsafe fn along<S: Simd, const R: usize, const C: usize>(
        acc: &mut [[S::V; C]; R],
        p: usize,
        lanes: usize,
        w: Mat<S::Elem>,
        a: Mat<S::Elem>,
    ) {
        unsafe {
            let mut a_p = [S::zero(); C];
            for (c, a_p) in a_p.iter_mut().enumerate() {
                *a_p = load::<S>(a.at(p, c), lanes);
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let w_p = load::<S>(w.at(r, p), lanes);
                for (acc, &a_p) in acc.iter_mut().zip(&a_p) {
                    *acc = S::mul_add(w_p, a_p, *acc);
                }
            }
        }
    }
    unsafe {
        let mut acc = [[S::zero(); C]; R];
        // Whole vectors, then the partial one: the hot loop holds no partial load (a copy
        // through memory on SSE2 and NEON, which have no masked loads).
        let whole = k - k % S::LANES;
        let mut p = 0;
        while p < whole {
            along::<S, R, C>(&mut acc, p, S::LANES, w, a);
            p += S::LANES;
        }
        if p < k {
            along::<S, R, C>(&mut acc, p, k - p, w, a);
        }
        for (r, acc) in acc.iter().enumerate() {
            let b = *b.at(r, 0);
            for (c, &acc) in acc.iter().enumerate() {
                *z.at(r, c) = b + S::sum(acc);
            }
        }
    }
}

/// `D' ← Wᵀ D` for `W: (n × k)` with contiguous rows (`w.cs = 1`), `D: (n × m)`, and
/// `D': (k × m)` with contiguous columns (`out.rs = 1`): each column of `D'` is the sum of
/// the rows of `W` weighted by a column of `D`.
///
/// # Safety
/// As [`forward`].
#[inline(always)]
pub unsafe fn tn<S: Simd>(
    (n, k, m): (usize, usize, usize),
    w: Mat<S::Elem>,
    d: Mat<S::Elem>,
    out: MatMut<S::Elem>,
    blocking: Blocking,
) {
    let (cols, vectors) = blocking.tn;
    // Panels of D's columns small enough to stay in L2; within one, each slab of `v` vectors
    // of W's columns (n × v·LANES) serves every block of the panel's columns before the next
    // slab is read, so W passes through the cache once per panel, not once per block.
    for (j0, j1) in panels(m, panel_len::<S::Elem>(n, cols)) {
        let mut p = 0;
        while p < k {
            // A block of `v` vectors down the column, the last one `last` lanes long.
            let v = vectors.min((k - p).div_ceil(S::LANES));
            let last = (k - p - (v - 1) * S::LANES).min(S::LANES);
            let mut j = j0;
            while j < j1 {
                let c = cols.min(j1 - j);
                unsafe {
                    let (w, d, out) = (w.shift(0, p), d.shift(0, j), out.shift(p, j));
                    blocked!(tn_block::<S>(c, v)(n, last, w, d, out));
                }
                j += c;
            }
            p += v * S::LANES;
        }
    }
}

/// One block of [`tn`]: `C` columns of `D'` × `V` vectors down them.
#[inline(always)]
unsafe fn tn_block<S: Simd, const C: usize, const V: usize>(
    n: usize,
    last: usize,
    w: Mat<S::Elem>,
    d: Mat<S::Elem>,
    out: MatMut<S::Elem>,
) {
    unsafe {
        let mut acc = [[S::zero(); V]; C];
        for i in 0..n {
            let mut w_i = [S::zero(); V];
            for (v, w_i) in w_i.iter_mut().enumerate() {
                let lanes = if v == V - 1 { last } else { S::LANES };
                *w_i = load::<S>(w.at(i, v * S::LANES), lanes);
            }
            for (c, acc) in acc.iter_mut().enumerate() {
                let d_ic = S::splat(*d.at(i, c));
                for (acc, &w_i) in acc.iter_mut().zip(&w_i) {
                    *acc = S::mul_add(d_ic, w_i, *acc);
                }
            }
        }
        for (c, acc) in acc.iter().enumerate() {
            for (v, &acc) in acc.iter().enumerate() {
                let lanes = if v == V - 1 { last } else { S::LANES };
                store::<S>(out.at(v * S::LANES, c), acc, lanes);
            }
        }
    }
}

/// `W ← β W + α D Aᵀ` for `W: (n × k)` with contiguous rows (`w.cs = 1`), `D: (n × m)`, and
/// `A: (k × m)` with contiguous columns (`a.rs = 1`). With `β = 0`, `W` is not read.
///
/// # Safety
/// As [`forward`].
#[inline(always)]
pub unsafe fn nt<S: Simd>(
    (n, k, m): (usize, usize, usize),
    alpha: S::Elem,
    d: Mat<S::Elem>,
    a: Mat<S::Elem>,
    beta: S::Elem,
    w: MatMut<S::Elem>,
    blocking: Blocking,
) {
    let (rows, vectors) = blocking.nt;
    // Panels of the batch's columns (of D and A) small enough to stay in L2 while every
    // block of W passes. W holds the sum so far between panels: the first applies β, the
    // others continue from W (β = 1), each adding α times its panel's D Aᵀ.
    for (j0, j1) in panels(m, panel_len::<S::Elem>(k, 1)) {
        let beta = if j0 == 0 { beta } else { S::Elem::one() };
        let mut i = 0;
        while i < n {
            let r = rows.min(n - i);
            let mut p = 0;
            while p < k {
                let v = vectors.min((k - p).div_ceil(S::LANES));
                let last = (k - p - (v - 1) * S::LANES).min(S::LANES);
                unsafe {
                    let (d, a, w) = (d.shift(i, j0), a.shift(p, j0), w.shift(i, p));
                    blocked!(nt_block::<S>(r, v)(j1 - j0, last, alpha, d, a, beta, w));
                }
                p += v * S::LANES;
            }
            i += r;
        }
    }
}

/// Bytes of a panel of the batch that a kernel keeps in L2 while it streams the other
/// operand past it: a quarter of the smallest L2 of the CPUs the engine was measured on
/// (512 KiB per core on AMD Zen 3), leaving room for the rest of the working set. The unit
/// tests use 1 KiB, so that their small shapes cross panel boundaries too.
const PANEL_BYTES: usize = if cfg!(test) { 1024 } else { 128 * 1024 };

/// Columns per panel of a column-major operand whose columns are `len` elements long: as
/// many as fill [`PANEL_BYTES`], a whole number of the kernel's `block`s, at least one block.
fn panel_len<T>(len: usize, block: usize) -> usize {
    let columns = PANEL_BYTES / (len.max(1) * std::mem::size_of::<T>());
    (columns / block * block).max(block)
}

/// `0..m` in panels of `len`: `(start, end)` pairs.
fn panels(m: usize, len: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..m).step_by(len).map(move |j| (j, (j + len).min(m)))
}

/// One block of [`nt`]: `R` rows of `W` × `V` vectors along them.
#[inline(always)]
unsafe fn nt_block<S: Simd, const R: usize, const V: usize>(
    m: usize,
    last: usize,
    alpha: S::Elem,
    d: Mat<S::Elem>,
    a: Mat<S::Elem>,
    beta: S::Elem,
    w: MatMut<S::Elem>,
) {
    let lanes = |v: usize| if v == V - 1 { last } else { S::LANES };
    unsafe {
        // acc = D Aᵀ over the panel; α is applied once, at the end, not to each entry of D
        // (a multiply per entry would cost a third as much again as the multiply–adds).
        let mut acc = [[S::zero(); V]; R];
        for j in 0..m {
            let mut a_j = [S::zero(); V];
            for (v, a_j) in a_j.iter_mut().enumerate() {
                *a_j = load::<S>(a.at(v * S::LANES, j), lanes(v));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let d_rj = S::splat(*d.at(r, j));
                for (acc, &a_j) in acc.iter_mut().zip(&a_j) {
                    *acc = S::mul_add(d_rj, a_j, *acc);
                }
            }
        }
        // W ← β W + α acc (W unread when β = 0).
        let (alpha, beta_v) = (S::splat(alpha), S::splat(beta));
        for (r, acc) in acc.iter().enumerate() {
            for (v, &acc) in acc.iter().enumerate() {
                let p = w.at(r, v * S::LANES);
                let w_rv = if beta == S::Elem::zero() {
                    S::zero()
                } else if beta == S::Elem::one() {
                    load::<S>(p, lanes(v))
                } else {
                    S::mul(beta_v, load::<S>(p, lanes(v)))
                };
                store::<S>(p, S::mul_add(alpha, acc, w_rv), lanes(v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_cover_the_batch_once_in_whole_blocks() {
        for m in [0, 1, 3, 4, 5, 64, 70, 1000] {
            for (len, block) in [(1, 1), (17, 4), (70, 3), (1000, 4), (100_000, 4)] {
                let panel = panel_len::<f32>(len, block);
                assert!(
                    panel >= block && panel.is_multiple_of(block),
                    "len {len} block {block}: {panel}"
                );
                assert!(panel == block || panel * len * 4 <= PANEL_BYTES);
                let mut next = 0;
                for (j0, j1) in panels(m, panel) {
                    assert!(j0 == next && j0 < j1 && j1 - j0 <= panel);
                    next = j1;
                }
                assert_eq!(next, m);
            }
        }
    }
}
