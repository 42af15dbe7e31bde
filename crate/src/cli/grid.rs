//! `microlearning grid`: every combination of rule × task (× front end, once they exist) for N
//! seeds, one results file (`<task>-<rule>-s<seed>.json`, weights beside it as `.bpk`) per run
//! plus a summary with mean ± sd. Each finished run is written
//! at once, so an interrupted grid loses at most one run, and `--reuse` picks up where it stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::output::write_atomically;
use super::recipe::RecipeArgs;
use super::train::train_with_progress;
use crate::data::{DataSplit, Task};
use crate::error::{LabError, Result};
use crate::frontends::{FRONT_ENDS, FrontEndKind};
use crate::model::weights_to_bytes;
use crate::results::RunResults;
use crate::rules::{RULES, rule_info};
use crate::training::{LAYERS, TrainConfig, limit_data};

/// Arguments of `microlearning grid`.
#[derive(Debug, clap::Args)]
pub struct GridArgs {
    /// Comma-separated rule ids, or "all".
    #[arg(long, default_value = "all")]
    pub rules: String,
    /// Comma-separated front ends (learned, gabor, dog, random), or "all".
    #[arg(long, default_value = "learned")]
    pub front_ends: String,
    /// Comma-separated tasks (mnist, fashion).
    #[arg(long, default_value = "mnist")]
    pub tasks: String,
    /// Comma-separated seeds.
    #[arg(long, default_value = "0,1,2")]
    pub seeds: String,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Folder for the per-run results files and `grid.json`.
    #[arg(long, default_value = "runs/grid")]
    pub out_dir: PathBuf,
    /// Reuse runs already in --out-dir whose config matches, instead of training them again.
    #[arg(long)]
    pub reuse: bool,
}

/// One cell of the grid: a configuration over seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridCell {
    pub task: String,
    pub front_end: String,
    pub rule: String,
    pub seeds: Vec<u64>,
    /// Final test accuracy of each seed, in `seeds` order.
    pub accuracies: Vec<f64>,
    pub mean_accuracy: f64,
    /// Sample standard deviation (n − 1); 0 for one seed.
    pub sd_accuracy: f64,
    /// Per layer, the last epoch's mean update–BP angle, averaged over seeds.
    pub final_update_bp_angle_deg: Vec<(String, Option<f64>)>,
    /// The per-run results files.
    pub runs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridSummary {
    pub kind: String,
    pub created_by: String,
    pub command: String,
    pub cells: Vec<GridCell>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let sd = if xs.len() > 1 {
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

fn reusable(path: &Path, config: &TrainConfig) -> Option<RunResults> {
    let text = std::fs::read_to_string(path).ok()?;
    let results = RunResults::from_json(&text).ok()?;
    let complete = results.config == *config
        && results.epochs.len() == config.epochs
        && path.with_extension("bpk").exists();
    complete.then_some(results)
}

pub fn run_grid(args: &GridArgs) -> Result<GridSummary> {
    let rules: Vec<String> = if args.rules == "all" {
        RULES.iter().map(|r| r.id.to_string()).collect()
    } else {
        split_list(&args.rules)
    };
    let tasks = split_list(&args.tasks)
        .iter()
        .map(|t| Task::from_id(t).ok_or_else(|| LabError::Config(format!("unknown task '{t}'"))))
        .collect::<Result<Vec<_>>>()?;
    let seeds = split_list(&args.seeds)
        .iter()
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| LabError::Config(format!("bad seed '{s}'")))
        })
        .collect::<Result<Vec<_>>>()?;
    if rules.is_empty() || tasks.is_empty() || seeds.is_empty() {
        return Err(LabError::Config("the grid is empty".into()));
    }
    for rule in &rules {
        rule_info(rule)?;
    }
    let front_ends: Vec<FrontEndKind> = if args.front_ends == "all" {
        FRONT_ENDS.iter().map(|f| f.kind).collect()
    } else {
        split_list(&args.front_ends)
            .iter()
            .map(|f| {
                FrontEndKind::from_id(f)
                    .ok_or_else(|| LabError::Config(format!("unknown front end '{f}'")))
            })
            .collect::<Result<Vec<_>>>()?
    };
    let total = rules.len() * tasks.len() * seeds.len() * front_ends.len();
    let mut cells = Vec::new();
    let mut done = 0;
    for task in &tasks {
        let dir = args.recipe.data_root.join(task.data_subdir());
        let full = DataSplit::load_dir(&dir)?;
        for front_end in &front_ends {
            for rule in &rules {
                let mut cell_runs = Vec::new();
                for &seed in &seeds {
                    done += 1;
                    let config = args.recipe.config(*task, rule, *front_end, seed)?;
                    // The learned front end keeps the shorter name of grids from before front ends.
                    let stem = match front_end {
                        FrontEndKind::Learned => format!("{}-{}-s{}", task.id(), rule, seed),
                        f => format!("{}-{}-{}-s{}", task.id(), f.id(), rule, seed),
                    };
                    let path = args.out_dir.join(format!("{stem}.json"));
                    let results = match args.reuse.then(|| reusable(&path, &config)).flatten() {
                        Some(r) => {
                            eprintln!(
                                "[{done}/{total}] {} {} {rule} seed {seed}: reused {}",
                                task.id(),
                                front_end.id(),
                                path.display()
                            );
                            r
                        }
                        None => {
                            eprintln!(
                                "[{done}/{total}] {} {} {rule} seed {seed}",
                                task.id(),
                                front_end.id()
                            );
                            let data = Arc::new(limit_data(&full, &config));
                            let bar = ProgressBar::new(0);
                            let (r, trainer) = train_with_progress(
                                &config,
                                data,
                                &dir.display().to_string(),
                                &bar,
                            )?;
                            // Weights first: a results file always has its weights beside it.
                            write_atomically(
                                &path.with_extension("bpk"),
                                &weights_to_bytes(trainer.model())?,
                            )?;
                            write_atomically(&path, r.to_json()?.as_bytes())?;
                            r
                        }
                    };
                    eprintln!(
                        "    final test accuracy {:.2}%",
                        100.0 * results.final_test_accuracy
                    );
                    cell_runs.push((seed, path, results));
                }
                cells.push(summarise(task.id(), front_end.id(), rule, &cell_runs));
            }
        }
    }
    let summary = GridSummary {
        kind: "microlearning grid".into(),
        created_by: format!("microlearning {}", env!("CARGO_PKG_VERSION")),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        cells,
    };
    let json =
        serde_json::to_string_pretty(&summary).map_err(|e| LabError::Results(e.to_string()))?;
    let out = args.out_dir.join("grid.json");
    write_atomically(&out, json.as_bytes())?;
    println!("{}", format_table(&summary));
    eprintln!("grid summary written to {}", out.display());
    Ok(summary)
}

