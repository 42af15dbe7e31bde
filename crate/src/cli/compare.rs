//! `microlearning compare`: representational similarity between trained models, layer by layer,
//! on one seeded probe set. Prints the matrices and writes them as JSON and CSV.

use std::path::PathBuf;

use serde::Serialize;

use super::output::write_atomically;
use super::runs::{load_trained_run, run_name};
use crate::analysis::probe::{DEFAULT_PROBE_SIZE, probe_indices};
use crate::analysis::rdm::Dissimilarity;
use crate::analysis::{
    CAPTURED_LAYERS, Comparison, ComparisonOptions, LayerCapture, ProbeInfo, SquareMatrix,
    capture_layers, compare,
};
use crate::data::DataSplit;
use crate::error::{LabError, Result};

/// Arguments of `microlearning compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Results files of trained runs; each needs its weights beside it (same name, `.bpk`), as
    /// `grid` writes them and `train --out X.json --weights X.bpk` does.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Layer to compare across models (conv1, conv2, pool, fc1, logits) or "all".
    #[arg(long, default_value = "all")]
    pub layer: String,
    /// Probe images (class-balanced, from the test split).
    #[arg(long, default_value_t = DEFAULT_PROBE_SIZE)]
    pub probe_size: usize,
    /// Seed that picks the probe images.
    #[arg(long, default_value_t = 0)]
    pub probe_seed: u64,
    /// RBF CKA bandwidth as a fraction of the median pairwise distance.
    #[arg(long, default_value_t = 0.5)]
    pub rbf_fraction: f64,
    /// RDM dissimilarity: correlation (1 − Pearson r) or euclidean.
    #[arg(long, default_value = "correlation")]
    pub rdm: String,
    #[arg(long, default_value = "data", env = "MICROLEARNING_DATA")]
    pub data_root: PathBuf,
    /// Where the JSON and CSV files go.
    #[arg(long, default_value = "runs/compare")]
    pub out_dir: PathBuf,
}

/// What `compare.json` holds: the library's comparison and where it came from.
#[derive(Debug, Serialize)]
struct CompareFile {
    kind: String,
    created_by: String,
    #[serde(flatten)]
    comparison: Comparison,
}

fn format_matrix(title: &str, m: &SquareMatrix, names: &[String]) -> String {
    let width = names.iter().map(|n| n.len()).max().unwrap_or(4).max(6);
    let mut out = format!("{title}\n{:width$}", "");
    for n in names {
        out.push_str(&format!(" {:>width$}", n));
    }
    out.push('\n');
    for (i, row) in m.rows().enumerate() {
        out.push_str(&format!("{:width$}", names[i]));
        for v in row {
            out.push_str(&format!(" {:>width$.3}", v));
        }
        out.push('\n');
    }
    out
}

pub fn run_compare(args: &CompareArgs) -> Result<()> {
    let kind = Dissimilarity::from_id(&args.rdm).ok_or_else(|| {
        LabError::Config(format!(
            "unknown RDM measure '{}' (correlation, euclidean)",
            args.rdm
        ))
    })?;
    let layers: Vec<usize> = if args.layer == "all" {
        (0..CAPTURED_LAYERS.len()).collect()
    } else {
        vec![
            CAPTURED_LAYERS
                .iter()
                .position(|l| *l == args.layer)
                .ok_or_else(|| {
                    LabError::Config(format!(
                        "unknown layer '{}' ({})",
                        args.layer,
                        CAPTURED_LAYERS.join(", ")
                    ))
                })?,
        ]
    };
    let device = crate::cli::device::current();
    let mut task = None;
    let mut names = Vec::new();
    let mut models = Vec::new();
    for path in &args.runs {
        let (results, model) = load_trained_run(path, &device)?;
        if *task.get_or_insert(results.config.task) != results.config.task {
            return Err(LabError::Config(
                "all compared runs must share one task".into(),
            ));
        }
        models.push(model);
        names.push(run_name(path));
    }
    let task = task.ok_or_else(|| LabError::Config("no runs given".into()))?;
    let data = DataSplit::load_task(&args.data_root, task)?;
    let indices = probe_indices(&data.test, args.probe_size, args.probe_seed);
    eprintln!(
        "probe: {} {} test images (seed {})",
        indices.len(),
        task.id(),
        args.probe_seed
    );

    let mut captures: Vec<Vec<LayerCapture>> = Vec::new();
    for (name, model) in names.iter().zip(&models) {
        eprintln!("capturing {name}");
        captures.push(crate::block_on(capture_layers(
            model, &data.test, &indices, &device,
        ))?);
    }
    let probe = ProbeInfo::new(task, args.probe_seed, indices, &data.test);
    let options = ComparisonOptions {
        rdm: kind,
        rbf_fraction: args.rbf_fraction,
        layers,
    };
    let named: Vec<(String, &[LayerCapture])> = names
        .iter()
        .cloned()
        .zip(captures.iter().map(|c| c.as_slice()))
        .collect();
    let comparison = compare(&named, probe, &options)?;
    for layer in &comparison.layers {
        let name = &layer.layer;
        for (title, m) in [
            (format!("linear CKA, {name}"), &layer.linear_cka),
            (format!("debiased CKA, {name}"), &layer.debiased_cka),
            (
                format!("RSA Spearman ρ ({} RDMs), {name}", args.rdm),
                &layer.rsa_spearman,
            ),
        ] {
            println!("{}", format_matrix(&title, m, &names));
        }
        for (metric, m) in [
            ("linear_cka", &layer.linear_cka),
            ("debiased_cka", &layer.debiased_cka),
            ("rbf_cka", &layer.rbf_cka),
            ("rsa_spearman", &layer.rsa_spearman),
            ("rsa_kendall_tau_a", &layer.rsa_kendall_tau_a),
            ("rsa_cosine", &layer.rsa_cosine),
        ] {
            let path = args.out_dir.join(format!("{metric}_{name}.csv"));
            write_atomically(&path, m.to_csv(Some(&names)).as_bytes())?;
        }
    }
    if let Some(m) = &comparison.layer_by_layer {
        let layer_names: Vec<String> = comparison.layers.iter().map(|l| l.layer.clone()).collect();
        println!(
            "{}",
            format_matrix(
                &format!(
                    "layer × layer linear CKA: {} (rows) vs {} (columns)",
                    names[0],
                    names[names.len() - 1]
                ),
                m,
                &layer_names
            )
        );
        write_atomically(
            &args.out_dir.join("layer_by_layer_cka.csv"),
            m.to_csv(Some(&layer_names)).as_bytes(),
        )?;
    }
    let file = CompareFile {
        kind: "microlearning compare".into(),
        created_by: format!("microlearning {}", env!("CARGO_PKG_VERSION")),
        comparison,
    };
    let json = serde_json::to_string(&file).map_err(|e| LabError::Results(e.to_string()))?;
    let out = args.out_dir.join("compare.json");
    write_atomically(&out, json.as_bytes())?;
    eprintln!("written: {} and CSV files beside it", out.display());
    Ok(())
}
