//! The stimulus list of the human experiment: a seeded, class-balanced draw from a task's test
//! split, crossed with degradation conditions (additive Gaussian pixel noise × presentation
//! duration) that make people err. Humans are near ceiling on clean, unmasked digits, so the
//! interesting comparisons happen under noise and short, masked presentations.
//!
//! The list is a pure function of its [`StimulusDesign`]: the same design (seed included) gives
//! the same trials, images and noise in the page and in the CLI. Every stimulus carries its
//! test-set index, condition and noise seed, so [`render`] can rebuild the exact pixels a
//! participant saw from a data file alone.

use serde::{Deserialize, Serialize};

use super::HumanDataError;
use crate::data::{IMAGE_PIXELS, ImageSet, NUM_CLASSES, Task};
use crate::rng::LabRng;

/// The largest seed a JavaScript number holds exactly (2^53 − 1): seeds cross into the page.
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// A design's limits, checked before the list is built: 64 × 64 conditions × 1000 images per
/// class is already far more than any session; the test split's own size refuses most of that.
pub const MAX_LEVELS: usize = 64;
pub const MAX_IMAGES_PER_CLASS: usize = 1000;
pub const MAX_PRACTICE_TRIALS: usize = 1000;
pub const MAX_TRIALS: usize = MAX_LEVELS * MAX_LEVELS * MAX_IMAGES_PER_CLASS * NUM_CLASSES;

/// What a trial is for. Only `Test` trials enter the human–model comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Before the test, with feedback, so the participant learns the task and the keys.
    Practice,
    /// The measured trials, without feedback.
    Test,
    /// A clean, unlimited-duration image among the test trials: a participant who errs on these
    /// is not paying attention.
    Attention,
}

/// The experiment's design. Defaults give 4 noise levels × 4 durations × 10 classes = 160 test
/// trials, 10 attention checks and 6 practice trials: about six minutes for a participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StimulusDesign {
    pub task: Task,
    /// Seeds the choice of images, their order and every noise pattern.
    pub seed: u64,
    /// Standard deviations of the additive Gaussian pixel noise, in [0, 1] pixel units; the
    /// noisy image is clipped to [0, 1] and rounded to 8 bits (what the screen shows).
    pub noise_levels: Vec<f64>,
    /// Presentation durations in ms, each followed by a noise mask; `null` means the image stays
    /// until the response.
    pub durations_ms: Vec<Option<u32>>,
    /// Images of each class in each condition (noise × duration).
    pub images_per_class: usize,
    /// Practice trials (with feedback) before the test; they cycle through the conditions.
    pub practice_trials: usize,
    /// One attention check after every this many test trials (0: none).
    pub attention_every: usize,
    /// Duration of the noise mask after a timed presentation, in ms.
    pub mask_ms: u32,
    /// A break screen after every this many trials (0: none). Recorded with the data.
    pub break_every: usize,
}

impl StimulusDesign {
    /// The default design for `task` with `seed`.
    pub fn new(task: Task, seed: u64) -> Self {
        Self {
            task,
            seed,
            noise_levels: vec![0.0, 0.3, 0.5, 0.7],
            durations_ms: vec![Some(50), Some(100), Some(200), None],
            images_per_class: 1,
            practice_trials: 6,
            attention_every: 16,
            mask_ms: 200,
            break_every: 60,
        }
    }

    /// A named design: `standard` (the default above: 160 test trials) or `short` (the page's
    /// "short demo": 2 noise levels × 2 durations, 40 test trials). The page's design presets
    /// (`www/experiment/panel.js`) are the same.
    pub fn preset(name: &str, task: Task, seed: u64) -> Option<Self> {
        let standard = Self::new(task, seed);
        match name {
            "standard" => Some(standard),
            "short" => Some(Self {
                noise_levels: vec![0.0, 0.5],
                durations_ms: vec![Some(100), None],
                practice_trials: 4,
                attention_every: 10,
                break_every: 20,
                ..standard
            }),
            _ => None,
        }
    }

    /// The conditions in design order: every noise level × every duration.
    pub fn conditions(&self) -> Vec<(f64, Option<u32>)> {
        self.noise_levels
            .iter()
            .flat_map(|&s| self.durations_ms.iter().map(move |&d| (s, d)))
            .collect()
    }

