//! `study run`: every unit of this process's share whose output is missing, one after another,
//! each written as it finishes (atomically, so an output that exists is complete). While a unit
//! runs, `<output>.running` says who runs it (host, pid, start); a unit that fails leaves
//! `<output>.failed` with the reason and the others go on. A killed process leaves its
//! `.running` behind: a later run on the same host sees that its pid is gone and takes the unit
//! over; `study status` reports it as interrupted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::file::Study;
use super::plan::{RunId, Shard, Unit, UnitKind, plan};
use super::stats::{FloorTest, floor_tests};
use crate::analysis::{
    Comparison, ComparisonOptions, LayerCapture, ProbeInfo, SquareMatrix, capture_layers, compare,
    probe_indices,
};
use crate::cli::output::write_atomically;
use crate::cli::runs::load_trained_run;
use crate::cli::train::train_with_progress;
use crate::data::{DataSplit, Task};
use crate::error::{LabError, Result};
use crate::human::{
    GroupData, HumanComparison, ImportOutcome, ModelIdentity, ObserverKind, model_trials, to_csv,
};
use crate::model::weights_to_bytes;
use crate::training::{RobustnessPoint, limit_data, robustness_at};

/// A robustness unit's output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RobustnessFile {
    pub kind: String,
    pub run: String,
    pub images: usize,
    pub points: Vec<RobustnessPoint>,
}

/// A comparison unit's output: the library's comparison of every run of one task and front end
/// (models named as [`RunId::name`]), and the CKA floor tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareFile {
    pub kind: String,
    pub task: String,
    pub front_end: String,
    pub comparison: Comparison,
    /// Empty when backprop is not in the study with two seeds or more.
    pub floor_tests: Vec<FloorTest>,
}

/// A people unit's output (the trials, people's and models', are beside it as `-trials.csv`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeopleFile {
    pub kind: String,
    pub task: String,
    pub files: Vec<String>,
    pub comparison: HumanComparison,
}

/// Who runs a unit, in its `.running` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claim {
    pub host: String,
    pub pid: u32,
    pub started: String,
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Whether process `pid` lives on this host (Linux's /proc; elsewhere it is assumed alive).
pub fn alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("unix {secs}")
}

pub fn marker(output: &Path, what: &str) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(format!(".{what}"));
    PathBuf::from(name)
}

/// Reads a unit's `.running` file, if there is one.
pub fn read_claim(output: &Path) -> Option<Claim> {
    let text = std::fs::read_to_string(marker(output, "running")).ok()?;
    serde_json::from_str(&text).ok()
}

enum Claimed {
    Mine(ClaimGuard),
    /// Another live process runs it.
    Taken(Claim),
}

/// The `.running` file of a unit this process runs; removed when the unit ends.
struct ClaimGuard {
    path: PathBuf,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes unit `output` for this process: creates its `.running` file, which no other process
/// can create at the same time (create_new), or takes over one whose process died on this host.
fn claim(output: &Path) -> Result<Claimed> {
    let path = marker(output, "running");
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| LabError::io(parent, e))?;
    }
    let me = Claim {
        host: host_name(),
        pid: std::process::id(),
        started: now(),
    };
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                let text =
                    serde_json::to_string(&me).map_err(|e| LabError::Results(e.to_string()))?;
                file.write_all(text.as_bytes())
                    .map_err(|e| LabError::io(&path, e))?;
                return Ok(Claimed::Mine(ClaimGuard { path }));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match read_claim(output) {
                    Some(other) if other.host != me.host || alive(other.pid) => {
                        return Ok(Claimed::Taken(other));
                    }
                    // Its process is gone (or it was being written when that process died).
                    _ => {
                        std::fs::remove_file(&path).map_err(|e| LabError::io(&path, e))?;
                    }
                }
            }
            Err(e) => return Err(LabError::io(&path, e)),
        }
    }
    Err(LabError::State(format!(
        "could not claim {}",
        output.display()
    )))
}

