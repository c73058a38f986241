//! Labelled data sets: images one per row, labels as class indices; MNIST as the book
//! splits it.

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2};

use crate::{
    Error, Float, Result,
    idx::{Idx, IdxData, IdxType, describe_magic, magic, read_idx_with},
};

/// The most bytes one load may allocate unless told otherwise ([`Dataset::load`],
/// [`Mnist::load`]): 4 GB, counting the data as stored and its converted copy. MNIST takes
/// 0.28 GB in `f32`, 0.52 GB in `f64`.
pub const DEFAULT_MAX_LOAD_BYTES: u64 = 4_000_000_000;

/// What a load has allocated, against its bound: the headers are checked against it before
/// any data is, so a small file whose header honestly claims millions of images is an error
/// at once, not an abort after gigabytes.
struct Budget {
    max: u64,
    used: u64,
}

impl Budget {
    fn new(max: u64) -> Self {
        Budget { max, used: 0 }
    }

    /// Counts `bytes` more for `path`, or fails if the load would then exceed the bound.
    fn take(&mut self, path: &Path, bytes: u64, what: impl FnOnce() -> String) -> Result<()> {
        let used = self.used.saturating_add(bytes);
        if used > self.max {
            return Err(Error::TooLarge {
                path: path.to_path_buf(),
                needed: used,
                limit: self.max,
                what: what(),
            });
        }
        self.used = used;
        Ok(())
    }

    /// The header check of `read_idx_with` for a file of this load: the data as stored,
    /// plus its copy as `copy_bytes`-byte values.
    fn header_check<'a>(
        &'a mut self,
        path: &'a Path,
        copy_bytes: usize,
        copy: &'static str,
    ) -> impl FnMut(&[u64], IdxType) -> Result<()> + 'a {
        move |dims, kind| {
            let values = dims.iter().fold(1u64, |a, &d| a.saturating_mul(d));
            let stored = values.saturating_mul(kind.size() as u64);
            let copied = values.saturating_mul(copy_bytes as u64);
            self.take(path, stored.saturating_add(copied), || {
                format!(
                    "{values} values: {} as stored ({}), {} as {copy}",
                    bytes(stored),
                    kind.name(),
                    bytes(copied)
                )
            })
        }
    }
}

