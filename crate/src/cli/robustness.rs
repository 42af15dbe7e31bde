//! `microlearning robustness`: test accuracy of trained models under Gaussian pixel noise and
//! contrast reduction, as a table and a JSON file per model.

use std::path::PathBuf;

use super::output::write_atomically;
use super::runs::{load_trained_run, run_name};
use crate::data::DataSplit;
use crate::error::{LabError, Result};
use crate::training::{Degradation, RobustnessPoint, robustness};

#[derive(Debug, clap::Args)]
pub struct RobustnessArgs {
    /// Results files of trained runs, each with its weights beside it (`.bpk`).
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Seed of the pixel noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "data", env = "MICROLEARNING_DATA")]
    pub data_root: PathBuf,
}

fn label(d: &Degradation) -> String {
    match d {
        Degradation::GaussianNoise { sigma } => format!("noise σ={sigma}"),
        Degradation::Contrast { factor } => format!("contrast ×{factor}"),
    }
}

pub fn run_robustness(args: &RobustnessArgs) -> Result<()> {
    let device = crate::cli::device::current();
    let mut rows: Vec<(String, Vec<RobustnessPoint>)> = Vec::new();
    for path in &args.runs {
        let (results, model) = load_trained_run(path, &device)?;
        let data = DataSplit::load_task(&args.data_root, results.config.task)?;
        let test = match results.config.test_limit {
            Some(n) => data.test.balanced_subset(n),
            None => data.test,
        };
        eprintln!("evaluating {}", path.display());
        let points = crate::block_on(robustness(&model, &test, args.seed, &device, |_, _| ()))?;
        let out = path.with_extension("robustness.json");
        let json =
            serde_json::to_string_pretty(&points).map_err(|e| LabError::Results(e.to_string()))?;
        write_atomically(&out, json.as_bytes())?;
        let name = run_name(path);
        rows.push((name, points));
    }
    let Some((_, first)) = rows.first() else {
        return Ok(());
    };
    let mut table = String::from("| model |");
    for p in first {
        table.push_str(&format!(" {} |", label(&p.degradation)));
    }
    table.push_str(&format!("\n|---|{}\n", "---|".repeat(first.len())));
    for (name, points) in &rows {
        table.push_str(&format!("| {name} |"));
        for p in points {
            table.push_str(&format!(" {:.2} |", 100.0 * p.accuracy));
        }
        table.push('\n');
    }
    println!("test accuracy (%) under degradation\n{table}");
    Ok(())
}
