//! Learning rules: interchangeable ways of turning a batch into a weight update.
//!
//! Every rule implements [`LearningRule`] and lives in its own file. It hands back its update
//! as a per-parameter "gradient" (a [`GradientsParams`]) that burn's optimizers (Adam, SGD) then
//! apply. Building the update explicitly, rather than writing custom backward ops, keeps every
//! rule on the same optimizers, works unchanged on every backend (CPU and WebGPU), and lets a
//! rule that is not gradient descent at all (Hebbian, predictive coding) plug in the same way.
//!
//! Adding a rule: write `rules/<name>.rs` implementing [`LearningRule`], then add one line to
//! [`RULES`].

mod bp;
mod dfa;
mod fa;
mod feedback;
mod forward_forward;
mod hebbian;
mod kp;
mod predictive_coding;
mod sign_symmetry;

use burn::optim::GradientsParams;
use burn::prelude::*;

use crate::error::{LabError, Result};
use crate::model::{FeedbackWeights, SeedNet};

pub use bp::Backprop;
pub use dfa::{DirectFeedback, DirectFeedbackAlignment};
pub use fa::FixedRandomFeedback;
pub use feedback::{FeedbackPathway, FeedbackRule, random_feedback};
pub use forward_forward::{ForwardForward, ForwardForwardConfig, embed_labels};
pub use hebbian::{Competition, Hebbian, HebbianConfig};
pub use kp::{KP_DECAY, KolenPollack};
pub use predictive_coding::{PredictiveCoding, PredictiveCodingConfig};
pub use sign_symmetry::{SignSymmetry, SignVariant};

/// What one rule step produces.
pub struct RuleStep {
    /// The batch's mean training loss (NLL), `[1]`, for reporting and divergence checks.
    pub loss: Tensor<1>,
    /// The update direction for each trained parameter, in gradient convention (the optimizer
    /// subtracts it).
    pub grads: GradientsParams,
}

/// One learning rule.
pub trait LearningRule {
    /// Short identifier used on the command line, in the page and in results files.
    fn id(&self) -> &'static str;

    /// Computes the update for one batch of normalised images `[B, 1, 28, 28]` and labels `[B]`.
    /// `model` lives on an autodiff device.
    fn step(&mut self, model: &SeedNet, images: Tensor<4>, labels: Tensor<1, Int>) -> RuleStep;

    /// Called before the first batch of every epoch (0-based), for a rule whose behaviour
    /// follows a schedule of epochs (Hebbian learning's unsupervised phase).
    fn begin_epoch(&mut self, _epoch: usize) {}

    /// Lets a rule with state of its own (for example learned feedback weights) follow the
    /// optimizer's update of the model, and adjust the updated model if the rule says so.
    fn after_update(&mut self, _before: &SeedNet, after: SeedNet) -> SeedNet {
        after
    }

    /// The feedback weights (B, of W's shape) used by the last step, for the B–W angle
    /// diagnostic; `None` for rules without them.
    fn feedback_weights(&self) -> Option<FeedbackWeights> {
        None
    }

    /// Class scores (log-softmax, `[B, 10]`) for a rule whose inference is not the network's
    /// forward pass (forward-forward's goodness); `None`: the forward pass is the inference.
    /// `model` is on an inference (non-autodiff) device.
    fn classify(&self, _model: &SeedNet, _images: Tensor<4>) -> Option<Tensor<2>> {
        None
    }
}

/// A rule's registry entry.
pub struct RuleInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    /// The Adam learning rate this rule is run with unless the user picks another. 1e-3 (the
    /// lab core's setting) for every rule that tolerates it; forward-forward's layer-local
    /// goodness collapses at 1e-3, so it gets 2e-4
    /// (docs/research-log.md#forward-forward-learning-rate).
    pub learning_rate: f64,
    build: fn(seed: u64, model: &SeedNet) -> Box<dyn LearningRule>,
}

