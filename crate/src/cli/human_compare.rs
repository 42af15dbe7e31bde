//! `microlearning human-compare`: people and models on the same stimuli. Reads human trial
//! files exported by the page (CSV or JSON) into one group data set, runs every given trained
//! model on exactly the stimuli the people saw, and prints the comparison: accuracy per
//! condition, error consistency κ model–human and human–human, the models ranked by
//! human-likeness. Optionally writes the report as JSON and all trials (people and models) as
//! one CSV.

use std::path::{Path, PathBuf};

use super::output::write_atomically;
use super::runs::{load_trained_run, run_name};
use crate::data::DataSplit;
use crate::error::{LabError, Result};
use crate::human::{
    GroupData, ImportOutcome, ModelIdentity, ObserverKind, compare, format_report, model_trials,
    to_csv,
};

#[derive(Debug, clap::Args)]
pub struct HumanCompareArgs {
    /// Human trial files exported by the page (`.csv`, or the `.json` session export), and
    /// results files of trained runs (`.json` with the weights beside them as `.bpk`).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write every trial, people's and models', as one CSV here.
    #[arg(long)]
    pub trials_out: Option<PathBuf>,
    #[arg(long, default_value = "data", env = "MICROLEARNING_DATA")]
    pub data_root: PathBuf,
}

/// A `.json` file is a results file if it has a `schema_version`; otherwise a session export.
fn is_results_file(path: &Path, text: &str) -> bool {
    path.extension().is_some_and(|e| e == "json")
        && serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .is_some_and(|v| v.get("schema_version").is_some())
}

pub fn run_human_compare(args: &HumanCompareArgs) -> Result<()> {
    let device = crate::cli::device::current();
    let mut group = GroupData::new();
    let mut runs = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path).map_err(|e| LabError::io(path, e))?;
        if is_results_file(path, &text) {
            runs.push(path.clone());
            continue;
        }
        match group.import(&path.display().to_string(), &text) {
            ImportOutcome::Added {
                sessions, trials, ..
            } => eprintln!(
                "{}: {trials} trials, session(s) {}",
                path.display(),
                sessions.join(", ")
            ),
            ImportOutcome::Skipped { reason, .. } => eprintln!("skipped: {reason}"),
        }
    }
    let humans: Vec<_> = group
        .trials()
        .iter()
        .filter(|t| t.observer_kind == ObserverKind::Human)
        .cloned()
        .collect();
    if humans.is_empty() {
        return Err(LabError::Config(
            "no human trials were imported: give the page's exported .csv or .json files".into(),
        ));
    }
    let tasks: std::collections::BTreeSet<&str> = humans.iter().map(|t| t.task.as_str()).collect();
    if tasks.len() > 1 {
        return Err(LabError::Config(format!(
            "the human files mix data sets ({}); compare one data set at a time",
            tasks.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut names = std::collections::BTreeSet::new();
    for path in &runs {
        if !names.insert(run_name(path)) {
            return Err(LabError::Config(format!(
                "two runs are both called \"{}\" (the file name names a model): rename one",
                run_name(path)
            )));
        }
    }
    let mut all = group.trials().to_vec();
    let mut split: Option<(crate::data::Task, DataSplit)> = None;
    for path in &runs {
        let (results, model) = load_trained_run(path, &device)?;
        let task = results.config.task;
        if split.as_ref().is_none_or(|(t, _)| *t != task) {
            split = Some((task, DataSplit::load_task(&args.data_root, task)?));
        }
        let test = &split
            .as_ref()
            .map(|(_, s)| s)
            .ok_or_else(|| LabError::Config("no data".into()))?
            .test;
        let who = ModelIdentity {
            name: run_name(path),
            rule: Some(results.config.rule.clone()),
            front_end: Some(match results.config.neuronal_noise {
                s if s > 0.0 => format!("{} + noise {s}", results.config.front_end.id()),
                _ => results.config.front_end.id().to_string(),
            }),
        };
        let templates: Vec<_> = humans
            .iter()
            .filter(|t| t.task == task.id())
            .cloned()
            .collect();
        if templates.is_empty() {
            eprintln!(
                "{}: no human trials of task {}; skipped",
                path.display(),
                task.id()
            );
            continue;
        }
        let trials = crate::block_on(model_trials(&model, &who, task, test, &templates, &device))?;
        eprintln!("{}: answered {} stimuli", who.name, trials.len());
        all.extend(trials);
    }
    let report = compare(&all);
    println!("{}", format_report(&report));
    if let Some(out) = &args.out {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| LabError::Results(e.to_string()))?;
        write_atomically(out, json.as_bytes())?;
        eprintln!("report written to {}", out.display());
    }
    if let Some(out) = &args.trials_out {
        write_atomically(out, to_csv(&all)?.as_bytes())?;
        eprintln!("trials written to {}", out.display());
    }
    Ok(())
}
