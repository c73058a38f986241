//! The network in the ecosystem's formats, beside network2.py's JSON ([`crate::save`]).
//!
//! - **safetensors**, named as PyTorch's `nn.Sequential` of `nn.Linear` and activation
//!   modules names its `state_dict`: layer `l` (from 1) is `{2(l−1)}.weight` `(n_l, n_{l−1})`
//!   and `{2(l−1)}.bias` `(n_l,)`, the activations taking the odd indices. Our `W` is already
//!   `(out × in)`, like `nn.Linear.weight`. The header's `__metadata__` holds what tensors
//!   cannot say, as strings: `batchprop.sizes`, `batchprop.activations`, `batchprop.cost`,
//!   `batchprop.format_version` (and `batchprop.training`, a run's state), beside the caller's
//!   [`Metadata`] and `format: pt`.
//! - **NumPy `.npz`**, network2.py's arrays: `W1, b1, …, WL, bL` with the biases as `(n, 1)`
//!   columns, and `meta`, the description as JSON in a `u8` array
//!   (`json.loads(bytes(f["meta"]))`).
//!
//! Either is written in the network's own precision (F32 or F64). Reading checks before use:
//! the format's own bounds (safetensors' header and offsets, the zip directory), shapes that
//! chain, no missing or extra tensor, finite values, metadata that parses; each problem one
//! error naming the tensor. Nothing is allocated from a size a file merely claims: the file
//! is read (its real length), and every array is a view of its bytes until converted.

use std::{
    collections::HashMap,
    io::{Read, Write},
    path::Path,
};

use ndarray::{Array1, Array2, ArrayViewD, Axis};
use ndarray_npy::{ViewNpyError, ViewNpyExt, WriteNpyExt};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::{Activation, Cost, Error, Float, Metadata, Network, Result, save::FORMAT_VERSION};

/// The file formats a network is saved in, chosen by the path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// network2.py's JSON (any extension other than the ones below).
    Json,
    /// `.safetensors`.
    Safetensors,
    /// `.npz`.
    Npz,
    /// `.onnx`: an inference graph, written only ([`Network::to_onnx`]).
    Onnx,
}

impl Format {
    /// The format `path`'s extension names: `.safetensors`, `.npz`, `.onnx`, else JSON.
    pub fn of_path(path: &Path) -> Format {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("safetensors") => Format::Safetensors,
            Some("npz") => Format::Npz,
            Some("onnx") => Format::Onnx,
            _ => Format::Json,
        }
    }

    /// The format of a file's first bytes: a zip archive is `.npz`, text starting with `{`
    /// JSON, an 8-byte length then `{` safetensors.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            return Some(Format::Npz);
        }
        // safetensors first: its 8-byte length may begin with bytes that look like `  {`. A
        // JSON file's first 8 bytes, read as that length, exceed any file's size.
        if let Some((length, rest)) = bytes.split_first_chunk::<8>()
            && rest.first() == Some(&b'{')
            && u64::from_le_bytes(*length) <= rest.len() as u64
        {
            return Some(Format::Safetensors);
        }
        (bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')).then_some(Format::Json)
    }
}

/// What a file without batchprop's description (a PyTorch `state_dict`, say) does not say,
/// given by the caller: the activations, the cost, and the order of layers whose names do not
/// end in their index. Ignored where the file says.
#[derive(Clone, Debug)]
pub struct Assumed<F> {
    /// The hidden layers' activation.
    pub hidden: Option<Activation<F>>,
    /// The output layer's activation.
    pub output: Option<Activation<F>>,
    /// The cost; when absent, the one that pairs with the output (log-likelihood for softmax,
    /// cross-entropy for sigmoid, quadratic otherwise), said in the notes.
    pub cost: Option<Cost>,
    /// The layers' tensor name prefixes in order (`["fc1", "fc2"]` for `fc1.weight`, …).
    pub layers: Option<Vec<String>>,
}

