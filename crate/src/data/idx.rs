//! Reader for the IDX format of LeCun's MNIST files (and Fashion-MNIST, which copies it).
//!
//! Layout: a 4-byte magic `00 00 TT NN` (TT = element type, NN = number of dimensions), then
//! NN big-endian u32 sizes, then the elements in row-major order. Only unsigned bytes
//! (TT = 0x08) are used by image data sets, so only they are accepted. Files may be gzip'd.

use std::io::Read;

/// A parsed IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Why an IDX file was rejected. Each variant names the problem so the user can fix the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxError {
    #[error("{file}: bad magic number {found:#010x} (an IDX file starts with 00 00 08 NN)")]
    BadMagic { file: String, found: u32 },

    #[error("{file}: element type {found:#04x} is not supported (only unsigned bytes, 0x08)")]
    UnsupportedType { file: String, found: u8 },

    #[error("{file}: expected {expected}, found dimensions {found:?}")]
    WrongDimensions {
        file: String,
        expected: String,
        found: Vec<usize>,
    },

    #[error(
        "{file}: truncated: the header promises {expected} bytes of data, the file has {found}"
    )]
    Truncated {
        file: String,
        expected: usize,
        found: usize,
    },

    #[error("{file}: {extra} unexpected bytes after the data")]
    TrailingBytes { file: String, extra: usize },

    #[error("{file}: not valid gzip: {reason}")]
    Gzip { file: String, reason: String },

    #[error("{images_file} has {images} images but {labels_file} has {labels} labels")]
    CountMismatch {
        images_file: String,
        images: usize,
        labels_file: String,
        labels: usize,
    },

    #[error("{file}: label {label} at index {index} is not a class 0..{classes}")]
    LabelOutOfRange {
        file: String,
        index: usize,
        label: u8,
        classes: usize,
    },

    #[error("{file}: cannot read: {reason}")]
    Unreadable { file: String, reason: String },
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const TYPE_UNSIGNED_BYTE: u8 = 0x08;
/// Refuse absurd headers before allocating: the largest real data set here is 47 MB.
const MAX_ELEMENTS: usize = 1 << 31;

/// Decompresses `bytes` if they are gzip'd, otherwise returns them unchanged. The whole stream
/// is decompressed, however large: for untrusted files use [`parse_idx`], which reads only what
/// the header promises.
pub fn maybe_gunzip(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    if bytes.len() >= 2 && bytes[..2] == GZIP_MAGIC {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| IdxError::Gzip {
                file: file.to_string(),
                reason: e.to_string(),
            })?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parses an IDX file (raw or gzip'd). `file` is only used in error messages.
///
/// A gzip'd file is decompressed as it is read: the header first, then exactly the bytes it
/// promises, so a small file that inflates to gigabytes (a "gzip bomb") is refused by its
/// header or its size limit without ever being decompressed whole, and memory grows only
/// with the data actually present.
pub fn parse_idx(file: &str, bytes: &[u8]) -> Result<IdxArray, IdxError> {
    if bytes.len() >= 2 && bytes[..2] == GZIP_MAGIC {
        // Room for a typical compression ratio up front; more grows as it arrives.
        let hint = bytes.len().saturating_mul(8);
        read_idx(file, flate2::read::GzDecoder::new(bytes), hint)
    } else {
        read_idx(file, bytes, bytes.len())
    }
}

/// Appends at most `n` more bytes of `reader` to `out` (fewer only where the stream ends).
fn read_up_to(
    file: &str,
    reader: &mut impl Read,
    out: &mut Vec<u8>,
    n: usize,
) -> Result<(), IdxError> {
    reader
        .take(n as u64)
        .read_to_end(out)
        .map(|_| ())
        .map_err(|e| IdxError::Gzip {
            file: file.to_string(),
            reason: e.to_string(),
        })
}

/// [`parse_idx`] on a stream; `size_hint` bounds what is reserved before the data arrives.
fn read_idx(file: &str, mut reader: impl Read, size_hint: usize) -> Result<IdxArray, IdxError> {
    let truncated = |expected: usize, found: usize| IdxError::Truncated {
        file: file.to_string(),
        expected,
        found,
    };
    let mut header = Vec::with_capacity(4);
    read_up_to(file, &mut reader, &mut header, 4)?;
    if header.len() < 4 {
        return Err(truncated(4, header.len()));
    }
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if header[0] != 0 || header[1] != 0 || header[3] == 0 {
        return Err(IdxError::BadMagic {
            file: file.to_string(),
            found: magic,
        });
    }
    if header[2] != TYPE_UNSIGNED_BYTE {
        return Err(IdxError::UnsupportedType {
            file: file.to_string(),
            found: header[2],
        });
    }
    let ndims = header[3] as usize;
    let header_len = 4 + 4 * ndims; // at most 1,024 bytes: ndims is one byte
    read_up_to(file, &mut reader, &mut header, header_len - 4)?;
    if header.len() < header_len {
        return Err(truncated(header_len, header.len()));
    }
    let dims: Vec<usize> = header[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| IdxError::WrongDimensions {
            file: file.to_string(),
            expected: "a data set small enough to load".into(),
            found: dims.clone(),
        })?;
    // Grown by hand, never past `count`: `read_to_end` alone doubles its buffer, so a header
    // promising 1 GiB could reserve 2 GiB.
    let mut data = Vec::with_capacity(count.min(size_hint));
    while data.len() < count {
        let before = data.len();
        if data.capacity() == before {
            data.reserve_exact(before.max(1 << 20).min(count - before));
        }
        let room = (data.capacity() - before).min(count - before);
        read_up_to(file, &mut reader, &mut data, room)?;
        if data.len() == before {
            break; // the stream ended
        }
    }
    if data.len() < count {
        return Err(truncated(count, data.len()));
    }
    // Whatever follows is counted, not kept.
    let extra = std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| IdxError::Gzip {
        file: file.to_string(),
        reason: e.to_string(),
    })?;
    if extra > 0 {
        return Err(IdxError::TrailingBytes {
            file: file.to_string(),
            extra: usize::try_from(extra).unwrap_or(usize::MAX),
        });
    }
    Ok(IdxArray { dims, data })
}

/// Parses an images file: exactly 3 dimensions `[n, rows, cols]` with the expected image size.
pub fn parse_images(
    file: &str,
    bytes: &[u8],
    rows: usize,
    cols: usize,
) -> Result<IdxArray, IdxError> {
    let array = parse_idx(file, bytes)?;
    if array.dims.len() != 3 || array.dims[1] != rows || array.dims[2] != cols {
        return Err(IdxError::WrongDimensions {
            file: file.to_string(),
            expected: format!("images of shape [n, {rows}, {cols}]"),
            found: array.dims,
        });
    }
    Ok(array)
}

/// Parses a labels file: exactly 1 dimension, every label below `classes`.
pub fn parse_labels(file: &str, bytes: &[u8], classes: usize) -> Result<IdxArray, IdxError> {
    let array = parse_idx(file, bytes)?;
    if array.dims.len() != 1 {
        return Err(IdxError::WrongDimensions {
            file: file.to_string(),
            expected: "labels of shape [n]".into(),
            found: array.dims,
        });
    }
    if let Some((index, &label)) = array
        .data
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= classes)
    {
        return Err(IdxError::LabelOutOfRange {
            file: file.to_string(),
            index,
            label,
            classes,
        });
    }
    Ok(array)
}
