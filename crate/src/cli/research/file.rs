//! The study file (`study.toml`): the whole research design in one place. Its tasks, front
//! ends, rules and seeds span the runs; the recipe says how each rule trains (the README's
//! reference recipes unless the file says otherwise); the analysis, robustness and people
//! sections say what is measured on the trained models. `docs/study.example.toml` is a
//! commented example.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analysis::CAPTURED_LAYERS;
use crate::analysis::probe::DEFAULT_PROBE_SIZE;
use crate::analysis::rdm::Dissimilarity;
use crate::data::Task;
use crate::error::{LabError, Result};
use crate::frontends::FrontEndKind;
use crate::rules::{learning_rate_for, rule_info};
use crate::training::{CONTRAST_LEVELS, NOISE_LEVELS, OptimizerKind, TrainConfig};

/// A rule's recipe, or the study-wide one: every field the file leaves out comes from the
/// rule's reference recipe, then from `TrainConfig`'s defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeSettings {
    pub optimizer: Option<String>,
    pub learning_rate: Option<f64>,
    pub lr_decay: Option<f64>,
    pub momentum: Option<f64>,
    pub batch_size: Option<usize>,
    pub epochs: Option<usize>,
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
    pub diagnostics_every: Option<usize>,
    pub neuronal_noise: Option<f64>,
    pub max_loss: Option<f32>,
}

impl RecipeSettings {
    /// `self` with `over`'s fields where `over` has them.
    fn overlaid(&self, over: &RecipeSettings) -> RecipeSettings {
        RecipeSettings {
            optimizer: over.optimizer.clone().or_else(|| self.optimizer.clone()),
            learning_rate: over.learning_rate.or(self.learning_rate),
            lr_decay: over.lr_decay.or(self.lr_decay),
            momentum: over.momentum.or(self.momentum),
            batch_size: over.batch_size.or(self.batch_size),
            epochs: over.epochs.or(self.epochs),
            train_limit: over.train_limit.or(self.train_limit),
            test_limit: over.test_limit.or(self.test_limit),
            diagnostics_every: over.diagnostics_every.or(self.diagnostics_every),
            neuronal_noise: over.neuronal_noise.or(self.neuronal_noise),
            max_loss: over.max_loss.or(self.max_loss),
        }
    }
}

/// The README's reference recipes ("Reference numbers"): the epochs and learning-rate decay
/// each rule's published figures were measured with.
pub fn reference_recipe(rule: &str) -> RecipeSettings {
    let (epochs, lr_decay) = match rule {
        "bp" | "pc" => (3, 0.7),
        "hebbian" => (20, 1.0),
        "ff" => (16, 1.0),
        _ => (3, 1.0),
    };
    RecipeSettings {
        epochs: Some(epochs),
        lr_decay: Some(lr_decay),
        ..RecipeSettings::default()
    }
}

/// `[recipe]`: every run's settings; `[recipe.by_task.T]`, task T's own over them (a subset
/// of a large training set, say); `[recipe.by_rule.R]`, rule R's own over both. Read through a
/// table (not serde's flatten, which would let a misspelt setting pass unnoticed).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct Recipe {
    pub all: RecipeSettings,
    pub by_task: BTreeMap<String, RecipeSettings>,
    pub by_rule: BTreeMap<String, RecipeSettings>,
}

impl TryFrom<toml::Table> for Recipe {
    type Error = String;

    fn try_from(mut table: toml::Table) -> std::result::Result<Self, String> {
        let mut section = |name: &str| match table.remove(name) {
            Some(v) => v.try_into().map_err(|e| format!("recipe.{name}: {e}")),
            None => Ok(BTreeMap::new()),
        };
        let by_task = section("by_task")?;
        let by_rule = section("by_rule")?;
        let all = toml::Value::Table(table)
            .try_into()
            .map_err(|e| format!("recipe: {e}"))?;
        Ok(Recipe {
            all,
            by_task,
            by_rule,
        })
    }
}

