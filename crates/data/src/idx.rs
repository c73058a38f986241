//! The IDX format that MNIST ships in (LeCun, Cortes and Burges).
//!
//! ```text
//! byte 0, 1   0x00 0x00
//! byte 2      element type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
//! byte 3      number of dimensions d ≥ 1
//! then        d sizes, big-endian u32
//! then        the elements, big-endian, last dimension fastest
//! ```
//!
//! The magic number is bytes 0–3 read as one big-endian u32: 2051 (`0x00000803`) for MNIST's
//! images (u8, 3 dimensions), 2049 (`0x00000801`) for its labels (u8, 1 dimension).
//!
//! A file is gzip-compressed if it starts with gzip's magic bytes `1f 8b`, whatever its
//! name. The header is checked against the bytes present before any large allocation: a
//! header that claims more data than the file can hold fails at once.

use std::{
    fs::File,
    io::{self, BufReader, Read},
    path::Path,
};

use flate2::read::MultiGzDecoder;

use crate::{Error, Result};

/// The element type of an IDX file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdxType {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl IdxType {
    /// The type with this code (byte 2 of the file).
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    /// Byte 2 of the file.
    pub fn code(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    /// `u8`, `i8`, `i16`, `i32`, `f32` or `f64`.
    pub fn name(self) -> &'static str {
        match self {
            IdxType::U8 => "u8",
            IdxType::I8 => "i8",
            IdxType::I16 => "i16",
            IdxType::I32 => "i32",
            IdxType::F32 => "f32",
            IdxType::F64 => "f64",
        }
    }
}

/// The elements of an IDX file, in file order.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    U8(Vec<u8>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// A decoded IDX file: its dimensions and its elements.
#[derive(Clone, Debug, PartialEq)]
pub struct Idx {
    /// The sizes, first (slowest) first: `[60000, 28, 28]` for MNIST's training images.
    pub dims: Vec<usize>,
    /// The elements, `dims.iter().product()` of them.
    pub data: IdxData,
}

impl Idx {
    /// The element type.
    pub fn kind(&self) -> IdxType {
        match self.data {
            IdxData::U8(_) => IdxType::U8,
            IdxData::I8(_) => IdxType::I8,
            IdxData::I16(_) => IdxType::I16,
            IdxData::I32(_) => IdxType::I32,
            IdxData::F32(_) => IdxType::F32,
            IdxData::F64(_) => IdxType::F64,
        }
    }

    /// The magic number: the first four bytes as a big-endian u32.
    pub fn magic(&self) -> u32 {
        magic(self.kind(), self.dims.len())
    }

