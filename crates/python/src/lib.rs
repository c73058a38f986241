//! # batchprop._batchprop: the engine and the trainer, for Python
//!
//! Two classes and a loader; the Python package around them (`batchprop.network`,
//! `batchprop.network2`, `batchprop.mnist_loader`, `batchprop.sklearn`) gives them the book's
//! and scikit-learn's faces.
//!
//! - [`Net`]: a [`Network`] in `f32` or `f64`, its parameters in and out as NumPy arrays,
//!   the forward pass, BP1–BP4 (`backprop`), one SGD step (`sgd_step`), accuracy and cost.
//! - [`Run`]: a [`Trainer`] (network2.py's `SGD`) that trains a `Net` for some epochs on
//!   NumPy data, calling back into Python after each epoch.
//! - `load_mnist`: the IDX files, through the hardened reader of `batchprop-data`.
//!
//! Conventions at this boundary, all of them Python's: examples are the *rows* of every
//! array (`X: (N × n_0)`, scikit-learn's orientation; the engine's columns are its
//! transpose); inputs are copied into buffers this module owns before the GIL is released
//! (nothing borrowed from Python is read without it); every array returned is a new one.
//! Errors are Python exceptions: `ValueError` for data or settings that do not fit,
//! `TypeError` for a wrong kind of argument, `OSError` for files, `MemoryError` for sizes
//! that cannot be allocated, `batchprop.DivergedError` (an `ArithmeticError`) for a run
//! that diverged; Ctrl-C raises `KeyboardInterrupt` within a fraction of a second.

use std::time::{Duration, Instant};

use batchprop::{Activation, Cost, Network, Sgd};
use batchprop_train::{
    Control, EpochEnd, Examples, Finish, Leveled, Levels, ModelFloat, Observer, Settings, Source, Trainer, Warning,
};
use ndarray::{Array1, Array2, ArrayView2};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::{
    create_exception,
    exceptions::{PyArithmeticError, PyFileNotFoundError, PyMemoryError, PyOSError, PyTypeError, PyValueError},
    prelude::*,
    types::{PyDict, PyList, PyTuple},
};

create_exception!(
    _batchprop,
    DivergedError,
    PyArithmeticError,
    "Training diverged: a cost or a parameter is no longer finite, or the network is stuck at chance."
);

/// How often a running epoch looks for Ctrl-C (it takes the GIL to ask Python).
const SIGNAL_CHECK_EVERY: Duration = Duration::from_millis(50);

/// The element types the engine runs in: `f32` and `f64`.
trait Elem: ModelFloat + numpy::Element {
    const PY_DTYPE: &'static str;
}

impl Elem for f32 {
    const PY_DTYPE: &'static str = "float32";
}

impl Elem for f64 {
    const PY_DTYPE: &'static str = "float64";
}

fn core_error(e: batchprop::Error) -> PyErr {
    match e {
        batchprop::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        batchprop::Error::Allocation { .. } => PyMemoryError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn train_error(e: batchprop_train::Error) -> PyErr {
    match e {
        batchprop_train::Error::Core(e) => core_error(e),
        batchprop_train::Error::Diverged { .. } => DivergedError::new_err(e.to_string()),
        batchprop_train::Error::Checkpoint { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn data_error(e: batchprop_data::Error) -> PyErr {
    match e {
        batchprop_data::Error::NotFound(_) => pyo3::exceptions::PyFileNotFoundError::new_err(e.to_string()),
        batchprop_data::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// What a NumPy-ish argument is, for an error message: `a 3-D float32 array`, `a list`.
fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.cast::<PyUntypedArray>() {
        Ok(a) => format!(
            "a {}-D {} array of shape {}",
            a.ndim(),
            a.dtype().str().map(|s| s.to_string()).unwrap_or_default(),
            py_shape(a.shape())
        ),
        Err(_) => obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into()),
    }
}

/// A shape as Python writes it: `(4, 1)`, `(3,)`.
fn py_shape(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `obj` as a 2-D array of `F`, copied into an owned `(rows × cols)` row-major array.
fn matrix<F: Elem>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Array2<F>> {
    let array: PyReadonlyArray2<'_, F> = obj.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a 2-D NumPy array of {}, found {}",
            F::PY_DTYPE,
            describe(obj)
        ))
    })?;
    Ok(array.as_array().as_standard_layout().into_owned())
}

/// `obj` as a 1-D array of `F`, copied.
fn vector<F: Elem>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Array1<F>> {
    let array: PyReadonlyArray1<'_, F> = obj.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a 1-D NumPy array of {}, found {}",
            F::PY_DTYPE,
            describe(obj)
        ))
    })?;
    Ok(array.as_array().to_owned())
}

/// Class labels: a 1-D `uint32` array, copied.
fn labels(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u32>> {
    let array: PyReadonlyArray1<'_, u32> = obj.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a 1-D NumPy array of uint32, found {}",
            describe(obj)
        ))
    })?;
    Ok(array.as_array().to_vec())
}

