//! The trainer's input: examples in the engine's layout, and how mini-batches are gathered
//! from them.

use batchprop::{Float, Isa};
use ndarray::{ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip, s};

use crate::{Error, Result};

/// What the network should output for each example.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, F> {
    /// A class per example, each below `classes`: the output layer has `classes` neurons
    /// and is trained towards the one-hot vector of the label.
    Classes {
        /// `(N)`: each example's class.
        labels: &'a [u32],
        /// The number of classes, `n_L`.
        classes: usize,
    },
    /// A target column per example, `Y: (n_L × N)` (regression, or soft targets).
    Values(ArrayView2<'a, F>),
}

impl<F> Targets<'_, F> {
    /// The number of output neurons the targets need, `n_L`.
    pub fn outputs(&self) -> usize {
        match self {
            Targets::Classes { classes, .. } => *classes,
            Targets::Values(y) => y.nrows(),
        }
    }

    /// The number of examples they are for.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values(y) => y.ncols(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A hint that the targets of the examples `indices` are read next (see
    /// [`Source::prefetch`]): a random label is a cache miss as an image is.
    pub(crate) fn prefetch(&self, indices: &[usize]) {
        for &i in indices {
            match self {
                Targets::Classes { labels, .. } => prefetch(&labels[i..=i]),
                Targets::Values(y) => {
                    if let Some(column) = y.column(i).to_slice() {
                        prefetch(column)
                    }
                }
            }
        }
    }

    /// The same targets, borrowed for a shorter lifetime (ndarray's views are invariant in
    /// theirs, so a `Targets<'a, F>` does not shorten by itself).
    pub fn reborrow(&self) -> Targets<'_, F> {
        match *self {
            Targets::Classes { labels, classes } => Targets::Classes { labels, classes },
            Targets::Values(y) => Targets::Values(y.reborrow()),
        }
    }
}

/// A data set the trainer can draw mini-batches from.
///
/// [`Examples`] is the implementation for inputs held as a float matrix; others (images kept
/// as bytes, say) only need to copy the inputs of chosen examples into a batch.
pub trait Source<F: Float>: Sync {
    /// The number of examples, `N`.
    fn len(&self) -> usize;

    /// Whether there are no examples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The size of one input, `n_0`.
    fn input_size(&self) -> usize;

    /// The targets of all `N` examples.
    fn targets(&self) -> Targets<'_, F>;

    /// Copies the inputs of the examples `indices` (each `< N`) into the columns of
    /// `x: (n_0 × indices.len())`, in order.
    fn gather(&self, indices: &[usize], x: ArrayViewMut2<F>);

    /// A hint that the examples `indices` are gathered next: a source that holds them in
    /// memory asks the CPU to bring them into its caches meanwhile (the trainer calls it for
    /// batch k + 1 before stepping on batch k). No effect on any result.
    fn prefetch(&self, indices: &[usize]) {
        let _ = indices;
    }

    /// All inputs as `X: (n_0 × N)`, if they are held in that form: evaluation then reads
    /// them in place instead of gathering.
    fn inputs(&self) -> Option<ArrayView2<'_, F>> {
        None
    }

    /// For value targets that were standardised for training: each output's scale `σ_r`
    /// (a target in its own units is `y σ_r + μ_r`), so that the reported errors (MSE, MAE)
    /// are in the data's units. `None`: the targets are in their own units.
    fn target_scale(&self) -> Option<&[f64]> {
        None
    }
}

/// Examples in the engine's layout: inputs `X: (n_0 × N)`, one example per column, and their
/// targets. Inputs stored one example per row (`(N × n_0)`, row-major, as files and NumPy hold
/// them) are passed as their transposed view, `rows.t()`: no copy, and the layout the
/// engine's kernels read fastest.
///
/// ```
/// use batchprop_train::Examples;
/// use ndarray::array;
///
/// let rows = array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]; // (N × n_0)
/// let xor = Examples::classes(rows.t(), &[0, 1, 1, 0], 2)?;
/// assert_eq!(xor.x().dim(), (2, 4));
/// # Ok::<(), batchprop_train::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Examples<'a, F> {
    x: ArrayView2<'a, F>, // X: (n_0 × N)
    targets: Targets<'a, F>,
    target_scale: Option<&'a [f64]>, // (n_L): see Source::target_scale
}

