//! `study report`: everything the units wrote, merged into `report/`: tidy CSV tables (one row
//! per run, per epoch, per model pair and layer, per robustness point, per test; pandas and R
//! read them as they are), one SVG file per figure, and a self-contained `index.html` with every
//! figure inlined and a caption that states its numbers. A study still running gets a report of
//! what is done, which says how much is missing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::figures::{Group, Series, Spread, categories, heatmap, lines};
use super::file::Study;
use super::plan::{RunId, UnitKind, plan};
use super::run::{CompareFile, PeopleFile, RobustnessFile};
use crate::cli::grid::mean_sd;
use crate::cli::output::write_atomically;
use crate::error::{LabError, Result};
use crate::results::RunResults;
use crate::training::{Degradation, LAYERS};

/// What the units have written so far.
pub struct Outputs {
    pub runs: Vec<(RunId, RunResults)>,
    pub robustness: Vec<(RunId, RobustnessFile)>,
    pub compares: Vec<CompareFile>,
    pub people: Vec<PeopleFile>,
    pub done: usize,
    pub total: usize,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| LabError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| LabError::Results(format!("{}: {e}", path.display())))
}

pub fn load_outputs(study: &Study) -> Result<Outputs> {
    let units = plan(study, 1);
    let mut out = Outputs {
        runs: Vec::new(),
        robustness: Vec::new(),
        compares: Vec::new(),
        people: Vec::new(),
        done: 0,
        total: units.len(),
    };
    for unit in &units {
        let path = study.out_dir.join(&unit.output);
        if !path.exists() {
            continue;
        }
        out.done += 1;
        match unit.kind {
            UnitKind::Train => {
                let text = std::fs::read_to_string(&path).map_err(|e| LabError::io(&path, e))?;
                let results = RunResults::from_json(&text)
                    .map_err(|e| LabError::Results(format!("{}: {e}", path.display())))?;
                out.runs.push((
                    unit.run
                        .clone()
                        .ok_or_else(|| LabError::State("train unit without a run".into()))?,
                    results,
                ));
            }
            UnitKind::Robustness => out.robustness.push((
                unit.run
                    .clone()
                    .ok_or_else(|| LabError::State("robustness unit without a run".into()))?,
                read_json(&path)?,
            )),
            UnitKind::Compare => out.compares.push(read_json(&path)?),
            UnitKind::People => out.people.push(read_json(&path)?),
        }
    }
    Ok(out)
}