fn summarise(
    task: &str,
    front_end: &str,
    rule: &str,
    runs: &[(u64, PathBuf, RunResults)],
) -> GridCell {
    let accuracies: Vec<f64> = runs.iter().map(|(_, _, r)| r.final_test_accuracy).collect();
    let (mean, sd) = mean_sd(&accuracies);
    let final_update_bp_angle_deg = LAYERS
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let angles: Vec<f64> = runs
                .iter()
                .filter_map(|(_, _, r)| {
                    r.epochs
                        .last()?
                        .diagnostics
                        .mean
                        .get(i)?
                        .update_bp_angle_deg
                })
                .collect();
            (
                layer.to_string(),
                (!angles.is_empty()).then(|| mean_sd(&angles).0),
            )
        })
        .collect();
    GridCell {
        task: task.into(),
        front_end: front_end.into(),
        rule: rule.into(),
        seeds: runs.iter().map(|(s, _, _)| *s).collect(),
        accuracies,
        mean_accuracy: mean,
        sd_accuracy: sd,
        final_update_bp_angle_deg,
        runs: runs
            .iter()
            .map(|(_, p, _)| p.display().to_string())
            .collect(),
    }
}

/// The summary as a Markdown table: accuracy mean ± sd and last-epoch update–BP angles.
pub fn format_table(summary: &GridSummary) -> String {
    let mut out = String::from(
        "| task | front end | rule | seeds | test accuracy % (mean ± sd) | per seed | update–BP angle, last epoch (conv1 / conv2 / fc1 / fc2) |\n|---|---|---|---|---|---|---|\n",
    );
    for c in &summary.cells {
        let per_seed: Vec<String> = c
            .accuracies
            .iter()
            .map(|a| format!("{:.2}", 100.0 * a))
            .collect();
        let angles: Vec<String> = c
            .final_update_bp_angle_deg
            .iter()
            .map(|(_, a)| a.map_or("–".into(), |a| format!("{a:.1}°")))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} ± {:.2} | {} | {} |\n",
            c.task,
            c.front_end,
            c.rule,
            c.seeds.len(),
            100.0 * c.mean_accuracy,
            100.0 * c.sd_accuracy,
            per_seed.join(", "),
            angles.join(" / ")
        ));
    }
    out
}