    pub fn test_trials(&self) -> usize {
        self.conditions().len() * self.images_per_class * NUM_CLASSES
    }

    pub fn attention_trials(&self) -> usize {
        match self.attention_every {
            0 => 0,
            n => self.test_trials() / n,
        }
    }

    fn validate(&self, test: &ImageSet) -> Result<(), HumanDataError> {
        let bad = |m: String| Err(HumanDataError::Design(m));
        // Sizes first, before anything is multiplied or allocated: a crafted design must not
        // overflow or exhaust memory on its way to being refused.
        for (name, n, max) in [
            ("noise levels", self.noise_levels.len(), MAX_LEVELS),
            ("durations", self.durations_ms.len(), MAX_LEVELS),
            (
                "images per class",
                self.images_per_class,
                MAX_IMAGES_PER_CLASS,
            ),
            ("practice trials", self.practice_trials, MAX_PRACTICE_TRIALS),
        ] {
            if n > max {
                return bad(format!(
                    "{n} {name} is more than the {max} a design may have"
                ));
            }
        }
        if self.break_every > MAX_TRIALS || self.attention_every > MAX_TRIALS {
            return bad(format!(
                "breaks and attention checks are at most every {MAX_TRIALS} trials"
            ));
        }
        if self.seed > MAX_SEED {
            return bad(format!(
                "seed {} is above {MAX_SEED} (2^53 − 1, the page's largest exact integer)",
                self.seed
            ));
        }
        if self.noise_levels.is_empty() || self.durations_ms.is_empty() {
            return bad("give at least one noise level and one duration".into());
        }
        if let Some(s) = self
            .noise_levels
            .iter()
            .find(|s| !s.is_finite() || !(0.0..=1.0).contains(*s))
        {
            return bad(format!("noise level {s} is outside [0, 1]"));
        }
        if let Some(d) = self
            .durations_ms
            .iter()
            .flatten()
            .find(|d| **d == 0 || **d > 10_000)
        {
            return bad(format!(
                "duration {d} ms is outside 1..=10000 (use null for unlimited)"
            ));
        }
        if self.images_per_class == 0 {
            return bad("images_per_class must be at least 1".into());
        }
        if self.mask_ms > 10_000 {
            return bad(format!("mask of {} ms is too long", self.mask_ms));
        }
        let per_class_needed = self.conditions().len() * self.images_per_class
            + self.attention_trials().div_ceil(NUM_CLASSES)
            + self.practice_trials.div_ceil(NUM_CLASSES);
        let mut available = [0usize; NUM_CLASSES];
        for &l in test.labels() {
            available[l as usize] += 1;
        }
        if let Some((class, &n)) = available
            .iter()
            .enumerate()
            .find(|(_, n)| **n < per_class_needed)
        {
            return bad(format!(
                "the design needs {per_class_needed} distinct test images of class {class}, \
                 but the test set has {n}"
            ));
        }
        Ok(())
    }
}

/// One trial's stimulus: which test image, how degraded, for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stimulus {
    /// Position in the list, from 0: the trial's identity within a session.
    pub stimulus_index: usize,
    pub phase: Phase,
    /// Index into the task's test split.
    pub test_index: usize,
    pub label: u8,
    pub noise_sigma: f64,
    /// Seeds this stimulus's noise pattern (see [`render`]).
    pub noise_seed: u64,
    /// `None`: until the response.
    pub duration_ms: Option<u32>,
}

/// A design and the trials it produces, in presentation order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StimulusList {
    pub design: StimulusDesign,
    pub stimuli: Vec<Stimulus>,
}

