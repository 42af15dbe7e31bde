//! Models as participants: a trained network answers the very stimuli people saw (same test
//! image, same noise pattern, same condition) and its answers become trial records in the same
//! table as the humans'. A model has no presentation time: it sees each image in full, so its
//! accuracy is the same at every duration, which is itself part of the comparison.

use std::collections::BTreeSet;

use super::records::{ObserverKind, StimulusKey, TrialRecord};
use super::stimuli::{StimulusList, render};
use crate::data::{IMAGE_PIXELS, ImageSet, Task};
use crate::error::{LabError, Result};
use crate::model::SeedNet;
use crate::training::evaluate;
use burn::tensor::Device;

/// How a model is named in the trial table.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelIdentity {
    pub name: String,
    pub rule: Option<String>,
    pub front_end: Option<String>,
}

/// Trial templates for a stimulus list: what a participant of that list would see, before any
/// answer (`response` and `correct` are filled in by [`model_trials`]).
pub fn templates_from_list(list: &StimulusList) -> Vec<TrialRecord> {
    list.stimuli
        .iter()
        .map(|s| TrialRecord {
            participant_id: String::new(),
            session_id: String::new(),
            observer_kind: ObserverKind::Model,
            rule: None,
            front_end: None,
            task: list.design.task.id().to_string(),
            list_seed: list.design.seed,
            trial_index: None,
            trial_type: None,
            time_elapsed: None,
            phase: s.phase,
            stimulus_index: s.stimulus_index,
            test_index: s.test_index,
            label: s.label,
            noise_sigma: s.noise_sigma,
            noise_seed: s.noise_seed,
            requested_duration_ms: s.duration_ms.map(f64::from),
            measured_duration_ms: None,
            response: 0,
            rt: None,
            correct: false,
        })
        .collect()
}

/// Runs `model` on every distinct stimulus among `templates` (human trials or
/// [`templates_from_list`]) of `task`, whose test split is `test`. Returns one model trial per
/// distinct stimulus, in first-seen order.
pub async fn model_trials(
    model: &SeedNet,
    who: &ModelIdentity,
    task: Task,
    test: &ImageSet,
    templates: &[TrialRecord],
    device: &Device,
) -> Result<Vec<TrialRecord>> {
    let mut seen: BTreeSet<StimulusKey> = BTreeSet::new();
    let mut chosen: Vec<&TrialRecord> = Vec::new();
    for t in templates {
        if t.task != task.id() {
            return Err(LabError::Config(format!(
                "the trials are of task \"{}\" but the model was trained on \"{}\"",
                t.task,
                task.id()
            )));
        }
        if seen.insert(t.stimulus_key()) {
            chosen.push(t);
        }
    }
    let mut pixels = Vec::with_capacity(chosen.len() * IMAGE_PIXELS);
    let mut labels = Vec::with_capacity(chosen.len());
    for t in &chosen {
        if test.labels().get(t.test_index) != Some(&t.label) {
            return Err(LabError::Config(format!(
                "stimulus {} says test image {} is a {}, but this test set disagrees: \
                 were the trials collected on another data set?",
                t.stimulus_index, t.test_index, t.label
            )));
        }
        pixels.extend_from_slice(&render(test, t.test_index, t.noise_sigma, t.noise_seed)?);
        labels.push(t.label);
    }
    let set = ImageSet::new(pixels, labels)?;
    let evaluation = evaluate(model, &set, 256, device).await?;
    Ok(chosen
        .into_iter()
        .zip(evaluation.predictions)
        .map(|(t, response)| TrialRecord {
            participant_id: who.name.clone(),
            session_id: format!("{}/list-{}", who.name, t.list_seed),
            observer_kind: ObserverKind::Model,
            rule: who.rule.clone(),
            front_end: who.front_end.clone(),
            trial_type: Some("model".into()),
            trial_index: None,
            time_elapsed: None,
            measured_duration_ms: None,
            rt: None,
            response,
            correct: response == t.label,
            ..t.clone()
        })
        .collect())
}
