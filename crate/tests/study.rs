//! `microlearning study run|status|report` end to end, on a small study (2 rules × 2 seeds, a few
//! hundred images): run unsharded, and as 3 shards in parallel processes writing to one folder,
//! it gives identical report tables and figures; a shard killed mid-way and run again loses
//! nothing and repeats nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_microlearning"));
    cmd.current_dir(repo());
    cmd
}

fn tempdir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("microlearning-study-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The scripted participants' trial files in `dir/people/`, as the page exports them.
fn people_in(dir: &Path) {
    std::fs::create_dir_all(dir.join("people")).unwrap();
    for (id, trials) in common::scripted_people().2 {
        std::fs::write(
            dir.join(format!("people/{id}.csv")),
            microlearning::human::to_csv(&trials).unwrap(),
        )
        .unwrap();
    }
}

/// The same participants in a collection server's SQLite database `path`: one study with their
/// stimulus list, a session each (one after the other, as they came), every trial stored.
fn people_in_database(path: &Path) {
    use microlearning::server::{NewStudy, PutOutcome, StartOutcome, Store, TrialWrite};
    let (design, list, people) = common::scripted_people();
    let url = format!("sqlite://{}", path.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open(&url).await.unwrap();
        let created = store
            .create_study(&NewStudy {
                name: "scripted".into(),
                design,
                stimuli: list.stimuli.clone(),
                max_participants: None,
                completion_url: None,
            })
            .await
            .unwrap();
        for (id, trials) in people {
            let StartOutcome::Started { session, .. } = store
                .start_session(&created.id, id, &Default::default(), None)
                .await
                .unwrap()
            else {
                panic!("no session for {id}");
            };
            let session = store.session(&session).await.unwrap().unwrap();
            for mut t in trials {
                t.session_id = session.id.clone();
                let write = TrialWrite {
                    stimulus_index: t.stimulus_index as u64,
                    phase: t.phase,
                    condition_label: t.condition().label(),
                    correct: t.correct,
                    record: serde_json::to_string(&t).unwrap(),
                };
                assert_eq!(
                    store.put_trial(&session, &write).await.unwrap(),
                    PutOutcome::Stored
                );
            }
            // Sessions are read back in the order they started.
            std::thread::sleep(Duration::from_millis(5));
        }
        store.close().await;
    });
}

/// The study file, in its own folder (its outputs go to `out/` beside it, its people's files
/// in `people/`).
fn study_in(dir: &Path) -> PathBuf {
    people_in(dir);
    let data = repo().join("data").canonicalize().unwrap();
    let text = format!(
        r#"
name = "two rules, two seeds"
out_dir = "out"
data_root = "{}"
tasks = ["mnist"]
rules = ["bp", "fa"]
seeds = [0, 1]

[recipe]
epochs = 1
train_limit = 320
test_limit = 200
diagnostics_every = 2

[analysis]
probe_size = 100
layers = ["conv2", "fc1"]
bootstrap = 20

[robustness]
noise = [0.0, 0.5]
contrast = [0.3]

[people]
files = ["people"]
"#,
        data.display()
    );
    let path = dir.join("study.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn ok(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed: {stderr}");
    stderr
}

