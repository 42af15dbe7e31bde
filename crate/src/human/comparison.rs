//! The human–model comparison, stimulus by stimulus. Input: a table of trial records from human
//! participants and from models run as participants on the same stimuli. Output:
//! - accuracy per condition: humans as the mean over participants with a bootstrap 95% CI over
//!   participants, each model over its trials (the psychometric curves);
//! - pooled human and per-model confusion matrices, and the Pearson correlation of their
//!   off-diagonal (error) entries, as row-normalised rates;
//! - error consistency κ (see `consistency.rs`) of each model with each participant, averaged
//!   over participants with a bootstrap CI, and human–human κ over pairs of participants as
//!   the ceiling;
//! - the models ranked by κ with humans, next to their accuracy.
//!
//! Only test-phase trials count (not practice, not attention checks), and of a person's only
//! those shown for as long as they asked: a timed trial whose measured presentation is off by
//! more than a frame ([`mistimed`]) is left out of the human side and counted in
//! [`HumanComparison::mistimed_trials`]. A participant here is a session. Trials are matched by the stimulus they showed ([`StimulusKey`]), so a model's
//! responses can be compared with any participant who saw the same images. The bootstrap uses
//! a fixed seed, so a report is reproducible.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::consistency::error_consistency;
use super::records::{Condition, ConditionKey, ObserverKind, StimulusKey, TrialRecord};
use super::stimuli::Phase;
use crate::analysis::rsa::pearson;
use crate::data::NUM_CLASSES;
use crate::rng::LabRng;
use crate::training::ConfusionMatrix;

/// Bootstrap resamples for every CI.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;
const BOOTSTRAP_SEED: u64 = 2020;
/// Pairs of observers sharing fewer test trials than this get no κ (too noisy to mean much).
pub const MIN_COMMON_TRIALS: usize = 10;
/// One frame at 60 Hz, the refresh rate of nearly every screen: the tolerance of a measured
/// presentation. The page takes the stimulus off within half a frame of its request, so a
/// presentation off by more than a whole frame had a stalled or dropped frame (a hidden tab
/// gets no frames at all, and the image stays up until the tab is shown again). On a slower
/// screen (30 Hz) the half-frame rule alone can reach this bound.
pub const FRAME_MS: f64 = 1000.0 / 60.0;

/// A person's timed trial whose measured presentation differs from the requested one by more
/// than [`FRAME_MS`]: the image was not shown as its condition says, so it is not compared.
/// Untimed trials, models' trials and trials without a measurement are never mistimed.
pub fn mistimed(t: &TrialRecord) -> bool {
    match (
        t.observer_kind,
        t.requested_duration_ms,
        t.measured_duration_ms,
    ) {
        (ObserverKind::Human, Some(requested), Some(measured)) => {
            (measured - requested).abs() > FRAME_MS
        }
        _ => false,
    }
}

/// A mean with its bootstrap 95% percentile interval over the `n` participants that
/// contributed. With fewer than two there is nothing to resample: `low` and `high` are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub n: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantSummary {
    pub participant_id: String,
    pub session_id: String,
    pub test_trials: usize,
    /// Test trials of this session left out as [`mistimed`] (not in `test_trials`).
    pub mistimed_trials: usize,
    pub accuracy: f64,
    /// Accuracy on the attention checks, if the session had any.
    pub attention_accuracy: Option<f64>,
    pub median_rt_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionRow {
    pub condition: Condition,
    pub label: String,
    pub humans: Option<Estimate>,
    /// One entry per model, in [`HumanComparison::models`] order; `None` where the model saw no
    /// trial of this condition.
    pub models: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub name: String,
    pub rule: Option<String>,
    pub front_end: Option<String>,
    /// Over the model's test trials.
    pub accuracy: f64,
    pub test_trials: usize,
    /// Mean over participants of κ(model, participant).
    pub kappa: Option<Estimate>,
    /// Pearson r of the off-diagonal confusion rates with the pooled humans'.
    pub error_correlation: Option<f64>,
    pub confusion: ConfusionMatrix,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanComparison {
    pub participants: Vec<ParticipantSummary>,
    /// Model names, in the order of [`ConditionRow::models`].
    pub models: Vec<String>,
    pub conditions: Vec<ConditionRow>,
    /// Pooled over participants.
    pub human_confusion: ConfusionMatrix,
    pub human_accuracy: Option<Estimate>,
    /// Mean κ over pairs of participants: the ceiling a model can hope for.
    pub human_human_kappa: Option<Estimate>,
    /// Models, most human-like (highest κ) first; models with no κ last.
    pub ranking: Vec<ModelRow>,
    pub bootstrap_resamples: usize,
    /// People's test trials left out because their presentation was off by more than a frame
    /// ([`mistimed`]); a session with no other test trial is not among `participants`.
    pub mistimed_trials: usize,
    /// [`FRAME_MS`], the tolerance used.
    pub frame_ms: f64,
}

struct Observer<'a> {
    kind: ObserverKind,
    trials: Vec<&'a TrialRecord>,
}