/// What one `study run` did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub done_before: usize,
    pub ran: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Units whose inputs another shard has not written yet.
    pub waiting: Vec<String>,
    /// Units another live process is running.
    pub taken: Vec<String>,
}

/// The data sets, loaded once per process.
struct Data {
    root: PathBuf,
    loaded: Vec<(Task, Arc<DataSplit>)>,
}

impl Data {
    fn get(&mut self, task: Task) -> Result<Arc<DataSplit>> {
        if let Some((_, d)) = self.loaded.iter().find(|(t, _)| *t == task) {
            return Ok(d.clone());
        }
        let split = Arc::new(DataSplit::load_task(&self.root, task)?);
        self.loaded.push((task, split.clone()));
        Ok(split)
    }
}

/// Runs this process's share of `study` (all of it without a shard).
pub fn run_study_units(
    study: &Study,
    shard: Option<Shard>,
    log: &mut dyn FnMut(&str),
) -> Result<RunReport> {
    let units = plan(study, shard.map_or(1, |s| s.count));
    let mut data = Data {
        root: study.data_root.clone(),
        loaded: Vec::new(),
    };
    let mut report = RunReport::default();
    let mine: Vec<&Unit> = units
        .iter()
        .filter(|u| shard.is_none_or(|s| u.shard == s.index))
        .collect();
    let total = mine.len();
    for (i, unit) in mine.into_iter().enumerate() {
        let output = study.out_dir.join(&unit.output);
        if output.exists() {
            report.done_before += 1;
            continue;
        }
        if let Some(missing) = unit.inputs.iter().find(|p| !study.out_dir.join(p).exists()) {
            log(&format!(
                "[{}/{total}] {}: waiting for {}",
                i + 1,
                unit.label(),
                missing.display()
            ));
            report.waiting.push(unit.label());
            continue;
        }
        let _guard = match claim(&output)? {
            Claimed::Mine(guard) => guard,
            Claimed::Taken(other) => {
                log(&format!(
                    "[{}/{total}] {}: running on {} (pid {})",
                    i + 1,
                    unit.label(),
                    other.host,
                    other.pid
                ));
                report.taken.push(unit.label());
                continue;
            }
        };
        let failed = marker(&output, "failed");
        let _ = std::fs::remove_file(&failed);
        log(&format!("[{}/{total}] {}", i + 1, unit.label()));
        let started = std::time::Instant::now();
        match execute(study, unit, &mut data) {
            Ok(()) => {
                log(&format!(
                    "    done in {:.1} s: {}",
                    started.elapsed().as_secs_f64(),
                    unit.output.display()
                ));
                report.ran.push(unit.label());
            }
            Err(e) => {
                log(&format!("    failed: {e}"));
                write_atomically(&failed, format!("{e}\n").as_bytes())?;
                report.failed.push((unit.label(), e.to_string()));
            }
        }
    }
    Ok(report)
}

fn execute(study: &Study, unit: &Unit, data: &mut Data) -> Result<()> {
    let output = study.out_dir.join(&unit.output);
    match unit.kind {
        UnitKind::Train => train(
            study,
            unit.run
                .as_ref()
                .ok_or_else(|| LabError::State("a train unit names its run".into()))?,
            &output,
            data,
        ),
        UnitKind::Robustness => measure_robustness(
            study,
            unit.run
                .as_ref()
                .ok_or_else(|| LabError::State("a robustness unit names its run".into()))?,
            &output,
            data,
        ),
        UnitKind::Compare => compare_runs(study, unit, &output, data),
        UnitKind::People => compare_people(study, unit, &output, data),
    }
}