/// A list of arrays, each read by `one` (a copy).
fn arrays<T>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    one: impl Fn(&Bound<'_, PyAny>, &str) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    let list = obj.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a list of NumPy arrays, found {}",
            describe(obj)
        ))
    })?;
    list.iter()
        .enumerate()
        .map(|(i, item)| one(&item, &format!("{what}[{i}]")))
        .collect()
}

/// The engine's view of examples given as rows: `X = rowsᵀ`, `(n_0 × N)`, each example a
/// contiguous column.
fn columns<F>(rows: &Array2<F>) -> ArrayView2<'_, F> {
    rows.t()
}

/// A `(n × m)` result of the engine returned as NumPy's `(m × n)`, one example per row.
fn to_rows<'py, F: Elem>(py: Python<'py>, columns: ArrayView2<'_, F>) -> Bound<'py, PyArray2<F>> {
    columns.t().as_standard_layout().into_owned().into_pyarray(py)
}

/// A network in either precision.
#[derive(Clone)]
enum AnyNet {
    F32(Network<f32>),
    F64(Network<f64>),
}

/// Runs `$body` with `$net` bound to the `Network<F>` inside, `F` its element type.
macro_rules! with_net {
    ($any:expr, $net:ident => $body:expr) => {
        match $any {
            AnyNet::F32($net) => $body,
            AnyNet::F64($net) => $body,
        }
    };
}

/// A fully-connected network on the batched engine (`batchprop::Network`), in `float32` or
/// `float64`.
///
/// `Net(sizes, weights, biases, dtype="float64", hidden="sigmoid", output="sigmoid",
/// cost="quadratic")`: `weights[l-1]` is `W^l`, `(n_l × n_{l-1})`; `biases[l-1]` is `b^l`,
/// `(n_l,)`; both float64 arrays (converted to `dtype`). Every array in or out is a copy.
#[pyclass(module = "batchprop._batchprop")]
struct Net {
    net: AnyNet,
}

fn build<F: Elem>(
    sizes: &[usize],
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    activations: Vec<Activation<F>>,
    cost: Cost,
) -> PyResult<Network<F>> {
    let w = arrays(weights, "weights", matrix::<f64>)?;
    let b = arrays(biases, "biases", vector::<f64>)?;
    let w = w
        .into_iter()
        .map(|w| w.mapv(<F as batchprop::Float>::from_f64))
        .collect();
    let b = b
        .into_iter()
        .map(|b| b.mapv(<F as batchprop::Float>::from_f64))
        .collect();
    Network::from_parameters(sizes, w, b, activations, cost).map_err(core_error)
}

fn activation<F: Elem>(name: &str) -> PyResult<Activation<F>> {
    Activation::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown activation {name:?}: expected sigmoid, tanh, relu, leaky_relu[:SLOPE], identity or softmax"
        ))
    })
}

fn cost_named(name: &str) -> PyResult<Cost> {
    Cost::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown cost {name:?}: expected quadratic, cross-entropy or log-likelihood"
        ))
    })
}

fn weights_of<'py, F: Elem>(py: Python<'py>, net: &Network<F>) -> Vec<Bound<'py, PyArray2<F>>> {
    net.weights().iter().map(|w| w.to_owned().into_pyarray(py)).collect()
}

fn biases_of<'py, F: Elem>(py: Python<'py>, net: &Network<F>) -> Vec<Bound<'py, PyArray1<F>>> {
    net.biases().iter().map(|b| b.to_owned().into_pyarray(py)).collect()
}

fn feedforward<'py, F: Elem>(py: Python<'py>, net: &Network<F>, x: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
    let rows = matrix::<F>(x, "X")?;
    let out = py.detach(|| net.feedforward(columns(&rows))).map_err(core_error)?;
    Ok(to_rows(py, out.view()).into_any().unbind())
}

type Nablas<'py, F> = (Vec<Bound<'py, PyArray1<F>>>, Vec<Bound<'py, PyArray2<F>>>);

fn backprop<'py, F: Elem>(
    py: Python<'py>,
    net: &Network<F>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
) -> PyResult<Nablas<'py, F>> {
    let (x, y) = (matrix::<F>(x, "X")?, matrix::<F>(y, "Y")?);
    let grads = py
        .detach(|| -> batchprop::Result<_> {
            let mut ws = net.try_workspace(x.nrows().max(1))?;
            let mut grads = net.zero_gradients();
            net.backprop(columns(&x), columns(&y), &mut ws, &mut grads)?;
            Ok(grads)
        })
        .map_err(core_error)?;
    let b = grads.nabla_b().iter().map(|b| b.to_owned().into_pyarray(py)).collect();
    let w = grads.nabla_w().iter().map(|w| w.to_owned().into_pyarray(py)).collect();
    Ok((b, w))
}

fn sgd_step<F: Elem>(
    py: Python<'_>,
    net: &mut Network<F>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    eta: f64,
    lmbda: f64,
    n: usize,
) -> PyResult<()> {
    let (x, y) = (matrix::<F>(x, "X")?, matrix::<F>(y, "Y")?);
    py.detach(|| -> batchprop::Result<()> {
        let sgd = Sgd::new(eta)?.with_l2(lmbda, n)?;
        let mut ws = net.try_workspace(x.nrows().max(1))?;
        net.sgd_step(columns(&x), columns(&y), &sgd, &mut ws)
    })
    .map_err(core_error)
}