impl<F> Default for Assumed<F> {
    fn default() -> Self {
        Assumed {
            hidden: None,
            output: None,
            cost: None,
            layers: None,
        }
    }
}

/// A network read from a file, with what else the file held and what the reading assumed.
#[derive(Debug)]
pub struct Opened<F: Float, S> {
    pub network: Network<F>,
    /// The file's string metadata, batchprop's own description taken out.
    pub metadata: Metadata,
    /// The file's training state, if any.
    pub training: Option<S>,
    /// What was converted or assumed, one line each (`F16 tensors converted to f32`).
    pub notes: Vec<String>,
}

/// What batchprop writes beside the parameters of a safetensors or `.npz` file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Description {
    format_version: u32,
    sizes: Vec<usize>,
    activations: Vec<String>,
    cost: String,
    dtype: String,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    metadata: Metadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    training: Option<serde_json::Value>,
}

/// safetensors metadata keys of the description.
const KEY_VERSION: &str = "batchprop.format_version";
const KEY_SIZES: &str = "batchprop.sizes";
const KEY_ACTIVATIONS: &str = "batchprop.activations";
const KEY_COST: &str = "batchprop.cost";
const KEY_TRAINING: &str = "batchprop.training";
const RESERVED: [&str; 6] = [
    "format",
    KEY_VERSION,
    KEY_SIZES,
    KEY_ACTIVATIONS,
    KEY_COST,
    KEY_TRAINING,
];

fn file_error(path: &Path, problem: impl Into<String>) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn json_error(e: serde_json::Error) -> Error {
    Error::ModelFile {
        path: "<model>".into(),
        problem: e.to_string(),
    }
}

impl<F: Float> Network<F> {
    /// The description (sizes, activations, cost, dtype) with `metadata` and `training`.
    fn description<S: Serialize>(&self, metadata: &Metadata, training: Option<&S>) -> Result<Description> {
        // The JSON writer's checks (custom activations, non-finite parameters) hold here too.
        self.check_savable()?;
        Ok(Description {
            format_version: FORMAT_VERSION,
            sizes: self.sizes().to_vec(),
            activations: self.activations().iter().map(|a| a.name().into_owned()).collect(),
            cost: crate::save::cost_class(self.cost()).into(),
            dtype: F::NAME.into(),
            metadata: metadata.clone(),
            training: training.map(serde_json::to_value).transpose().map_err(json_error)?,
        })
    }

    /// The network as a safetensors file (see the module documentation for the names).
    pub fn to_safetensors<S: Serialize>(&self, metadata: &Metadata, training: Option<&S>) -> Result<Vec<u8>> {
        if let Some(key) = metadata.keys().find(|k| RESERVED.contains(&k.as_str())) {
            return Err(json_error(serde::ser::Error::custom(format!(
                "the metadata key {key:?} is batchprop's own"
            ))));
        }
        let d = self.description(metadata, training)?;
        let mut header = metadata.clone();
        header.insert("format".into(), "pt".into());
        header.insert(KEY_VERSION.into(), d.format_version.to_string());
        header.insert(KEY_SIZES.into(), serde_json::to_string(&d.sizes).map_err(json_error)?);
        header.insert(
            KEY_ACTIVATIONS.into(),
            serde_json::to_string(&d.activations).map_err(json_error)?,
        );
        header.insert(KEY_COST.into(), d.cost);
        if let Some(t) = &d.training {
            header.insert(KEY_TRAINING.into(), t.to_string());
        }
        let dtype = if F::NAME == "f32" { Dtype::F32 } else { Dtype::F64 };
        let bytes = |values: &mut dyn Iterator<Item = F>| -> Vec<u8> {
            values
                .flat_map(|v| match dtype {
                    Dtype::F32 => (v.as_f64() as f32).to_le_bytes().to_vec(),
                    _ => v.as_f64().to_le_bytes().to_vec(),
                })
                .collect()
        };
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (l, (w, b)) in self.weights().iter().zip(self.biases()).enumerate() {
            let w_bytes = bytes(&mut w.iter().copied()); // row-major, as torch stores it
            tensors.push((format!("{}.weight", 2 * l), w.shape().to_vec(), w_bytes));
            tensors.push((format!("{}.bias", 2 * l), vec![b.len()], bytes(&mut b.iter().copied())));
        }
        // The header is written here, in a fixed order (safetensors::serialize writes
        // `__metadata__` from a HashMap, in a different order each run), and the file is
        // checked by the crate's own reader before it is returned.
        let mut json = serde_json::Map::new();
        let sorted: Metadata = header.into_iter().collect();
        json.insert(
            "__metadata__".into(),
            serde_json::to_value(&sorted).map_err(json_error)?,
        );
        let mut offset = 0;
        for (name, shape, data) in &tensors {
            let info = serde_json::json!({
                "dtype": if dtype == Dtype::F32 { "F32" } else { "F64" },
                "shape": shape,
                "data_offsets": [offset, offset + data.len()],
            });
            json.insert(name.clone(), info);
            offset += data.len();
        }
        let mut head = serde_json::to_vec(&json).map_err(json_error)?;
        head.resize(head.len().next_multiple_of(8), b' ');
        let mut file = (head.len() as u64).to_le_bytes().to_vec();
        file.extend(head);
        file.extend(tensors.iter().flat_map(|(_, _, data)| data));
        SafeTensors::deserialize(&file).map_err(|e| {
            json_error(serde::ser::Error::custom(format!(
                "wrote an invalid safetensors file: {e}"
            )))
        })?;
        Ok(file)
    }

