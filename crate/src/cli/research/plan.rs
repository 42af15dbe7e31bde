//! A study's units of work and who runs them. A unit is one training run, one robustness curve
//! (of one run), one comparison (every run of a task and front end) or one people comparison
//! (every run of a task against people's trials). Each writes one output file; a unit whose
//! output exists is done. The plan is the same for every process that reads the same study
//! file, so `--shard K/N` needs no coordination: shard K runs the units assigned to it.

use std::path::PathBuf;

use super::file::Study;
use crate::data::Task;
use crate::error::{LabError, Result};
use crate::frontends::FrontEndKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnitKind {
    Train,
    Robustness,
    Compare,
    People,
}

impl UnitKind {
    pub fn id(self) -> &'static str {
        match self {
            UnitKind::Train => "train",
            UnitKind::Robustness => "robustness",
            UnitKind::Compare => "compare",
            UnitKind::People => "people",
        }
    }
}

/// One trained model of the study.
#[derive(Debug, Clone, PartialEq)]
pub struct RunId {
    pub task: Task,
    pub front_end: FrontEndKind,
    pub rule: String,
    pub seed: u64,
}

impl RunId {
    /// The model's name in tables and figures: `rule-s<seed>`, with the front end when it is not
    /// the learned one.
    pub fn name(&self) -> String {
        match self.front_end {
            FrontEndKind::Learned => format!("{}-s{}", self.rule, self.seed),
            f => format!("{}-{}-s{}", self.rule, f.id(), self.seed),
        }
    }

    /// `folder/<task>/<front end>/<rule>-s<seed>.json`, relative to the study's folder.
    fn file_in(&self, folder: &str) -> PathBuf {
        PathBuf::from(format!(
            "{folder}/{}/{}/{}-s{}.json",
            self.task.id(),
            self.front_end.id(),
            self.rule,
            self.seed
        ))
    }

    /// The results file (the weights beside it as `.bpk`).
    pub fn results(&self) -> PathBuf {
        self.file_in("runs")
    }

    pub fn robustness(&self) -> PathBuf {
        self.file_in("robustness")
    }

    /// The run's columns in the report's tables: task, front end, rule, seed.
    pub fn columns(&self) -> Vec<String> {
        vec![
            self.task.id().into(),
            self.front_end.id().into(),
            self.rule.clone(),
            self.seed.to_string(),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Unit {
    pub kind: UnitKind,
    pub task: Task,
    /// The run it trains or measures (train, robustness).
    pub run: Option<RunId>,
    /// The front end it compares (compare).
    pub front_end: Option<FrontEndKind>,
    /// What it writes, relative to the study's folder.
    pub output: PathBuf,
    /// The outputs it needs first.
    pub inputs: Vec<PathBuf>,
    /// The runs it reads (compare, people).
    pub runs: Vec<RunId>,
    /// The shard that runs it, of the plan's shard count.
    pub shard: usize,
}

impl Unit {
    /// A short description for logs and `study status`.
    pub fn label(&self) -> String {
        match (&self.run, self.front_end) {
            (Some(r), _) => format!(
                "{} {} {} {} seed {}",
                self.kind.id(),
                r.task.id(),
                r.front_end.id(),
                r.rule,
                r.seed
            ),
            (None, Some(f)) => format!("{} {} {}", self.kind.id(), self.task.id(), f.id()),
            (None, None) => format!("{} {}", self.kind.id(), self.task.id()),
        }
    }
}

/// `K/N`: this process runs shard K of N (0 ≤ K < N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            LabError::Config(format!(
                "--shard {text:?}: give K/N with 0 ≤ K < N, e.g. 0/3"
            ))
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard a scheduler gave this process: a Slurm job array's task (`SLURM_ARRAY_TASK_ID`
    /// of `SLURM_ARRAY_TASK_COUNT`, ids from `SLURM_ARRAY_TASK_MIN`) or a Kubernetes Indexed
    /// Job's pod (`JOB_COMPLETION_INDEX` of `MICROLEARNING_SHARDS`, which the manifest sets to
    /// its `completions`). None outside both.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let number = |name: &str| -> Result<Option<usize>> {
            var(name)
                .map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        LabError::Config(format!("{name}={v:?} is not a whole number"))
                    })
                })
                .transpose()
        };
        if let (Some(id), Some(count)) = (
            number("SLURM_ARRAY_TASK_ID")?,
            number("SLURM_ARRAY_TASK_COUNT")?,
        ) {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).filter(|&i| i < count).ok_or_else(|| {
                LabError::Config(format!(
                    "SLURM_ARRAY_TASK_ID {id} is outside the array ({min}…{}); use --array=0-{}",
                    min + count.saturating_sub(1),
                    count.saturating_sub(1)
                ))
            })?;
            return Ok(Some(Shard { index, count }));
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = number("MICROLEARNING_SHARDS")?.ok_or_else(|| {
                LabError::Config("JOB_COMPLETION_INDEX is set: set MICROLEARNING_SHARDS to the Job's completions".into())
            })?;
            if index >= count {
                return Err(LabError::Config(format!(
                    "JOB_COMPLETION_INDEX {index} ≥ MICROLEARNING_SHARDS {count}"
                )));
            }
            return Ok(Some(Shard { index, count }));
        }
        Ok(None)
    }
}