impl<'a, F: Float> Examples<'a, F> {
    /// Classification examples: `x: (n_0 × N)` and one label per column, each below `classes`.
    /// Every input must be finite.
    pub fn classes(x: ArrayView2<'a, F>, labels: &'a [u32], classes: usize) -> Result<Self> {
        let targets = class_targets(x.ncols(), labels, classes)?;
        check_finite(&x)?;
        Ok(Examples {
            x,
            targets,
            target_scale: None,
        })
    }

    /// Regression (or soft-target) examples: `x: (n_0 × N)` and `y: (n_L × N)`, all finite.
    pub fn values(x: ArrayView2<'a, F>, y: ArrayView2<'a, F>) -> Result<Self> {
        let targets = value_targets(x.ncols(), y)?;
        check_finite(&x)?;
        Ok(Examples {
            x,
            targets,
            target_scale: None,
        })
    }

    /// These value examples with targets standardised by `scale` (one positive factor per
    /// target row): errors are then reported in the targets' own units.
    pub fn with_target_scale(self, scale: &'a [f64]) -> Result<Self> {
        let rows = match self.targets {
            Targets::Values(y) => y.nrows(),
            Targets::Classes { .. } => {
                return Err(Error::Data {
                    what: "targets",
                    problem: "classes have no scale".into(),
                });
            }
        };
        if scale.len() != rows || scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::Data {
                what: "targets",
                problem: format!(
                    "{} target rows need as many finite, positive scales; got {scale:?}",
                    rows
                ),
            });
        }
        Ok(Examples {
            target_scale: Some(scale),
            ..self
        })
    }

    /// `X: (n_0 × N)`.
    pub fn x(&self) -> ArrayView2<'a, F> {
        self.x
    }
}

/// One label per example (`n` of them), each below `classes`.
fn class_targets<F>(n: usize, labels: &[u32], classes: usize) -> Result<Targets<'_, F>> {
    if labels.len() != n {
        return Err(Error::Data {
            what: "labels",
            problem: format!("X has {n} columns (examples) but {} labels were given", labels.len()),
        });
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= classes) {
        return Err(Error::Data {
            what: "labels",
            problem: format!("label {l} of example {i} is not below the {classes} classes"),
        });
    }
    Ok(Targets::Classes { labels, classes })
}

/// A finite target column per example (`n` of them), `y: (n_L × n)`.
fn value_targets<F: Float>(n: usize, y: ArrayView2<'_, F>) -> Result<Targets<'_, F>> {
    if y.ncols() != n {
        return Err(Error::Data {
            what: "targets",
            problem: format!("X has {n} columns (examples) but Y has {}", y.ncols()),
        });
    }
    check_finite(&y).map_err(|e| match e {
        Error::NonFiniteInput {
            example, row, value, ..
        } => Error::NonFiniteInput {
            what: "target Y",
            example,
            row,
            value,
        },
        other => other,
    })?;
    Ok(Targets::Values(y))
}

fn check_finite<F: Float>(x: &ArrayView2<F>) -> Result<()> {
    // A pass in memory order first (fast for any layout); the position only if it fails.
    if x.fold(true, |ok, v| ok && v.is_finite()) {
        return Ok(());
    }
    match x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some(((row, example), v)) => Err(Error::NonFiniteInput {
            what: "input X",
            example,
            row,
            value: v.as_f64(),
        }),
    }
}

impl<F: Float> Source<F> for Examples<'_, F> {
    fn len(&self) -> usize {
        self.x.ncols()
    }

    fn input_size(&self) -> usize {
        self.x.nrows()
    }

    fn targets(&self) -> Targets<'_, F> {
        self.targets.reborrow()
    }

    fn gather(&self, indices: &[usize], mut x: ArrayViewMut2<F>) {
        for (mut column, &i) in x.columns_mut().into_iter().zip(indices) {
            let example = self.x.column(i);
            match (column.as_slice_mut(), example.as_slice()) {
                (Some(to), Some(from)) => to.copy_from_slice(from),
                _ => column.assign(&example),
            }
        }
    }

    fn prefetch(&self, indices: &[usize]) {
        for &i in indices {
            if let Some(example) = self.x.column(i).to_slice() {
                prefetch(example);
            }
        }
    }

    fn inputs(&self) -> Option<ArrayView2<'_, F>> {
        Some(self.x.reborrow())
    }

    fn target_scale(&self) -> Option<&[f64]> {
        self.target_scale
    }
}