fn accuracy<F: Elem>(py: Python<'_>, net: &Network<F>, x: &Bound<'_, PyAny>, l: &Bound<'_, PyAny>) -> PyResult<usize> {
    let (x, l) = (matrix::<F>(x, "X")?, labels(l, "labels")?);
    py.detach(|| net.accuracy(columns(&x), &l)).map_err(core_error)
}

fn total_cost<F: Elem>(
    py: Python<'_>,
    net: &Network<F>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    lmbda: f64,
) -> PyResult<f64> {
    let (x, y) = (matrix::<F>(x, "X")?, matrix::<F>(y, "Y")?);
    if x.nrows() == 0 {
        return Err(PyValueError::new_err("total_cost of no examples"));
    }
    let cost = py
        .detach(|| net.total_cost(columns(&x), columns(&y), lmbda))
        .map_err(core_error)?;
    Ok(cost.as_f64())
}

/// A metadata dict of strings, as the network's files keep it.
fn metadata(obj: Option<&Bound<'_, PyDict>>) -> PyResult<batchprop::Metadata> {
    let mut out = batchprop::Metadata::new();
    if let Some(dict) = obj {
        for (k, v) in dict.iter() {
            let (k, v): (String, String) = (
                k.extract()?,
                v.extract().map_err(|_| {
                    PyTypeError::new_err(format!("metadata values must be strings, found {}", describe(&v)))
                })?,
            );
            out.insert(k, v);
        }
    }
    Ok(out)
}

fn from_json(json: &str) -> PyResult<(AnyNet, batchprop::Metadata)> {
    // The file says its precision; network2.py's own files have none and load as f64.
    let probe: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| PyValueError::new_err(format!("not a network file (network2.py's JSON): {e}")))?;
    let f32 = probe.get("dtype").and_then(|d| d.as_str()) == Some("f32");
    Ok(if f32 {
        let (net, meta, _) = Network::<f32>::from_json_with::<serde_json::Value>(json).map_err(core_error)?;
        (AnyNet::F32(net), meta)
    } else {
        let (net, meta, _) = Network::<f64>::from_json_with::<serde_json::Value>(json).map_err(core_error)?;
        (AnyNet::F64(net), meta)
    })
}

#[pymethods]
impl Net {
    #[new]
    #[pyo3(signature = (sizes, weights, biases, dtype="float64", hidden="sigmoid", output="sigmoid", cost="quadratic"))]
    fn new(
        sizes: Vec<usize>,
        weights: &Bound<'_, PyAny>,
        biases: &Bound<'_, PyAny>,
        dtype: &str,
        hidden: &str,
        output: &str,
        cost: &str,
    ) -> PyResult<Self> {
        let cost = cost_named(cost)?;
        let layers = sizes.len().saturating_sub(1);
        let acts = |l: usize| if l + 1 == layers { output } else { hidden };
        let net = match dtype {
            "float32" | "f32" => AnyNet::F32(build(
                &sizes,
                weights,
                biases,
                (0..layers).map(|l| activation(acts(l))).collect::<PyResult<_>>()?,
                cost,
            )?),
            "float64" | "f64" => AnyNet::F64(build(
                &sizes,
                weights,
                biases,
                (0..layers).map(|l| activation(acts(l))).collect::<PyResult<_>>()?,
                cost,
            )?),
            other => {
                return Err(PyValueError::new_err(format!(
                    "dtype must be float32 or float64, found {other:?}"
                )));
            }
        };
        Ok(Net { net })
    }

    /// `[n_0, …, n_L]`.
    #[getter]
    fn sizes(&self) -> Vec<usize> {
        with_net!(&self.net, n => n.sizes().to_vec())
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.net {
            AnyNet::F32(_) => f32::PY_DTYPE,
            AnyNet::F64(_) => f64::PY_DTYPE,
        }
    }

    /// The activation of each layer after the input, by name.
    #[getter]
    fn activations(&self) -> Vec<String> {
        with_net!(&self.net, n => n.activations().iter().map(|a| a.name().into_owned()).collect())
    }

