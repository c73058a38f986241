//! Tables of examples: numeric features and a target, from CSV or NumPy files; splits and
//! feature scaling.

use std::{collections::BTreeMap, path::Path};

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rand::{SeedableRng, rngs::ChaCha8Rng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

use crate::{Error, Float, Result};

/// Integer targets with at most this many distinct values are classes (a task inferred).
pub const MAX_INFERRED_CLASSES: usize = 20;

/// What the target of a table is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Class labels: text, or integers.
    Classify,
    /// Numbers to predict.
    Regress,
}

impl Task {
    /// `"classify"` or `"regress"`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::Regress => "regress",
        }
    }
}

/// The target column(s) of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Target<F> {
    /// One class per example: `labels[i] < names.len()`, `names` the classes as the file
    /// spells them.
    Classes { labels: Vec<u32>, names: Vec<String> },
    /// `(N × k)` numbers per example, row-major.
    Values(Array2<F>),
}

impl<F> Target<F> {
    /// The number of examples.
    pub fn len(&self) -> usize {
        match self {
            Target::Classes { labels, .. } => labels.len(),
            Target::Values(y) => y.nrows(),
        }
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The task the target is for.
    pub fn task(&self) -> Task {
        match self {
            Target::Classes { .. } => Task::Classify,
            Target::Values(_) => Task::Regress,
        }
    }
}

/// The order class names are numbered in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClassOrder {
    /// Sorted (numerically when every name is an integer, else as text): the same numbering
    /// whatever the order of the rows, as scikit-learn's `LabelEncoder`.
    #[default]
    Sorted,
    /// In the order they first appear in the file.
    FirstSeen,
}

/// A target column as read: every cell as text, to be typed by [`typed_target`].
pub(crate) struct RawTarget {
    pub name: String,
    pub cells: Vec<String>, // (N)
}

/// Types a target column: classes (text, or integers with few distinct values, or as
/// `task` says) or values. `path` and the column name go into errors.
pub(crate) fn typed_target<F: Float>(
    path: &Path,
    raw: RawTarget,
    task: Option<Task>,
    order: ClassOrder,
) -> Result<Target<F>> {
    let numbers: Option<Vec<f64>> = raw.cells.iter().map(|c| c.trim().parse::<f64>().ok()).collect();
    let integers = numbers
        .as_ref()
        .is_some_and(|v| v.iter().all(|x| x.fract() == 0.0 && x.abs() < 2f64.powi(53)));
    let distinct = || {
        let mut seen: Vec<&str> = raw.cells.iter().map(|c| c.trim()).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    let task = match task {
        Some(task) => task,
        None if numbers.is_none() => Task::Classify,
        None if integers && distinct() <= MAX_INFERRED_CLASSES => Task::Classify,
        None => Task::Regress,
    };
    match task {
        Task::Regress => {
            let Some(values) = numbers else {
                let (row, cell) = raw
                    .cells
                    .iter()
                    .enumerate()
                    .find(|(_, c)| c.trim().parse::<f64>().is_err())
                    .expect("a cell is not a number");
                return Err(Error::Table {
                    path: path.to_path_buf(),
                    problem: format!(
                        "target column {:?}: row {} holds {cell:?}, not a number, and a regression target \
                         must be numbers",
                        raw.name,
                        row + 1
                    ),
                });
            };
            if let Some(row) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::Table {
                    path: path.to_path_buf(),
                    problem: format!(
                        "target column {:?}: row {} is {}: targets must be finite",
                        raw.name,
                        row + 1,
                        values[row]
                    ),
                });
            }
            let n = values.len();
            let values: Vec<F> = values.into_iter().map(F::from_f64).collect();
            Ok(Target::Values(
                Array2::from_shape_vec((n, 1), values).expect("one column"),
            ))
        }
        Task::Classify => {
            let cells: Vec<&str> = raw.cells.iter().map(|c| c.trim()).collect();
            if let Some(row) = cells.iter().position(|c| c.is_empty()) {
                return Err(Error::Table {
                    path: path.to_path_buf(),
                    problem: format!("target column {:?}: row {} is empty", raw.name, row + 1),
                });
            }
            let mut names: Vec<String> = Vec::new();
            let mut index: BTreeMap<&str, u32> = BTreeMap::new();
            for &c in &cells {
                if !index.contains_key(c) {
                    index.insert(c, names.len() as u32);
                    names.push(c.to_string());
                }
            }
            if order == ClassOrder::Sorted {
                let as_numbers: Option<Vec<f64>> = names.iter().map(|n| n.parse::<f64>().ok()).collect();
                match as_numbers {
                    Some(v) => {
                        let mut pairs: Vec<(f64, String)> = v.into_iter().zip(names).collect();
                        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                        names = pairs.into_iter().map(|p| p.1).collect();
                    }
                    None => names.sort(),
                }
                for (i, name) in names.iter().enumerate() {
                    *index.get_mut(name.as_str()).expect("every name is indexed") = i as u32;
                }
            }
            if names.len() < 2 {
                return Err(Error::Table {
                    path: path.to_path_buf(),
                    problem: format!(
                        "target column {:?} holds one class only ({:?}): a classifier needs at least two",
                        raw.name,
                        names.first().map_or("", String::as_str)
                    ),
                });
            }
            let labels = cells.iter().map(|c| index[c]).collect();
            Ok(Target::Classes { labels, names })
        }
    }
}

