//! Saving and loading the seed network's weights with burn's record API (burnpack format).
//! Bytes in, bytes out, so the page (no file system) and the CLI share one code path.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};

use super::SeedNet;
use crate::error::{LabError, Result};

/// The network's parameters as a burnpack file.
pub fn weights_to_bytes(model: &SeedNet) -> Result<Vec<u8>> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| LabError::Weights(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// Loads a burnpack file into a seed network. Anything that is not a complete, valid set of the
/// seed network's parameters (wrong shapes, missing tensors, corrupt bytes) is an error.
pub fn load_weights(bytes: &[u8], device: &Device) -> Result<SeedNet> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| LabError::Weights(format!("not a valid burnpack weights file ({e})")))?;
    SeedNet::init(0, device)
        .try_load_record(record.allow_partial(false).validate(true))
        .map_err(|e| LabError::Weights(format!("does not fit the seed network ({e})")))
}