    /// The cost's name: `quadratic`, `cross-entropy` or `log-likelihood`.
    #[getter]
    fn cost(&self) -> &'static str {
        with_net!(&self.net, n => n.cost().name())
    }

    /// Copies of `[W^1, …, W^L]`, each `(n_l × n_{l-1})`.
    fn weights<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyAny>> {
        with_net!(&self.net, n => weights_of(py, n).into_iter().map(Bound::into_any).collect())
    }

    /// Copies of `[b^1, …, b^L]`, each `(n_l,)`.
    fn biases<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyAny>> {
        with_net!(&self.net, n => biases_of(py, n).into_iter().map(Bound::into_any).collect())
    }

    /// Replaces every parameter (float64 arrays of the shapes of `weights()` and
    /// `biases()`; checked, all finite) and keeps the activations and the cost.
    fn set_parameters(&mut self, weights: &Bound<'_, PyAny>, biases: &Bound<'_, PyAny>) -> PyResult<()> {
        self.net = with_net!(&self.net, n => {
            let new = build(n.sizes(), weights, biases, n.activations().to_vec(), n.cost())?;
            new.into()
        });
        Ok(())
    }

    /// The output for each row of `X: (m × n_0)`, as `(m × n_L)`.
    fn feedforward(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_net!(&self.net, n => feedforward(py, n, x))
    }

    /// BP1–BP4 on the batch of rows `X: (m × n_0)`, `Y: (m × n_L)`: the gradient of the mean
    /// cost, `(nabla_b, nabla_w)` in the shapes of `biases()` and `weights()`.
    fn backprop<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, y: &Bound<'py, PyAny>) -> PyResult<Py<PyTuple>> {
        with_net!(&self.net, n => {
            let (b, w) = backprop(py, n, x, y)?;
            Ok((b, w).into_pyobject(py)?.unbind())
        })
    }

    /// One SGD step on the batch (network2.py's `update_mini_batch`): `W ← (1 − ηλ/n) W −
    /// (η/m) ∇W`, `b ← b − (η/m) ∇b`, fused into BP4.
    #[pyo3(signature = (x, y, eta, lmbda=0.0, n=1))]
    fn sgd_step(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        eta: f64,
        lmbda: f64,
        n: usize,
    ) -> PyResult<()> {
        with_net!(&mut self.net, net => sgd_step(py, net, x, y, eta, lmbda, n))
    }

    /// How many rows of `X` have their label (a 1-D uint32 array) as the most active output.
    fn accuracy(&self, py: Python<'_>, x: &Bound<'_, PyAny>, labels: &Bound<'_, PyAny>) -> PyResult<usize> {
        with_net!(&self.net, n => accuracy(py, n, x, labels))
    }

    /// network2.py's `total_cost`: the mean cost over the rows plus `(λ/2N) Σ ‖W‖²`.
    #[pyo3(signature = (x, y, lmbda=0.0))]
    fn total_cost(&self, py: Python<'_>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>, lmbda: f64) -> PyResult<f64> {
        with_net!(&self.net, n => total_cost(py, n, x, y, lmbda))
    }

    /// The network in network2.py's JSON (with batchprop's activations, dtype, metadata).
    #[pyo3(signature = (metadata=None))]
    fn to_json(&self, metadata: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let meta = self::metadata(metadata)?;
        with_net!(&self.net, n => n.to_json_with::<()>(&meta, None).map_err(core_error))
    }

    /// A network from network2.py's JSON (or batchprop's): `(net, metadata)`.
    #[staticmethod]
    fn from_json(json: &str) -> PyResult<(Net, batchprop::Metadata)> {
        let (net, meta) = from_json(json)?;
        Ok((Net { net }, meta))
    }

    /// Saves in network2.py's JSON, atomically (a file that is not a regular file is never
    /// replaced; the permissions of the one replaced are kept).
    #[pyo3(signature = (path, metadata=None))]
    fn save(&self, py: Python<'_>, path: std::path::PathBuf, metadata: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let meta = self::metadata(metadata)?;
        with_net!(&self.net, n => py.detach(|| n.save_with::<()>(&path, &meta, None)).map_err(core_error))
    }

    /// Loads a network2.py JSON file: `(net, metadata)`.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<(Net, batchprop::Metadata)> {
        let json = py
            .detach(|| std::fs::read_to_string(&path))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(format!("{}: {e}", path.display())),
                _ => PyOSError::new_err(format!("{}: {e}", path.display())),
            })?;
        Self::from_json(&json)
    }

    /// A copy (`copy.copy` and `copy.deepcopy` use it).
    fn copy(&self) -> Net {
        Net { net: self.net.clone() }
    }

    fn __copy__(&self) -> Net {
        self.copy()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Net {
        self.copy()
    }

    /// Pickles as its JSON, which reads back to the same bits.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let json = slf.borrow().to_json(None)?;
        let restore = slf.py().import("batchprop._batchprop")?.getattr("_net_from_json")?;
        Ok((restore, (json,)))
    }

    fn __repr__(&self) -> String {
        format!(
            "Net(sizes={:?}, dtype={}, activations={:?}, cost={})",
            self.sizes(),
            self.dtype(),
            self.activations(),
            self.cost()
        )
    }
}

impl From<Network<f32>> for AnyNet {
    fn from(n: Network<f32>) -> Self {
        AnyNet::F32(n)
    }
}

impl From<Network<f64>> for AnyNet {
    fn from(n: Network<f64>) -> Self {
        AnyNet::F64(n)
    }
}

/// Unpickles a [`Net`].
#[pyfunction]
fn _net_from_json(json: &str) -> PyResult<Net> {
    Ok(Net {
        net: from_json(json)?.0,
    })
}

/// Training or evaluation data owned by the run: the rows copied, the targets classes or
/// values.
struct Data<F> {
    x: Inputs<F>,
    targets: Targets<F>,
}

