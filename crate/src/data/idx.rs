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

/// Decompresses `bytes` if they are gzip'd, otherwise returns them unchanged.
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
pub fn parse_idx(file: &str, bytes: &[u8]) -> Result<IdxArray, IdxError> {
    let raw = maybe_gunzip(file, bytes)?;
    let truncated = |expected: usize| IdxError::Truncated {
        file: file.to_string(),
        expected,
        found: raw.len(),
    };
    if raw.len() < 4 {
        return Err(truncated(4));
    }
    let magic = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if raw[0] != 0 || raw[1] != 0 || raw[3] == 0 {
        return Err(IdxError::BadMagic {
            file: file.to_string(),
            found: magic,
        });
    }
    if raw[2] != TYPE_UNSIGNED_BYTE {
        return Err(IdxError::UnsupportedType {
            file: file.to_string(),
            found: raw[2],
        });
    }
    let ndims = raw[3] as usize;
    let header_len = 4 + 4 * ndims;
    if raw.len() < header_len {
        return Err(truncated(header_len));
    }
    let dims: Vec<usize> = raw[4..header_len]
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
    let body = &raw[header_len..];
    if body.len() < count {
        return Err(IdxError::Truncated {
            file: file.to_string(),
            expected: count,
            found: body.len(),
        });
    }
    if body.len() > count {
        return Err(IdxError::TrailingBytes {
            file: file.to_string(),
            extra: body.len() - count,
        });
    }
    Ok(IdxArray {
        dims,
        data: body.to_vec(),
    })
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