/// `u8` images as the trainer's input, gathered on the fly as `p / 255` (the book's scaling)
/// into the batch buffer: no float copy of the set is ever made. With [`Images::expanded`],
/// each image also counts shifted by one pixel down, up, right and left, the rolled-in row or
/// column black, as the book's `expand_mnist.py` makes them (chapter 6): five examples per
/// image, example `5i + s` being image `i` under shift `s`.
#[derive(Clone, Debug)]
pub struct Images<'a> {
    bytes: &'a batchprop_data::ImageBytes,
    labels: Vec<u32>, // (N × variants): each image's label, once per variant
    variants: usize,  // 1, or 5 expanded
}

/// The shifts of [`Images::expanded`], in `expand_mnist.py`'s order: none, down, up, right,
/// left, as (rows, columns) moved.
const SHIFTS: [(isize, isize); 5] = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)];

impl<'a> Images<'a> {
    /// The images as they are.
    pub fn new(bytes: &'a batchprop_data::ImageBytes) -> Self {
        Images {
            bytes,
            labels: bytes.labels().to_vec(),
            variants: 1,
        }
    }

    /// The images and their four one-pixel shifts; 2-dimensional images only.
    pub fn expanded(bytes: &'a batchprop_data::ImageBytes) -> Result<Self> {
        if bytes.item_shape().len() != 2 {
            return Err(Error::Data {
                what: "images",
                problem: format!("shifting needs 2-dimensional images, not {:?}", bytes.item_shape()),
            });
        }
        let labels = bytes
            .labels()
            .iter()
            .flat_map(|&l| std::iter::repeat_n(l, SHIFTS.len()))
            .collect();
        Ok(Images {
            bytes,
            labels,
            variants: SHIFTS.len(),
        })
    }
}

impl<F: Float> Source<F> for Images<'_> {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn input_size(&self) -> usize {
        self.bytes.pixels().ncols()
    }

    fn targets(&self) -> Targets<'_, F> {
        Targets::Classes {
            labels: &self.labels,
            classes: self.bytes.classes(),
        }
    }

    fn prefetch(&self, indices: &[usize]) {
        let pixels = self.bytes.pixels();
        for &k in indices {
            if let Some(image) = pixels.row(k / self.variants).to_slice() {
                prefetch(image);
            }
        }
    }

    fn gather(&self, indices: &[usize], mut x: ArrayViewMut2<F>) {
        let pixels = self.bytes.pixels();
        let shape = self.bytes.item_shape();
        let cols = shape.get(1).copied().unwrap_or(1);
        let rows = shape[0];
        for (mut column, &k) in x.columns_mut().into_iter().zip(indices) {
            let (image, (dr, dc)) = (k / self.variants, SHIFTS[k % self.variants]);
            let source = pixels.row(image);
            let source = source.as_slice().expect("the images are rows of a row-major array");
            if (dr, dc) == (0, 0) {
                scale_into::<F, false>(source, column);
                continue;
            }
            // Row r of the shifted image is row r − dr of the image moved dc columns right:
            // columns lo..hi come from lo − dc..hi − dc, the rest (and rows off the image) are 0.
            let (lo, hi) = (dc.max(0) as usize, (cols as isize + dc.min(0)) as usize);
            for r in 0..rows {
                let mut row = column.slice_mut(s![r * cols..(r + 1) * cols]);
                let sr = r as isize - dr;
                if !(0..rows as isize).contains(&sr) {
                    row.fill(F::zero());
                    continue;
                }
                let from = sr as usize * cols;
                row.slice_mut(s![..lo]).fill(F::zero());
                row.slice_mut(s![hi..]).fill(F::zero());
                let start = (from as isize + lo as isize - dc) as usize;
                scale_into::<F, false>(&source[start..start + (hi - lo)], row.slice_mut(s![lo..hi]));
            }
        }
    }
}