/// The inputs, one example per row: as floats, or as one byte per value when every value is
/// one of 256 levels (pixels `p / 255`, binary inputs; [`Levels`]), the same values in an
/// eighth of the memory (a quarter in `f32`), which the gather reads faster.
enum Inputs<F> {
    Floats(Array2<F>),                   // (N × n_0) row-major: the engine reads its transpose
    Leveled(Array2<u8>, Box<Levels<F>>), // (N × n_0) row-major codes, and their values
}

enum Targets<F> {
    Classes(Vec<u32>, usize), // (N): labels below the classes
    Values(Array2<F>),        // (N × n_L) row-major
}

impl<F: Elem> Data<F> {
    /// From Python: `x` rows, `targets` a uint32 label vector (with `classes`) or a 2-D
    /// array of values.
    /// `x` may also be a list of the book's examples (`n_in` numbers each), stacked here
    /// straight into the run's buffer.
    fn new(
        x: &Bound<'_, PyAny>,
        n_in: usize,
        targets: &Bound<'_, PyAny>,
        classes: Option<usize>,
        what: &str,
    ) -> PyResult<Self> {
        let x = match x.cast::<PyList>() {
            Ok(list) => stack_rows::<F>(list, n_in, what)?,
            Err(_) => Inputs::from_rows(matrix::<F>(x, &format!("{what} X"))?),
        };
        let targets = match classes {
            Some(c) => Targets::Classes(labels(targets, &format!("{what} labels"))?, c),
            None => Targets::Values(matrix::<F>(targets, &format!("{what} targets Y"))?),
        };
        Ok(Data { x, targets })
    }

    /// The trainer's view: checked (shapes, labels, finite numbers) when made.
    fn examples(&self) -> batchprop_train::Result<Box<dyn Source<F> + '_>> {
        Ok(match (&self.x, &self.targets) {
            (Inputs::Floats(x), Targets::Classes(labels, classes)) => {
                Box::new(Examples::classes(columns(x), labels, *classes)?)
            }
            (Inputs::Floats(x), Targets::Values(y)) => Box::new(Examples::values(columns(x), columns(y))?),
            (Inputs::Leveled(codes, levels), Targets::Classes(labels, classes)) => {
                Box::new(Leveled::classes(codes.view(), levels, labels, *classes)?)
            }
            (Inputs::Leveled(codes, levels), Targets::Values(y)) => {
                Box::new(Leveled::values(codes.view(), levels, columns(y))?)
            }
        })
    }
}

impl<F: Elem> Inputs<F> {
    /// Rows of floats, kept as levels if every value is one.
    fn from_rows(rows: Array2<F>) -> Self {
        let mut levels = Levels::new();
        let mut codes = Array2::<u8>::zeros(rows.dim());
        let coded = rows
            .as_slice()
            .zip(codes.as_slice_mut())
            .is_some_and(|(values, codes)| levels.encode(values, codes));
        if coded {
            Inputs::Leveled(codes, Box::new(levels))
        } else {
            Inputs::Floats(rows)
        }
    }
}

/// The observer of a Python run: Ctrl-C between mini-batches, the Python callback after each
/// epoch, the best parameters on request, the warnings.
struct PyObserver<'a, F: Elem> {
    callback: Option<&'a Py<PyAny>>,
    last_check: Instant,
    error: Option<PyErr>,
    best: &'a mut Option<Vec<F>>,
    warnings: Vec<String>,
}

impl<F: Elem> Observer<F> for PyObserver<'_, F> {
    fn batch_end(&mut self, _epoch: usize, _batch: usize) -> Control {
        if self.last_check.elapsed() < SIGNAL_CHECK_EVERY {
            return Control::Continue;
        }
        self.last_check = Instant::now();
        match Python::attach(|py| py.check_signals()) {
            Ok(()) => Control::Continue,
            Err(e) => {
                self.error = Some(e);
                Control::Stop
            }
        }
    }

    fn epoch_end(&mut self, end: &EpochEnd<'_, F>) -> batchprop_train::Result<Control> {
        let Some(callback) = self.callback else {
            return Ok(Control::Continue);
        };
        let record = serde_json::to_string(end.record).expect("an epoch record serialises");
        // Σ ‖W^l‖², for a caller whose loss carries the L2 term (scikit-learn's).
        let weights_squared: f64 = end
            .network
            .weights()
            .iter()
            .map(|w| w.iter().map(|v| v.as_f64() * v.as_f64()).sum::<f64>())
            .sum();
        let answer = Python::attach(|py| -> PyResult<Option<String>> {
            py.check_signals()?;
            callback.bind(py).call1((record, weights_squared))?.extract()
        });
        self.last_check = Instant::now();
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                self.error = Some(e);
                return Ok(Control::Stop);
            }
        };
        match answer.as_deref() {
            None => Ok(Control::Continue),
            Some("stop") => Ok(Control::Stop),
            Some("best") => {
                *self.best = Some(end.network.parameters().to_vec());
                Ok(Control::Continue)
            }
            Some(other) => {
                self.error = Some(PyValueError::new_err(format!(
                    "the epoch callback returned {other:?}: expected None, 'stop' or 'best'"
                )));
                Ok(Control::Stop)
            }
        }
    }

    fn warning(&mut self, warning: &Warning) {
        self.warnings.push(warning.to_string());
    }
}