/// CSV text from a header and rows (the csv crate quotes what needs it).
fn csv_text(header: &[&str], rows: &[Vec<String>]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)
        .map_err(|e| LabError::Results(e.to_string()))?;
    for row in rows {
        w.write_record(row)
            .map_err(|e| LabError::Results(e.to_string()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| LabError::Results(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| LabError::Results(e.to_string()))
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// One figure of the report: its file, its title and its caption.
pub struct Figure {
    pub file: String,
    pub title: String,
    pub caption: String,
    pub svg: String,
}

pub struct Report {
    pub tables: Vec<(String, String)>,
    pub figures: Vec<Figure>,
}

fn last_angles(results: &RunResults) -> Vec<Option<f64>> {
    let mean = results.epochs.last().map(|e| &e.diagnostics.mean);
    LAYERS
        .iter()
        .map(|layer| {
            mean.and_then(|m| m.iter().find(|l| l.layer == *layer))
                .and_then(|l| l.update_bp_angle_deg)
        })
        .collect()
}

fn spread(xs: &[f64]) -> Option<Spread> {
    if xs.is_empty() {
        return None;
    }
    let (mean, sd) = mean_sd(xs);
    Some(Spread {
        mean,
        low: mean - sd,
        high: mean + sd,
        points: xs.to_vec(),
    })
}

/// One point per x (keyed by its bits, so equal levels meet): the mean of its values, in order
/// of x. Robustness and psychometric curves average seeds and durations this way.
fn means_by_x(at: &BTreeMap<u64, Vec<f64>>) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = at
        .iter()
        .map(|(x, ys)| (f64::from_bits(*x), ys.iter().sum::<f64>() / ys.len() as f64))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}
fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// Builds every table and figure from `outputs`.
pub fn build_report(study: &Study, o: &Outputs) -> Result<Report> {
    let mut tables = Vec::new();
    let mut figures = Vec::new();
    let rules = &study.file.rules;
    let seeds_n = study.file.seeds.len();

    // Tables: runs, epochs, timings.
    let mut run_rows = Vec::new();
    let mut epoch_rows = Vec::new();
    let mut timing_rows = Vec::new();
    for (id, r) in &o.runs {
        let angles = last_angles(r);
        let mut row = id.columns();
        row.extend([
            id.name(),
            r.epochs.len().to_string(),
            r.final_test_accuracy.to_string(),
            r.epochs
                .last()
                .map_or(String::new(), |e| e.test_loss.to_string()),
        ]);
        row.extend(angles.iter().map(|a| opt(*a)));
        run_rows.push(row);
        for e in &r.epochs {
            let mut row = id.columns();
            row.extend([
                e.epoch.to_string(),
                e.train_loss.to_string(),
                e.test_loss.to_string(),
                e.test_accuracy.to_string(),
            ]);
            row.extend(LAYERS.iter().map(|layer| {
                opt(e
                    .diagnostics
                    .mean
                    .iter()
                    .find(|l| l.layer == *layer)
                    .and_then(|l| l.update_bp_angle_deg))
            }));
            row.extend(LAYERS.iter().map(|layer| {
                opt(e
                    .diagnostics
                    .mean
                    .iter()
                    .find(|l| l.layer == *layer)
                    .and_then(|l| l.feedback_angle_deg))
            }));
            epoch_rows.push(row);
            let mut timing = id.columns();
            timing.extend([
                e.epoch.to_string(),
                e.train_seconds.to_string(),
                e.images_per_second.to_string(),
            ]);
            timing_rows.push(timing);
        }
    }
    let mut header = vec![
        "task",
        "front_end",
        "rule",
        "seed",
        "model",
        "epochs",
        "test_accuracy",
        "test_loss",
    ];
    let angle_cols: Vec<String> = LAYERS
        .iter()
        .map(|l| format!("update_bp_angle_deg_{l}"))
        .collect();
    let feedback_cols: Vec<String> = LAYERS
        .iter()
        .map(|l| format!("feedback_angle_deg_{l}"))
        .collect();
    header.extend(angle_cols.iter().map(String::as_str));
    tables.push(("runs.csv".into(), csv_text(&header, &run_rows)?));
    let mut header = vec![
        "task",
        "front_end",
        "rule",
        "seed",
        "epoch",
        "train_loss",
        "test_loss",
        "test_accuracy",
    ];
    header.extend(angle_cols.iter().map(String::as_str));
    header.extend(feedback_cols.iter().map(String::as_str));
    tables.push(("epochs.csv".into(), csv_text(&header, &epoch_rows)?));
    tables.push((
        "timings.csv".into(),
        csv_text(
            &[
                "task",
                "front_end",
                "rule",
                "seed",
                "epoch",
                "train_seconds",
                "images_per_second",
            ],
            &timing_rows,
        )?,
    ));

    // Q1: accuracy per rule × front end, mean ± sd over seeds.
    for &task in &study.tasks {
        let mut groups = Vec::new();
        let mut best: Option<(String, f64)> = None;
        let mut worst: Option<(String, f64)> = None;
        for &fe in &study.front_ends {
            let values: Vec<Option<Spread>> = rules
                .iter()
                .map(|rule| {
                    let xs: Vec<f64> = o
                        .runs
                        .iter()
                        .filter(|(id, _)| id.task == task && id.front_end == fe && &id.rule == rule)
                        .map(|(_, r)| 100.0 * r.final_test_accuracy)
                        .collect();
                    let s = spread(&xs)?;
                    let name = format!("{rule} ({})", fe.id());
                    if best.as_ref().is_none_or(|b| s.mean > b.1) {
                        best = Some((name.clone(), s.mean));
                    }
                    if worst.as_ref().is_none_or(|w| s.mean < w.1) {
                        worst = Some((name, s.mean));
                    }
                    Some(s)
                })
                .collect();
            groups.push(Group {
                name: fe.id().to_string(),
                values,
            });
        }
        let Some((best, best_v)) = best else { continue };
        let (worst, worst_v) = worst.unwrap_or((best.clone(), best_v));
        figures.push(Figure {
            file: format!("q1-accuracy-{}.svg", task.id()),
            title: format!("Q1 · test accuracy per rule and front end, {}", task.id()),
            caption: format!(
                "Final test accuracy on {}, mean ± sd over {seeds_n} seed(s) (dots: seeds): highest {best} at {best_v:.2}%, lowest {worst} at {worst_v:.2}%.",
                task.id()
            ),
            svg: categories(&format!("Test accuracy, {}", task.id()), rules, "test accuracy %", None, &groups, None)?,
        });
    }

    // Learning curves and update–BP angles, per task and front end (means over seeds).
    for &task in &study.tasks {
        for &fe in &study.front_ends {
            let of_rule = |rule: &str| -> Vec<&RunResults> {
                o.runs
                    .iter()
                    .filter(|(id, _)| id.task == task && id.front_end == fe && id.rule == rule)
                    .map(|(_, r)| r)
                    .collect()
            };
            let mut curves = Vec::new();
            let mut finals = Vec::new();
            for rule in rules {
                let runs = of_rule(rule);
                let epochs = runs.iter().map(|r| r.epochs.len()).min().unwrap_or(0);
                if epochs == 0 {
                    continue;
                }
                let points: Vec<(f64, f64)> = (0..epochs)
                    .map(|e| {
                        (
                            (e + 1) as f64,
                            100.0 * runs.iter().map(|r| r.epochs[e].test_accuracy).sum::<f64>()
                                / runs.len() as f64,
                        )
                    })
                    .collect();
                finals.push(format!(
                    "{rule} {:.1}% after {epochs}",
                    points.last().map_or(0.0, |p| p.1)
                ));
                curves.push(Series {
                    name: rule.clone(),
                    points,
                });
            }
            if curves.is_empty() {
                continue;
            }
            figures.push(Figure {
                file: format!("curves-{}-{}.svg", task.id(), fe.id()),
                title: format!("Learning curves, {} · {}", task.id(), fe.id()),
                caption: format!(
                    "Test accuracy after each epoch, mean over seeds ({}): {}.",
                    fe.id(),
                    finals.join(", ")
                ),
                svg: lines(
                    &format!("Test accuracy per epoch, {} · {}", task.id(), fe.id()),
                    "epoch",
                    "test accuracy %",
                    None,
                    &curves,
                )?,
            });
            let angle_groups: Vec<Group> = rules
                .iter()
                .filter(|r| r.as_str() != "bp")
                .map(|rule| {
                    let runs = of_rule(rule);
                    let values = (0..LAYERS.len())
                        .map(|l| {
                            let xs: Vec<f64> =
                                runs.iter().filter_map(|r| last_angles(r)[l]).collect();
                            spread(&xs)
                        })
                        .collect();
                    Group {
                        name: rule.clone(),
                        values,
                    }
                })
                .filter(|g| g.values.iter().any(Option::is_some))
                .collect();
            if !angle_groups.is_empty() {
                let layer_names: Vec<String> = LAYERS.iter().map(|l| l.to_string()).collect();
                let summary: Vec<String> = angle_groups
                    .iter()
                    .map(|g| {
                        let per: Vec<String> = g
                            .values
                            .iter()
                            .zip(&layer_names)
                            .filter_map(|(v, l)| v.as_ref().map(|v| format!("{l} {:.0}°", v.mean)))
                            .collect();
                        format!("{} ({})", g.name, per.join(", "))
                    })
                    .collect();
                figures.push(Figure {
                    file: format!("angles-{}-{}.svg", task.id(), fe.id()),
                    title: format!("Update–backprop angles, {} · {}", task.id(), fe.id()),
                    caption: format!(
                        "Angle between each rule's update and the true gradient, per layer, in the last epoch (mean ± sd over seeds; 90° = unrelated, backprop is 0° by construction): {}.",
                        summary.join("; ")
                    ),
                    svg: categories(&format!("Update vs backprop gradient, {} · {}", task.id(), fe.id()), &layer_names, "degrees", Some((0.0, 120.0)), &angle_groups, Some(("90°: unrelated", 90.0)))?,
                });
            }
        }
    }

    // Q2: representational similarity.
    let mut sim_rows = Vec::new();
    let mut test_rows = Vec::new();
    for c in &o.compares {
        let cmp = &c.comparison;
        let rule_of = |name: &str| -> (String, String) {
            // Names are rule-s<seed> or rule-<front end>-s<seed>.
            let (head, seed) = name.rsplit_once("-s").unwrap_or((name, ""));
            (
                head.split('-').next().unwrap_or(head).to_string(),
                seed.to_string(),
            )
        };
        for layer in &cmp.layers {
            for i in 0..cmp.models.len() {
                for j in i + 1..cmp.models.len() {
                    let (ra, sa) = rule_of(&cmp.models[i]);
                    let (rb, sb) = rule_of(&cmp.models[j]);
                    let mut row = vec![
                        c.task.clone(),
                        c.front_end.clone(),
                        layer.layer.clone(),
                        cmp.models[i].clone(),
                        ra,
                        sa,
                        cmp.models[j].clone(),
                        rb,
                        sb,
                    ];
                    for kind in ["linear", "debiased", "rbf"] {
                        let m = match kind {
                            "linear" => &layer.linear_cka,
                            "debiased" => &layer.debiased_cka,
                            _ => &layer.rbf_cka,
                        };
                        row.push(if study.file.analysis.cka.iter().any(|k| k == kind) {
                            m.get(i, j).to_string()
                        } else {
                            String::new()
                        });
                    }
                    row.push(layer.rsa_spearman.get(i, j).to_string());
                    sim_rows.push(row);
                }
            }
            // The rule × rule heatmap: mean linear CKA over seed pairs; the diagonal is the
            // rule's seed-to-seed mean (its noise floor).
            let idx: Vec<(String, usize)> = cmp
                .models
                .iter()
                .enumerate()
                .map(|(i, m)| (rule_of(m).0, i))
                .collect();
            let present: Vec<String> = rules
                .iter()
                .filter(|r| idx.iter().any(|(x, _)| x == *r))
                .cloned()
                .collect();
            let values: Vec<Vec<Option<f64>>> = present
                .iter()
                .map(|ra| {
                    present
                        .iter()
                        .map(|rb| {
                            let mut xs = Vec::new();
                            for (x, i) in &idx {
                                for (y, j) in &idx {
                                    if x == ra && y == rb && i != j {
                                        xs.push(layer.linear_cka.get(*i, *j));
                                    }
                                }
                            }
                            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
                        })
                        .collect()
                })
                .collect();
            let bp = present.iter().position(|r| r == "bp");
            let caption = match bp {
                Some(b) => {
                    let floor = values[b][b].map_or("–".into(), |v| format!("{v:.3}"));
                    let others: Vec<String> = present
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != b)
                        .filter_map(|(i, r)| values[i][b].map(|v| format!("{r} {v:.3}")))
                        .collect();
                    format!(
                        "Linear CKA on {} between rules ({} · {}), mean over seed pairs; outlined diagonal: each rule's seed-to-seed CKA (the noise floor). Backprop's floor {floor}; CKA with backprop: {}.",
                        layer.layer,
                        c.task,
                        c.front_end,
                        if others.is_empty() {
                            "no other rule".into()
                        } else {
                            others.join(", ")
                        }
                    )
                }
                None => format!(
                    "Linear CKA on {} between rules ({} · {}), mean over seed pairs; outlined diagonal: each rule's seed-to-seed CKA.",
                    layer.layer, c.task, c.front_end
                ),
            };
            figures.push(Figure {
                file: format!("q2-cka-{}-{}-{}.svg", c.task, c.front_end, layer.layer),
                title: format!(
                    "Q2 · CKA between rules, {} · {} · {}",
                    c.task, c.front_end, layer.layer
                ),
                caption,
                svg: heatmap(
                    &format!("Linear CKA, {} ({} · {})", layer.layer, c.task, c.front_end),
                    &present,
                    &values,
                )?,
            });
        }
        for t in &c.floor_tests {
            test_rows.push(vec![
                c.task.clone(),
                c.front_end.clone(),
                t.layer.clone(),
                t.rule.clone(),
                t.cka_with_bp.to_string(),
                t.bp_seed_to_seed.to_string(),
                t.difference.to_string(),
                t.ci_low.to_string(),
                t.ci_high.to_string(),
                t.p_value.to_string(),
                t.resamples.to_string(),
            ]);
        }
        // The test as a figure: per layer, each rule's CKA with backprop against the floor.
        let layers: Vec<String> = cmp.layers.iter().map(|l| l.layer.clone()).collect();
        let test_groups: Vec<Group> = rules
            .iter()
            .filter(|r| r.as_str() != "bp")
            .map(|rule| Group {
                name: rule.clone(),
                values: layers
                    .iter()
                    .map(|l| {
                        c.floor_tests
                            .iter()
                            .find(|t| &t.rule == rule && &t.layer == l)
                            .map(|t| Spread {
                                mean: t.difference,
                                low: t.ci_low,
                                high: t.ci_high,
                                points: Vec::new(),
                            })
                    })
                    .collect(),
            })
            .filter(|g| g.values.iter().any(Option::is_some))
            .collect();
        if !test_groups.is_empty() {
            let lines_: Vec<String> = c
                .floor_tests
                .iter()
                .filter(|t| t.layer == "fc1" || layers.len() == 1)
                .map(|t| format!("{} {:+.3} (p = {:.3})", t.rule, t.difference, t.p_value))
                .collect();
            figures.push(Figure {
                file: format!("q2-floor-test-{}-{}.svg", c.task, c.front_end),
                title: format!("Q2 · CKA with backprop against backprop's seed-to-seed CKA, {} · {}", c.task, c.front_end),
                caption: format!(
                    "Difference between each rule's linear CKA with backprop and backprop's own seed-to-seed CKA, per layer, with bootstrap 95% intervals ({} resamples of seeds and probe images); below 0, the rule represents the images less like backprop than backprop does across seeds. {}{}",
                    c.floor_tests.first().map_or(0, |t| t.resamples),
                    if lines_.is_empty() { String::new() } else { format!("fc1: {}", lines_.join(", ")) },
                    "."
                ),
                svg: categories(&format!("CKA with bp − bp seed-to-seed, {} · {}", c.task, c.front_end), &layers, "difference in linear CKA", None, &test_groups, Some(("0: as close as bp to itself", 0.0)))?,
            });
        }
    }
    tables.push((
        "similarity.csv".into(),
        csv_text(
            &[
                "task",
                "front_end",
                "layer",
                "model_a",
                "rule_a",
                "seed_a",
                "model_b",
                "rule_b",
                "seed_b",
                "linear_cka",
                "debiased_cka",
                "rbf_cka",
                "rsa_spearman",
            ],
            &sim_rows,
        )?,
    ));
    tables.push((
        "cka_floor_tests.csv".into(),
        csv_text(
            &[
                "task",
                "front_end",
                "layer",
                "rule",
                "cka_with_bp",
                "bp_seed_to_seed",
                "difference",
                "ci_low",
                "ci_high",
                "p_value",
                "resamples",
            ],
            &test_rows,
        )?,
    ));

    // Robustness.
    let mut rob_rows = Vec::new();
    for (id, r) in &o.robustness {
        for p in &r.points {
            let (kind, level) = match p.degradation {
                Degradation::GaussianNoise { sigma } => ("gaussian-noise", sigma),
                Degradation::Contrast { factor } => ("contrast", factor),
            };
            let mut row = id.columns();
            row.extend([
                kind.into(),
                level.to_string(),
                p.accuracy.to_string(),
                r.images.to_string(),
            ]);
            rob_rows.push(row);
        }
    }
    tables.push((
        "robustness.csv".into(),
        csv_text(
            &[
                "task",
                "front_end",
                "rule",
                "seed",
                "degradation",
                "level",
                "accuracy",
                "images",
            ],
            &rob_rows,
        )?,
    ));
    for &task in &study.tasks {
        for &fe in &study.front_ends {
            for (kind, x_desc, clean_x) in [
                ("gaussian-noise", "pixel noise σ", 0.0),
                ("contrast", "contrast factor", 1.0),
            ] {
                let mut series = Vec::new();
                let mut notes = Vec::new();
                for rule in rules {
                    let mut at: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                    for (id, r) in o
                        .robustness
                        .iter()
                        .filter(|(id, _)| id.task == task && id.front_end == fe && &id.rule == rule)
                    {
                        let _ = id;
                        for p in &r.points {
                            let x = match (kind, p.degradation) {
                                ("gaussian-noise", Degradation::GaussianNoise { sigma }) => {
                                    Some(sigma)
                                }
                                ("contrast", Degradation::Contrast { factor }) => Some(factor),
                                ("contrast", Degradation::GaussianNoise { sigma })
                                    if sigma == 0.0 =>
                                {
                                    Some(clean_x)
                                }
                                _ => None,
                            };
                            if let Some(x) = x {
                                at.entry(x.to_bits()).or_default().push(100.0 * p.accuracy);
                            }
                        }
                    }
                    let points = means_by_x(&at);
                    if points.is_empty() {
                        continue;
                    }
                    let hardest = if kind == "contrast" {
                        points.first()
                    } else {
                        points.last()
                    };
                    if let Some(&(x, y)) = hardest {
                        notes.push(format!("{rule} {y:.1}% at {x}"));
                    }
                    series.push(Series {
                        name: rule.clone(),
                        points,
                    });
                }
                if series.is_empty() {
                    continue;
                }
                figures.push(Figure {
                    file: format!("robustness-{kind}-{}-{}.svg", task.id(), fe.id()),
                    title: format!("Robustness to {}, {} · {}", if kind == "contrast" { "contrast" } else { "pixel noise" }, task.id(), fe.id()),
                    caption: format!("Test accuracy as the images get {} (mean over seeds); at the hardest level: {}.", if kind == "contrast" { "fainter" } else { "noisier" }, notes.join(", ")),
                    svg: lines(&format!("Accuracy vs {x_desc}, {} · {}", task.id(), fe.id()), x_desc, "accuracy %", Some((0.0, 100.0)), &series)?,
                });
            }
        }
    }

    // Q3: people.
    let mut rank_rows = Vec::new();
    let mut trial_tables = Vec::new();
    for p in &o.people {
        let c = &p.comparison;
        for (rank, m) in c.ranking.iter().enumerate() {
            rank_rows.push(vec![
                p.task.clone(),
                (rank + 1).to_string(),
                m.name.clone(),
                m.rule.clone().unwrap_or_default(),
                m.front_end.clone().unwrap_or_default(),
                m.accuracy.to_string(),
                m.test_trials.to_string(),
                opt(m.kappa.map(|k| k.mean)),
                opt(m.kappa.and_then(|k| k.low)),
                opt(m.kappa.and_then(|k| k.high)),
                opt(m.error_correlation),
            ]);
        }
        let names: Vec<String> = c
            .ranking
            .iter()
            .filter(|m| m.kappa.is_some())
            .map(|m| m.name.clone())
            .collect();
        let group = Group {
            name: "κ with people (95% CI)".into(),
            values: c
                .ranking
                .iter()
                .filter_map(|m| m.kappa)
                .map(|k| {
                    Some(Spread {
                        mean: k.mean,
                        low: k.low.unwrap_or(k.mean),
                        high: k.high.unwrap_or(k.mean),
                        points: Vec::new(),
                    })
                })
                .collect(),
        };
        if !names.is_empty() {
            let ceiling = c.human_human_kappa.map(|k| k.mean);
            figures.push(Figure {
                file: format!("q3-kappa-{}.svg", p.task),
                title: format!("Q3 · models ranked by error consistency with people, {}", p.task),
                caption: format!(
                    "Error consistency κ between each model and the {} participant(s) (mean with bootstrap 95% CI), most human-like first: {}{}. Participants from {}.",
                    c.participants.len(),
                    c.ranking.iter().filter_map(|m| m.kappa.map(|k| format!("{} {:.3}", m.name, k.mean))).take(5).collect::<Vec<_>>().join(", "),
                    ceiling.map_or(String::new(), |v| format!("; people with each other: {v:.3}")),
                    p.files.join(", ")
                ),
                svg: categories(&format!("κ with people, {}", p.task), &names, "error consistency κ", None, &[group], ceiling.map(|v| ("people with people", v)))?,
            });
        }
        // Psychometric curves: people per duration, models per rule, against noise.
        let mut series = Vec::new();
        let durations: Vec<Option<f64>> = {
            let mut d: Vec<Option<f64>> = Vec::new();
            for row in &c.conditions {
                if !d.contains(&row.condition.duration_ms) {
                    d.push(row.condition.duration_ms);
                }
            }
            d
        };
        for d in &durations {
            let points: Vec<(f64, f64)> = c
                .conditions
                .iter()
                .filter(|r| r.condition.duration_ms == *d)
                .filter_map(|r| Some((r.condition.noise_sigma, 100.0 * r.humans?.mean)))
                .collect();
            if !points.is_empty() {
                series.push(Series {
                    name: format!(
                        "people, {}",
                        d.map_or("unlimited".into(), |d| format!("{d} ms"))
                    ),
                    points,
                });
            }
        }
        for rule in rules {
            let cols: Vec<usize> = c
                .models
                .iter()
                .enumerate()
                .filter(|(_, m)| m.split('-').next() == Some(rule.as_str()))
                .map(|(i, _)| i)
                .collect();
            let mut by_sigma: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for r in &c.conditions {
                for &i in &cols {
                    if let Some(Some(v)) = r.models.get(i) {
                        by_sigma
                            .entry(r.condition.noise_sigma.to_bits())
                            .or_default()
                            .push(100.0 * v);
                    }
                }
            }
            let points = means_by_x(&by_sigma);
            if !points.is_empty() {
                series.push(Series {
                    name: format!("{rule} (models)"),
                    points,
                });
            }
        }
        if !series.is_empty() {
            figures.push(Figure {
                file: format!("q3-psychometric-{}.svg", p.task),
                title: format!("Q3 · psychometric curves, {}", p.task),
                caption: format!(
                    "Accuracy against pixel noise σ: people per presentation duration, each rule's models averaged over seeds and durations; people overall {}.",
                    c.human_accuracy.map_or("–".into(), |a| pct(a.mean))
                ),
                svg: lines(&format!("Accuracy vs noise, people and models, {}", p.task), "pixel noise σ", "% correct", Some((0.0, 100.0)), &series)?,
            });
        }
        trial_tables.push(p.task.clone());
    }
    tables.push((
        "people_ranking.csv".into(),
        csv_text(
            &[
                "task",
                "rank",
                "model",
                "rule",
                "front_end",
                "accuracy",
                "test_trials",
                "kappa",
                "kappa_ci_low",
                "kappa_ci_high",
                "error_correlation",
            ],
            &rank_rows,
        )?,
    ));
    let mut trials = String::new();
    for task in &trial_tables {
        let path = study.out_dir.join(format!("people/{task}-trials.csv"));
        let text = std::fs::read_to_string(&path).map_err(|e| LabError::io(&path, e))?;
        // One header for all tasks.
        let body = if trials.is_empty() {
            text.as_str()
        } else {
            text.split_once('\n').map_or("", |(_, b)| b)
        };
        trials.push_str(body);
    }
    if !trials.is_empty() {
        tables.push(("trials.csv".into(), trials));
    }
    Ok(Report { tables, figures })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The report's page: every figure inline, with its caption, and the tables it rests on.
pub fn report_html(study: &Study, o: &Outputs, report: &Report) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{0} · Microlearning Lab study report</title>\n<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1d2330}}figure{{margin:2rem 0;border-top:1px solid #d9dde5;padding-top:1rem}}figure svg{{max-width:100%;height:auto}}figcaption{{color:#3b4252;max-width:60rem}}.missing{{background:#fff3cd;padding:.5rem 1rem;border-radius:6px}}code{{background:#f1f3f7;padding:0 .2rem}}</style>\n</head>\n<body>\n<h1>{0}</h1>\n<p>Microlearning Lab study report: {1} task(s) × {2} front end(s) × {3} rule(s) × {4} seed(s). {5} of {6} units done.</p>\n",
        escape(&study.file.name),
        study.tasks.len(),
        study.front_ends.len(),
        study.file.rules.len(),
        study.file.seeds.len(),
        o.done,
        o.total
    );
    if o.done < o.total {
        let _ = write!(
            html,
            "<p class=\"missing\">This report is partial: {} unit(s) are not done yet (<code>microlearning study status</code> says which).</p>\n",
            o.total - o.done
        );
    }
    html.push_str("<p>Tables (CSV, one row per observation):");
    for (name, _) in &report.tables {
        let _ = write!(html, " <a href=\"{0}\">{0}</a>", escape(name));
    }
    html.push_str(". Figures as SVG files in <code>figures/</code>.</p>\n");
    for (i, f) in report.figures.iter().enumerate() {
        let _ = write!(
            html,
            "<figure id=\"figure-{i}\" data-file=\"{file}\">\n<h2>{title}</h2>\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>\n",
            file = escape(&f.file),
            title = escape(&f.title),
            svg = f
                .svg
                .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
                .trim(),
            caption = escape(&f.caption)
        );
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// Writes `report/` under the study's folder; returns its index.html.
pub fn write_report(study: &Study, into: Option<&Path>) -> Result<PathBuf> {
    let outputs = load_outputs(study)?;
    let report = build_report(study, &outputs)?;
    let dir = into.map_or_else(|| study.out_dir.join("report"), Path::to_path_buf);
    for (name, text) in &report.tables {
        write_atomically(&dir.join(name), text.as_bytes())?;
    }
    for f in &report.figures {
        write_atomically(&dir.join("figures").join(&f.file), f.svg.as_bytes())?;
    }
    let index = dir.join("index.html");
    write_atomically(&index, report_html(study, &outputs, &report).as_bytes())?;
    Ok(index)
}