/// `6.2 GB`: a byte count for a message.
pub(crate) fn bytes(n: u64) -> String {
    match n {
        0..1_000_000 => format!("{n} bytes"),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

/// A labelled data set held in memory.
///
/// `images` is `(N × n_in)`, row-major: one example per row, as the files store them. The
/// engine wants examples as columns; [`Dataset::x`] is the `(n_in × N)` transposed view,
/// which is column-major, the layout the engine's kernels read in place.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<F> {
    images: Array2<F>,      // (N × n_in), row-major
    labels: Vec<u32>,       // (N), each < classes
    classes: usize,         // the number of classes, n_L
    item_shape: Vec<usize>, // the shape of one image, e.g. [28, 28]
}

impl<F: Float> Dataset<F> {
    /// A data set from images `(N × n_in)` and labels `(N)`, each label below `classes`.
    ///
    /// # Panics
    /// If the counts differ or a label is out of range: loaders check both first.
    pub fn new(images: Array2<F>, labels: Vec<u32>, classes: usize, item_shape: Vec<usize>) -> Self {
        assert_eq!(images.nrows(), labels.len(), "one label per image");
        assert!(
            labels.iter().all(|&l| (l as usize) < classes),
            "labels below the class count"
        );
        assert_eq!(
            item_shape.iter().product::<usize>(),
            images.ncols(),
            "item shape matches the rows"
        );
        Dataset {
            images: images.as_standard_layout().into_owned(),
            labels,
            classes,
            item_shape,
        }
    }

    /// Loads any IDX image/label pair, gzipped or not: images with ≥ 2 dimensions (the first
    /// counts items) of any element type, labels with 1 dimension of an integer type, each
    /// below `classes`.
    ///
    /// `u8` images are scaled from 0..=255 to [0, 1]; other types are taken as they are and
    /// must be finite.
    ///
    /// The load allocates at most [`DEFAULT_MAX_LOAD_BYTES`]; a header that claims more is an
    /// error before any data is read ([`Dataset::load_with_limit`] raises the bound).
    pub fn load(images: impl AsRef<Path>, labels: impl AsRef<Path>, classes: usize) -> Result<Self> {
        Self::load_with_limit(images, labels, classes, DEFAULT_MAX_LOAD_BYTES)
    }

    /// [`Dataset::load`] allocating at most `max_bytes` in all (the files' data as stored and
    /// as `F`), checked against the headers before the data is read.
    pub fn load_with_limit(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        classes: usize,
        max_bytes: u64,
    ) -> Result<Self> {
        Self::load_within(images.as_ref(), labels.as_ref(), classes, &mut Budget::new(max_bytes))
    }

    fn load_within(images_path: &Path, labels_path: &Path, classes: usize, budget: &mut Budget) -> Result<Self> {
        let images = read_idx_with(
            images_path,
            &mut budget.header_check(images_path, size_of::<F>(), F::DTYPE),
        )?;
        let labels = read_idx_with(
            labels_path,
            &mut budget.header_check(labels_path, size_of::<u32>(), "u32"),
        )?;
        Self::from_idx((&images, images_path), (&labels, labels_path), classes)
    }

    /// A data set from decoded IDX images and labels, checked as [`Dataset::load`] checks
    /// files; the paths are only used in error messages.
    pub fn from_idx(
        (images, images_path): (&Idx, &Path),
        (labels, labels_path): (&Idx, &Path),
        classes: usize,
    ) -> Result<Self> {
        let labels = checked_labels((images, images_path), (labels, labels_path), classes)?;
        let item_shape = images.dims[1..].to_vec();
        let pixels = item_shape.iter().product();
        let values = image_values(images_path, images, pixels)?;
        let images = Array2::from_shape_vec((labels.len(), pixels), values).expect("sizes checked by read_idx");
        Ok(Dataset {
            images,
            labels,
            classes,
            item_shape,
        })
    }
}

/// What a data set holds; no bound on the element type.
impl<F> Dataset<F> {
    /// The number of examples, `N`.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The size of one input, `n_in` (784 for MNIST).
    pub fn input_size(&self) -> usize {
        self.images.ncols()
    }

    /// The shape of one image (`[28, 28]` for MNIST).
    pub fn item_shape(&self) -> &[usize] {
        &self.item_shape
    }

    /// The number of classes, `n_L`.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The images, `(N × n_in)`, one per row.
    pub fn images(&self) -> ArrayView2<'_, F> {
        self.images.view()
    }

    /// The inputs as the engine takes them: `X = (n_in × N)`, one example per column.
    pub fn x(&self) -> ArrayView2<'_, F> {
        self.images.t()
    }

    /// The class labels, each below [`Dataset::classes`].
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Splits into the first `n` examples and the rest. The first part keeps this data
    /// set's buffer (no copy); the rest is copied out of it.
    ///
    /// # Panics
    /// If `n > len()`.
    pub fn split_at(self, n: usize) -> (Dataset<F>, Dataset<F>)
    where
        F: Clone,
    {
        assert!(n <= self.len(), "split at {n} of {} examples", self.len());
        let cols = self.images.ncols();
        let images = if self.images.is_standard_layout() {
            self.images
        } else {
            self.images.as_standard_layout().into_owned()
        };
        let (mut values, offset) = images.into_raw_vec_and_offset();
        values.drain(..offset.unwrap_or(0));
        let rest = values.split_off(n * cols);
        values.shrink_to_fit();
        let mut labels = self.labels;
        let rest_labels = labels.split_off(n);
        let part = |values: Vec<F>, labels: Vec<u32>| Dataset {
            images: Array2::from_shape_vec((labels.len(), cols), values).expect("rows of the split"),
            labels,
            classes: self.classes,
            item_shape: self.item_shape.clone(),
        };
        (part(values, labels), part(rest, rest_labels))
    }
}

/// The labels of an image/label pair, checked: images of ≥ 2 dimensions, labels of one
/// integer dimension, as many of each, every label below `classes`.
fn checked_labels(
    (images, images_path): (&Idx, &Path),
    (labels, labels_path): (&Idx, &Path),
    classes: usize,
) -> Result<Vec<u32>> {
    check_kind(images_path, images, Kind::Images)?;
    check_kind(labels_path, labels, Kind::Labels)?;
    let (n_images, n_labels) = (images.dims[0], labels.dims[0]);
    if n_images != n_labels {
        return Err(Error::CountMismatch {
            images: images_path.to_path_buf(),
            n_images,
            labels: labels_path.to_path_buf(),
            n_labels,
        });
    }
    class_labels(labels_path, labels, classes)
}