fn train(study: &Study, run: &RunId, output: &Path, data: &mut Data) -> Result<()> {
    let config = study.config(run.task, run.front_end, &run.rule, run.seed)?;
    let full = data.get(run.task)?;
    let source = study
        .data_root
        .join(run.task.data_subdir())
        .display()
        .to_string();
    let (results, trainer) = train_with_progress(
        &config,
        Arc::new(limit_data(&full, &config)),
        &source,
        &ProgressBar::hidden(),
    )?;
    // Weights first: a results file always has its weights beside it.
    write_atomically(
        &output.with_extension("bpk"),
        &weights_to_bytes(trainer.model())?,
    )?;
    write_atomically(output, results.to_json()?.as_bytes())
}

fn measure_robustness(study: &Study, run: &RunId, output: &Path, data: &mut Data) -> Result<()> {
    let device = crate::cli::device::current();
    let (results, model) = load_trained_run(&study.out_dir.join(run.results()), &device)?;
    // The test images the run was evaluated on.
    let full = data.get(run.task)?;
    let test = limit_data(&full, &results.config).test;
    let r = &study.file.robustness;
    let points = crate::block_on(robustness_at(
        &model,
        &test,
        r.seed,
        &r.noise,
        &r.contrast,
        &device,
        |_, _| (),
    ))?;
    let file = RobustnessFile {
        kind: "microlearning study robustness".into(),
        run: run.name(),
        images: test.len(),
        points,
    };
    let json = serde_json::to_string_pretty(&file).map_err(|e| LabError::Results(e.to_string()))?;
    write_atomically(output, json.as_bytes())
}

fn compare_runs(study: &Study, unit: &Unit, output: &Path, data: &mut Data) -> Result<()> {
    let device = crate::cli::device::current();
    let split = data.get(unit.task)?;
    let a = &study.file.analysis;
    let indices = probe_indices(&split.test, a.probe_size, a.probe_seed);
    let mut captures: Vec<Vec<LayerCapture>> = Vec::new();
    for run in &unit.runs {
        let (_, model) = load_trained_run(&study.out_dir.join(run.results()), &device)?;
        captures.push(crate::block_on(capture_layers(
            &model,
            &split.test,
            &indices,
            &device,
        ))?);
    }
    let names: Vec<String> = unit.runs.iter().map(RunId::name).collect();
    let probe = ProbeInfo::new(unit.task, a.probe_seed, indices, &split.test);
    let options = ComparisonOptions {
        rdm: study.rdm,
        rbf_fraction: a.rbf_fraction,
        layers: study.layers.clone(),
    };
    let named: Vec<(String, &[LayerCapture])> = names
        .iter()
        .cloned()
        .zip(captures.iter().map(|c| c.as_slice()))
        .collect();
    let comparison = compare(&named, probe, &options)?;
    // The floor tests, on the captured Gram matrices of each compared layer.
    let mut tests = Vec::new();
    for &layer in &study.layers {
        let gram_of =
            |i: usize| -> Option<&SquareMatrix> { captures[i].get(layer).map(|c| &c.gram) };
        let bp: Vec<&SquareMatrix> = (0..unit.runs.len())
            .filter(|&i| unit.runs[i].rule == "bp")
            .filter_map(gram_of)
            .collect();
        let rules: Vec<(String, Vec<&SquareMatrix>)> = study
            .file
            .rules
            .iter()
            .filter(|r| r.as_str() != "bp")
            .map(|rule| {
                (
                    rule.clone(),
                    (0..unit.runs.len())
                        .filter(|&i| &unit.runs[i].rule == rule)
                        .filter_map(gram_of)
                        .collect(),
                )
            })
            .collect();
        let name = captures
            .first()
            .and_then(|c| c.get(layer))
            .map(|c| c.layer.clone())
            .unwrap_or_default();
        if let Some(t) = floor_tests(&name, &rules, &bp, a.bootstrap, a.probe_seed) {
            tests.extend(t);
        }
    }
    let file = CompareFile {
        kind: "microlearning study compare".into(),
        task: unit.task.id().into(),
        front_end: unit
            .front_end
            .map(|f| f.id().to_string())
            .unwrap_or_default(),
        comparison,
        floor_tests: tests,
    };
    let json = serde_json::to_string(&file).map_err(|e| LabError::Results(e.to_string()))?;
    write_atomically(output, json.as_bytes())
}