    /// The network as an `.npz` archive (see the module documentation for the arrays).
    pub fn to_npz<S: Serialize>(&self, metadata: &Metadata, training: Option<&S>) -> Result<Vec<u8>> {
        let d = self.description(metadata, training)?;
        let npz_error = |e: &dyn std::fmt::Display| json_error(serde::ser::Error::custom(format!("writing .npz: {e}")));
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let mut add =
            |name: String, write: &dyn Fn(&mut Vec<u8>) -> std::result::Result<(), ndarray_npy::WriteNpyError>| {
                let mut npy = Vec::new();
                write(&mut npy).map_err(|e| npz_error(&e))?;
                zip.start_file(format!("{name}.npy"), options)
                    .map_err(|e| npz_error(&e))?;
                zip.write_all(&npy).map_err(|e| npz_error(&e))
            };
        for (l, (w, b)) in (1..).zip(self.weights().iter().zip(self.biases())) {
            if F::NAME == "f32" {
                let w = w.mapv(|v| v.as_f64() as f32);
                let b = b.mapv(|v| v.as_f64() as f32).insert_axis(Axis(1));
                add(format!("W{l}"), &|out| w.write_npy(out))?;
                add(format!("b{l}"), &|out| b.write_npy(out))?;
            } else {
                let w = w.mapv(|v| v.as_f64());
                let b = b.mapv(|v| v.as_f64()).insert_axis(Axis(1));
                add(format!("W{l}"), &|out| w.write_npy(out))?;
                add(format!("b{l}"), &|out| b.write_npy(out))?;
            }
        }
        let meta = Array1::from(serde_json::to_vec(&d).map_err(json_error)?);
        add("meta".into(), &|out| meta.write_npy(out))?;
        Ok(zip.finish().map_err(|e| npz_error(&e))?.into_inner())
    }