fn study(args: &[&str], file: &Path) -> Command {
    let mut cmd = cli();
    cmd.arg("study").args(args).arg(file);
    // A scheduler's variables in the test's own environment must not pick a shard.
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "JOB_COMPLETION_INDEX",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Array task `k` of `n` through the committed Slurm script, as `sbatch --array=0-(n-1)` runs it.
fn slurm_task(file: &Path, k: usize, n: usize) -> Command {
    let mut cmd = Command::new("bash");
    cmd.current_dir(repo())
        .arg("docs/slurm/study.sbatch")
        .arg(file)
        .env("MICROLEARNING_BIN", env!("CARGO_BIN_EXE_microlearning"))
        .env("SLURM_ARRAY_TASK_ID", k.to_string())
        .env("SLURM_ARRAY_TASK_COUNT", n.to_string())
        .env("SLURM_ARRAY_TASK_MIN", "0")
        // The script gives rayon the task's CPUs; the same seed gives the same numbers for a
        // given thread count, so every shard gets the count the unsharded run had.
        .env(
            "SLURM_CPUS_PER_TASK",
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .to_string(),
        )
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("STUDY_FINAL");
    cmd
}

/// Pod `k` of a Kubernetes Indexed Job of `n` completions, as the committed manifest sets it up.
fn kubernetes_pod(file: &Path, k: usize, n: usize) -> Command {
    let mut cmd = study(&["run"], file);
    cmd.env("JOB_COMPLETION_INDEX", k.to_string())
        .env("MICROLEARNING_SHARDS", n.to_string());
    cmd
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every file under `dir`, relative path → bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The report's files, less the one table of wall-clock times.
fn report_of(file: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    ok(study(&["report"], file).output().unwrap(), "study report");
    let mut all = files(&file.parent().unwrap().join("out/report"));
    assert!(
        all.remove("timings.csv").is_some(),
        "the report has its timings table"
    );
    all
}

/// Fails naming every file that differs and its first differing line (not a dump of bytes).
fn assert_same(
    got: &std::collections::BTreeMap<String, Vec<u8>>,
    want: &std::collections::BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let names =
        |m: &std::collections::BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: other files");
    let mut differences = Vec::new();
    for (name, want) in want {
        let got = &got[name];
        if got != want {
            let (g, w) = (String::from_utf8_lossy(got), String::from_utf8_lossy(want));
            let line = g
                .lines()
                .zip(w.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            differences.push(format!(
                "{name}, line {}:\n  got  {}\n  want {}",
                line + 1,
                g.lines().nth(line).unwrap_or(""),
                w.lines().nth(line).unwrap_or("")
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{what}:\n{}",
        differences.join("\n")
    );
}

fn rows(report: &std::collections::BTreeMap<String, Vec<u8>>, table: &str) -> Vec<Vec<String>> {
    let text = String::from_utf8(report[table].clone()).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn a_study_gives_the_same_tables_unsharded_and_as_three_parallel_shards_even_after_a_kill() {
    // Unsharded.
    let whole_dir = tempdir("whole");
    let whole = study_in(&whole_dir);
    ok(study(&["run"], &whole).output().unwrap(), "study run");
    let status = String::from_utf8(study(&["status"], &whole).output().unwrap().stdout).unwrap();
    assert!(
        status.contains("| train (4) | 4 | 0 | 0 | 0 | 0 | 0 |"),
        "{status}"
    );
    assert!(status.contains("| compare (1) | 1 |"), "{status}");
    assert!(status.contains("| people (1) | 1 |"), "{status}");
    let expected = report_of(&whole);
    // Kept for the browser test that views the report (tests/report.test.mjs).
    let keep = repo().join("tests/artifacts/study-report");
    let _ = std::fs::remove_dir_all(&keep);
    for (name, bytes) in &expected {
        std::fs::create_dir_all(keep.join(name).parent().unwrap()).unwrap();
        std::fs::write(keep.join(name), bytes).unwrap();
    }

    // The same people read straight from a collection server's database (people.database)
    // give the same Q3 tables; only the people unit runs, on the unsharded study's models.
    let db_dir = tempdir("database");
    people_in_database(&db_dir.join("lab.db"));
    let db_study = db_dir.join("study.toml");
    std::fs::write(
        &db_study,
        std::fs::read_to_string(&whole)
            .unwrap()
            .replace("files = [\"people\"]", "database = \"sqlite://lab.db\""),
    )
    .unwrap();
    for (name, bytes) in files(&whole_dir.join("out")) {
        if !(name.starts_with("people/") || name.starts_with("report/")) {
            let to = db_dir.join("out").join(&name);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(to, bytes).unwrap();
        }
    }
    let log = ok(
        study(&["run"], &db_study).output().unwrap(),
        "study run, people from a database",
    );
    assert!(
        log.contains("1 unit(s) run"),
        "only the people unit ran: {log}"
    );
    let from_db = report_of(&db_study);
    assert_eq!(
        rows(&from_db, "people_ranking.csv"),
        rows(&expected, "people_ranking.csv")
    );
    let html = String::from_utf8(from_db["index.html"].clone()).unwrap();
    assert!(
        html.contains("Participants from database study") && html.contains("\"scripted\""),
        "the caption names the database study"
    );
    // A database study that is not there is named.
    std::fs::write(
        &db_study,
        std::fs::read_to_string(&db_study).unwrap().replace(
            "database = \"sqlite://lab.db\"",
            "database = \"sqlite://lab.db\"\nstudies = [\"nosuchstudy\"]",
        ),
    )
    .unwrap();
    let _ = std::fs::remove_file(db_dir.join("out/people/mnist.json"));
    let out = study(&["run"], &db_study).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("nosuchstudy"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(db_dir);

    // What the report holds: one row per run, per model pair and layer, per robustness point.
    let runs = rows(&expected, "runs.csv");
    assert_eq!(runs.len(), 4);
    // Backprop learns something from 320 images; feedback alignment is still near chance then.
    for r in &runs {
        let accuracy: f64 = r[6].parse().unwrap();
        assert!(
            (0.0..=1.0).contains(&accuracy) && (r[2] != "bp" || accuracy > 0.3),
            "{runs:?}"
        );
    }
    assert_eq!(rows(&expected, "similarity.csv").len(), 2 * 6);
    assert_eq!(rows(&expected, "robustness.csv").len(), 4 * 3);
    let tests = rows(&expected, "cka_floor_tests.csv");
    assert_eq!(tests.len(), 2, "fa on conv2 and fc1: {tests:?}");
    for t in &tests {
        let p: f64 = t[9].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{t:?}");
    }
    // Q3: the four models ranked by κ with the two people, and every trial, people's and models'.
    let ranking = rows(&expected, "people_ranking.csv");
    assert_eq!(ranking.len(), 4, "{ranking:?}");
    assert!(
        ranking.iter().all(|r| !r[7].is_empty()),
        "every model has a κ: {ranking:?}"
    );
    let trials = rows(&expected, "trials.csv");
    let people_trials = trials
        .iter()
        .filter(|t| t.iter().any(|c| c == "human"))
        .count();
    assert!(
        people_trials > 0 && trials.len() > people_trials,
        "{} trials, {people_trials} people's",
        trials.len()
    );
    let html = String::from_utf8(expected["index.html"].clone()).unwrap();
    assert!(
        html.contains("Q3 · models ranked by error consistency")
            && html.contains("Q3 · psychometric curves")
    );
    let figures = html.matches("<figure").count();
    assert!(figures >= 6, "{figures} figures");
    assert_eq!(
        figures,
        html.matches("<svg").count(),
        "every figure is an inline SVG"
    );
    assert_eq!(
        figures,
        expected
            .keys()
            .filter(|k| k.starts_with("figures/") && k.ends_with(".svg"))
            .count()
    );

    // Three Slurm array tasks at once in one folder (docs/slurm/study.sbatch), then its final
    // step for what waited on them.
    let sharded_dir = tempdir("sharded");
    let sharded = study_in(&sharded_dir);
    let children: Vec<Child> = (0..3).map(|k| spawn(slurm_task(&sharded, k, 3))).collect();
    for (k, child) in children.into_iter().enumerate() {
        let log = ok(
            child.wait_with_output().unwrap(),
            &format!("array task {k}"),
        );
        assert!(
            log.contains(&format!("shard {k}/3")),
            "the array task did not pick up its shard: {log}"
        );
    }
    let rest = ok(
        slurm_task(&sharded, 0, 3)
            .env("STUDY_FINAL", "1")
            .output()
            .unwrap(),
        "the final step",
    );
    assert!(
        rest.contains("2 unit(s) run, 8 already done"),
        "only the comparisons were left: {rest}"
    );
    assert_same(
        &report_of(&sharded),
        &expected,
        "sharded and unsharded reports differ",
    );

    // Pod 0 of an Indexed Job killed once its first run is written, then run again.
    let killed_dir = tempdir("killed");
    let killed = study_in(&killed_dir);
    let first = killed_dir.join("out/runs/mnist/learned/bp-s0.json");
    let mut child = spawn(kubernetes_pod(&killed, 0, 3));
    let started = Instant::now();
    while !first.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "shard 0 wrote nothing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "shard 0 ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let written = std::fs::metadata(&first).unwrap().modified().unwrap();
    let again = ok(
        kubernetes_pod(&killed, 0, 3).output().unwrap(),
        "pod 0 again",
    );
    assert!(
        !again.contains("train mnist learned bp seed 0\n"),
        "the finished run was repeated: {again}"
    );
    assert!(again.contains("already done"), "{again}");
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        written,
        "the finished run was rewritten"
    );
    for k in 1..3 {
        ok(
            study(&["run", "--shard", &format!("{k}/3")], &killed)
                .output()
                .unwrap(),
            "the other shards",
        );
    }
    ok(study(&["run"], &killed).output().unwrap(), "the final run");
    let status = String::from_utf8(study(&["status"], &killed).output().unwrap().stdout).unwrap();
    assert!(
        !status.contains("interrupted:") && !status.contains("failed:"),
        "{status}"
    );
    assert_same(
        &report_of(&killed),
        &expected,
        "the killed and rerun study's report differs",
    );
    for dir in [whole_dir, sharded_dir, killed_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_bad_study_file_is_refused_with_its_name_and_the_problem() {
    let dir = tempdir("bad");
    let path = dir.join("study.toml");
    std::fs::write(
        &path,
        "name = \"x\"\ntasks = [\"mnist\"]\nrules = [\"bp\", \"nope\"]\nseeds = [0]\n",
    )
    .unwrap();
    let out = study(&["run"], &path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("study.toml") && stderr.contains("nope"),
        "{stderr}"
    );
    assert!(!dir.join("study-out").exists(), "nothing was written");
    let _ = std::fs::remove_dir_all(dir);
}