/// A table of examples: numeric features, one row per example, and a target.
#[derive(Clone, Debug, PartialEq)]
pub struct Table<F> {
    features: Array2<F>,        // (N × d), row-major
    feature_names: Vec<String>, // (d)
    target_name: String,
    target: Target<F>,
}

impl<F: Float> Table<F> {
    /// A table from its parts, checked: as many target rows as feature rows, one name per
    /// feature, finite features, labels below the class count.
    pub fn new(
        features: Array2<F>,
        feature_names: Vec<String>,
        target_name: String,
        target: Target<F>,
    ) -> Result<Self> {
        let problem = |problem: String| {
            Err(Error::Table {
                path: "<table>".into(),
                problem,
            })
        };
        if features.nrows() != target.len() {
            return problem(format!(
                "{} rows of features but {} targets",
                features.nrows(),
                target.len()
            ));
        }
        if features.ncols() != feature_names.len() {
            return problem(format!(
                "{} feature columns but {} names",
                features.ncols(),
                feature_names.len()
            ));
        }
        if let Some(((row, col), v)) = features.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return problem(format!(
                "feature {:?} of row {} is {v:?}: features must be finite",
                feature_names[col],
                row + 1
            ));
        }
        if let Target::Classes { labels, names } = &target
            && let Some(&l) = labels.iter().find(|&&l| l as usize >= names.len())
        {
            return problem(format!("label {l} is not one of the {} classes", names.len()));
        }
        Ok(Table {
            features: features.as_standard_layout().into_owned(),
            feature_names,
            target_name,
            target,
        })
    }
}

impl<F> Table<F> {
    /// The number of examples, `N`.
    pub fn len(&self) -> usize {
        self.features.nrows()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The features, `(N × d)`, one example per row.
    pub fn features(&self) -> ArrayView2<'_, F> {
        self.features.view()
    }

    /// The inputs as the engine takes them: `X = (d × N)`, one example per column (a view).
    pub fn x(&self) -> ArrayView2<'_, F> {
        self.features.t()
    }

    /// The features' column names.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The target column's name.
    pub fn target_name(&self) -> &str {
        &self.target_name
    }

    /// The target.
    pub fn target(&self) -> &Target<F> {
        &self.target
    }

    /// The class names, if the target is classes.
    pub fn class_names(&self) -> Option<&[String]> {
        match &self.target {
            Target::Classes { names, .. } => Some(names),
            Target::Values(_) => None,
        }
    }

    /// The task of the target.
    pub fn task(&self) -> Task {
        self.target.task()
    }

    /// The examples at `rows`, in that order (a copy).
    pub fn select(&self, rows: &[usize]) -> Table<F>
    where
        F: Clone,
    {
        Table {
            features: self.features.select(Axis(0), rows),
            feature_names: self.feature_names.clone(),
            target_name: self.target_name.clone(),
            target: match &self.target {
                Target::Classes { labels, names } => Target::Classes {
                    labels: rows.iter().map(|&r| labels[r]).collect(),
                    names: names.clone(),
                },
                Target::Values(y) => Target::Values(y.select(Axis(0), rows)),
            },
        }
    }

    /// A seeded split into parts of the given fractions of the examples (the rest is the
    /// first part): `split(&[0.2], seed)` gives 80 % and 20 %. The examples are shuffled with
    /// ChaCha8 seeded by `seed` first, so a seed gives the same split on every machine. A
    /// part that would be empty, or fractions that do not leave the first part examples, are
    /// an error.
    pub fn split(&self, fractions: &[f64], seed: u64) -> Result<Vec<Table<F>>>
    where
        F: Clone,
    {
        let n = self.len();
        let bad = |problem: String| {
            Err(Error::Table {
                path: "<table>".into(),
                problem,
            })
        };
        if let Some(f) = fractions.iter().find(|f| !(f.is_finite() && **f > 0.0 && **f < 1.0)) {
            return bad(format!("a split fraction must be in (0, 1), not {f}"));
        }
        let sizes: Vec<usize> = fractions.iter().map(|f| (f * n as f64).round() as usize).collect();
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return bad(format!(
                "a fraction {} of {n} examples is no example at all: use a larger fraction or more data",
                fractions[i]
            ));
        }
        let rest = n.checked_sub(sizes.iter().sum()).filter(|&r| r > 0);
        let Some(first) = rest else {
            return bad(format!(
                "the fractions {fractions:?} of {n} examples leave none for training"
            ));
        };
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut parts = Vec::with_capacity(sizes.len() + 1);
        let mut start = 0;
        for size in std::iter::once(first).chain(sizes) {
            parts.push(self.select(&order[start..start + size]));
            start += size;
        }
        Ok(parts)
    }
}

