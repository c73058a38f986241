//! NumPy's `.npy` files, and `.npz` archives of them, as tables.
//!
//! ```text
//! \x93NUMPY  major minor  header_len (u16 LE for 1.x, u32 LE for 2.x and 3.x)
//! {'descr': '<f8', 'fortran_order': False, 'shape': (150, 4), }   (padded, ends in \n)
//! then prod(shape) elements, C order (or Fortran order if it says so)
//! ```
//!
//! What `np.save` and `np.savez` (stored or deflated) write for numeric arrays: floats `f4`
//! `f8`, integers `i1`–`i8` and `u1`–`u8`, `bool`, either byte order. The header is checked
//! against the bytes present before the data is allocated: a header that claims more than
//! the file (or the archive entry, at deflate's greatest ratio) holds is an error at once.
//! The reader is this crate's own: `ndarray-npy` allocates the claimed shape before reading.

use std::{
    fs::File,
    io::{self, Read},
    path::Path,
};

use ndarray::{Array2, ShapeBuilder};

use crate::{
    DEFAULT_MAX_LOAD_BYTES, Error, Float, Result,
    table::{ClassOrder, RawTarget, Table, Task, typed_target},
};

/// Longest header accepted: numpy itself refuses headers over 10,000 bytes by default.
const MAX_HEADER: usize = 1 << 16;

/// The most a deflate stream can expand (as for gzip'd IDX files).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The kind of an array's elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpyKind {
    Float,
    Int,
    Bool,
}

/// An array read from a `.npy` file: its shape and its elements in C order, as `f64`
/// (integers up to 2⁵³ exactly; larger ones are an error).
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub kind: NpyKind,
    pub values: Vec<f64>,
}

/// The element type a header's `descr` names.
#[derive(Clone, Copy, Debug)]
struct Descr {
    kind: NpyKind,
    size: usize,
    big_endian: bool,
    signed: bool,
}

fn descr(text: &str) -> Option<Descr> {
    // The last two characters are the code; a cut inside a multi-byte character is no dtype.
    let (order, code) = text.split_at_checked(text.len().checked_sub(2)?)?;
    let big_endian = match order {
        "<" | "|" | "=" | "" => false,
        ">" => true,
        _ => return None,
    };
    let (kind, signed, size) = match code {
        "f4" => (NpyKind::Float, true, 4),
        "f8" => (NpyKind::Float, true, 8),
        "i1" => (NpyKind::Int, true, 1),
        "i2" => (NpyKind::Int, true, 2),
        "i4" => (NpyKind::Int, true, 4),
        "i8" => (NpyKind::Int, true, 8),
        "u1" => (NpyKind::Int, false, 1),
        "u2" => (NpyKind::Int, false, 2),
        "u4" => (NpyKind::Int, false, 4),
        "u8" => (NpyKind::Int, false, 8),
        "b1" => (NpyKind::Bool, false, 1),
        _ => return None,
    };
    Some(Descr {
        kind,
        size,
        big_endian,
        signed,
    })
}

/// The parsed header: `descr`, `fortran_order`, `shape`.
struct Header {
    descr: Descr,
    fortran: bool,
    shape: Vec<usize>,
}