/// The levels of inputs that take few values: every value `v` of a [`Leveled`] set is
/// `table[q]` for its level `q = round(255 v)` in `0..=255`, one exact value per level (pixels
/// `p / 255` however they were computed and in either precision, binary inputs, anything on a
/// grid of 1/255 in `[0, 1]`). Built by [`Levels::encode`] as the inputs are copied in; the set
/// is then held as one byte per value, and the gather looks each one up: the same values, an
/// eighth of the memory (a quarter in `f32`).
#[derive(Clone, Debug)]
pub struct Levels<F> {
    table: [F; 256],  // the exact value of each level seen, 0 for the others
    bits: [u64; 256], // the value's bits as an f64, or UNSEEN
    // Whether every level is the pixel `q / 255` of `scaled` (a loader's), or that in f32
    // widened (f32 data in an f64 network): the gather then converts the codes in vectors.
    scaled: bool,
    scaled_in_f32: bool,
}

/// The bits of no level (a NaN's: a level is a number in `[0, 1]`).
const UNSEEN: u64 = u64::MAX;

impl<F: Float> Default for Levels<F> {
    fn default() -> Self {
        Levels {
            table: [F::zero(); 256],
            bits: [UNSEEN; 256],
            scaled: true,
            scaled_in_f32: true,
        }
    }
}

impl<F: Float> Levels<F> {
    /// No levels yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the level of each of `values` into `codes` (as long), learning the levels it
    /// has not seen. False if some value is not a level (outside `[0, 1]`, NaN, or a second
    /// value for a level already taken, `−0` beside `0` among them): the inputs must then
    /// be kept as floats, and `codes` is partly written.
    pub fn encode(&mut self, values: &[F], codes: &mut [u8]) -> bool {
        assert_eq!(values.len(), codes.len(), "one code per value");
        for (&v, code) in values.iter().zip(codes.iter_mut()) {
            let v = v.as_f64(); // exact, f32 or f64
            // The level, ⌊255 v + ½⌋, without `round` (a library call on baseline x86-64).
            let x = v * 255.0 + 0.5;
            // NaN fails the range test too.
            if !(0.0..256.0).contains(&x) {
                return false;
            }
            let q = x as usize;
            if self.bits[q] != v.to_bits() {
                if self.bits[q] != UNSEEN {
                    return false;
                }
                self.bits[q] = v.to_bits();
                self.table[q] = F::from_f64(v);
                let pixel = |p: f64| p.to_bits() == v.to_bits();
                self.scaled &= pixel(scaled::<F>(q as u8).as_f64());
                self.scaled_in_f32 &= pixel(f64::from(scaled::<f32>(q as u8)));
            }
            *code = q as u8;
        }
        true
    }

    /// The values of `codes`, into `values` (as long).
    pub fn decode(&self, codes: &[u8], values: &mut [F]) {
        assert_eq!(values.len(), codes.len(), "one value per code");
        for (v, &c) in values.iter_mut().zip(codes) {
            *v = self.table[usize::from(c)];
        }
    }
}

/// Examples whose inputs are [`Levels`]: `codes: (N × n_0)`, row-major, one example per row
/// (as [`Levels::encode`] wrote them), and their targets. The gather writes each example's
/// values, looked up, into its column of the batch.
#[derive(Clone, Copy, Debug)]
pub struct Leveled<'a, F> {
    codes: ArrayView2<'a, u8>, // (N × n_0), rows contiguous
    levels: &'a Levels<F>,
    targets: Targets<'a, F>,
}

impl<'a, F: Float> Leveled<'a, F> {
    /// Classification examples: the rows of `codes` and one label per row, each below
    /// `classes`.
    pub fn classes(
        codes: ArrayView2<'a, u8>,
        levels: &'a Levels<F>,
        labels: &'a [u32],
        classes: usize,
    ) -> Result<Self> {
        Self::new(codes, levels, class_targets(codes.nrows(), labels, classes)?)
    }