/// What the comparisons measure.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Analysis {
    /// Class-balanced probe images from each task's test split.
    pub probe_size: usize,
    pub probe_seed: u64,
    /// Layers compared (conv1, conv2, pool, fc1, logits).
    pub layers: Vec<String>,
    /// CKA kinds in the tables: linear, debiased, rbf (the figures use linear).
    pub cka: Vec<String>,
    /// The RDMs' dissimilarity: correlation or euclidean.
    pub rdm: String,
    /// RBF CKA's bandwidth as a fraction of the median pairwise distance.
    pub rbf_fraction: f64,
    /// Bootstrap resamples (of seeds and probe images) for the test of a rule's CKA with
    /// backprop against backprop's seed-to-seed CKA; 0 skips the test.
    pub bootstrap: usize,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            probe_size: DEFAULT_PROBE_SIZE,
            probe_seed: 0,
            layers: CAPTURED_LAYERS.iter().map(|l| l.to_string()).collect(),
            cka: vec!["linear".into(), "debiased".into(), "rbf".into()],
            rdm: "correlation".into(),
            rbf_fraction: 0.5,
            bootstrap: 200,
        }
    }
}

/// The robustness curves: accuracy under Gaussian pixel noise σ and reduced contrast.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RobustnessSpec {
    pub enabled: bool,
    pub seed: u64,
    pub noise: Vec<f64>,
    /// Contrast factors below 1 (contrast 1 is noise σ = 0).
    pub contrast: Vec<f64>,
}

impl Default for RobustnessSpec {
    fn default() -> Self {
        RobustnessSpec {
            enabled: true,
            seed: 0,
            noise: NOISE_LEVELS.to_vec(),
            contrast: CONTRAST_LEVELS
                .iter()
                .copied()
                .filter(|&c| c < 1.0)
                .collect(),
        }
    }
}

/// Where people's trials come from: files exported by the page or by a collection server
/// (`microlearning study export`), or folders of them (every `.csv` and `.json` inside), and a
/// collection server's database, read directly.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct People {
    pub files: Vec<PathBuf>,
    /// `sqlite://PATH` (a relative PATH is taken from the study file's folder) or
    /// `postgres://…`; `env:NAME` reads the URL from the environment variable NAME, so a
    /// password stays out of the file.
    pub database: Option<String>,
    /// The database's studies to read; none: every study of the task.
    pub studies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyFile {
    pub name: String,
    /// Every unit's output, relative to the study file's folder.
    #[serde(default = "default_out_dir")]
    pub out_dir: PathBuf,
    /// The repository's data folder, relative to the study file's folder.
    #[serde(default = "default_data_root")]
    pub data_root: PathBuf,
    pub tasks: Vec<String>,
    #[serde(default = "default_front_ends")]
    pub front_ends: Vec<String>,
    pub rules: Vec<String>,
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub recipe: Recipe,
    #[serde(default)]
    pub analysis: Analysis,
    #[serde(default)]
    pub robustness: RobustnessSpec,
    #[serde(default)]
    pub people: People,
}

fn default_out_dir() -> PathBuf {
    PathBuf::from("study-out")
}

fn default_data_root() -> PathBuf {
    PathBuf::from("data")
}

fn default_front_ends() -> Vec<String> {
    vec!["learned".into()]
}

/// A checked study: the file's lists parsed, its paths resolved against its folder.
#[derive(Debug, Clone)]
pub struct Study {
    pub file: StudyFile,
    pub tasks: Vec<Task>,
    pub front_ends: Vec<FrontEndKind>,
    pub out_dir: PathBuf,
    pub data_root: PathBuf,
    pub people_files: Vec<PathBuf>,
    /// The collection database's URL, resolved (`env:` read, a relative SQLite path joined).
    pub people_database: Option<String>,
    pub layers: Vec<usize>,
    pub rdm: Dissimilarity,
}

fn config_error(path: &Path, what: impl std::fmt::Display) -> LabError {
    LabError::Config(format!("{}: {what}", path.display()))
}