/// What a file of a pair should hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

fn check_kind(path: &Path, idx: &Idx, kind: Kind) -> Result<()> {
    let ndims = idx.dims.len();
    let integer = !matches!(idx.data, IdxData::F32(_) | IdxData::F64(_));
    let fits = match kind {
        Kind::Images => ndims >= 2,
        Kind::Labels => ndims == 1 && integer,
    };
    if fits {
        return Ok(());
    }
    let (found, expected, other) = match kind {
        Kind::Images => (idx.magic(), magic(crate::IdxType::U8, 3), "labels"),
        Kind::Labels => (idx.magic(), magic(crate::IdxType::U8, 1), "images"),
    };
    let looks_like_other = match kind {
        Kind::Images => ndims == 1,
        Kind::Labels => ndims >= 2,
    };
    let what = if kind == Kind::Images { "images" } else { "labels" };
    let requirement = match kind {
        Kind::Images => "images need at least 2 dimensions (items × pixels…), e.g. magic",
        Kind::Labels => "labels need 1 dimension of an integer type, e.g. magic",
    };
    let mut problem = format!(
        "found magic {} where {what} were expected ({requirement} {})",
        describe_magic(found),
        describe_magic(expected)
    );
    if looks_like_other {
        problem += &format!(": this looks like a file of {other}; are the image and label files swapped?");
    }
    Err(Error::WrongKind {
        path: path.to_path_buf(),
        problem,
    })
}

fn class_labels(path: &Path, labels: &Idx, classes: usize) -> Result<Vec<u32>> {
    let out_of_range = |index: usize, label: i64| Error::LabelOutOfRange {
        path: path.to_path_buf(),
        index,
        label,
        classes,
    };
    (0..labels.len())
        .map(|i| {
            let label = labels.get(i) as i64;
            match u32::try_from(label) {
                Ok(l) if (l as usize) < classes => Ok(l),
                _ => Err(out_of_range(i, label)),
            }
        })
        .collect()
}

fn image_values<F: Float>(path: &Path, images: &Idx, pixels: usize) -> Result<Vec<F>> {
    if let IdxData::U8(bytes) = &images.data {
        let scale = 1.0 / 255.0;
        return Ok(bytes.iter().map(|&b| F::from_f64(f64::from(b) * scale)).collect());
    }
    (0..images.len())
        .map(|i| {
            let v = images.get(i);
            let (item, position) = (i / pixels.max(1), i % pixels.max(1));
            let path = path.to_path_buf();
            // Checked after the conversion: 1e57 is finite in f64 but not in f32.
            match F::from_f64(v) {
                x if x.is_finite() => Ok(x),
                _ if v.is_finite() => Err(Error::OutOfRange {
                    path,
                    item,
                    position,
                    value: v,
                    dtype: F::DTYPE,
                }),
                _ => Err(Error::NonFinite {
                    path,
                    item,
                    position,
                    value: v,
                }),
            }
        })
        .collect()
}

/// How to split MNIST's 70,000 images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    /// The book's: training on the first 50,000 training images, validation on the last
    /// 10,000, test on the 10,000 t10k images.
    #[default]
    Book,
    /// All 60,000 training images for training, no validation, the 10,000 test images.
    Full,
}

/// The four files of MNIST, in the order images, labels (training), images, labels (test).
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// MNIST, split into training, validation and test sets: the training images as floats
/// ([`Mnist::load`]) or as the file's bytes ([`Mnist::load_bytes_with_limit`], for
/// `--expand`, which gathers shifted images from them on the fly).
#[derive(Clone, Debug)]
pub struct Mnist<F, T = Dataset<F>> {
    /// The training images: the first 50,000 (or all 60,000 with [`Split::Full`]).
    pub train: T,
    /// The last 10,000 training images; empty with [`Split::Full`].
    pub validation: Dataset<F>,
    /// The 10,000 t10k test images.
    pub test: Dataset<F>,
}

