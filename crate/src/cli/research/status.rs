//! `study status`: what is done, what is running (and where), what failed and why, what waits
//! for other units, read from the outputs and their `.running` / `.failed` markers alone, so it
//! works from any machine that sees the study's folder.

use super::file::Study;
use super::plan::{UnitKind, plan};
use super::run::{alive, host_name, marker, read_claim};

#[derive(Debug, Clone, PartialEq)]
pub enum UnitState {
    Done,
    Running {
        host: String,
        pid: u32,
        started: String,
    },
    /// A `.running` file whose process is gone (killed, or its node lost).
    Interrupted {
        host: String,
        pid: u32,
    },
    Failed {
        reason: String,
    },
    /// Its inputs are not all written yet.
    Waiting,
    /// Ready to run.
    Todo,
}

pub struct UnitStatus {
    pub label: String,
    pub kind: UnitKind,
    pub state: UnitState,
}

pub fn study_status(study: &Study) -> Vec<UnitStatus> {
    let me = host_name();
    plan(study, 1)
        .into_iter()
        .map(|unit| {
            let output = study.out_dir.join(&unit.output);
            let state = if output.exists() {
                UnitState::Done
            } else if let Some(claim) = read_claim(&output) {
                if claim.host == me && !alive(claim.pid) {
                    UnitState::Interrupted {
                        host: claim.host,
                        pid: claim.pid,
                    }
                } else {
                    UnitState::Running {
                        host: claim.host,
                        pid: claim.pid,
                        started: claim.started,
                    }
                }
            } else if let Ok(reason) = std::fs::read_to_string(marker(&output, "failed")) {
                UnitState::Failed {
                    reason: reason.trim().to_string(),
                }
            } else if unit.inputs.iter().any(|p| !study.out_dir.join(p).exists()) {
                UnitState::Waiting
            } else {
                UnitState::Todo
            };
            UnitStatus {
                label: unit.label(),
                kind: unit.kind,
                state,
            }
        })
        .collect()
}

/// The status as text: counts per kind of unit, then every running, interrupted and failed unit.
pub fn format_status(study: &Study, units: &[UnitStatus]) -> String {
    let mut out = format!(
        "study {:?} in {}\n",
        study.file.name,
        study.out_dir.display()
    );
    out.push_str("| units | done | running | interrupted | failed | waiting | to do |\n|---|---|---|---|---|---|---|\n");
    for kind in [
        UnitKind::Train,
        UnitKind::Robustness,
        UnitKind::Compare,
        UnitKind::People,
    ] {
        let of: Vec<&UnitStatus> = units.iter().filter(|u| u.kind == kind).collect();
        if of.is_empty() {
            continue;
        }
        let count = |f: fn(&UnitState) -> bool| of.iter().filter(|u| f(&u.state)).count();
        out.push_str(&format!(
            "| {} ({}) | {} | {} | {} | {} | {} | {} |\n",
            kind.id(),
            of.len(),
            count(|s| *s == UnitState::Done),
            count(|s| matches!(s, UnitState::Running { .. })),
            count(|s| matches!(s, UnitState::Interrupted { .. })),
            count(|s| matches!(s, UnitState::Failed { .. })),
            count(|s| *s == UnitState::Waiting),
            count(|s| *s == UnitState::Todo),
        ));
    }
    for u in units {
        match &u.state {
            UnitState::Running { host, pid, started } => out.push_str(&format!(
                "running: {} on {host} (pid {pid}, since {started})\n",
                u.label
            )),
            UnitState::Interrupted { host, pid } => out.push_str(&format!(
                "interrupted: {} (pid {pid} on {host} is gone; `study run` takes it over)\n",
                u.label
            )),
            UnitState::Failed { reason } => {
                out.push_str(&format!("failed: {}: {reason}\n", u.label))
            }
            _ => {}
        }
    }
    out
}