/// A value of the header's Python dict literal.
#[derive(Debug, PartialEq)]
enum Py {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

/// Parses the header dict: `{'key': value, …}` with string, boolean and integer-tuple
/// values, the only forms numpy writes for these arrays.
fn parse_dict(text: &str) -> std::result::Result<Vec<(String, Py)>, String> {
    let mut chars = text.trim().chars().peekable();
    let skip = |c: &mut std::iter::Peekable<std::str::Chars>| {
        while c.peek().is_some_and(|ch| ch.is_whitespace()) {
            c.next();
        }
    };
    let string = |c: &mut std::iter::Peekable<std::str::Chars>| -> std::result::Result<String, String> {
        let quote = c
            .next()
            .filter(|q| *q == '\'' || *q == '"')
            .ok_or("expected a quoted string")?;
        let mut s = String::new();
        loop {
            match c.next() {
                Some(ch) if ch == quote => return Ok(s),
                Some(ch) if ch != '\\' => s.push(ch),
                _ => return Err("an unterminated or escaped string".into()),
            }
        }
    };
    if chars.next() != Some('{') {
        return Err("the header does not start with '{'".into());
    }
    let mut items = Vec::new();
    loop {
        skip(&mut chars);
        if chars.peek() == Some(&'}') {
            chars.next();
            break;
        }
        let key = string(&mut chars)?;
        skip(&mut chars);
        if chars.next() != Some(':') {
            return Err(format!("expected ':' after {key:?}"));
        }
        skip(&mut chars);
        let value = match chars.peek() {
            Some('\'' | '"') => Py::Str(string(&mut chars)?),
            Some('(') => {
                chars.next();
                let mut dims = Vec::new();
                loop {
                    skip(&mut chars);
                    match chars.peek() {
                        Some(')') => {
                            chars.next();
                            break;
                        }
                        Some(',') => {
                            chars.next();
                        }
                        Some(c) if c.is_ascii_digit() => {
                            let mut digits = String::new();
                            while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                                digits.push(chars.next().expect("peeked"));
                            }
                            dims.push(
                                digits
                                    .parse::<u64>()
                                    .map_err(|_| format!("dimension {digits} is too large"))?,
                            );
                        }
                        _ => return Err("a shape must be a tuple of non-negative integers".into()),
                    }
                }
                Py::Tuple(dims)
            }
            _ => {
                let word: String = std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric())).collect();
                match word.as_str() {
                    "True" => Py::Bool(true),
                    "False" => Py::Bool(false),
                    other => return Err(format!("unsupported value {other:?} for {key:?}")),
                }
            }
        };
        items.push((key, value));
        skip(&mut chars);
        match chars.next() {
            Some(',') => {}
            Some('}') => break,
            _ => return Err("expected ',' or '}' in the header".into()),
        }
    }
    skip(&mut chars);
    if chars.next().is_some() {
        return Err("text after the header's closing '}'".into());
    }
    Ok(items)
}

/// Reads the magic string, version and header from `reader`.
fn read_header(reader: &mut impl Read) -> std::result::Result<(Header, u64), String> {
    let mut magic = [0u8; 8];
    read_fully(reader, &mut magic)
        .map_err(|e| format!("cannot read the .npy magic string: {e}"))?
        .then_some(())
        .ok_or("the file is shorter than the 10-byte .npy preamble")?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(format!(
            "not a .npy file: it starts with {:02x?}, where .npy files start with \\x93NUMPY",
            &magic[..6]
        ));
    }
    let (major, minor) = (magic[6], magic[7]);
    let len_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => {
            return Err(format!(
                ".npy version {major}.{minor} is not one this reader knows (1.0, 2.0, 3.0)"
            ));
        }
    };
    let mut len = [0u8; 4];
    if !read_fully(reader, &mut len[..len_bytes]).map_err(|e| e.to_string())? {
        return Err("the file ends inside the header length".into());
    }
    let header_len = u32::from_le_bytes(len) as usize;
    if header_len > MAX_HEADER {
        return Err(format!(
            "the header claims {header_len} bytes, more than the {MAX_HEADER} allowed"
        ));
    }
    let mut text = vec![0u8; header_len];
    if !read_fully(reader, &mut text).map_err(|e| e.to_string())? {
        return Err(format!("the file ends inside its {header_len}-byte header"));
    }
    let text = String::from_utf8(text).map_err(|_| "the header is not text".to_string())?;
    let items = parse_dict(&text).map_err(|e| format!("bad header {:?}: {e}", text.trim()))?;
    let get = |key: &str| items.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let descr = match get("descr") {
        Some(Py::Str(s)) => descr(s).ok_or_else(|| {
            format!("dtype {s:?} is not a number type this reader takes (floats f4 f8, integers i1–i8 u1–u8, bool)")
        })?,
        _ => return Err("the header has no 'descr' string".into()),
    };
    let fortran = match get("fortran_order") {
        Some(Py::Bool(b)) => *b,
        _ => return Err("the header has no 'fortran_order' boolean".into()),
    };
    let shape = match get("shape") {
        Some(Py::Tuple(dims)) => dims
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} does not fit this machine")))
            .collect::<std::result::Result<Vec<_>, _>>()?,
        _ => return Err("the header has no 'shape' tuple".into()),
    };
    let preamble = (8 + len_bytes + header_len) as u64;
    Ok((Header { descr, fortran, shape }, preamble))
}