/// A run in one precision.
struct RunOf<F: Elem> {
    trainer: Trainer<F>,
    best: Option<Vec<F>>, // laid out as Network::parameters
}

enum AnyRun {
    F32(RunOf<f32>),
    F64(RunOf<f64>),
}

/// network2.py's `SGD` as an object: the trainer's settings (a JSON object of
/// `batchprop_train::Settings`), its state (the shuffles' generator, the update rule's
/// momentum or Adam moments, the epochs done) kept from one `fit` to the next, and the
/// best parameters a callback asked to keep.
#[pyclass(module = "batchprop._batchprop")]
struct Run {
    run: AnyRun,
    threads: Option<rayon::ThreadPool>,
}

#[allow(clippy::too_many_arguments)]
fn fit<F: Elem>(
    py: Python<'_>,
    run: &mut RunOf<F>,
    pool: Option<&rayon::ThreadPool>,
    net: &mut Network<F>,
    (x, targets, classes): (&Bound<'_, PyAny>, &Bound<'_, PyAny>, Option<usize>),
    evaluation: Option<(&Bound<'_, PyAny>, &Bound<'_, PyAny>, Option<usize>)>,
    epochs: usize,
    callback: Option<&Py<PyAny>>,
) -> PyResult<(String, Vec<String>)> {
    let n_in = net.sizes()[0];
    let train = Data::<F>::new(x, n_in, targets, classes, "training data")?;
    let eval = evaluation
        .map(|(x, t, c)| Data::<F>::new(x, n_in, t, c, "evaluation data"))
        .transpose()?;
    let done = run.trainer.epochs_done();
    run.trainer.set_epochs(done + epochs).map_err(train_error)?;
    let RunOf { trainer, best } = run;
    let mut observer = PyObserver {
        callback,
        last_check: Instant::now(),
        error: None,
        best,
        warnings: Vec::new(),
    };
    let result = py.detach(|| {
        let mut work = || -> batchprop_train::Result<Finish> {
            let train = train.examples()?;
            let eval = eval.as_ref().map(Data::examples).transpose()?;
            trainer.fit(net, &&*train, eval.as_deref(), &mut observer)
        };
        match pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    });
    if let Some(e) = observer.error {
        return Err(e);
    }
    let finish = result.map_err(train_error)?;
    let finish = match finish {
        Finish::Completed => "completed".to_string(),
        Finish::Stopped => "stopped".to_string(),
        other => format!("{other:?}"),
    };
    Ok((finish, observer.warnings))
}

/// Copies kept parameters into a network's; false if none were kept.
fn restore<F: Elem>(best: &Option<Vec<F>>, params: &mut [F]) -> PyResult<bool> {
    match best {
        Some(b) if b.len() == params.len() => {
            params.copy_from_slice(b);
            Ok(true)
        }
        Some(_) => Err(PyValueError::new_err("the kept parameters are not this network's")),
        None => Ok(false),
    }
}

fn settings(json: &str) -> PyResult<Settings> {
    let settings: Settings =
        serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("training settings: {e}")))?;
    settings.validate().map_err(train_error)?;
    Ok(settings)
}

