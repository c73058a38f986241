//! CSV files as tables: a header row of column names (or none), one example per row, numeric
//! feature columns and a target column (the last unless told).
//!
//! Read with the `csv` crate (RFC 4180: quoted fields, embedded delimiters and newlines,
//! CRLF line ends; a UTF-8 byte-order mark at the start is skipped). Every problem is an
//! error naming the file, the line and the column: an empty file, a header only, ragged
//! rows, a cell that is not a number (with its text), an empty cell, NaN or ∞, a target
//! column that does not exist, one class only.

use std::path::Path;

use ndarray::Array2;

use crate::{
    DEFAULT_MAX_LOAD_BYTES, Error, Float, Result,
    table::{ClassOrder, RawTarget, Table, Task, typed_target},
};

/// A column of a CSV file: by its header name, or by its index from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Name(String),
    Index(usize),
}

impl Column {
    /// `"3"` is an index, anything else a name.
    pub fn parse(s: &str) -> Column {
        match s.parse() {
            Ok(i) => Column::Index(i),
            Err(_) => Column::Name(s.to_string()),
        }
    }
}

/// How to read a CSV file as a [`Table`].
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// The first row names the columns (else they are `column_0`, `column_1`, …).
    pub header: bool,
    /// The target column; the last if `None`.
    pub target: Option<Column>,
    /// The feature columns; every other column if `None`.
    pub features: Option<Vec<Column>>,
    /// Classes or values; inferred if `None` (text, or integers with at most
    /// [`MAX_INFERRED_CLASSES`](crate::MAX_INFERRED_CLASSES) distinct values, are classes).
    pub task: Option<Task>,
    /// How classes are numbered.
    pub class_order: ClassOrder,
    /// The field delimiter.
    pub delimiter: u8,
    /// The most bytes the table may take in memory.
    pub max_bytes: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            target: None,
            features: None,
            task: None,
            class_order: ClassOrder::Sorted,
            delimiter: b',',
            max_bytes: DEFAULT_MAX_LOAD_BYTES,
        }
    }
}

impl<F: Float> Table<F> {
    /// Reads a CSV file (see the module documentation).
    pub fn read_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_csv_reader(path, file, options)
    }

    /// [`Table::read_csv`] from any reader; `name` is used in error messages.
    pub fn from_csv_reader(name: &Path, reader: impl std::io::Read, options: &CsvOptions) -> Result<Self> {
        let (feature_names, features, raw) = read_rows::<F>(name, reader, options, true)?;
        let raw = raw.expect("a target was asked for");
        let target_name = raw.name.clone();
        let target_values = typed_target(name, raw, options.task, options.class_order)?;
        Table::new(features, feature_names, target_name, target_values).map_err(|e| match e {
            Error::Table { problem, .. } => Error::Table {
                path: name.to_path_buf(),
                problem,
            },
            other => other,
        })
    }

    /// The feature rows of a CSV file without a target (rows to predict): `(N × d)` and the
    /// features' names. `options.target` is ignored; `options.features` chooses the columns
    /// (every column by default).
    pub fn read_csv_features(path: impl AsRef<Path>, options: &CsvOptions) -> Result<(Array2<F>, Vec<String>)> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let (names, features, _) = read_rows::<F>(path, file, options, false)?;
        Ok((features, names))
    }
}