/// Every rule the lab offers, in the order the page lists them.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "bp",
        name: "Backpropagation",
        summary: "Exact gradients by reverse-mode autodiff: the baseline.",
        learning_rate: 1e-3,
        build: |_, _| Box::new(Backprop),
    },
    RuleInfo {
        id: "fa",
        name: "Feedback alignment",
        summary: "The error travels back through fixed random weights (Lillicrap et al. 2016).",
        learning_rate: 1e-3,
        build: |seed, model| Box::new(FeedbackRule::new(FixedRandomFeedback::new(seed, model))),
    },
    RuleInfo {
        id: "dfa",
        name: "Direct feedback alignment",
        summary: "The output error reaches every hidden layer directly through fixed random matrices (Nøkland 2016).",
        learning_rate: 1e-3,
        build: |seed, model| Box::new(DirectFeedbackAlignment::new(seed, model)),
    },
    RuleInfo {
        id: "usf",
        name: "Sign symmetry (uniform)",
        summary: "Feedback through sign(W), scaled to W's RMS (Liao et al. 2016).",
        learning_rate: 1e-3,
        build: |seed, model| {
            Box::new(FeedbackRule::new(SignSymmetry::new(
                SignVariant::Uniform,
                seed,
                model,
            )))
        },
    },
    RuleInfo {
        id: "brsf",
        name: "Sign symmetry (batchwise random magnitudes)",
        summary: "Feedback through |M|∘sign(W), M redrawn every batch.",
        learning_rate: 1e-3,
        build: |seed, model| {
            Box::new(FeedbackRule::new(SignSymmetry::new(
                SignVariant::BatchwiseRandom,
                seed,
                model,
            )))
        },
    },
    RuleInfo {
        id: "frsf",
        name: "Sign symmetry (fixed random magnitudes)",
        summary: "Feedback through |M|∘sign(W), M drawn once.",
        learning_rate: 1e-3,
        build: |seed, model| {
            Box::new(FeedbackRule::new(SignSymmetry::new(
                SignVariant::FixedRandom,
                seed,
                model,
            )))
        },
    },
    RuleInfo {
        id: "kp",
        name: "Kolen-Pollack",
        summary: "Feedback weights get W's updates and decay, so they converge to W (Akrout et al. 2019).",
        learning_rate: 1e-3,
        build: |seed, model| Box::new(FeedbackRule::new(KolenPollack::new(seed, model))),
    },
    RuleInfo {
        id: "hebbian",
        name: "Hebbian (competing units)",
        summary: "Hidden layers learn without labels for one epoch by competitive Hebbian plasticity (Krotov & Hopfield 2019; SoftHebb's soft winner-take-all is a config option); then only the readout learns, from the labels. fc1's thresholds follow each unit's mean input (homeostasis). Reference runs use 20 epochs.",
        learning_rate: 1e-3,
        build: |_, _| Box::new(Hebbian::new(HebbianConfig::new())),
    },
    RuleInfo {
        id: "pc",
        name: "Predictive coding",
        summary: "Layers predict each other; errors relax for 20 steps, then each layer learns from its own error (Whittington & Bogacz 2017).",
        learning_rate: 1e-3,
        build: |_, _| Box::new(PredictiveCoding::new(PredictiveCodingConfig::new())),
    },
    RuleInfo {
        id: "ff",
        name: "Forward-forward",
        summary: "No backward pass: each layer raises its activity for images with the right label embedded and lowers it for a wrong one (Hinton 2022). Reference runs use 16 epochs.",
        learning_rate: 2e-4,
        build: |seed, _| Box::new(ForwardForward::new(ForwardForwardConfig::new(), seed)),
    },
];

/// The registry entry of the rule named `id`, or a config error listing the known ids.
pub fn rule_info(id: &str) -> Result<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id).ok_or_else(|| {
        let known: Vec<_> = RULES.iter().map(|r| r.id).collect();
        LabError::Config(format!(
            "unknown learning rule '{id}' (known: {})",
            known.join(", ")
        ))
    })
}

/// The learning rate a run of rule `id` uses: the user's `chosen` one if given, else the rule's
/// own default.
pub fn learning_rate_for(id: &str, chosen: Option<f64>) -> Result<f64> {
    match chosen {
        Some(lr) => Ok(lr),
        None => Ok(rule_info(id)?.learning_rate),
    }
}

/// Builds the rule named `id` for `model`, seeding any random state it draws from `seed`.
pub fn build_rule(id: &str, seed: u64, model: &SeedNet) -> Result<Box<dyn LearningRule>> {
    rule_info(id).map(|r| (r.build)(seed, model))
}

/// The seed network's training loss: mean negative log-likelihood of the true class.
pub fn nll_loss(log_probs: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let picked = log_probs.gather(1, labels.unsqueeze_dim::<2>(1)); // [B, 10] → [B, 1]
    picked.neg().mean() // [B, 1] → [1]
}