/// Builds the list for `design` from `test`, the task's test split.
///
/// Images are drawn without replacement: no image appears twice in a session, so no trial can
/// be answered from memory. Each class's images are a seeded shuffle of that class's test images;
/// test trials are shuffled; an attention check follows every `attention_every`-th test trial;
/// practice trials come first.
pub fn build_list(
    design: &StimulusDesign,
    test: &ImageSet,
) -> Result<StimulusList, HumanDataError> {
    design.validate(test)?;
    let mut pick = LabRng::derive(design.seed, "stimulus-images");
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); NUM_CLASSES];
    for (i, &l) in test.labels().iter().enumerate() {
        by_class[l as usize].push(i);
    }
    for class in &mut by_class {
        pick.shuffle(class);
    }
    // Draw images class by class, round-robin, so every phase is class-balanced.
    let mut next = vec![0usize; NUM_CLASSES];
    let mut draw = |class: usize| {
        let i = by_class[class][next[class]];
        next[class] += 1;
        i
    };

    let conditions = design.conditions();
    let mut test_trials = Vec::with_capacity(design.test_trials());
    for &(sigma, duration) in &conditions {
        for _ in 0..design.images_per_class {
            for class in 0..NUM_CLASSES {
                test_trials.push((draw(class), sigma, duration));
            }
        }
    }
    let mut order = LabRng::derive(design.seed, "stimulus-order");
    order.shuffle(&mut test_trials);

    let mut raw: Vec<(Phase, usize, f64, Option<u32>)> = Vec::new();
    for k in 0..design.practice_trials {
        let (sigma, duration) = conditions[k % conditions.len()];
        raw.push((Phase::Practice, draw(k % NUM_CLASSES), sigma, duration));
    }
    let mut attention_class = 0;
    for (k, &(index, sigma, duration)) in test_trials.iter().enumerate() {
        raw.push((Phase::Test, index, sigma, duration));
        if design.attention_every > 0 && (k + 1) % design.attention_every == 0 {
            raw.push((
                Phase::Attention,
                draw(attention_class % NUM_CLASSES),
                0.0,
                None,
            ));
            attention_class += 3; // 3 is coprime with 10: checks cycle through every class
        }
    }

    let mut noise = LabRng::derive(design.seed, "stimulus-noise");
    let stimuli = raw
        .into_iter()
        .enumerate()
        .map(
            |(stimulus_index, (phase, test_index, noise_sigma, duration_ms))| Stimulus {
                stimulus_index,
                phase,
                test_index,
                label: test.labels()[test_index],
                noise_sigma,
                // 53 bits: the page's JavaScript keeps it exactly (a JS number is an f64).
                noise_seed: noise.next_u64() >> 11,
                duration_ms,
            },
        )
        .collect();
    Ok(StimulusList {
        design: design.clone(),
        stimuli,
    })
}

/// The 784 pixels (0..=255) of a degraded test image: x + σ·N(0, 1) per pixel from a stream
/// seeded by `noise_seed`, clipped to [0, 1] and rounded to 8 bits, so the page shows and the
/// models classify the very same image.
pub fn render(
    test: &ImageSet,
    test_index: usize,
    noise_sigma: f64,
    noise_seed: u64,
) -> Result<[u8; IMAGE_PIXELS], HumanDataError> {
    if test_index >= test.len() {
        return Err(HumanDataError::Stimulus(format!(
            "test image {test_index} does not exist (the test set has {})",
            test.len()
        )));
    }
    if !noise_sigma.is_finite() || !(0.0..=1.0).contains(&noise_sigma) {
        return Err(HumanDataError::Stimulus(format!(
            "noise level {noise_sigma} is outside [0, 1]"
        )));
    }
    let mut rng = LabRng::new(noise_seed);
    let mut out = [0u8; IMAGE_PIXELS];
    for (o, &p) in out.iter_mut().zip(test.image(test_index)) {
        let x = p as f64 / 255.0;
        let y = if noise_sigma > 0.0 {
            x + noise_sigma * rng.normal() as f64
        } else {
            x
        };
        *o = (y.clamp(0.0, 1.0) * 255.0).round() as u8;
    }
    Ok(out)
}

/// Every stimulus of `list` rendered, in order: `stimuli.len() × 784` bytes.
pub fn render_list(list: &StimulusList, test: &ImageSet) -> Result<Vec<u8>, HumanDataError> {
    let mut out = Vec::with_capacity(list.stimuli.len() * IMAGE_PIXELS);
    for s in &list.stimuli {
        out.extend_from_slice(&render(test, s.test_index, s.noise_sigma, s.noise_seed)?);
    }
    Ok(out)
}