impl Observer<'_> {
    fn correctness(&self) -> HashMap<StimulusKey, bool> {
        self.trials
            .iter()
            .map(|t| (t.stimulus_key(), t.correct))
            .collect()
    }
}

/// Mean of `f` over a bootstrap resample of `0..n`, for every resample; the percentile CI.
fn bootstrap(n: usize, point: f64, mut f: impl FnMut(&[usize]) -> Option<f64>) -> Estimate {
    let mut rng = LabRng::new(BOOTSTRAP_SEED);
    let mut values = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut sample = vec![0; n];
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for s in sample.iter_mut() {
            *s = rng.below(n);
        }
        if let Some(v) = f(&sample) {
            values.push(v);
        }
    }
    values.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        (n >= 2 && !values.is_empty()).then(|| {
            values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)]
        })
    };
    Estimate {
        mean: point,
        low: pick(0.025),
        high: pick(0.975),
        n,
    }
}

fn mean(xs: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = xs
        .into_iter()
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Mean and bootstrap CI of per-participant values (`None` entries are left out).
fn estimate_over(values: &[Option<f64>]) -> Option<Estimate> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let point = mean(present.iter().copied())?;
    Some(bootstrap(present.len(), point, |s| {
        mean(s.iter().map(|&i| present[i]))
    }))
}

fn confusion_of(trials: &[&TrialRecord]) -> ConfusionMatrix {
    let mut c = ConfusionMatrix::new();
    for t in trials {
        c.add(t.label as usize, t.response as usize);
    }
    c
}

/// Off-diagonal entries as rates within each true class (rows with no trial give zeros).
fn error_rates(c: &ConfusionMatrix) -> Vec<f64> {
    let mut out = Vec::with_capacity(NUM_CLASSES * (NUM_CLASSES - 1));
    for (i, row) in c.0.iter().enumerate() {
        let total: u32 = row.iter().sum();
        for (j, &v) in row.iter().enumerate() {
            if i != j {
                out.push(if total > 0 {
                    v as f64 / total as f64
                } else {
                    0.0
                });
            }
        }
    }
    out
}

fn kappa_between(a: &HashMap<StimulusKey, bool>, b: &HashMap<StimulusKey, bool>) -> Option<f64> {
    let mut keys: Vec<&StimulusKey> = a.keys().filter(|k| b.contains_key(*k)).collect();
    if keys.len() < MIN_COMMON_TRIALS {
        return None;
    }
    keys.sort();
    let x: Vec<bool> = keys.iter().map(|k| a[*k]).collect();
    let y: Vec<bool> = keys.iter().map(|k| b[*k]).collect();
    error_consistency(&x, &y).map(|e| e.kappa)
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    Some(if xs.len().is_multiple_of(2) {
        (xs[m - 1] + xs[m]) / 2.0
    } else {
        xs[m]
    })
}