    /// Element `i` (in file order) as `f64`, exactly.
    pub fn get(&self, i: usize) -> f64 {
        match &self.data {
            IdxData::U8(v) => f64::from(v[i]),
            IdxData::I8(v) => f64::from(v[i]),
            IdxData::I16(v) => f64::from(v[i]),
            IdxData::I32(v) => f64::from(v[i]),
            IdxData::F32(v) => f64::from(v[i]),
            IdxData::F64(v) => v[i],
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Encodes as IDX bytes (uncompressed): the inverse of [`parse_idx`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.magic().to_be_bytes().to_vec();
        for &d in &self.dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        match &self.data {
            IdxData::U8(v) => out.extend_from_slice(v),
            IdxData::I8(v) => out.extend(v.iter().flat_map(|x| x.to_be_bytes())),
            IdxData::I16(v) => out.extend(v.iter().flat_map(|x| x.to_be_bytes())),
            IdxData::I32(v) => out.extend(v.iter().flat_map(|x| x.to_be_bytes())),
            IdxData::F32(v) => out.extend(v.iter().flat_map(|x| x.to_be_bytes())),
            IdxData::F64(v) => out.extend(v.iter().flat_map(|x| x.to_be_bytes())),
        }
        out
    }
}

/// The magic number of an IDX file of this type and number of dimensions.
pub fn magic(kind: IdxType, ndims: usize) -> u32 {
    (u32::from(kind.code()) << 8) | ndims as u32
}

/// Describes a magic number for error messages, e.g. `2049 (u8, 1 dimension)`.
pub fn describe_magic(magic: u32) -> String {
    let kind = IdxType::from_code((magic >> 8) as u8).map_or("unknown type", IdxType::name);
    let d = magic & 0xff;
    format!("{magic} ({kind}, {d} dimension{})", if d == 1 { "" } else { "s" })
}

/// The most a deflate stream can expand: 258 bytes from about 2 bits, ≈ 1032 : 1.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads an IDX file, gzipped or not.
pub fn read_idx(path: impl AsRef<Path>) -> Result<Idx> {
    read_idx_with(path.as_ref(), &mut |_, _| Ok(()))
}

/// What a reader checks once the header is read and before the data is allocated: the
/// dimensions and element type. A data set's loader uses it to bound what the whole load
/// allocates.
pub(crate) type HeaderCheck<'a> = dyn FnMut(&[u64], IdxType) -> Result<()> + 'a;

/// [`read_idx`], calling `check` on the header before allocating the data.
pub(crate) fn read_idx_with(path: &Path, check: &mut HeaderCheck<'_>) -> Result<Idx> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let file_len = file.metadata().map_err(io_error)?.len();
    let mut reader = BufReader::new(file);
    let mut start = [0u8; 2];
    let peeked = read_up_to(&mut reader, &mut start).map_err(io_error)?;
    let head = io::Cursor::new(start[..peeked].to_vec()).chain(reader);
    decode_any(path, head, &start[..peeked], file_len, check)
}

/// Decodes an IDX file held in memory, gzipped or not; `name` is used in error messages.
pub fn parse_idx(bytes: &[u8], name: impl AsRef<Path>) -> Result<Idx> {
    let mut check = |_: &[u64], _: IdxType| Ok(());
    decode_any(
        name.as_ref(),
        bytes,
        &bytes[..bytes.len().min(2)],
        bytes.len() as u64,
        &mut check,
    )
}

/// Decodes `reader`, `len` bytes long and starting with `start`: through a gzip decoder if
/// `start` is gzip's magic number.
fn decode_any(path: &Path, reader: impl Read, start: &[u8], len: u64, check: &mut HeaderCheck<'_>) -> Result<Idx> {
    if start == [0x1f, 0x8b] {
        // Everything a gzip stream of `len` bytes can inflate to.
        let limit = len.saturating_mul(MAX_DEFLATE_RATIO);
        decode(path, MultiGzDecoder::new(reader), Limit::Compressed(limit), check)
    } else {
        decode(path, reader, Limit::Exact(len), check)
    }
}

/// What the source can hold, to check a header against before allocating.
#[derive(Clone, Copy)]
enum Limit {
    /// An uncompressed source of exactly this many bytes.
    Exact(u64),
    /// A compressed source that cannot inflate to more than this many bytes.
    Compressed(u64),
}

/// Fills `buf` as far as the reader allows; returns the bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn decode(path: &Path, mut reader: impl Read, limit: Limit, check: &mut HeaderCheck<'_>) -> Result<Idx> {
    let path_buf = || path.to_path_buf();
    let compressed = matches!(limit, Limit::Compressed(_));
    // Errors from a gzip decoder are about the stream; from a plain file, about the file.
    let read_error = |source: io::Error| {
        if compressed {
            Error::Gzip {
                path: path_buf(),
                source,
            }
        } else {
            Error::Io {
                path: path_buf(),
                source,
            }
        }
    };
    let not_idx = |problem: String| Error::NotIdx {
        path: path_buf(),
        problem,
    };

    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic).map_err(read_error)?;
    if got < 4 {
        return Err(not_idx(format!(
            "{got} bytes where a 4-byte magic number was expected{}",
            if got == 0 { " (the file is empty)" } else { "" }
        )));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(not_idx(format!(
            "starts with bytes {:02x} {:02x} {:02x} {:02x} where an IDX magic number (00 00 type dims) \
             was expected",
            magic[0], magic[1], magic[2], magic[3]
        )));
    }
    let kind = IdxType::from_code(magic[2]).ok_or_else(|| {
        not_idx(format!(
            "unknown element type code 0x{:02x} (known: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)",
            magic[2]
        ))
    })?;
    let ndims = usize::from(magic[3]);
    if ndims == 0 {
        return Err(not_idx("the header declares 0 dimensions".into()));
    }