/// The path of MNIST file `name` (one of [`MNIST_FILES`]) in `dir`: `name.gz` or `name`,
/// whichever exists.
pub fn mnist_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [format!("{name}.gz"), name.to_string()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// The paths of the MNIST files `names` in `dir`, or an error naming the ones missing.
fn mnist_files(dir: &Path, names: &[&str]) -> Result<Vec<PathBuf>> {
    let found: Vec<Option<PathBuf>> = names.iter().map(|name| mnist_file(dir, name)).collect();
    let missing: Vec<&str> = names
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Ok(found.into_iter().flatten().collect());
    }
    if !dir.is_dir() {
        return Err(Error::NotFound(format!(
            "MNIST not found: {} is not a directory",
            dir.display()
        )));
    }
    Err(Error::NotFound(format!(
        "MNIST is incomplete in {}: {} of the {} files {} missing (gzipped or not):\n  {}",
        dir.display(),
        missing.len(),
        names.len(),
        if missing.len() == 1 { "is" } else { "are" },
        missing.join("[.gz]\n  ") + "[.gz]"
    )))
}

impl<F: Float> Mnist<F> {
    /// Loads only the 10,000 test images of MNIST from `dir` (the two t10k files), for a tool
    /// that evaluates a trained network.
    pub fn load_test(dir: impl AsRef<Path>) -> Result<Dataset<F>> {
        Self::load_test_with_limit(dir, DEFAULT_MAX_LOAD_BYTES)
    }

    /// [`Mnist::load_test`] allocating at most `max_bytes`.
    pub fn load_test_with_limit(dir: impl AsRef<Path>, max_bytes: u64) -> Result<Dataset<F>> {
        let files = mnist_files(dir.as_ref(), &MNIST_FILES[2..])?;
        Dataset::load_with_limit(&files[0], &files[1], 10, max_bytes)
    }

    /// Loads the four MNIST files from `dir` and splits them, allocating at most
    /// [`DEFAULT_MAX_LOAD_BYTES`] in all.
    pub fn load(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        Self::load_with_limit(dir, split, DEFAULT_MAX_LOAD_BYTES)
    }

    /// [`Mnist::load`] allocating at most `max_bytes` for the four files and the split.
    ///
    /// The book's split needs more than its 10,000 validation images: a training file with
    /// fewer than 10,001 images is an error that says so (use [`Split::Full`]).
    pub fn load_with_limit(dir: impl AsRef<Path>, split: Split, max_bytes: u64) -> Result<Self> {
        let dir = dir.as_ref();
        let files = mnist_files(dir, &MNIST_FILES)?;
        let mut budget = Budget::new(max_bytes);
        let train = Dataset::load_within(&files[0], &files[1], 10, &mut budget)?;
        let test = Dataset::load_within(&files[2], &files[3], 10, &mut budget)?;
        let n = training_part(&files, train.len(), test.len(), split)?;
        let validation = train.len() - n;
        budget.take(
            &files[0],
            (validation * train.input_size() * size_of::<F>()) as u64,
            || format!("the {validation} validation images copied out of the training set"),
        )?;
        let (train, validation) = train.split_at(n);
        Ok(Mnist {
            train,
            validation,
            test,
        })
    }
}

impl<F: Float> Mnist<F, ImageBytes> {
    /// [`Mnist::load_with_limit`] with the training images kept as `u8` bytes (a quarter of
    /// `f32`'s memory); the validation and test images are floats, the same values
    /// [`Mnist::load`] gives.
    pub fn load_bytes_with_limit(dir: impl AsRef<Path>, split: Split, max_bytes: u64) -> Result<Self> {
        let dir = dir.as_ref();
        let files = mnist_files(dir, &MNIST_FILES)?;
        let train = ImageBytes::load_with_limit(&files[0], &files[1], 10, max_bytes)?;
        let test_bytes = max_bytes.saturating_sub((train.pixels.len() + train.len() * size_of::<u32>()) as u64);
        let test = Dataset::load_with_limit(&files[2], &files[3], 10, test_bytes)?;
        let n = training_part(&files, train.len(), test.len(), split)?;
        let (train, validation) = train.split_at(n);
        Ok(Mnist {
            validation: validation.to_dataset(),
            train,
            test,
        })
    }
}

/// How many of the `train` training images `split` trains on (the rest validate), checked
/// with the test set's `test` images: neither file may be empty, and the book's split needs
/// more than its 10,000 validation images.
fn training_part(files: &[PathBuf], train: usize, test: usize, split: Split) -> Result<usize> {
    for (path, len) in [(&files[0], train), (&files[2], test)] {
        if len == 0 {
            return Err(Error::TooFew {
                path: path.clone(),
                problem: "it holds no images".into(),
            });
        }
    }
    let validation = match split {
        Split::Book => 10_000,
        Split::Full => 0,
    };
    if split == Split::Book && train <= validation {
        return Err(Error::TooFew {
            path: files[0].clone(),
            problem: format!(
                "it holds {train} images, and the book's split keeps the last {validation} for validation, \
                 leaving none to train on: train on all of them without a validation set (--full-train, \
                 Split::Full)"
            ),
        });
    }
    Ok(train - validation)
}