fn compare_people(study: &Study, unit: &Unit, output: &Path, data: &mut Data) -> Result<()> {
    let mut group = GroupData::new();
    let mut files = Vec::new();
    let mut sources = Vec::new();
    for path in &study.people_files {
        let text = std::fs::read_to_string(path).map_err(|e| LabError::io(path, e))?;
        // Named by the file alone, so the report is the same wherever the study folder is.
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy();
        sources.push((format!("file {name}"), text));
    }
    if let Some(url) = &study.people_database {
        sources.extend(database_trials(url, &study.file.people.studies)?);
    }
    for (name, text) in sources {
        match group.import(&name, &text) {
            ImportOutcome::Added { .. } => files.push(name),
            ImportOutcome::Skipped { reason, .. } => {
                return Err(LabError::Config(format!("{name}: {reason}")));
            }
        }
    }
    let humans: Vec<_> = group
        .trials()
        .iter()
        .filter(|t| t.observer_kind == ObserverKind::Human && t.task == unit.task.id())
        .cloned()
        .collect();
    if humans.is_empty() {
        return Err(LabError::Config(format!(
            "no people's trials of {} in people.files or people.database",
            unit.task.id()
        )));
    }
    let device = crate::cli::device::current();
    let split = data.get(unit.task)?;
    let mut all = humans.clone();
    for run in &unit.runs {
        let (_, model) = load_trained_run(&study.out_dir.join(run.results()), &device)?;
        let who = ModelIdentity {
            name: run.name(),
            rule: Some(run.rule.clone()),
            front_end: Some(run.front_end.id().to_string()),
        };
        all.extend(crate::block_on(model_trials(
            &model,
            &who,
            unit.task,
            &split.test,
            &humans,
            &device,
        ))?);
    }
    let comparison = crate::human::compare(&all);
    write_atomically(
        &output.with_file_name(format!("{}-trials.csv", unit.task.id())),
        to_csv(&all)?.as_bytes(),
    )?;
    let file = PeopleFile {
        kind: "microlearning study people".into(),
        task: unit.task.id().into(),
        files,
        comparison,
    };
    let json = serde_json::to_string_pretty(&file).map_err(|e| LabError::Results(e.to_string()))?;
    write_atomically(output, json.as_bytes())
}

/// Every stored trial of the collection database's studies (`wanted`, or every study), one CSV
/// text per study as `study export` writes it, named for the report. Read straight from the
/// database (a live server may be writing to it); studies with no trials yet are left out.
fn database_trials(url: &str, wanted: &[String]) -> Result<Vec<(String, String)>> {
    use crate::human::csv_header;
    use crate::server::{Store, csv_line};
    use futures_util::StreamExt;
    let collection = |e: crate::server::StoreError| LabError::Collection(e.to_string());
    crate::cli::serve::runtime()?.block_on(async {
        let store = Store::open(url).await.map_err(collection)?;
        let read = async {
            let studies = store.list_studies().await.map_err(collection)?;
            if let Some(missing) = wanted
                .iter()
                .find(|id| !studies.iter().any(|s| &s.id == *id))
            {
                return Err(LabError::Config(format!(
                    "people.studies: the database has no study {missing:?}"
                )));
            }
            let mut out = Vec::new();
            for s in studies
                .iter()
                .filter(|s| wanted.is_empty() || wanted.contains(&s.id))
            {
                let mut text = csv_header().to_string();
                let mut rows = store.trial_records(&s.id);
                let mut n = 0usize;
                while let Some(row) = rows.next().await {
                    text.push_str(
                        &csv_line(&row.map_err(collection)?).map_err(LabError::Collection)?,
                    );
                    n += 1;
                }
                if n > 0 {
                    out.push((format!("database study {} \"{}\"", s.id, s.name), text));
                }
            }
            Ok(out)
        }
        .await;
        store.close().await;
        read
    })
}