    /// Regression (or soft-target) examples: the rows of `codes` and `y: (n_L × N)`, finite.
    pub fn values(codes: ArrayView2<'a, u8>, levels: &'a Levels<F>, y: ArrayView2<'a, F>) -> Result<Self> {
        Self::new(codes, levels, value_targets(codes.nrows(), y)?)
    }

    fn new(codes: ArrayView2<'a, u8>, levels: &'a Levels<F>, targets: Targets<'a, F>) -> Result<Self> {
        if !codes.is_standard_layout() {
            return Err(Error::Data {
                what: "input codes",
                problem: "the codes must be row-major, one example per contiguous row".into(),
            });
        }
        // The codes used (a pass without branches), then whether each is a level.
        let mut used = [false; 256];
        codes.iter().for_each(|&c| used[usize::from(c)] = true);
        if let Some(c) = (0..256).find(|&c| used[c] && levels.bits[c] == UNSEEN) {
            return Err(Error::Data {
                what: "input codes",
                problem: format!("code {c} is not one of the levels"),
            });
        }
        Ok(Leveled { codes, levels, targets })
    }
}

impl<F: Float> Source<F> for Leveled<'_, F> {
    fn len(&self) -> usize {
        self.codes.nrows()
    }

    fn input_size(&self) -> usize {
        self.codes.ncols()
    }

    fn targets(&self) -> Targets<'_, F> {
        self.targets.reborrow()
    }

    fn prefetch(&self, indices: &[usize]) {
        for &i in indices {
            if let Some(codes) = self.codes.row(i).to_slice() {
                prefetch(codes);
            }
        }
    }

    fn gather(&self, indices: &[usize], mut x: ArrayViewMut2<F>) {
        for (mut column, &i) in x.columns_mut().into_iter().zip(indices) {
            let codes = self.codes.row(i);
            let codes = codes.as_slice().expect("the codes are rows of a row-major array");
            match column.as_slice_mut() {
                Some(values) if self.levels.scaled => scale_into::<F, false>(codes, values.into()),
                Some(values) if self.levels.scaled_in_f32 => scale_into::<F, true>(codes, values.into()),
                Some(values) => self.levels.decode(codes, values),
                None => Zip::from(column)
                    .and(codes)
                    .for_each(|v, &c| *v = self.levels.table[usize::from(c)]),
            }
        }
    }
}