    /// Reads the network file at `path` in any format batchprop writes (told by its bytes,
    /// not its name), with `assumed` filling in what a file from elsewhere does not say.
    pub fn open<S: serde::de::DeserializeOwned>(path: impl AsRef<Path>, assumed: &Assumed<F>) -> Result<Opened<F, S>> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let in_file = |e: Error| match e {
            Error::ModelFile { problem, .. } => file_error(path, problem),
            other => other.in_file(path),
        };
        // By the bytes; failing that, by the name (so that a damaged file gets its format's error).
        match Format::sniff(&bytes).unwrap_or(Format::of_path(path)) {
            Format::Json => {
                let text = std::str::from_utf8(&bytes).map_err(|e| file_error(path, format!("not UTF-8 text: {e}")))?;
                let (network, metadata, training) = Network::from_json_with(text).map_err(in_file)?;
                Ok(Opened {
                    network,
                    metadata,
                    training,
                    notes: Vec::new(),
                })
            }
            Format::Safetensors => Network::from_safetensors(&bytes, assumed).map_err(in_file),
            Format::Npz => Network::from_npz(&bytes, assumed).map_err(in_file),
            Format::Onnx => Err(file_error(
                path,
                "not a network file batchprop reads (network2.py JSON, safetensors or .npz; .onnx is export only)",
            )),
        }
    }

    /// A network from a safetensors file's bytes (see the module documentation).
    pub fn from_safetensors<S: serde::de::DeserializeOwned>(
        bytes: &[u8],
        assumed: &Assumed<F>,
    ) -> Result<Opened<F, S>> {
        let bad = |problem: String| Error::ModelFile {
            path: "<model>".into(),
            problem,
        };
        let file = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
        let mut metadata: Metadata = header.metadata().clone().unwrap_or_default().into_iter().collect();
        let mut take = |key: &str| metadata.remove(key);
        let description = match (take(KEY_SIZES), take(KEY_ACTIVATIONS), take(KEY_COST)) {
            (Some(sizes), Some(activations), Some(cost)) => {
                if let Some(v) = take(KEY_VERSION) {
                    check_version(parse_key(KEY_VERSION, &v)?)?;
                }
                Some((
                    parse_key(KEY_SIZES, &sizes)?,
                    parse_key(KEY_ACTIVATIONS, &activations)?,
                    cost,
                ))
            }
            (None, None, None) => None,
            _ => {
                return Err(bad(format!(
                    "its metadata has some of {KEY_SIZES}, {KEY_ACTIVATIONS}, {KEY_COST} but not all"
                )));
            }
        };
        let training = take(KEY_TRAINING)
            .map(|t| serde_json::from_str(&t).map_err(|e| bad(format!("the training state is not valid: {e}"))))
            .transpose()?;
        metadata.remove("format");

        // The layers: `P.weight` / `P.bias` pairs, in the caller's order or by P's last index.
        let mut names: Vec<&str> = file.names();
        names.sort_unstable();
        let prefixes = match &assumed.layers {
            Some(layers) => layers.clone(),
            None => layer_order(&names)?,
        };
        let mut notes = Vec::new();
        let mut read = |name: String| -> Result<Tensor<F>> {
            let view = file
                .tensor(&name)
                .map_err(|_| bad(format!("no tensor {name} (the layers found: {})", prefixes.join(", "))))?;
            let values = tensor_values::<F>(&name, &view, &mut notes)?;
            Ok((name, view.shape().to_vec(), values))
        };
        let mut parameters = Vec::new();
        for p in &prefixes {
            parameters.push((read(format!("{p}.weight"))?, read(format!("{p}.bias"))?));
        }
        let known = |n: &str| parameters.iter().any(|(w, b)| w.0 == n || b.0 == n);
        if let Some(extra) = names.iter().find(|n| !known(n)) {
            return Err(bad(format!(
                "the tensor {extra} is not a layer's weight or bias (the layers: {})",
                prefixes.join(", ")
            )));
        }
        let network = build(parameters, description, assumed, &mut notes)?;
        Ok(Opened {
            network,
            metadata,
            training,
            notes,
        })
    }

    /// A network from an `.npz` archive's bytes: `W1, b1, …` (and `meta`, when batchprop
    /// wrote it).
    pub fn from_npz<S: serde::de::DeserializeOwned>(bytes: &[u8], assumed: &Assumed<F>) -> Result<Opened<F, S>> {
        let bad = |problem: String| Error::ModelFile {
            path: "<model>".into(),
            problem,
        };
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| bad(format!("not a valid .npz archive: {e}")))?;
        // Each entry decompressed whole into an 8-byte-aligned buffer (a view needs it),
        // at most as large as the archive allows: stored or deflated, ≤ 1032 × compressed.
        let limit = (bytes.len() as u64).saturating_mul(1032).max(1 << 20);
        let mut arrays: HashMap<String, (Vec<u8>, usize)> = HashMap::new();
        for i in 0..zip.len() {
            let mut entry = zip
                .by_index(i)
                .map_err(|e| bad(format!("entry {i} of the archive: {e}")))?;
            let name = entry.name().trim_end_matches(".npy").to_string();
            let size = entry.size();
            if size > limit {
                return Err(bad(format!(
                    "{name}: claims {size} bytes, more than the archive can hold"
                )));
            }
            let mut buffer = vec![0u8; size as usize + 8];
            let start = buffer.as_ptr().align_offset(8).min(8);
            let mut data = Vec::with_capacity(size as usize);
            (&mut entry)
                .take(size + 1)
                .read_to_end(&mut data)
                .map_err(|e| bad(format!("{name}: {e}")))?;
            if data.len() as u64 != size {
                return Err(bad(format!(
                    "{name}: holds {} bytes where the archive says {size}",
                    data.len()
                )));
            }
            buffer[start..start + data.len()].copy_from_slice(&data);
            buffer.truncate(start + data.len());
            arrays.insert(name, (buffer, start));
        }
        let mut notes = Vec::new();
        let description: Option<Description> = match arrays.remove("meta") {
            Some((buffer, start)) => {
                let meta = ArrayViewD::<u8>::view_npy(&buffer[start..]).map_err(|e| bad(format!("meta: {e}")))?;
                let text: Vec<u8> = meta.iter().copied().collect();
                Some(
                    serde_json::from_slice(&text)
                        .map_err(|e| bad(format!("meta is not batchprop's description: {e}")))?,
                )
            }
            None => None,
        };
        let layers = (1..).take_while(|l| arrays.contains_key(&format!("W{l}"))).count();
        if layers == 0 {
            return Err(bad(
                "no array W1: not a network's .npz (expected W1, b1, …, WL, bL)".into()
            ));
        }
        let mut take = |name: String| -> Result<Tensor<F>> {
            let (buffer, start) = arrays.remove(&name).ok_or_else(|| bad(format!("no array {name}")))?;
            let (shape, values) = npy_values::<F>(&name, &buffer[start..], &mut notes)?;
            Ok((name, shape, values))
        };
        let mut parameters = Vec::new();
        for l in 1..=layers {
            let w = take(format!("W{l}"))?;
            let mut b = take(format!("b{l}"))?;
            // network2.py's biases are (n, 1) columns.
            if let [n, 1] = b.1[..] {
                b.1 = vec![n];
            }
            parameters.push((w, b));
        }
        if let Some(extra) = arrays.keys().next() {
            return Err(bad(format!(
                "the array {extra} is not a layer's W or b (the layers: W1 … W{layers})"
            )));
        }
        let (metadata, training, summary) = match description {
            Some(d) => {
                check_version(d.format_version)?;
                let training = d
                    .training
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| bad(format!("the training state is not valid: {e}")))?;
                (d.metadata, training, Some((d.sizes, d.activations, d.cost)))
            }
            None => (Metadata::new(), None, None),
        };
        let network = build(parameters, summary, assumed, &mut notes)?;
        Ok(Opened {
            network,
            metadata,
            training,
            notes,
        })
    }
}

