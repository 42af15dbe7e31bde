//! The entry point of each fuzz target: one function per parser that takes user bytes, calling
//! the library's real public function. A target passes when the function returns (`Ok` or
//! `Err`); a panic, an overflow (the fuzz build has debug assertions), a timeout or an absurd
//! allocation is a crash.
//!
//! This file is shared: the fuzz targets (`fuzz/fuzz_targets/*.rs`) call it through the
//! `microlearning_fuzz` crate, and the stable regression test (`crate/tests/fuzz_regressions.rs`)
//! includes it with `#[path]`, so both run exactly the same code. It therefore uses only
//! `microlearning`, `burn` and `serde_json`, never `crate::`.

use std::sync::OnceLock;

use microlearning::data::{IMAGE_PIXELS, ImageSet, NUM_CLASSES, parse_labels};
use microlearning::human::{StimulusDesign, build_list, parse_file, render_list, to_csv};
use microlearning::results::RunResults;

/// Every target, by name: the folders under `fuzz/seeds/`, `fuzz/corpus/` and
/// `crate/tests/fuzz-regressions/`.
pub const TARGETS: [&str; 5] = ["idx", "weights", "results", "trials", "stimuli"];

/// Runs target `name` on `data`; `None` if there is no such target.
pub fn run(name: &str, data: &[u8]) -> Option<Result<(), String>> {
    Some(match name {
        "idx" => idx(data),
        "weights" => weights(data),
        "results" => results(data),
        "trials" => trials(data),
        "stimuli" => stimuli(data),
        _ => return None,
    })
}

/// The input of the `idx` target: a little-endian u32 `n`, then an images file (the next `n`
/// bytes, or all that is left) and a labels file (the rest), each raw or gzip'd.
pub fn idx_input(images: &[u8], labels: &[u8]) -> Vec<u8> {
    let mut out = (images.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(images);
    out.extend_from_slice(labels);
    out
}

/// IDX: `ImageSet::from_idx_bytes` on an images file and a labels file (see [`idx_input`]),
/// and the labels file alone through `parse_labels` (so it is parsed even when the images
/// file is refused first).
pub fn idx(data: &[u8]) -> Result<(), String> {
    let (head, rest) = data.split_at(data.len().min(4));
    let mut n = [0u8; 4];
    n[..head.len()].copy_from_slice(head);
    let (images, labels) = rest.split_at((u32::from_le_bytes(n) as usize).min(rest.len()));
    let lone = parse_labels("labels", labels, NUM_CLASSES).map(|_| ());
    ImageSet::from_idx_bytes("images", images, "labels", labels).map_err(|e| e.to_string())?;
    lone.map_err(|e| e.to_string())
}

/// Weights: `load_weights_any_front_end` (a burnpack file) on the CPU device.
pub fn weights(data: &[u8]) -> Result<(), String> {
    microlearning::model::load_weights_any_front_end(data, &burn::tensor::Device::flex())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Results JSON: `RunResults::from_json`; what it accepts is written back with `to_json` and
/// read again (both must return, whatever they return).
pub fn results(data: &[u8]) -> Result<(), String> {
    let results =
        RunResults::from_json(&String::from_utf8_lossy(data)).map_err(|e| e.to_string())?;
    let json = results.to_json().map_err(|e| e.to_string())?;
    RunResults::from_json(&json)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Trial CSV and JSON (session file, NDJSON, JATOS result file): `human::parse_file`; what it
/// accepts is written back with `to_csv` and read again.
pub fn trials(data: &[u8]) -> Result<(), String> {
    let trials = parse_file("fuzz", &String::from_utf8_lossy(data)).map_err(|e| e.to_string())?;
    let csv = to_csv(&trials).map_err(|e| e.to_string())?;
    parse_file("fuzz.csv", &csv)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Stimulus design: a `StimulusDesign` from JSON, its list built (`build_list`, which validates
/// it) against a small synthetic test split, and every stimulus rendered.
pub fn stimuli(data: &[u8]) -> Result<(), String> {
    let design: StimulusDesign = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let list = build_list(&design, test_split()).map_err(|e| e.to_string())?;
    render_list(&list, test_split())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Images per class of [`test_split`]: enough for the `standard` design (18 per class).
pub const SPLIT_IMAGES_PER_CLASS: usize = 24;

/// A synthetic test split: [`SPLIT_IMAGES_PER_CLASS`] images of each class, classes
/// interleaved, each image a different grey ramp.
pub fn test_split() -> &'static ImageSet {
    static SET: OnceLock<ImageSet> = OnceLock::new();
    SET.get_or_init(|| {
        let n = SPLIT_IMAGES_PER_CLASS * NUM_CLASSES;
        let labels: Vec<u8> = (0..n).map(|i| (i % NUM_CLASSES) as u8).collect();
        let pixels = (0..n * IMAGE_PIXELS).map(|i| (i % 251) as u8).collect();
        ImageSet::new(pixels, labels).expect("the synthetic split is consistent")
    })
}