/// Labelled images kept as the file stores them: `u8` pixels, one image per row, `(N × n_in)`.
/// A quarter of the memory of `f32` (an eighth of `f64`): what a trainer gathers from on the
/// fly (MNIST expanded by shifts, say), converting each pixel to `p / 255` as it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageBytes {
    pixels: Array2<u8>, // (N × n_in), row-major
    labels: Vec<u32>,   // (N), each < classes
    classes: usize,
    item_shape: Vec<usize>, // e.g. [28, 28]
}

impl ImageBytes {
    /// Loads an IDX pair of `u8` images and integer labels, checked as [`Dataset::load`]
    /// checks them, allocating at most `max_bytes`.
    pub fn load_with_limit(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        classes: usize,
        max_bytes: u64,
    ) -> Result<Self> {
        let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
        let mut budget = Budget::new(max_bytes);
        let images = read_idx_with(images_path, &mut budget.header_check(images_path, 0, "u8"))?;
        let labels = read_idx_with(
            labels_path,
            &mut budget.header_check(labels_path, size_of::<u32>(), "u32"),
        )?;
        let labels = checked_labels((&images, images_path), (&labels, labels_path), classes)?;
        let IdxData::U8(bytes) = images.data else {
            return Err(Error::WrongKind {
                path: images_path.to_path_buf(),
                problem: format!(
                    "{} images where u8 pixels were expected (load them as a Dataset instead)",
                    images.kind().name()
                ),
            });
        };
        let item_shape = images.dims[1..].to_vec();
        let pixels = Array2::from_shape_vec((labels.len(), item_shape.iter().product()), bytes).expect("sizes checked");
        Ok(ImageBytes {
            pixels,
            labels,
            classes,
            item_shape,
        })
    }

    /// The first `n` images (the book's MNIST training part is the first 50,000).
    ///
    /// # Panics
    /// If `n > len()`.
    pub fn truncate(&mut self, n: usize) {
        assert!(n <= self.len(), "{n} of {} images", self.len());
        // The first rows of the buffer, kept where they are (no copy: the loader's buffer
        // is backed by huge pages where the system has them; shrinking only unmaps its tail).
        let cols = self.pixels.ncols();
        let pixels = std::mem::replace(&mut self.pixels, Array2::zeros((0, cols)));
        let pixels = if pixels.is_standard_layout() {
            pixels
        } else {
            pixels.as_standard_layout().into_owned()
        };
        let (mut values, offset) = pixels.into_raw_vec_and_offset();
        values.drain(..offset.unwrap_or(0));
        values.truncate(n * cols);
        values.shrink_to_fit();
        self.pixels = Array2::from_shape_vec((n, cols), values).expect("the first rows");
        self.labels.truncate(n);
    }

    /// The first `n` images and the rest, as [`Dataset::split_at`] splits (the first part
    /// keeps this buffer; the rest is copied).
    ///
    /// # Panics
    /// If `n > len()`.
    pub fn split_at(mut self, n: usize) -> (ImageBytes, ImageBytes) {
        assert!(n <= self.len(), "{n} of {} images", self.len());
        let rest = ImageBytes {
            pixels: self.pixels.slice(ndarray::s![n.., ..]).to_owned(),
            labels: self.labels.split_off(n),
            classes: self.classes,
            item_shape: self.item_shape.clone(),
        };
        self.truncate(n);
        (self, rest)
    }

    /// The images as floats, `p / 255`: the same values [`Dataset::load`] reads from the file.
    pub fn to_dataset<F: Float>(&self) -> Dataset<F> {
        let scale = 1.0 / 255.0;
        Dataset {
            images: self.pixels.mapv(|p| F::from_f64(f64::from(p) * scale)),
            labels: self.labels.clone(),
            classes: self.classes,
            item_shape: self.item_shape.clone(),
        }
    }

    /// The number of images, `N`.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels, `(N × n_in)`.
    pub fn pixels(&self) -> ArrayView2<'_, u8> {
        self.pixels.view()
    }

    /// The labels.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// One image's shape, `[rows, columns]` for MNIST.
    pub fn item_shape(&self) -> &[usize] {
        &self.item_shape
    }
}