/// Compares every model in `trials` with every human in `trials`. See the module comment.
pub fn compare(trials: &[TrialRecord]) -> HumanComparison {
    // Observers: humans by session, models by name; both in first-seen order.
    let mut order: Vec<(ObserverKind, String)> = Vec::new();
    let mut observers: HashMap<(ObserverKind, String), Observer> = HashMap::new();
    let mut attention: HashMap<String, (usize, usize)> = HashMap::new();
    let mut mistimed_by_session: HashMap<String, usize> = HashMap::new();
    for t in trials {
        let id = match t.observer_kind {
            ObserverKind::Human => t.session_id.clone(),
            ObserverKind::Model => t.participant_id.clone(),
        };
        if t.phase == Phase::Attention && t.observer_kind == ObserverKind::Human {
            let e = attention.entry(id.clone()).or_default();
            e.0 += t.correct as usize;
            e.1 += 1;
        }
        if t.phase != Phase::Test {
            continue;
        }
        if mistimed(t) {
            *mistimed_by_session.entry(id).or_default() += 1;
            continue;
        }
        let key = (t.observer_kind, id);
        observers
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Observer {
                    kind: t.observer_kind,
                    trials: Vec::new(),
                }
            })
            .trials
            .push(t);
    }
    let humans: Vec<&Observer> = order
        .iter()
        .filter(|k| k.0 == ObserverKind::Human)
        .map(|k| &observers[k])
        .collect();
    let model_keys: Vec<&(ObserverKind, String)> = order
        .iter()
        .filter(|k| k.0 == ObserverKind::Model)
        .collect();
    let models: Vec<&Observer> = model_keys.iter().map(|k| &observers[*k]).collect();
    debug_assert!(models.iter().all(|m| m.kind == ObserverKind::Model));

    let participants: Vec<ParticipantSummary> = humans
        .iter()
        .map(|h| {
            let first = h.trials[0];
            let correct = h.trials.iter().filter(|t| t.correct).count();
            ParticipantSummary {
                participant_id: first.participant_id.clone(),
                session_id: first.session_id.clone(),
                test_trials: h.trials.len(),
                mistimed_trials: mistimed_by_session
                    .get(&first.session_id)
                    .copied()
                    .unwrap_or(0),
                accuracy: correct as f64 / h.trials.len() as f64,
                attention_accuracy: attention
                    .get(&first.session_id)
                    .map(|&(c, n)| c as f64 / n as f64),
                median_rt_ms: median(h.trials.iter().filter_map(|t| t.rt).collect()),
            }
        })
        .collect();

    // Conditions, sorted by noise then duration.
    // Keyed by the exact σ and duration, like the stimuli: no rounding merges two conditions.
    let mut conditions: BTreeMap<ConditionKey, Condition> = BTreeMap::new();
    for o in observers.values() {
        for t in &o.trials {
            conditions.insert(t.condition().sort_key(), t.condition());
        }
    }
    let accuracy_in = |o: &Observer, key: ConditionKey| {
        let hits: Vec<bool> = o
            .trials
            .iter()
            .filter(|t| t.condition().sort_key() == key)
            .map(|t| t.correct)
            .collect();
        mean(hits.iter().map(|&c| c as u8 as f64))
    };
    let condition_rows = conditions
        .iter()
        .map(|(&key, c)| ConditionRow {
            condition: *c,
            label: c.label(),
            humans: estimate_over(
                &humans
                    .iter()
                    .map(|h| accuracy_in(h, key))
                    .collect::<Vec<_>>(),
            ),
            models: models.iter().map(|m| accuracy_in(m, key)).collect(),
        })
        .collect();

    let human_trials: Vec<&TrialRecord> = humans.iter().flat_map(|h| h.trials.clone()).collect();
    let human_confusion = confusion_of(&human_trials);
    let human_rates = error_rates(&human_confusion);
    let human_accuracy = estimate_over(
        &participants
            .iter()
            .map(|p| Some(p.accuracy))
            .collect::<Vec<_>>(),
    );
    let human_correctness: Vec<HashMap<StimulusKey, bool>> =
        humans.iter().map(|h| h.correctness()).collect();

    // Human–human: κ for every pair; a resample's value is the mean over its distinct pairs.
    let n = humans.len();
    let mut pair = vec![vec![None; n]; n];
    for i in 0..n {
        for j in (i + 1)..n {
            let k = kappa_between(&human_correctness[i], &human_correctness[j]);
            pair[i][j] = k;
            pair[j][i] = k;
        }
    }
    let mean_pairs = |members: &[usize]| {
        let mut values = Vec::new();
        for (a, &i) in members.iter().enumerate() {
            for &j in &members[a + 1..] {
                if i != j
                    && let Some(k) = pair[i][j]
                {
                    values.push(k);
                }
            }
        }
        mean(values)
    };
    // Only participants who share enough stimuli with someone contribute (and are resampled).
    let contributing: Vec<usize> = (0..n)
        .filter(|&i| (0..n).any(|j| pair[i][j].is_some()))
        .collect();
    let human_human_kappa = mean_pairs(&contributing)
        .map(|point| {
            bootstrap(contributing.len(), point, |s| {
                let members: Vec<usize> = s.iter().map(|&k| contributing[k]).collect();
                mean_pairs(&members)
            })
        })
        // Two participants make one pair: resampling them says nothing about the spread.
        .map(|mut e| {
            if e.n < 3 {
                (e.low, e.high) = (None, None);
            }
            e
        });

    let mut ranking: Vec<ModelRow> = models
        .iter()
        .zip(&model_keys)
        .map(|(m, key)| {
            let correctness = m.correctness();
            let kappas: Vec<Option<f64>> = human_correctness
                .iter()
                .map(|h| kappa_between(&correctness, h))
                .collect();
            let confusion = confusion_of(&m.trials);
            let error_correlation = if human_trials.is_empty() {
                None
            } else {
                Some(pearson(&error_rates(&confusion), &human_rates)).filter(|r| r.is_finite())
            };
            let first = m.trials[0];
            ModelRow {
                name: key.1.clone(),
                rule: first.rule.clone(),
                front_end: first.front_end.clone(),
                accuracy: confusion.accuracy(),
                test_trials: m.trials.len(),
                kappa: estimate_over(&kappas),
                error_correlation,
                confusion,
            }
        })
        .collect();
    let model_names = ranking.iter().map(|r| r.name.clone()).collect();
    ranking.sort_by(|a, b| {
        let ka = a.kappa.map_or(f64::NEG_INFINITY, |k| k.mean);
        let kb = b.kappa.map_or(f64::NEG_INFINITY, |k| k.mean);
        kb.total_cmp(&ka)
    });

    HumanComparison {
        participants,
        models: model_names,
        conditions: condition_rows,
        human_confusion,
        human_accuracy,
        human_human_kappa,
        ranking,
        bootstrap_resamples: BOOTSTRAP_RESAMPLES,
        mistimed_trials: mistimed_by_session.values().sum(),
        frame_ms: FRAME_MS,
    }
}