/// Asks the CPU to bring the cache lines of `data` into its caches ahead of use. The gather
/// reads examples in a random order from a set far larger than L2: without the hint each
/// image's dozen lines miss one after another, and the loads stall for half the gather.
/// The hint is T1 (into L2, not L1): a batch's hundred-odd T0 prefetches, issued at once,
/// left the gather 2.6× its time on cached data, T1 1.6× (Zen 4, docs/benchmarks.md); the
/// step between them would evict them from L1 anyway.
#[inline]
fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        let (start, len) = (data.as_ptr().cast::<i8>(), std::mem::size_of_val(data));
        // Every line from the first byte's to the last byte's.
        let lines = (start as usize % 64 + len).div_ceil(64);
        for line in 0..lines {
            // SAFETY: a prefetch never faults; `wrapping_add` keeps the address arithmetic
            // defined even one line past the data.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(start.wrapping_add(line * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// A pixel as the network sees it, `p / 255` (the book's scaling; the values the float
/// loaders of `batchprop_data` read).
#[inline(always)]
fn scaled<F: Float>(p: u8) -> F {
    F::from_f64(f64::from(p) * (1.0 / 255.0))
}

/// `x ← pixels / 255`, pixel by pixel as [`scaled`], in the widest vectors this CPU has
/// ([`Isa::current`], as the engine's kernels): the trainer's own crate is built for the
/// baseline x86-64 (SSE2), where the conversion took as long as the copy's cache misses.
/// With `IN_F32`, each value is the f32 pixel widened to `F`.
fn scale_into<F: Float, const IN_F32: bool>(pixels: &[u8], mut x: ArrayViewMut1<F>) {
    let Some(x) = x.as_slice_mut() else {
        Zip::from(x)
            .and(pixels)
            .for_each(|v, &p| *v = pixel::<F, IN_F32, false>(p));
        return;
    };
    scale_slice_on::<F, IN_F32>(Isa::current(), pixels, x)
}

/// [`scale_into`]'s loop on contiguous values, in `isa`'s copy (one the CPU supports).
fn scale_slice_on<F: Float, const IN_F32: bool>(isa: Isa, pixels: &[u8], x: &mut [F]) {
    match isa {
        Isa::Baseline => scale_slice::<F, IN_F32, false>(pixels, x),
        _ => isa.run(|| scale_slice::<F, IN_F32, true>(pixels, x)),
    }
}

/// The loop of [`scale_into`], inlined into each instruction set's copy of it, where the
/// compiler vectorises it; `FMA` where the copy has fused multiply–adds.
#[inline(always)]
fn scale_slice<F: Float, const IN_F32: bool, const FMA: bool>(pixels: &[u8], x: &mut [F]) {
    for (v, &p) in x.iter_mut().zip(pixels) {
        *v = pixel::<F, IN_F32, FMA>(p);
    }
}

/// [`scaled`] in `F`, or with `IN_F32` in f32 and widened. An f32 pixel is computed in f32
/// where `FMA`: `1/255` as the sum of two f32s `c + c'`, and `p c + (p c')` in one fused
/// multiply–add, rounded once. That is the f64 product rounded to f32 for every one of the
/// 256 pixels (a unit test checks each on each instruction set), in two operations instead
/// of widening to f64 and back (four, on vectors of half the lanes).
#[inline(always)]
fn pixel<F: Float, const IN_F32: bool, const FMA: bool>(p: u8) -> F {
    let in_f32 = IN_F32 || std::mem::size_of::<F>() == 4;
    if in_f32 && FMA {
        const C: f32 = 1.0 / 255.0;
        const C_LOW: f32 = (1.0 / 255.0 - C as f64) as f32;
        let q = f32::from(p);
        F::from_f64(f64::from(q.mul_add(C, q * C_LOW)))
    } else if IN_F32 {
        F::from_f64(f64::from(scaled::<f32>(p)))
    } else {
        scaled(p)
    }
}

/// A borrowed source (a `&dyn Source`, say, chosen at run time) is a source.
impl<F: Float, S: Source<F> + ?Sized> Source<F> for &S {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn input_size(&self) -> usize {
        (**self).input_size()
    }

    fn targets(&self) -> Targets<'_, F> {
        (**self).targets()
    }

    fn prefetch(&self, indices: &[usize]) {
        (**self).prefetch(indices)
    }

    fn gather(&self, indices: &[usize], x: ArrayViewMut2<F>) {
        (**self).gather(indices, x)
    }

    fn inputs(&self) -> Option<ArrayView2<'_, F>> {
        (**self).inputs()
    }

    fn target_scale(&self) -> Option<&[f64]> {
        (**self).target_scale()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pixel on every instruction set this CPU has, through both of the gather's
    /// forms, in slices whose lengths cross each vector width: the values of [`scaled`].
    #[test]
    fn each_instruction_set_converts_every_pixel_to_its_value() {
        fn check<F: Float, const IN_F32: bool>(isa: Isa, want: impl Fn(u8) -> F) {
            let pixels: Vec<u8> = (0..=255u8).chain((0..=255).rev()).chain(0..77).collect();
            for len in [0, 1, 7, 15, 16, 17, 31, 33, 64, 100, pixels.len()] {
                let mut x = vec![F::from_f64(-1.0); len];
                scale_slice_on::<F, IN_F32>(isa, &pixels[..len], &mut x);
                for (&p, &v) in pixels.iter().zip(&x) {
                    let w = want(p);
                    assert!(
                        v.as_f64().to_bits() == w.as_f64().to_bits(),
                        "{} {}: pixel {p} gave {v}, not {w}",
                        isa.name(),
                        F::NAME
                    );
                }
            }
        }
        for isa in Isa::ALL.into_iter().filter(|isa| isa.is_supported()) {
            check::<f32, false>(isa, scaled::<f32>);
            check::<f32, true>(isa, scaled::<f32>);
            check::<f64, false>(isa, scaled::<f64>);
            check::<f64, true>(isa, |p| f64::from(scaled::<f32>(p)));
        }
    }
}