/// A metadata value that holds JSON.
fn parse_key<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::ModelFile {
        path: "<model>".into(),
        problem: format!("metadata {key} = {text:?} does not parse: {e}"),
    })
}

fn check_version(v: u32) -> Result<()> {
    if v > FORMAT_VERSION {
        return Err(Error::ModelFile {
            path: "<model>".into(),
            problem: format!(
                "format_version {v} is newer than this batchprop reads ({FORMAT_VERSION}): load it with a newer batchprop"
            ),
        });
    }
    Ok(())
}

/// The layer prefixes of `names` (sorted): every tensor is `P.weight` or `P.bias`, and each P
/// ends in an index (`0`, `net.2`), by which the layers are ordered.
fn layer_order(names: &[&str]) -> Result<Vec<String>> {
    let bad = |problem: String| Error::ModelFile {
        path: "<model>".into(),
        problem,
    };
    let mut layers: Vec<(String, u64, String)> = Vec::new(); // (stem, index, prefix)
    for name in names {
        let Some(prefix) = name.strip_suffix(".weight") else {
            if name.strip_suffix(".bias").is_none() {
                return Err(bad(format!("the tensor {name} is neither a .weight nor a .bias")));
            }
            continue;
        };
        let (stem, index) = prefix.rsplit_once('.').map_or(("", prefix), |(s, i)| (s, i));
        let index: u64 = index.parse().map_err(|_| {
            bad(format!(
                "the tensor {name} does not end in its layer's index (as nn.Sequential's 0.weight, 2.weight do): \
                 give the layers' order (--layers fc1,fc2,…; Assumed::layers in the library)"
            ))
        })?;
        if let Some((other, _, p)) = layers.first().filter(|(s, _, _)| s != stem) {
            return Err(bad(format!(
                "the tensors {p}.weight and {name} are in different modules ({other:?}, {stem:?}): give the layers' order (--layers)"
            )));
        }
        layers.push((stem.to_string(), index, prefix.to_string()));
    }
    if layers.is_empty() {
        return Err(bad("no .weight tensor: not a network's parameters".into()));
    }
    layers.sort_by_key(|(_, i, _)| *i);
    Ok(layers.into_iter().map(|(_, _, p)| p).collect())
}