/// Fills `buf`; `Ok(false)` if the reader ends first.
fn read_fully(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads one array from `reader`, whose total size (preamble, header and data) is `total`
/// bytes at most; `exact` if it must be exactly that (a plain file, or an archive entry
/// that states its size). Nothing is allocated for the data before its size is checked
/// against `total` and `max_bytes`.
fn read_array(mut reader: impl Read, total: u64, exact: bool, max_bytes: u64) -> std::result::Result<NpyArray, String> {
    let (header, preamble) = read_header(&mut reader)?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {:?} overflows this machine's address space", header.shape))?;
    let data = (count as u64)
        .checked_mul(header.descr.size as u64)
        .ok_or_else(|| format!("shape {:?} overflows", header.shape))?;
    let available = total.saturating_sub(preamble);
    if data > available || (exact && data < available) {
        return Err(format!(
            "the header's shape {:?} of {}-byte elements needs {data} bytes of data; the file holds {} {available}",
            header.shape,
            header.descr.size,
            if exact { "exactly" } else { "at most" }
        ));
    }
    let needed = data.saturating_add((count as u64).saturating_mul(8));
    if needed > max_bytes {
        return Err(format!(
            "shape {:?} would take {needed} bytes in memory, above the limit of {max_bytes}; raise the limit if \
             the data is real (the tools' --max-load-gb)",
            header.shape
        ));
    }
    let mut bytes = vec![0u8; data as usize];
    if !read_fully(&mut reader, &mut bytes).map_err(|e| e.to_string())? {
        return Err(format!("truncated: the header announces {data} bytes of data"));
    }
    let mut extra = [0u8; 1];
    if read_fully(&mut reader, &mut extra).map_err(|e| e.to_string())? {
        return Err(format!("more bytes than the {data} of data the header announces"));
    }
    let Descr {
        kind,
        size,
        big_endian,
        signed,
    } = header.descr;
    let mut values = Vec::with_capacity(count);
    for chunk in bytes.chunks_exact(size) {
        let mut b = [0u8; 8];
        if big_endian {
            b[..size].copy_from_slice(chunk);
            b[..size].reverse();
        } else {
            b[..size].copy_from_slice(chunk);
        }
        let v = match (kind, size) {
            (NpyKind::Float, 4) => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            (NpyKind::Float, _) => f64::from_le_bytes(b),
            (NpyKind::Bool, _) if b[0] > 1 => return Err(format!("a bool element holds {}", b[0])),
            (NpyKind::Bool, _) => f64::from(b[0]),
            (NpyKind::Int, _) => {
                let bits = size * 8;
                let raw = u64::from_le_bytes(b);
                let v = if signed && bits < 64 && raw >> (bits - 1) & 1 == 1 {
                    (raw | (!0u64 << bits)) as i64 as f64
                } else if signed {
                    raw as i64 as f64
                } else {
                    raw as f64
                };
                if v.abs() > 2f64.powi(53) {
                    return Err(format!("the integer {v} is too large to hold exactly"));
                }
                v
            }
        };
        values.push(v);
    }
    if header.fortran && header.shape.len() > 1 {
        let shape = ndarray::IxDyn(&header.shape);
        let array = ndarray::ArrayD::from_shape_vec(shape.f(), values).expect("counted");
        values = array.as_standard_layout().iter().copied().collect();
    }
    Ok(NpyArray {
        shape: header.shape,
        kind,
        values,
    })
}

impl NpyArray {
    /// Reads a `.npy` file.
    pub fn read(path: impl AsRef<Path>) -> Result<NpyArray> {
        Self::read_with_limit(path, DEFAULT_MAX_LOAD_BYTES)
    }

    /// [`NpyArray::read`] taking at most `max_bytes` in memory.
    pub fn read_with_limit(path: impl AsRef<Path>, max_bytes: u64) -> Result<NpyArray> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        read_array(io::BufReader::new(file), len, true, max_bytes).map_err(|problem| Error::Table {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// Decodes a `.npy` file held in memory; `name` is used in error messages.
    pub fn parse(bytes: &[u8], name: impl AsRef<Path>, max_bytes: u64) -> Result<NpyArray> {
        read_array(bytes, bytes.len() as u64, true, max_bytes).map_err(|problem| Error::Table {
            path: name.as_ref().to_path_buf(),
            problem,
        })
    }

    /// Reads the arrays `names` (without `.npy`) from an `.npz` archive, in that order.
    pub fn read_npz(path: impl AsRef<Path>, names: &[&str], max_bytes: u64) -> Result<Vec<NpyArray>> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::npz_from(io::BufReader::new(file), path, names, max_bytes)
    }

    /// [`NpyArray::read_npz`] from any seekable reader (an archive in memory, say); `path`
    /// is used in error messages.
    pub fn npz_from(
        reader: impl Read + io::Seek,
        path: &Path,
        names: &[&str],
        max_bytes: u64,
    ) -> Result<Vec<NpyArray>> {
        let problem = |problem: String| Error::Table {
            path: path.to_path_buf(),
            problem,
        };
        let mut archive =
            zip::ZipArchive::new(reader).map_err(|e| problem(format!("not an .npz (zip) archive: {e}")))?;
        let mut arrays = Vec::with_capacity(names.len());
        for name in names {
            let entry_name = format!("{name}.npy");
            let present: Vec<String> = archive
                .file_names()
                .map(|n| n.trim_end_matches(".npy").to_string())
                .collect();
            let entry = archive.by_name(&entry_name).map_err(|_| {
                problem(format!(
                    "the archive holds no array {name:?}; it holds {}",
                    if present.is_empty() {
                        "none".into()
                    } else {
                        present.join(", ")
                    }
                ))
            })?;
            // The entry's stated size must be what its bytes can inflate to.
            let (size, compressed) = (entry.size(), entry.compressed_size());
            if size > compressed.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(1024) {
                return Err(problem(format!(
                    "entry {entry_name} claims {size} bytes from {compressed} compressed: more than deflate can give"
                )));
            }
            let array = read_array(entry, size, true, max_bytes).map_err(|e| problem(format!("{entry_name}: {e}")))?;
            arrays.push(array);
        }
        Ok(arrays)
    }
}

/// Where a NumPy table comes from: an `.npz` with named arrays, or two `.npy` files.
#[derive(Clone, Debug)]
pub enum NpySource<'a> {
    /// An archive and the names of its feature and target arrays (`x`, `y` by default).
    Npz { path: &'a Path, x: &'a str, y: &'a str },
    /// A features file and a targets file.
    Pair { x: &'a Path, y: &'a Path },
}

impl<F: Float> Table<F> {
    /// A table from NumPy arrays: features `x: (n, d)` of numbers, targets `y: (n,)` (classes
    /// or values, as `task` says or as inferred from integers) or `(n, k)` values.
    pub fn read_numpy(source: &NpySource<'_>, task: Option<Task>, max_bytes: u64) -> Result<Self> {
        let (x, y, path, names) = match source {
            NpySource::Npz { path, x, y } => {
                let mut arrays = NpyArray::read_npz(path, &[x, y], max_bytes)?;
                let y_array = arrays.pop().expect("two arrays");
                let x_array = arrays.pop().expect("two arrays");
                (x_array, y_array, path.to_path_buf(), (x.to_string(), y.to_string()))
            }
            NpySource::Pair { x, y } => (
                NpyArray::read_with_limit(x, max_bytes)?,
                NpyArray::read_with_limit(y, max_bytes)?,
                y.to_path_buf(),
                ("x".to_string(), "y".to_string()),
            ),
        };
        let problem = |problem: String| Error::Table {
            path: path.clone(),
            problem,
        };
        let [n, d] = x.shape[..] else {
            return Err(problem(format!(
                "features {:?} have shape {:?}: they must be 2-dimensional, (examples, features)",
                names.0, x.shape
            )));
        };
        if y.shape.first() != Some(&n) || y.shape.len() > 2 {
            return Err(problem(format!(
                "targets {:?} have shape {:?}; the features have {n} rows, so they must be ({n},) or ({n}, k)",
                names.1, y.shape
            )));
        }
        if let Some(i) = x.values.iter().position(|v| !v.is_finite()) {
            return Err(problem(format!(
                "feature {} of row {} is {}: features must be finite",
                i % d.max(1),
                i / d.max(1) + 1,
                x.values[i]
            )));
        }
        let features =
            Array2::from_shape_vec((n, d), x.values.into_iter().map(F::from_f64).collect()).expect("counted");
        let target = if y.shape.len() == 2 && y.shape[1] != 1 {
            if task == Some(Task::Classify) {
                return Err(problem(format!(
                    "targets {:?} of shape {:?} are not one class per example",
                    names.1, y.shape
                )));
            }
            if let Some(v) = y.values.iter().find(|v| !v.is_finite()) {
                return Err(problem(format!("a target is {v}: targets must be finite")));
            }
            let k = y.shape[1];
            crate::table::Target::Values(
                Array2::from_shape_vec((n, k), y.values.into_iter().map(F::from_f64).collect()).expect("counted"),
            )
        } else {
            let inferred = match (task, y.kind) {
                (Some(t), _) => Some(t),
                (None, NpyKind::Float) => Some(Task::Regress),
                (None, _) => None,
            };
            let cells = y.values.iter().map(|v| v.to_string()).collect();
            typed_target(
                &path,
                RawTarget {
                    name: names.1.clone(),
                    cells,
                },
                inferred,
                ClassOrder::Sorted,
            )?
        };
        let feature_names = (0..d).map(|j| format!("{}[{j}]", names.0)).collect();
        Table::new(features, feature_names, names.1, target).map_err(|e| match e {
            Error::Table { problem: p, .. } => problem(p),
            other => other,
        })
    }
}
