//! `microlearning study create|list|close|export`: studies in the collection server's database.
//! They work on the database directly, so they run beside a live server or without one.
//! `study run|status|report` run a research design from a study file instead
//! (`cli/research/`); they do not touch the database.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use super::recipe::parse_task;
use super::research::{
    StudyFileArgs, StudyReportArgs, StudyRunArgs, make_study_report, run_study_file,
    show_study_status,
};
use super::serve::{DEFAULT_DATABASE, runtime};
use crate::data::{DataSplit, Task};
use crate::error::{LabError, Result};
use crate::human::{StimulusDesign, build_list, csv_header};
use crate::server::{NewStudy, Store, csv_line, ndjson_line};

#[derive(Debug, clap::Args)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub command: StudyCommand,
    /// `sqlite://PATH` or `postgres://…`, as for `serve`.
    #[arg(long, global = true, default_value = DEFAULT_DATABASE, env = "MICROLEARNING_DATABASE")]
    pub database: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum StudyCommand {
    /// A new study: prints its id, the participant link and the experimenter token (shown once).
    Create(CreateArgs),
    /// Every study with its counts.
    List,
    /// Takes no new participants (running sessions may still finish).
    Close { study: String },
    /// Every stored trial of a study, as the page's CSV or as NDJSON.
    Export(ExportArgs),
    /// Runs the units of a study file (training runs, robustness curves, comparisons) whose
    /// output is missing: all of them, or one shard's (`--shard K/N`, Slurm, Kubernetes).
    Run(StudyRunArgs),
    /// What of a study file is done, running, interrupted, failed or waiting.
    Status(StudyFileArgs),
    /// Merges a study's outputs into report/: CSV tables, SVG figures, index.html.
    Report(StudyReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub name: String,
    /// `short` (40 test trials), `standard` (160), or a JSON file holding a stimulus design.
    #[arg(long, default_value = "standard")]
    pub design: String,
    /// The data set of a named design (a design file names its own).
    #[arg(long, default_value = "mnist", value_parser = parse_task)]
    pub task: Task,
    /// The stimulus list's seed for a named design: every participant sees the same list.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub max_participants: Option<u64>,
    /// Where a participant goes after the last answer is stored (e.g. Prolific's
    /// `https://app.prolific.com/submissions/complete?cc=CODE`).
    #[arg(long)]
    pub completion_url: Option<String>,
    /// The address participants reach the server at, for the printed link.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    #[arg(long, default_value = "data", env = "MICROLEARNING_DATA")]
    pub data_root: PathBuf,
    /// Print one JSON object instead of text (for scripts).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    pub study: String,
    /// `csv` (the page's columns) or `ndjson` (one trial row per line).
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn collection(e: impl std::fmt::Display) -> LabError {
    LabError::Collection(e.to_string())
}

fn design_of(args: &CreateArgs) -> Result<StimulusDesign> {
    if let Some(design) = StimulusDesign::preset(&args.design, args.task, args.seed) {
        return Ok(design);
    }
    let text = std::fs::read_to_string(&args.design).map_err(|e| {
        LabError::Config(format!(
            "--design {}: not short, standard or a readable design file ({e})",
            args.design
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        LabError::Config(format!(
            "--design {}: not a stimulus design: {e}",
            args.design
        ))
    })
}

pub fn run_study(args: &StudyArgs) -> Result<()> {
    match &args.command {
        StudyCommand::Run(a) => return run_study_file(a),
        StudyCommand::Status(a) => return show_study_status(a),
        StudyCommand::Report(a) => return make_study_report(a),
        _ => {}
    }
    let rt = runtime()?;
    rt.block_on(async {
        let store = Store::open(&args.database).await.map_err(collection)?;
        let outcome = match &args.command {
            StudyCommand::Create(c) => create(&store, c).await,
            StudyCommand::List => list(&store).await,
            StudyCommand::Close { study } => {
                if store.close_study(study).await.map_err(collection)? {
                    eprintln!("study {study} is closed to new participants");
                    Ok(())
                } else {
                    Err(LabError::Config(format!("there is no study \"{study}\"")))
                }
            }
            StudyCommand::Export(e) => export(&store, e).await,
            StudyCommand::Run(_) | StudyCommand::Status(_) | StudyCommand::Report(_) => Ok(()),
        };
        store.close().await;
        outcome
    })
}

async fn create(store: &Store, args: &CreateArgs) -> Result<()> {
    let design = design_of(args)?;
    if let Some(url) = &args.completion_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(LabError::Config(format!(
            "--completion-url {url}: give an http(s) address"
        )));
    }
    let split = DataSplit::load_task(&args.data_root, design.task)?;
    let list = build_list(&design, &split.test)?;
    let created = store
        .create_study(&NewStudy {
            name: args.name.clone(),
            design: design.clone(),
            stimuli: list.stimuli.clone(),
            max_participants: args.max_participants,
            completion_url: args.completion_url.clone(),
        })
        .await
        .map_err(collection)?;
    let base = args.public_url.trim_end_matches('/');
    let link = format!("{base}/?study={}", created.id);
    let prolific = format!(
        "{link}&PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}&SESSION_ID={{{{%SESSION_ID%}}}}"
    );
    let dashboard = format!("{base}/dashboard.html?study={}", created.id);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "study": created.id,
                "link": link,
                "prolific_link": prolific,
                "dashboard": dashboard,
                "experimenter_token": created.experimenter_token,
                "trials": list.stimuli.len(),
                // The experimenter's own copy of the list (the participant API never shows
                // labels); the load test builds its rows from it.
                "stimuli": list.stimuli,
            })
        );
    } else {
        println!(
            "study {} \"{}\": {} trials per participant ({} measured)",
            created.id,
            args.name,
            list.stimuli.len(),
            design.test_trials() + design.attention_trials()
        );
        println!("participant link:  {link}");
        println!("for Prolific:      {prolific}");
        println!("dashboard:         {dashboard}");
        println!(
            "experimenter token (shown only now; keep it safe): {}",
            created.experimenter_token
        );
    }
    Ok(())
}