/// A tensor's values as `F`, row-major (F32, F64, F16 or BF16; a conversion noted once).
fn tensor_values<F: Float>(name: &str, view: &TensorView<'_>, notes: &mut Vec<String>) -> Result<Vec<F>> {
    let data = view.data();
    let values: Vec<f64> = match view.dtype() {
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes"))))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        other => {
            return Err(Error::ModelFile {
                path: "<model>".into(),
                problem: format!("the tensor {name} is {other:?}; batchprop reads F32, F64, F16 and BF16"),
            });
        }
    };
    note_conversion(&format!("{:?}", view.dtype()), F::NAME, notes);
    Ok(values.into_iter().map(F::from_f64).collect())
}

/// An `.npy` entry's shape and values as `F` (f32 or f64, little-endian, C order).
fn npy_values<F: Float>(name: &str, bytes: &[u8], notes: &mut Vec<String>) -> Result<(Vec<usize>, Vec<F>)> {
    let bad = |e: ViewNpyError| Error::ModelFile {
        path: "<model>".into(),
        problem: format!("{name}: {e}"),
    };
    match ArrayViewD::<f64>::view_npy(bytes) {
        Ok(v) => {
            note_conversion("F64", F::NAME, notes);
            Ok((
                v.shape().to_vec(),
                v.as_standard_layout().iter().map(|&x| F::from_f64(x)).collect(),
            ))
        }
        Err(ViewNpyError::WrongDescriptor(_)) => {
            let v = ArrayViewD::<f32>::view_npy(bytes).map_err(bad)?;
            note_conversion("F32", F::NAME, notes);
            Ok((
                v.shape().to_vec(),
                v.as_standard_layout()
                    .iter()
                    .map(|&x| F::from_f64(f64::from(x)))
                    .collect(),
            ))
        }
        Err(e) => Err(bad(e)),
    }
}

