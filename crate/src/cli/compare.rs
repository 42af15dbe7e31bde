//! `microlearning compare`: representational similarity between trained models, layer by layer,
//! on one seeded probe set. Prints the matrices and writes them as JSON and CSV.

use std::path::PathBuf;

use burn::prelude::*;
use serde::Serialize;

use super::output::write_atomically;
use super::runs::{load_trained_run, run_name};
use crate::analysis::cka::{debiased_cka, linear_cka, rbf_cka};
use crate::analysis::pca::{Projection, pca_from_gram};
use crate::analysis::probe::{DEFAULT_PROBE_SIZE, probe_indices};
use crate::analysis::rdm::{Dissimilarity, rdm};
use crate::analysis::rsa::{cosine, kendall_tau_a, spearman};
use crate::analysis::{CAPTURED_LAYERS, LayerCapture, SquareMatrix, capture_layers};
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

#[derive(Debug, Serialize)]
struct ProbeInfo {
    task: String,
    size: usize,
    seed: u64,
    /// Test-set indices of the probe images, class by class.
    indices: Vec<usize>,
    labels: Vec<u8>,
}

#[derive(Debug, Serialize)]
struct LayerComparison {
    layer: String,
    linear_cka: SquareMatrix,
    debiased_cka: SquareMatrix,
    rbf_cka: SquareMatrix,
    /// RSA between the models' image-by-image RDMs.
    rsa_spearman: SquareMatrix,
    rsa_kendall_tau_a: SquareMatrix,
    rsa_cosine: SquareMatrix,
    /// Each model's 10 × 10 class-mean RDM.
    class_rdms: Vec<SquareMatrix>,
}

#[derive(Debug, Serialize)]
struct Comparison {
    kind: String,
    created_by: String,
    models: Vec<String>,
    rdm: String,
    rbf_fraction: f64,
    probe: ProbeInfo,
    layers: Vec<LayerComparison>,
    /// Layer × layer linear CKA between the first two models (rows: the first model's layers).
    layer_by_layer: Option<SquareMatrix>,
    /// 2-D PCA of the first model's representation, per compared layer.
    pca: Vec<(String, Projection)>,
}

fn pairwise(n: usize, f: impl Fn(usize, usize) -> f64) -> SquareMatrix {
    SquareMatrix::from_fn(n, |i, j| if i <= j { f(i, j) } else { f(j, i) })
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
    let device = Device::flex();
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
    let n = models.len();
    let mut comparisons = Vec::new();
    let mut pca = Vec::new();
    for &l in &layers {
        let layer = CAPTURED_LAYERS[l].to_string();
        let caps: Vec<&LayerCapture> = captures.iter().map(|c| &c[l]).collect();
        let rdms: Vec<Vec<f64>> = caps
            .iter()
            .map(|c| rdm(kind, &c.gram, &c.correlation).upper_triangle())
            .collect();
        let comparison = LayerComparison {
            linear_cka: pairwise(n, |i, j| linear_cka(&caps[i].gram, &caps[j].gram)),
            debiased_cka: pairwise(n, |i, j| debiased_cka(&caps[i].gram, &caps[j].gram)),
            rbf_cka: pairwise(n, |i, j| {
                rbf_cka(&caps[i].gram, &caps[j].gram, args.rbf_fraction)
            }),
            rsa_spearman: pairwise(n, |i, j| spearman(&rdms[i], &rdms[j])),
            rsa_kendall_tau_a: pairwise(n, |i, j| kendall_tau_a(&rdms[i], &rdms[j])),
            rsa_cosine: pairwise(n, |i, j| cosine(&rdms[i], &rdms[j])),
            class_rdms: caps
                .iter()
                .map(|c| rdm(kind, &c.class_gram, &c.class_correlation))
                .collect(),
            layer: layer.clone(),
        };
        println!(
            "{}",
            format_matrix(
                &format!("linear CKA, {layer}"),
                &comparison.linear_cka,
                &names
            )
        );
        println!(
            "{}",
            format_matrix(
                &format!("debiased CKA, {layer}"),
                &comparison.debiased_cka,
                &names
            )
        );
        println!(
            "{}",
            format_matrix(
                &format!("RSA Spearman ρ ({} RDMs), {layer}", args.rdm),
                &comparison.rsa_spearman,
                &names
            )
        );
        for (metric, m) in [
            ("linear_cka", &comparison.linear_cka),
            ("debiased_cka", &comparison.debiased_cka),
            ("rbf_cka", &comparison.rbf_cka),
            ("rsa_spearman", &comparison.rsa_spearman),
            ("rsa_kendall_tau_a", &comparison.rsa_kendall_tau_a),
            ("rsa_cosine", &comparison.rsa_cosine),
        ] {
            let path = args.out_dir.join(format!("{metric}_{layer}.csv"));
            write_atomically(&path, m.to_csv(Some(&names)).as_bytes())?;
        }
        pca.push((layer.clone(), pca_from_gram(&caps[0].gram, 2)));
        comparisons.push(comparison);
    }
    let layer_by_layer = (n >= 2).then(|| {
        let k = CAPTURED_LAYERS.len();
        SquareMatrix::from_fn(k, |a, b| {
            linear_cka(&captures[0][a].gram, &captures[1][b].gram)
        })
    });
    if let Some(m) = &layer_by_layer {
        let layer_names: Vec<String> = CAPTURED_LAYERS.iter().map(|s| s.to_string()).collect();
        println!(
            "{}",
            format_matrix(
                &format!(
                    "layer × layer linear CKA: {} (rows) vs {} (columns)",
                    names[0], names[1]
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
    let comparison = Comparison {
        kind: "microlearning compare".into(),
        created_by: format!("microlearning {}", env!("CARGO_PKG_VERSION")),
        models: names,
        rdm: args.rdm.clone(),
        rbf_fraction: args.rbf_fraction,
        probe: ProbeInfo {
            task: task.id().into(),
            size: indices.len(),
            seed: args.probe_seed,
            labels: indices.iter().map(|&i| data.test.labels()[i]).collect(),
            indices,
        },
        layers: comparisons,
        layer_by_layer,
        pca,
    };
    let json = serde_json::to_string(&comparison).map_err(|e| LabError::Results(e.to_string()))?;
    let out = args.out_dir.join("compare.json");
    write_atomically(&out, json.as_bytes())?;
    eprintln!("written: {} and CSV files beside it", out.display());
    Ok(())
}