async fn list(store: &Store) -> Result<()> {
    let studies = store.list_studies().await.map_err(collection)?;
    if studies.is_empty() {
        println!("no studies yet: microlearning study create --name NAME");
        return Ok(());
    }
    println!(
        "{:<16} {:<8} {:>8} {:>8} {:>9} {:>8}  name",
        "study", "status", "started", "complete", "withdrawn", "trials"
    );
    for s in studies {
        let c = store.summary(&s.id).await.map_err(collection)?;
        println!(
            "{:<16} {:<8} {:>8} {:>8} {:>9} {:>8}  {}",
            s.id,
            if s.open { "open" } else { "closed" },
            c.sessions_started,
            c.completed,
            c.withdrawn,
            c.trials,
            s.name
        );
    }
    Ok(())
}

async fn export(store: &Store, args: &ExportArgs) -> Result<()> {
    if store
        .study(&args.study)
        .await
        .map_err(collection)?
        .is_none()
    {
        return Err(LabError::Config(format!(
            "there is no study \"{}\"",
            args.study
        )));
    }
    let csv = match args.format.as_str() {
        "csv" => true,
        "ndjson" => false,
        other => return Err(LabError::Config(format!("--format {other}: csv or ndjson"))),
    };
    // Rows go out as they are read, so a study of any size exports in constant memory; a file
    // is written beside its final name and renamed once complete.
    let (mut out, partial): (Box<dyn Write>, Option<PathBuf>) = match &args.out {
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| LabError::io(parent, e))?;
            }
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".partial");
            let tmp = PathBuf::from(tmp);
            let file = std::fs::File::create(&tmp).map_err(|e| LabError::io(&tmp, e))?;
            (Box::new(std::io::BufWriter::new(file)), Some(tmp))
        }
        None => (
            Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            None,
        ),
    };
    let write_err = |e: std::io::Error| {
        LabError::io(
            partial.as_deref().unwrap_or(Path::new("standard output")),
            e,
        )
    };
    if csv {
        out.write_all(csv_header().as_bytes()).map_err(write_err)?;
    }
    let line = if csv { csv_line } else { ndjson_line };
    let mut rows = store.trial_records(&args.study);
    let mut n = 0usize;
    while let Some(row) = rows.next().await {
        let text = line(&row.map_err(collection)?).map_err(collection)?;
        out.write_all(text.as_bytes()).map_err(write_err)?;
        n += 1;
    }
    out.flush().map_err(write_err)?;
    drop(out);
    if let (Some(tmp), Some(path)) = (partial, &args.out) {
        std::fs::rename(&tmp, path).map_err(|e| LabError::io(path, e))?;
        eprintln!("{n} trials written to {}", path.display());
    }
    Ok(())
}