/// Notes a conversion from the file's dtype `from` to the network's `to`, except F32 → f64,
/// which changes no value.
fn note_conversion(from: &str, to: &str, notes: &mut Vec<String>) {
    if !from.eq_ignore_ascii_case(to) && (from, to) != ("F32", "f64") {
        let note = format!("{from} parameters converted to {to}");
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
}

/// A tensor as read: its name, shape and values (row-major).
type Tensor<F> = (String, Vec<usize>, Vec<F>);

/// The network of `parameters` (each layer's weight and bias, named), checked to chain, with
/// the activations and cost from `description` or `assumed`.
fn build<F: Float>(
    parameters: Vec<(Tensor<F>, Tensor<F>)>,
    description: Option<(Vec<usize>, Vec<String>, String)>,
    assumed: &Assumed<F>,
    notes: &mut Vec<String>,
) -> Result<Network<F>> {
    let bad = |problem: String| Error::ModelFile {
        path: "<model>".into(),
        problem,
    };
    let mut sizes = Vec::new();
    let (mut weights, mut biases) = (Vec::new(), Vec::new());
    for ((w_name, w_shape, w), (b_name, b_shape, b)) in parameters {
        let &[rows, cols] = w_shape.as_slice() else {
            return Err(bad(format!(
                "{w_name} has shape {w_shape:?}; a weight is (outputs, inputs)"
            )));
        };
        match sizes.last() {
            None => sizes.push(cols),
            Some(&n) if n != cols => {
                return Err(bad(format!(
                    "{w_name} has shape {w_shape:?}, but the layer before has {n} outputs: the shapes do not chain"
                )));
            }
            Some(_) => {}
        }
        sizes.push(rows);
        if b_shape != [rows] {
            return Err(bad(format!(
                "{b_name} has shape {b_shape:?}, where {w_name} {w_shape:?} needs ({rows},)"
            )));
        }
        for (name, values) in [(&w_name, &w), (&b_name, &b)] {
            if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                return Err(bad(format!("{name} holds the non-finite value {v}")));
            }
        }
        weights.push(Array2::from_shape_vec((rows, cols), w).expect("shape checked"));
        biases.push(Array1::from(b));
    }
    let layers = weights.len();
    let (activations, cost) = match description {
        Some((saved_sizes, names, cost)) => {
            if saved_sizes != sizes {
                return Err(bad(format!(
                    "the metadata says sizes {saved_sizes:?}, the tensors {sizes:?}"
                )));
            }
            let activations = names
                .iter()
                .map(|n| {
                    Activation::from_name(n).ok_or_else(|| bad(format!("unknown activation {n:?} in the metadata")))
                })
                .collect::<Result<Vec<_>>>()?;
            let cost = Cost::from_name(&cost).ok_or_else(|| bad(format!("unknown cost {cost:?} in the metadata")))?;
            (activations, cost)
        }
        None => {
            let needs_hidden = layers > 1 && assumed.hidden.is_none();
            let missing: Vec<(&str, &str)> = [
                (needs_hidden, ("the hidden layers' activation", "--activation")),
                (
                    assumed.output.is_none(),
                    ("the output activation", "--output-activation"),
                ),
            ]
            .into_iter()
            .filter_map(|(m, what)| m.then_some(what))
            .collect();
            if !missing.is_empty() {
                let (what, flags): (Vec<&str>, Vec<&str>) = missing.into_iter().unzip();
                return Err(bad(format!(
                    "the file does not say {} (no batchprop metadata, as in a PyTorch state_dict): give {} ({}; \
                     Assumed in the library)",
                    what.join(" or "),
                    if what.len() == 1 { "it" } else { "them" },
                    flags.join(", ")
                )));
            }
            let hidden = assumed.hidden.clone();
            let output = assumed.output.clone().expect("checked above");
            let cost = match assumed.cost {
                Some(c) => c,
                None => {
                    let c = match output {
                        Activation::Softmax => Cost::LogLikelihood,
                        Activation::Sigmoid => Cost::CrossEntropy,
                        _ => Cost::Quadratic,
                    };
                    notes.push(format!(
                        "cost assumed {} (with a {} output; --cost sets it)",
                        c.name(),
                        output.name()
                    ));
                    c
                }
            };
            let mut activations = vec![hidden.unwrap_or(Activation::Sigmoid); layers - 1];
            activations.push(output);
            (activations, cost)
        }
    };
    Network::from_parameters(&sizes, weights, biases, activations, cost)
}