    let mut dims_bytes = vec![0u8; 4 * ndims];
    let got = read_up_to(&mut reader, &mut dims_bytes).map_err(read_error)?;
    if got < dims_bytes.len() {
        return Err(Error::TruncatedHeader {
            path: path_buf(),
            ndims,
            expected: (4 + dims_bytes.len()) as u64,
            found: (4 + got) as u64,
        });
    }
    let dims: Vec<u64> = dims_bytes
        .chunks_exact(4)
        .map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        .collect();
    let dim_error = |problem: String| Error::Dimensions {
        path: path_buf(),
        dims: dims.clone(),
        problem,
    };
    let payload = dims
        .iter()
        .try_fold(kind.size() as u64, |acc, &d| acc.checked_mul(d))
        .filter(|&bytes| usize::try_from(bytes).is_ok())
        .ok_or_else(|| {
            dim_error(format!(
                "{} × {}-byte elements overflows this machine's address space",
                dims.iter().map(u64::to_string).collect::<Vec<_>>().join(" × "),
                kind.size()
            ))
        })?;
    let header = 4 + 4 * ndims as u64;

    match limit {
        Limit::Exact(total) => {
            let found = total.saturating_sub(header);
            if found < payload {
                return Err(Error::Truncated {
                    path: path_buf(),
                    expected: payload,
                    found,
                });
            }
            if found > payload {
                return Err(Error::Trailing {
                    path: path_buf(),
                    expected: payload,
                    found: found.to_string(),
                });
            }
        }
        Limit::Compressed(most) if payload > most => {
            return Err(dim_error(format!(
                "the header announces {payload} bytes of data, more than a gzip file of this size can \
                 hold (at most {most})"
            )));
        }
        Limit::Compressed(_) => {}
    }

    check(&dims, kind)?;
    // The payload is now known to fit what the source can hold: allocate it once.
    let mut bytes = Vec::with_capacity(payload as usize);
    advise_huge_pages(&mut bytes);
    (&mut reader)
        .take(payload)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if (bytes.len() as u64) < payload {
        return Err(Error::Truncated {
            path: path_buf(),
            expected: payload,
            found: bytes.len() as u64,
        });
    }
    if let Limit::Compressed(most) = limit {
        // A stream that goes on past the data is either corrupt (flipped bytes can inflate
        // to more, and then fail the CRC at the end) or honest extra data. Read on, into a
        // small buffer and never past what the file can hold, to tell which.
        let mut extra = [0u8; 1 << 16];
        let mut more = 0u64;
        loop {
            let got = read_up_to(&mut reader, &mut extra).map_err(read_error)? as u64;
            more += got;
            if got == 0 {
                break;
            }
            if payload + more > most {
                return Err(Error::Trailing {
                    path: path_buf(),
                    expected: payload,
                    found: format!("more than {most}"),
                });
            }
        }
        if more > 0 {
            return Err(Error::Trailing {
                path: path_buf(),
                expected: payload,
                found: (payload + more).to_string(),
            });
        }
    }

    let data = match kind {
        IdxType::U8 => IdxData::U8(bytes),
        IdxType::I8 => IdxData::I8(bytes.iter().map(|&b| b as i8).collect()),
        IdxType::I16 => IdxData::I16(
            bytes
                .chunks_exact(2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .collect(),
        ),
        IdxType::I32 => IdxData::I32(
            bytes
                .chunks_exact(4)
                .map(|b| i32::from_be_bytes(b.try_into().unwrap()))
                .collect(),
        ),
        IdxType::F32 => IdxData::F32(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_be_bytes(b.try_into().unwrap()))
                .collect(),
        ),
        IdxType::F64 => IdxData::F64(
            bytes
                .chunks_exact(8)
                .map(|b| f64::from_be_bytes(b.try_into().unwrap()))
                .collect(),
        ),
    };
    Ok(Idx {
        dims: dims.iter().map(|&d| d as usize).collect(),
        data,
    })
}

/// Asks Linux to back the capacity of `buffer`, not yet written, with 2 MiB pages where it
/// can (a hint: without transparent huge pages, or elsewhere, nothing happens). The trainer
/// reads images in a random order, each on a page of its own: with 4 KiB pages nearly every
/// image is a TLB miss, which the prefetch of the next batch waits on (docs/benchmarks.md).
fn advise_huge_pages(buffer: &mut Vec<u8>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = buffer.as_mut_ptr() as usize;
        let end = start + buffer.capacity();
        let (lo, hi) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if hi > lo {
            // SAFETY: `lo..hi` lies within the buffer's own allocation; MADV_HUGEPAGE changes
            // only how the kernel backs those pages, never their contents or validity. Its
            // result is a hint's: ignored.
            unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buffer;
}