/// Every unit of `study`, in the order one process runs them, each assigned to one of
/// `shards` shards: training runs round-robin, a run's robustness curve with its run (it needs
/// the weights just written), comparisons round-robin after them.
pub fn plan(study: &Study, shards: usize) -> Vec<Unit> {
    let shards = shards.max(1);
    let mut units = Vec::new();
    let mut next = 0usize;
    let mut assign = || {
        let shard = next % shards;
        next += 1;
        shard
    };
    let mut all_runs = Vec::new();
    for &task in &study.tasks {
        for &front_end in &study.front_ends {
            for rule in &study.file.rules {
                for &seed in &study.file.seeds {
                    let run = RunId {
                        task,
                        front_end,
                        rule: rule.clone(),
                        seed,
                    };
                    let shard = assign();
                    units.push(Unit {
                        kind: UnitKind::Train,
                        task,
                        run: Some(run.clone()),
                        front_end: None,
                        output: run.results(),
                        inputs: Vec::new(),
                        runs: Vec::new(),
                        shard,
                    });
                    if study.file.robustness.enabled {
                        units.push(Unit {
                            kind: UnitKind::Robustness,
                            task,
                            run: Some(run.clone()),
                            front_end: None,
                            output: run.robustness(),
                            inputs: vec![run.results()],
                            runs: Vec::new(),
                            shard,
                        });
                    }
                    all_runs.push(run);
                }
            }
        }
    }
    for &task in &study.tasks {
        for &front_end in &study.front_ends {
            let runs: Vec<RunId> = all_runs
                .iter()
                .filter(|r| r.task == task && r.front_end == front_end)
                .cloned()
                .collect();
            units.push(Unit {
                kind: UnitKind::Compare,
                task,
                run: None,
                front_end: Some(front_end),
                output: PathBuf::from(format!("compare/{}/{}.json", task.id(), front_end.id())),
                inputs: runs.iter().map(RunId::results).collect(),
                runs,
                shard: assign(),
            });
        }
        if study.has_people() {
            let runs: Vec<RunId> = all_runs
                .iter()
                .filter(|r| r.task == task)
                .cloned()
                .collect();
            units.push(Unit {
                kind: UnitKind::People,
                task,
                run: None,
                front_end: None,
                output: PathBuf::from(format!("people/{}.json", task.id())),
                inputs: runs.iter().map(RunId::results).collect(),
                runs,
                shard: assign(),
            });
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_come_from_the_flag_slurm_or_kubernetes() {
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        for bad in ["3/3", "1", "a/2", "0/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Shard::from_env(env(&[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "2")
            ]))
            .unwrap(),
            Some(Shard { index: 3, count: 4 })
        );
        assert!(
            Shard::from_env(env(&[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_COUNT", "4")
            ]))
            .is_err()
        );
        assert_eq!(
            Shard::from_env(env(&[
                ("JOB_COMPLETION_INDEX", "2"),
                ("MICROLEARNING_SHARDS", "3")
            ]))
            .unwrap(),
            Some(Shard { index: 2, count: 3 })
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "2")])).is_err());
        assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
    }
}
