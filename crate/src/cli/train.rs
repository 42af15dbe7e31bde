//! `microlearning train`: one training run with a live progress bar, a results JSON and,
//! optionally, the trained weights.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::output::{format_confusion, write_atomically};
use super::recipe::{RecipeArgs, parse_front_end, parse_task};
use crate::data::{DataSplit, Task};
use crate::error::{LabError, Result};
use crate::frontends::FrontEndKind;
use crate::model::weights_to_bytes;
use crate::results::{DataInfo, RunResults};
use crate::training::{TrainConfig, Trainer, limit_data};

/// Arguments of `microlearning train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Data set: mnist (MNIST-10k) or fashion (Fashion-MNIST).
    #[arg(long, default_value = TrainConfig::new().task.id(), value_parser = parse_task)]
    pub task: Task,
    /// Learning rule: bp, fa, dfa, usf, brsf, frsf, kp, hebbian, pc or ff.
    #[arg(long, default_value_t = TrainConfig::new().rule)]
    pub rule: String,
    /// First layer: learned, gabor, dog or random.
    #[arg(long, default_value = TrainConfig::new().front_end.id(), value_parser = parse_front_end)]
    pub front_end: FrontEndKind,
    #[arg(long, default_value_t = TrainConfig::new().seed)]
    pub seed: u64,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Folder holding the four IDX files (train/t10k images/labels, .gz or raw). Defaults to
    /// the task's folder under --data-root. Point it at the original MNIST files to use them.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where to write the results JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to save the trained weights (burnpack).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// No progress bar (for logs).
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `microlearning train`. Returns the results, already written where `--out` asked.
pub fn run_train(args: &TrainArgs) -> Result<RunResults> {
    let config = args
        .recipe
        .config(args.task, &args.rule, args.front_end, args.seed)?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| args.recipe.data_root.join(args.task.data_subdir()));
    let data = Arc::new(limit_data(&DataSplit::load_dir(&dir)?, &config));
    eprintln!(
        "{}: {} train / {} test images from {}",
        args.task.id(),
        data.train.len(),
        data.test.len(),
        dir.display()
    );
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    let (results, trainer) = train_with_progress(&config, data, &dir.display().to_string(), &bar)?;
    eprintln!(
        "\nfinal test accuracy {:.2}%\n{}",
        100.0 * results.final_test_accuracy,
        format_confusion(&results.final_confusion.0, &args.task.class_names())
    );
    if let Some(path) = &args.out {
        write_atomically(path, results.to_json()?.as_bytes())?;
        eprintln!("results written to {}", path.display());
    }
    if let Some(path) = &args.weights {
        write_atomically(path, &weights_to_bytes(trainer.model())?)?;
        eprintln!("weights written to {}", path.display());
    }
    Ok(results)
}

/// Trains one run on the chosen device (`--device`) with `bar` showing progress and a line per
/// epoch. Shared by `train` and `grid`. Returns the results and the trainer (for its weights).
pub fn train_with_progress(
    config: &TrainConfig,
    data: Arc<DataSplit>,
    source: &str,
    bar: &ProgressBar,
) -> Result<(RunResults, Trainer)> {
    let mut trainer = Trainer::new(config.clone(), data.clone(), crate::cli::device::current())?;
    bar.set_length((trainer.batches_per_epoch() * config.epochs) as u64);
    bar.set_position(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} batches  {msg}  {elapsed} < {eta}",
        )
        .map_err(|e| LabError::Config(e.to_string()))?
        .progress_chars("=> "),
    );
    let started = Instant::now();
    let mut images_done = 0usize;
    while !trainer.finished() {
        bar.set_prefix(format!("epoch {}/{}", trainer.epoch() + 1, config.epochs));
        while !trainer.epoch_complete() {
            let t0 = Instant::now();
            let report = crate::block_on(trainer.train_batch())?;
            trainer.add_train_seconds(t0.elapsed().as_secs_f64());
            images_done += report.images;
            let rate = images_done as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {:.4}  {rate:.0} img/s", report.loss));
            bar.inc(1);
        }
        let m = crate::block_on(trainer.finish_epoch())?;
        let mut line = format!(
            "epoch {:>2}: train loss {:.4}  test loss {:.4}  test accuracy {:.2}%  ({:.0} img/s)",
            m.epoch,
            m.train_loss,
            m.test_loss,
            100.0 * m.test_accuracy,
            m.images_per_second
        );
        let angles: Vec<String> = m
            .diagnostics
            .mean
            .iter()
            .filter_map(|l| {
                l.update_bp_angle_deg
                    .map(|a| format!("{} {a:.0}°", l.layer))
            })
            .collect();
        if !angles.is_empty() {
            line.push_str(&format!(
                "\n          update–BP angle: {}",
                angles.join("  ")
            ));
        }
        // suspend() rather than println(): a hidden bar (no terminal) would drop the line.
        bar.suspend(|| eprintln!("{line}"));
    }
    bar.finish_and_clear();
    let results = RunResults::new(
        crate::cli::device::label(),
        config.clone(),
        DataInfo {
            task: config.task.id().into(),
            train_images: data.train.len(),
            test_images: data.test.len(),
            source: source.to_string(),
        },
        trainer.history().to_vec(),
    )?;
    Ok((results, trainer))
}