/// How features are rescaled before training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scaling {
    /// Mean 0 and variance 1 per feature (scikit-learn's `StandardScaler`).
    #[default]
    Standard,
    /// Each feature's range onto [0, 1] (`MinMaxScaler`).
    MinMax,
    /// As they are.
    None,
}

impl Scaling {
    /// For messages: `standard`, `min-max` or `no` (scaling).
    pub fn name(self) -> &'static str {
        match self {
            Scaling::Standard => "standard",
            Scaling::MinMax => "min-max",
            Scaling::None => "no",
        }
    }
}

/// A per-feature affine map `x ↦ (x − shift) / scale`, fitted on training data only and
/// kept with a model so that prediction applies the same transform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaler {
    pub scaling: Scaling,
    pub shift: Vec<f64>, // (d)
    pub scale: Vec<f64>, // (d), each finite and > 0
}

impl Scaler {
    /// Fits `scaling` to `data: (N × d)`, one example per row. A constant feature keeps
    /// scale 1 (it is only shifted), as scikit-learn does.
    pub fn fit<F: Float>(scaling: Scaling, data: ArrayView2<'_, F>) -> Scaler {
        let d = data.ncols();
        let n = data.nrows().max(1) as f64;
        let column = |j: usize| data.column(j).iter().map(|&v| v.to_f64()).collect::<Vec<f64>>();
        let (shift, scale): (Vec<f64>, Vec<f64>) = (0..d)
            .map(|j| {
                let v = column(j);
                match scaling {
                    Scaling::None => (0.0, 1.0),
                    Scaling::Standard => {
                        let mean = v.iter().sum::<f64>() / n;
                        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                        (mean, nonzero(var.sqrt()))
                    }
                    Scaling::MinMax => {
                        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        if lo.is_finite() {
                            (lo, nonzero(hi - lo))
                        } else {
                            (0.0, 1.0)
                        }
                    }
                }
            })
            .unzip();
        Scaler { scaling, shift, scale }
    }

    /// The number of features it maps.
    pub fn len(&self) -> usize {
        self.shift.len()
    }

    /// Whether it maps no features.
    pub fn is_empty(&self) -> bool {
        self.shift.is_empty()
    }

    /// Checks a scaler read from a file: as many shifts as scales, all finite, scales > 0.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.shift.len() != self.scale.len() {
            return Err(format!("{} shifts but {} scales", self.shift.len(), self.scale.len()));
        }
        if let Some(j) =
            (0..self.len()).find(|&j| !(self.shift[j].is_finite() && self.scale[j].is_finite() && self.scale[j] > 0.0))
        {
            return Err(format!(
                "feature {j} has shift {} and scale {}: both must be finite, the scale positive",
                self.shift[j], self.scale[j]
            ));
        }
        Ok(())
    }

    /// Applies the map in place to `rows: (N × d)`, one example per row (for the engine's
    /// `X: (d × N)`, pass `x.reversed_axes()`).
    pub fn apply<F: Float>(&self, mut rows: ArrayViewMut2<'_, F>) {
        for mut row in rows.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = F::from_f64((v.to_f64() - self.shift[j]) / self.scale[j]);
            }
        }
    }

    /// The inverse map, `y ↦ y · scale + shift`, of feature (or target) `k`.
    pub fn invert(&self, k: usize, y: f64) -> f64 {
        y * self.scale[k] + self.shift[k]
    }
}

/// `s`, or 1 where `s` is 0 (a constant column) or not finite.
fn nonzero(s: f64) -> f64 {
    if s.is_finite() && s > 0.0 { s } else { 1.0 }
}