/// Reads the rows: the features' names and values `(N × d)`, and the target column as text
/// if `with_target`.
#[allow(clippy::type_complexity)]
fn read_rows<F: Float>(
    name: &Path,
    reader: impl std::io::Read,
    options: &CsvOptions,
    with_target: bool,
) -> Result<(Vec<String>, Array2<F>, Option<RawTarget>)> {
    {
        let problem = |problem: String| Error::Table {
            path: name.to_path_buf(),
            problem,
        };
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(options.delimiter)
            .from_reader(reader);
        let mut records = csv.records();
        let read_error = |e: csv::Error| {
            let line = e.position().map_or(String::new(), |p| format!("line {}: ", p.line()));
            problem(format!("{line}{}", csv_error(&e)))
        };
        let first = match records.next() {
            None => return Err(problem("the file is empty".into())),
            Some(r) => r.map_err(read_error)?,
        };
        let width = first.len();
        let (names, mut pending): (Vec<String>, Option<csv::StringRecord>) = if options.header {
            (first.iter().map(|s| s.trim().to_string()).collect(), None)
        } else {
            ((0..width).map(|i| format!("column_{i}")).collect(), Some(first))
        };
        if width < 1 + usize::from(with_target) {
            return Err(problem(format!(
                "{width} column: a table needs at least one feature and a target (is the delimiter {:?}?)",
                options.delimiter as char
            )));
        }
        let index_of = |c: &Column| -> Result<usize> {
            match c {
                Column::Index(i) if *i < width => Ok(*i),
                Column::Index(i) => Err(problem(format!(
                    "there is no column {i}: the file has {width} (0 to {})",
                    width - 1
                ))),
                Column::Name(n) => names.iter().position(|h| h == n).ok_or_else(|| {
                    problem(format!(
                        "there is no column {n:?}; the columns are {}",
                        names.join(", ")
                    ))
                }),
            }
        };
        let target = match with_target {
            true => options.target.as_ref().map_or(Ok(width - 1), index_of)?,
            false => usize::MAX,
        };
        let features: Vec<usize> = match &options.features {
            Some(cols) => cols.iter().map(index_of).collect::<Result<_>>()?,
            None => (0..width).filter(|&j| j != target).collect(),
        };
        if let Some(&j) = features.iter().find(|&&j| j == target) {
            return Err(problem(format!(
                "column {:?} cannot be both a feature and the target",
                names[j]
            )));
        }
        if features.is_empty() {
            return Err(problem("no feature columns".into()));
        }

        let d = features.len();
        let mut values: Vec<F> = Vec::new(); // (N × d), row-major
        let mut cells: Vec<String> = Vec::new(); // (N): the target, as text
        let (mut bytes, mut rows) = (0u64, 0usize);
        let row_bytes = (d * size_of::<F>() + size_of::<String>()) as u64;
        loop {
            let record = match pending.take() {
                Some(r) => r,
                None => match records.next() {
                    None => break,
                    Some(r) => r.map_err(read_error)?,
                },
            };
            let line = record.position().map_or(0, |p| p.line());
            if record.len() == 1 && record[0].trim().is_empty() {
                continue; // a blank line
            }
            if record.len() != width {
                return Err(problem(format!(
                    "line {line} has {} fields where the {} has {width}: every row needs one per column",
                    record.len(),
                    if options.header { "header" } else { "first row" }
                )));
            }
            bytes += row_bytes + record.get(target).map_or(0, str::len) as u64;
            if bytes > options.max_bytes {
                return Err(problem(format!(
                    "the table would take more than the limit of {} bytes in memory by line {line}; raise the \
                     limit if the data is real (the tools' --max-load-gb)",
                    options.max_bytes
                )));
            }
            for &j in &features {
                let text = record[j].trim();
                let cell = |what: &str| problem(format!("line {line}, column {:?}: {what}", names[j]));
                if text.is_empty() {
                    return Err(cell(
                        "the cell is empty (features must be numbers; fill or drop the row)",
                    ));
                }
                let v: f64 = text.parse().map_err(|_| {
                    cell(&format!(
                        "{text:?} is not a number (feature columns must be numeric: choose the features, \
                         or encode the text as numbers)"
                    ))
                })?;
                let x = F::from_f64(v);
                if !x.is_finite() {
                    return Err(cell(&format!(
                        "{text} is {}: features must be finite",
                        if v.is_finite() {
                            format!("too large for {}", F::DTYPE)
                        } else {
                            "not finite".into()
                        }
                    )));
                }
                values.push(x);
            }
            rows += 1;
            if with_target {
                cells.push(record[target].to_string());
            }
        }
        if rows == 0 {
            return Err(problem("the file has a header but no rows of data".into()));
        }
        let features_array = Array2::from_shape_vec((rows, d), values).expect("d values per row");
        let feature_names = features.iter().map(|&j| names[j].clone()).collect();
        let raw = with_target.then(|| RawTarget {
            name: names[target].clone(),
            cells,
        });
        Ok((feature_names, features_array, raw))
    }
}

/// The csv crate's error without its own position prefix.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text (field {})", err.field() + 1),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

/// The column names in the header row of the CSV file at `path` (trimmed).
pub fn csv_header(path: impl AsRef<Path>, delimiter: u8) -> Result<Vec<String>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(file);
    match csv.records().next() {
        None => Err(Error::Table {
            path: path.to_path_buf(),
            problem: "the file is empty".into(),
        }),
        Some(r) => Ok(r
            .map_err(|e| Error::Table {
                path: path.to_path_buf(),
                problem: csv_error(&e),
            })?
            .iter()
            .map(|s| s.trim().to_string())
            .collect()),
    }
}