/// The comparison as plain-text tables (the CLI prints this).
pub fn format_report(c: &HumanComparison) -> String {
    let pct = |x: f64| format!("{:.1}", 100.0 * x);
    let est = |e: &Option<Estimate>, scale: f64| match e {
        Some(Estimate {
            mean,
            low: Some(low),
            high: Some(high),
            ..
        }) => format!(
            "{:.2} [{:.2}, {:.2}]",
            scale * mean,
            scale * low,
            scale * high
        ),
        Some(e) => format!("{:.2} (n = {}, no CI)", scale * e.mean, e.n),
        None => "–".into(),
    };
    let mut out = format!(
        "{} participant(s); human accuracy (test trials) {} %\n",
        c.participants.len(),
        est(&c.human_accuracy, 100.0)
    );
    out.push_str(&format!(
        "human–human error consistency κ: {}\n",
        est(&c.human_human_kappa, 1.0)
    ));
    out.push_str(&format!(
        "{} human test trial(s) left out: shown more than a frame ({:.1} ms) longer or shorter than requested\n\n",
        c.mistimed_trials, c.frame_ms
    ));
    out.push_str(
        "accuracy per condition (%): humans mean [95% CI], then each model\n| condition | humans |",
    );
    for m in &c.models {
        out.push_str(&format!(" {m} |"));
    }
    out.push_str(&format!("\n|---|---|{}\n", "---|".repeat(c.models.len())));
    for row in &c.conditions {
        out.push_str(&format!("| {} | {} |", row.label, est(&row.humans, 100.0)));
        for m in &row.models {
            out.push_str(&format!(" {} |", m.map_or("–".into(), pct)));
        }
        out.push('\n');
    }
    out.push_str(
        "\nmodels by human-likeness (error consistency κ with humans, mean over participants [95% CI])\n\
         | rank | model | rule | front end | accuracy % | κ with humans | error-pattern r |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (i, r) in c.ranking.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            i + 1,
            r.name,
            r.rule.as_deref().unwrap_or("–"),
            r.front_end.as_deref().unwrap_or("–"),
            pct(r.accuracy),
            est(&r.kappa, 1.0),
            r.error_correlation
                .map_or("–".into(), |x| format!("{x:.2}"))
        ));
    }
    out
}