fn no_duplicates<T: PartialEq + std::fmt::Debug>(path: &Path, what: &str, xs: &[T]) -> Result<()> {
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(config_error(path, format!("{what} lists {x:?} twice")));
        }
    }
    if xs.is_empty() {
        return Err(config_error(path, format!("{what} is empty")));
    }
    Ok(())
}

/// A collection database's URL from the study file: `env:NAME` read from the environment, a
/// relative SQLite path taken from the file's folder. A SQLite file must already exist (opening
/// a missing one would create an empty database and report "no trials").
fn database_url(url: &str, base: &Path, origin: &Path) -> Result<String> {
    let url = match url.strip_prefix("env:") {
        Some(name) => std::env::var(name).map_err(|_| {
            config_error(
                origin,
                format!("people.database: the environment variable {name} is not set"),
            )
        })?,
        None => url.to_string(),
    };
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = base.join(path);
        if !path.is_file() {
            return Err(config_error(
                origin,
                format!("people.database: {} does not exist", path.display()),
            ));
        }
        // SQLite cannot open a path through `..` as sqlx hands it over: give it the real one.
        let path = path.canonicalize().map_err(|e| LabError::io(&path, e))?;
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        return Ok(format!("sqlite://{}{query}", path.display()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(url);
    }
    Err(config_error(
        origin,
        "people.database: give sqlite://PATH, postgres://… or env:NAME",
    ))
}

impl Study {
    /// Whether the study has people to compare the models with.
    pub fn has_people(&self) -> bool {
        !self.people_files.is_empty() || self.people_database.is_some()
    }

    /// Reads and checks `path`; every problem is named with the file.
    pub fn load(path: &Path) -> Result<Study> {
        let text = std::fs::read_to_string(path).map_err(|e| LabError::io(path, e))?;
        let file: StudyFile = toml::from_str(&text).map_err(|e| config_error(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Study::new(file, base, path)
    }

    /// `file` checked, its relative paths taken from `base`; `origin` names it in errors.
    pub fn new(file: StudyFile, base: &Path, origin: &Path) -> Result<Study> {
        no_duplicates(origin, "tasks", &file.tasks)?;
        no_duplicates(origin, "front_ends", &file.front_ends)?;
        no_duplicates(origin, "rules", &file.rules)?;
        no_duplicates(origin, "seeds", &file.seeds)?;
        let tasks = file
            .tasks
            .iter()
            .map(|t| {
                Task::from_id(t).ok_or_else(|| {
                    config_error(origin, format!("unknown task {t:?} (mnist, fashion)"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let front_ends = file
            .front_ends
            .iter()
            .map(|f| {
                FrontEndKind::from_id(f).ok_or_else(|| {
                    config_error(
                        origin,
                        format!("unknown front end {f:?} (learned, gabor, dog, random)"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for rule in file.rules.iter().chain(file.recipe.by_rule.keys()) {
            rule_info(rule).map_err(|e| config_error(origin, e))?;
        }
        for task in file.recipe.by_task.keys() {
            if Task::from_id(task).is_none() {
                return Err(config_error(
                    origin,
                    format!("recipe.by_task: unknown task {task:?} (mnist, fashion)"),
                ));
            }
        }
        let layers = file
            .analysis
            .layers
            .iter()
            .map(|l| {
                CAPTURED_LAYERS.iter().position(|c| c == l).ok_or_else(|| {
                    config_error(
                        origin,
                        format!("unknown layer {l:?} ({})", CAPTURED_LAYERS.join(", ")),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        no_duplicates(origin, "analysis.layers", &layers)?;
        for kind in &file.analysis.cka {
            if !["linear", "debiased", "rbf"].contains(&kind.as_str()) {
                return Err(config_error(
                    origin,
                    format!("unknown CKA kind {kind:?} (linear, debiased, rbf)"),
                ));
            }
        }
        let rdm = Dissimilarity::from_id(&file.analysis.rdm).ok_or_else(|| {
            config_error(
                origin,
                format!(
                    "unknown RDM kind {:?} (correlation, euclidean)",
                    file.analysis.rdm
                ),
            )
        })?;
        if file.analysis.probe_size < 4 {
            return Err(config_error(
                origin,
                "analysis.probe_size: at least 4 images",
            ));
        }
        let r = &file.robustness;
        if r.noise
            .iter()
            .chain(&r.contrast)
            .any(|v| !v.is_finite() || *v < 0.0)
            || r.contrast.iter().any(|&c| c >= 1.0)
        {
            return Err(config_error(
                origin,
                "robustness: noise levels are ≥ 0 and contrast factors in [0, 1)",
            ));
        }
        let mut people_files = Vec::new();
        for entry in &file.people.files {
            let path = base.join(entry);
            if path.is_dir() {
                let mut inside: Vec<PathBuf> = std::fs::read_dir(&path)
                    .map_err(|e| LabError::io(&path, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "csv" || x == "json"))
                    .collect();
                inside.sort();
                people_files.extend(inside);
            } else if path.is_file() {
                people_files.push(path);
            } else {
                return Err(config_error(
                    origin,
                    format!("people.files: {} does not exist", path.display()),
                ));
            }
        }
        let people_database = match &file.people.database {
            Some(url) => Some(database_url(url, base, origin)?),
            None => {
                if !file.people.studies.is_empty() {
                    return Err(config_error(
                        origin,
                        "people.studies names studies but people.database is not set",
                    ));
                }
                None
            }
        };
        let study = Study {
            out_dir: base.join(&file.out_dir),
            people_database,
            data_root: base.join(&file.data_root),
            tasks,
            front_ends,
            people_files,
            layers,
            rdm,
            file,
        };
        // Every run's config must be valid before anything trains.
        for &task in &study.tasks {
            for &front_end in &study.front_ends {
                for rule in &study.file.rules {
                    study.config(task, front_end, rule, study.file.seeds[0])?;
                }
            }
        }
        Ok(study)
    }

    /// The training config of one run: the rule's reference recipe, then the file's recipe for
    /// every run, then its recipe for this task, then its recipe for this rule.
    pub fn config(
        &self,
        task: Task,
        front_end: FrontEndKind,
        rule: &str,
        seed: u64,
    ) -> Result<TrainConfig> {
        let mut settings = reference_recipe(rule).overlaid(&self.file.recipe.all);
        if let Some(own) = self.file.recipe.by_task.get(task.id()) {
            settings = settings.overlaid(own);
        }
        if let Some(own) = self.file.recipe.by_rule.get(rule) {
            settings = settings.overlaid(own);
        }
        let defaults = TrainConfig::new();
        let optimizer = match &settings.optimizer {
            Some(id) => OptimizerKind::from_id(id)
                .ok_or_else(|| LabError::Config(format!("unknown optimizer {id:?} (adam, sgd)")))?,
            None => defaults.optimizer,
        };
        let config = TrainConfig::new()
            .with_task(task)
            .with_rule(rule.to_string())
            .with_front_end(front_end)
            .with_optimizer(optimizer)
            .with_learning_rate(learning_rate_for(rule, settings.learning_rate)?)
            .with_lr_decay(settings.lr_decay.unwrap_or(defaults.lr_decay))
            .with_momentum(settings.momentum.unwrap_or(defaults.momentum))
            .with_batch_size(settings.batch_size.unwrap_or(defaults.batch_size))
            .with_epochs(settings.epochs.unwrap_or(defaults.epochs))
            .with_seed(seed)
            .with_train_limit(settings.train_limit)
            .with_test_limit(settings.test_limit)
            .with_diagnostics_every(
                settings
                    .diagnostics_every
                    .unwrap_or(defaults.diagnostics_every),
            )
            .with_neuronal_noise(match front_end {
                FrontEndKind::Gabor => settings.neuronal_noise.unwrap_or(defaults.neuronal_noise),
                _ => 0.0,
            })
            .with_max_loss(settings.max_loss.unwrap_or(defaults.max_loss));
        config.validate().map_err(|e| {
            LabError::Config(format!("{} {} {rule}: {e}", task.id(), front_end.id()))
        })?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Study> {
        let file: StudyFile = toml::from_str(text).map_err(|e| LabError::Config(e.to_string()))?;
        Study::new(file, Path::new("."), Path::new("study.toml"))
    }

    #[test]
    fn a_rule_recipe_overrides_the_study_recipe_which_overrides_the_reference() {
        let study = parse(
            r#"
            name = "t"
            tasks = ["mnist"]
            rules = ["bp", "ff", "fa"]
            seeds = [0]
            [recipe]
            epochs = 2
            train_limit = 300
            [recipe.by_rule.ff]
            learning_rate = 1e-4
            [recipe.by_task.fashion]
            train_limit = 800
            lr_decay = 0.9
            "#,
        )
        .unwrap();
        let bp = study
            .config(Task::Mnist, FrontEndKind::Learned, "bp", 0)
            .unwrap();
        assert_eq!(
            (bp.epochs, bp.lr_decay, bp.train_limit),
            (2, 0.7, Some(300))
        );
        let ff = study
            .config(Task::Mnist, FrontEndKind::Learned, "ff", 0)
            .unwrap();
        assert_eq!((ff.epochs, ff.learning_rate), (2, 1e-4));
        let fa = study
            .config(Task::Mnist, FrontEndKind::Learned, "fa", 0)
            .unwrap();
        assert_eq!((fa.lr_decay, fa.learning_rate), (1.0, 1e-3));
        let fashion_bp = study
            .config(Task::Fashion, FrontEndKind::Learned, "bp", 0)
            .unwrap();
        assert_eq!(
            (
                fashion_bp.train_limit,
                fashion_bp.lr_decay,
                fashion_bp.epochs
            ),
            (Some(800), 0.9, 2)
        );
        let fashion_ff = study
            .config(Task::Fashion, FrontEndKind::Learned, "ff", 0)
            .unwrap();
        assert_eq!(
            (fashion_ff.train_limit, fashion_ff.learning_rate),
            (Some(800), 1e-4)
        );
    }

    #[test]
    fn mistakes_are_named() {
        let base = "name = \"t\"\ntasks = [\"mnist\"]\nseeds = [0]\n";
        for (text, expected) in [
            (
                format!("{base}rules = [\"bp\", \"bp\"]"),
                "rules lists \"bp\" twice",
            ),
            (format!("{base}rules = [\"backprop\"]"), "backprop"),
            (
                format!("{base}rules = [\"bp\"]\n[recipe]\nepoch = 3"),
                "epoch",
            ),
            (
                format!("{base}rules = [\"bp\"]\n[analysis]\nlayers = [\"fc9\"]"),
                "fc9",
            ),
            (
                format!("{base}rules = [\"bp\"]\n[recipe]\nbatch_size = 0"),
                "batch",
            ),
            (format!("{base}rules = []"), "rules is empty"),
            (
                format!("{base}rules = [\"bp\"]\n[recipe.by_task.cifar]\nepochs = 1"),
                "cifar",
            ),
            (
                format!("{base}rules = [\"bp\"]\n[people]\nstudies = [\"s-1\"]"),
                "people.database is not set",
            ),
            (
                format!("{base}rules = [\"bp\"]\n[people]\ndatabase = \"mysql://x\""),
                "give sqlite://PATH",
            ),
            (
                format!("{base}rules = [\"bp\"]\n[people]\ndatabase = \"sqlite://no/such.db\""),
                "no/such.db does not exist",
            ),
            (
                format!(
                    "{base}rules = [\"bp\"]\n[people]\ndatabase = \"env:MICROLEARNING_TEST_UNSET_URL\""
                ),
                "MICROLEARNING_TEST_UNSET_URL is not set",
            ),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
