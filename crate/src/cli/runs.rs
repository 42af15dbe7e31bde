//! Reading a trained run back: its results file and the weights saved beside it (same name,
//! `.bpk`), as `grid` writes them and `train --out X.json --weights X.bpk` does.

use std::path::Path;

use burn::tensor::Device;

use crate::error::{LabError, Result};
use crate::frontends::NeuronalNoise;
use crate::model::{SeedNet, load_weights};
use crate::results::RunResults;

/// The run's name for tables: the results file's stem.
pub fn run_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The results file at `path` and the model from the weights beside it.
pub fn load_trained_run(path: &Path, device: &Device) -> Result<(RunResults, SeedNet)> {
    let text = std::fs::read_to_string(path).map_err(|e| LabError::io(path, e))?;
    let results = RunResults::from_json(&text)
        .map_err(|e| LabError::Results(format!("{}: {e}", path.display())))?;
    let weights = path.with_extension("bpk");
    let bytes = std::fs::read(&weights).map_err(|e| LabError::io(&weights, e))?;
    // The neuronal noise is a setting of the run, not a weight: put it back as trained.
    let noise = NeuronalNoise::new(results.config.neuronal_noise as f32, results.config.seed);
    let model = load_weights(&bytes, results.config.front_end, device)?.with_noise(noise);
    Ok((results, model))
}
