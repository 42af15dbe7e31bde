//! The probe set: a fixed, class-balanced sample of test images on which every model's
//! representations are recorded, so that all comparisons see the same stimuli.

use crate::data::{ImageSet, NUM_CLASSES};
use crate::rng::LabRng;

/// Default probe size (100 images per class).
pub const DEFAULT_PROBE_SIZE: usize = 1000;

/// `size / 10` images of each class (fewer if a class has fewer), chosen at random by `seed`,
/// returned sorted by class and then by index so the RDMs show class blocks.
pub fn probe_indices(set: &ImageSet, size: usize, seed: u64) -> Vec<usize> {
    let mut rng = LabRng::derive(seed, "probe-set");
    let per_class = size / NUM_CLASSES;
    let mut out = Vec::with_capacity(size);
    for class in 0..NUM_CLASSES as u8 {
        let mut members: Vec<usize> = (0..set.len())
            .filter(|&i| set.labels()[i] == class)
            .collect();
        rng.shuffle(&mut members);
        members.truncate(per_class);
        members.sort_unstable();
        out.extend(members);
    }
    out
}
