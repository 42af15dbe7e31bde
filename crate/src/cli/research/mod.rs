//! `microlearning study run|status|report STUDY.toml`: the research design of a study file,
//! run as units (training runs, robustness curves, comparisons, people comparisons) that each
//! write one output, on one machine or as shards of a cluster job, and merged into one report.
//!
//! - `file.rs`: the study file and each run's recipe.
//! - `plan.rs`: the units, their outputs and inputs, and which shard runs each.
//! - `run.rs`: running a share of the units, resumable, with `.running` / `.failed` markers.
//! - `status.rs`: what is done, running, interrupted, failed or waiting.
//! - `stats.rs`: the test of a rule's CKA with backprop against backprop's seed-to-seed CKA.
//! - `report.rs`, `figures.rs`: the CSV tables, the SVG figures and `index.html`.

mod figures;
mod file;
mod plan;
mod report;
mod run;
mod stats;
mod status;

use std::path::PathBuf;

pub use file::{Study, StudyFile, reference_recipe};
pub use plan::{Shard, UnitKind, plan};
pub use report::write_report;
pub use run::{RunReport, run_study_units};
pub use status::{UnitState, format_status, study_status};

use crate::error::{LabError, Result};

#[derive(Debug, clap::Args)]
pub struct StudyRunArgs {
    /// The study file (see docs/study.example.toml).
    pub study: PathBuf,
    /// Run only shard K of N (`K/N`, 0 ≤ K < N). Without it, a Slurm array task or a
    /// Kubernetes Indexed Job pod runs its own shard (SLURM_ARRAY_TASK_ID/COUNT,
    /// JOB_COMPLETION_INDEX with MICROLEARNING_SHARDS), and anything else runs every unit.
    #[arg(long)]
    pub shard: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct StudyFileArgs {
    pub study: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct StudyReportArgs {
    pub study: PathBuf,
    /// Where the report goes [default: report/ in the study's output folder].
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
}

/// `study run`: fails (exit code 1) if a unit failed, so a scheduler marks the job failed.
pub fn run_study_file(args: &StudyRunArgs) -> Result<()> {
    let study = Study::load(&args.study)?;
    let shard = match &args.shard {
        Some(text) => Some(Shard::parse(text)?),
        None => Shard::from_env(|k| std::env::var(k).ok())?,
    };
    if let Some(s) = shard {
        eprintln!(
            "shard {}/{} of study {:?}",
            s.index, s.count, study.file.name
        );
    }
    let report = run_study_units(&study, shard, &mut |line| eprintln!("{line}"))?;
    eprintln!(
        "{} unit(s) run, {} already done, {} failed, {} waiting for other shards, {} running elsewhere",
        report.ran.len(),
        report.done_before,
        report.failed.len(),
        report.waiting.len(),
        report.taken.len()
    );
    if !report.waiting.is_empty() {
        eprintln!(
            "the waiting units run once their inputs exist: run `study run` again (unsharded) after every shard has finished"
        );
    }
    if let Some((unit, why)) = report.failed.first() {
        return Err(LabError::State(format!(
            "{} unit(s) failed; the first, {unit}: {why}",
            report.failed.len()
        )));
    }
    Ok(())
}

pub fn show_study_status(args: &StudyFileArgs) -> Result<()> {
    let study = Study::load(&args.study)?;
    let units = study_status(&study);
    print!("{}", format_status(&study, &units));
    Ok(())
}

pub fn make_study_report(args: &StudyReportArgs) -> Result<()> {
    let study = Study::load(&args.study)?;
    let index = write_report(&study, args.out_dir.as_deref())?;
    eprintln!("report written: {}", index.display());
    Ok(())
}