#[pymethods]
impl Run {
    /// A run in `dtype` with `settings` (JSON), on `threads` threads (default: rayon's pool,
    /// one per core).
    #[new]
    #[pyo3(signature = (settings, dtype="float64", threads=None))]
    fn new(settings: &str, dtype: &str, threads: Option<usize>) -> PyResult<Self> {
        let s = self::settings(settings)?;
        let run = match dtype {
            "float32" => AnyRun::F32(RunOf {
                trainer: Trainer::new(s).map_err(train_error)?,
                best: None,
            }),
            "float64" => AnyRun::F64(RunOf {
                trainer: Trainer::new(s).map_err(train_error)?,
                best: None,
            }),
            other => {
                return Err(PyValueError::new_err(format!(
                    "dtype must be float32 or float64, found {other:?}"
                )));
            }
        };
        let threads = match threads {
            None => None,
            Some(0) => return Err(PyValueError::new_err("threads must be at least 1")),
            Some(t) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .map_err(|e| PyValueError::new_err(format!("cannot start {t} threads: {e}")))?,
            ),
        };
        Ok(Run { run, threads })
    }

    /// Trains `net` for `epochs` more epochs on the rows of `x` (or a list of the book's
    /// examples, each `n_0` numbers; targets: uint32 labels
    /// with `classes`, or a 2-D array of values), evaluating on `evaluation` (a `(x,
    /// targets, classes)` tuple) after each; `callback(record_json, sum_of_squared_weights)` after each epoch may
    /// return `None`, `"stop"` or `"best"` (keep these parameters: `restore_best`). The GIL
    /// is released while the engine runs. Returns `(finish, warnings)`.
    #[pyo3(signature = (net, x, targets, classes, epochs, evaluation=None, callback=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        &mut self,
        py: Python<'_>,
        net: &Bound<'_, Net>,
        x: &Bound<'_, PyAny>,
        targets: &Bound<'_, PyAny>,
        classes: Option<usize>,
        epochs: usize,
        evaluation: Option<(Bound<'_, PyAny>, Bound<'_, PyAny>, Option<usize>)>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<(String, Vec<String>)> {
        let mut net = net.try_borrow_mut()?;
        let evaluation = evaluation.as_ref().map(|(x, t, c)| (x, t, *c));
        let pool = self.threads.as_ref();
        match (&mut self.run, &mut net.net) {
            (AnyRun::F32(run), AnyNet::F32(n)) => fit(
                py,
                run,
                pool,
                n,
                (x, targets, classes),
                evaluation,
                epochs,
                callback.as_ref(),
            ),
            (AnyRun::F64(run), AnyNet::F64(n)) => fit(
                py,
                run,
                pool,
                n,
                (x, targets, classes),
                evaluation,
                epochs,
                callback.as_ref(),
            ),
            _ => Err(PyTypeError::new_err("the network's dtype is not the run's")),
        }
    }

    /// Puts the parameters a callback kept (`"best"`) into `net`; false if none were kept.
    fn restore_best(&self, net: &Bound<'_, Net>) -> PyResult<bool> {
        let mut net = net.try_borrow_mut()?;
        match (&self.run, &mut net.net) {
            (AnyRun::F32(run), AnyNet::F32(n)) => restore(&run.best, n.parameters_mut()),
            (AnyRun::F64(run), AnyNet::F64(n)) => restore(&run.best, n.parameters_mut()),
            _ => Err(PyTypeError::new_err("the network's dtype is not the run's")),
        }
    }

    /// Epochs done so far.
    #[getter]
    fn epochs_done(&self) -> usize {
        match &self.run {
            AnyRun::F32(r) => r.trainer.epochs_done(),
            AnyRun::F64(r) => r.trainer.epochs_done(),
        }
    }

    /// The learning rate in force.
    #[getter]
    fn eta(&self) -> f64 {
        match &self.run {
            AnyRun::F32(r) => r.trainer.eta(),
            AnyRun::F64(r) => r.trainer.eta(),
        }
    }
}

/// MNIST from `directory` (the four IDX files, gzipped or not): `(train, validation, test)`,
/// each `(images (N × 784) float32 `p/255` in [0, 1], labels (N,) int64)`; the book's split (50,000
/// training images, the last 10,000 for validation) or, with `full`, all 60,000 for
/// training and an empty validation set.
#[pyfunction]
#[pyo3(signature = (directory, full=false))]
fn load_mnist<'py>(py: Python<'py>, directory: std::path::PathBuf, full: bool) -> PyResult<Bound<'py, PyTuple>> {
    let split = if full {
        batchprop_data::Split::Full
    } else {
        batchprop_data::Split::Book
    };
    let mnist = py
        .detach(|| batchprop_data::Mnist::<f32>::load(&directory, split))
        .map_err(data_error)?;
    let set = |d: &batchprop_data::Dataset<f32>| -> PyResult<Bound<'py, PyTuple>> {
        let images = d.images().as_standard_layout().into_owned().into_pyarray(py);
        let labels = Array1::from_iter(d.labels().iter().map(|&l| i64::from(l))).into_pyarray(py);
        PyTuple::new(py, [images.into_any(), labels.into_any()])
    };
    PyTuple::new(py, [set(&mnist.train)?, set(&mnist.validation)?, set(&mnist.test)?])
}

/// One example of a list, copied into `row` (its `n` numbers in C order, converted to `F`)
/// straight from the array's memory: no `PyReadonlyArray` (its borrow tracking costs
/// microseconds per array) and no intermediate copy.
fn copy_example<F: Elem>(item: &Bound<'_, PyAny>, row: &mut [F], what: &dyn Fn() -> String) -> PyResult<()> {
    fn copy<F, T: numpy::Element + Copy, D: ndarray::Dimension>(
        a: &Bound<'_, numpy::PyArray<T, D>>,
        row: &mut [F],
        convert: impl Fn(T) -> F,
    ) -> bool {
        // SAFETY: the GIL is held for the whole copy and no Python code runs during it, so
        // nothing writes to the array meanwhile; this crate never holds a mutable borrow of
        // a caller's array.
        let a = unsafe { a.as_array() };
        if a.len() != row.len() {
            return false;
        }
        // A slice when it is one: iterating an IxDyn array costs nanoseconds per element.
        match a.as_slice() {
            Some(s) => row.iter_mut().zip(s).for_each(|(r, &v)| *r = convert(v)),
            None => row.iter_mut().zip(a.iter()).for_each(|(r, &v)| *r = convert(v)),
        }
        true
    }
    let n = row.len();
    let widen = |v: f32| <F as batchprop::Float>::from_f64(f64::from(v));
    // The book's (n, 1) columns first: a fixed number of dimensions, nothing allocated.
    let fits = if let Ok(a) = item.cast::<PyArray2<f32>>() {
        copy(a, row, widen)
    } else if let Ok(a) = item.cast::<PyArray2<f64>>() {
        copy(a, row, <F as batchprop::Float>::from_f64)
    } else if let Ok(a) = item.cast::<numpy::PyArrayDyn<f32>>() {
        copy(a, row, widen)
    } else if let Ok(a) = item.cast::<numpy::PyArrayDyn<f64>>() {
        copy(a, row, <F as batchprop::Float>::from_f64)
    } else {
        // Anything else NumPy reads as numbers (lists, integer arrays): converted by NumPy.
        let numpy = item.py().import("numpy")?;
        let converted = numpy.call_method1("asarray", (item, "float64")).map_err(|_| {
            PyTypeError::new_err(format!(
                "{} must be an array of numbers, found {}",
                what(),
                describe(item)
            ))
        })?;
        let a = converted.cast::<numpy::PyArrayDyn<f64>>()?;
        copy(a, row, <F as batchprop::Float>::from_f64)
    };
    if fits {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "{} has shape {}: expected {n} numbers, a ({n}, 1) column",
            what(),
            item.cast::<PyUntypedArray>()
                .map(|a| py_shape(a.shape()))
                .unwrap_or_default()
        )))
    }
}

/// A list of `N` examples of `n` numbers each as the rows of an `(N × n)` array: of levels
/// while every value is one, of floats from the first that is not.
fn stack_rows<F: Elem>(xs: &Bound<'_, PyList>, n: usize, what: &str) -> PyResult<Inputs<F>> {
    let rows = xs.len();
    let mut levels = Levels::new();
    let mut codes = Array2::<u8>::zeros((rows, n)); // (N × n), one example per row
    let mut example = vec![F::zero(); n]; // (n): the example being copied
    for (i, item) in xs.iter().enumerate() {
        copy_example(&item, &mut example, &|| format!("{what} example {i}"))?;
        let row = codes
            .row_mut(i)
            .into_slice()
            .expect("rows of a new array are contiguous");
        if levels.encode(&example, row) {
            continue;
        }
        // Example i has a value that is no level: the rows so far back to floats, the rest
        // copied as floats.
        let mut floats = Array2::<F>::zeros((rows, n)); // (N × n), one example per row
        for (c, mut f) in codes.rows().into_iter().zip(floats.rows_mut()).take(i) {
            levels.decode(c.as_slice().expect("contiguous"), f.as_slice_mut().expect("contiguous"));
        }
        drop(codes);
        floats.row_mut(i).assign(&ndarray::ArrayView1::from(&example));
        for (j, (item, mut row)) in xs.iter().zip(floats.rows_mut()).enumerate().skip(i + 1) {
            let row = row.as_slice_mut().expect("rows of a new array are contiguous");
            copy_example(&item, row, &|| format!("{what} example {j}"))?;
        }
        return Ok(Inputs::Floats(floats));
    }
    Ok(Inputs::Leveled(codes, Box::new(levels)))
}

/// The rows of `inputs` as floats (the book's list, stacked, for NumPy).
fn float_rows<F: Elem>(inputs: Inputs<F>) -> Array2<F> {
    match inputs {
        Inputs::Floats(rows) => rows,
        Inputs::Leveled(codes, levels) => {
            let mut rows = Array2::<F>::zeros(codes.dim()); // (N × n)
            levels.decode(
                codes.as_slice().expect("contiguous"),
                rows.as_slice_mut().expect("contiguous"),
            );
            rows
        }
    }
}

fn stack<'py, F: Elem>(py: Python<'py>, xs: &Bound<'py, PyList>, n: usize, what: &str) -> PyResult<Bound<'py, PyAny>> {
    Ok(float_rows(stack_rows::<F>(xs, n, what)?).into_pyarray(py).into_any())
}

/// The book's examples to one matrix: `xs` a list of `N` arrays of `n` numbers each (the
/// book's `(n, 1)` columns) gives the `(N × n)` array of `dtype`, one example per row.
#[pyfunction]
fn stack_examples<'py>(
    py: Python<'py>,
    xs: &Bound<'py, PyList>,
    n: usize,
    dtype: &str,
    what: &str,
) -> PyResult<Bound<'py, PyAny>> {
    match dtype {
        "float32" => stack::<f32>(py, xs, n, what),
        "float64" => stack::<f64>(py, xs, n, what),
        other => Err(PyValueError::new_err(format!(
            "dtype must be float32 or float64, found {other:?}"
        ))),
    }
}

/// The instruction set the kernels run on here (`avx512`, `avx2`, `sse2`, `neon`, `scalar`).
#[pyfunction]
fn isa() -> &'static str {
    batchprop::Isa::current().name()
}

#[pymodule]
fn _batchprop(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Net>()?;
    m.add_class::<Run>()?;
    m.add_function(wrap_pyfunction!(_net_from_json, m)?)?;
    m.add_function(wrap_pyfunction!(load_mnist, m)?)?;
    m.add_function(wrap_pyfunction!(isa, m)?)?;
    m.add_function(wrap_pyfunction!(stack_examples, m)?)?;
    m.add("DivergedError", m.py().get_type::<DivergedError>())?;
    Ok(())
}
