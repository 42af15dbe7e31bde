//! The `microlearning` binary end to end: a short run writes a valid results file and weights,
//! and bad input gives a clear error, a non-zero exit and no output files.

mod common;

use std::process::Command;

use microlearning::model::load_weights;
use microlearning::results::RunResults;

fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_microlearning"));
    cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    cmd
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("microlearning-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn train_writes_results_and_weights() {
    let dir = tempdir("train");
    let out = cli()
        .args(["train", "--task", "mnist", "--epochs", "1", "--seed", "3"])
        .args(["--train-limit", "640", "--test-limit", "200", "--quiet"])
        .arg("--out")
        .arg(dir.join("run.json"))
        .arg("--weights")
        .arg(dir.join("run.bpk"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("epoch  1:"),
        "per-epoch line missing: {stderr}"
    );

    let results =
        RunResults::from_json(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(results.config.seed, 3);
    assert_eq!(results.data.train_images, 640);
    assert_eq!(results.data.test_images, 200);
    assert!(
        results.final_test_accuracy > 0.5,
        "{}",
        results.final_test_accuracy
    );
    let weights = std::fs::read(dir.join("run.bpk")).unwrap();
    load_weights(
        &weights,
        microlearning::frontends::FrontEndKind::Learned,
        &burn::tensor::Device::flex(),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_data_folder_fails_cleanly_without_output() {
    let dir = tempdir("baddata");
    std::fs::write(dir.join("train-images-idx3-ubyte"), b"garbage").unwrap();
    let out = cli()
        .args(["train", "--quiet", "--data-dir"])
        .arg(&dir)
        .arg("--out")
        .arg(dir.join("run.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("error: data:"), "{stderr}");
    assert!(!dir.join("run.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn diverging_run_writes_nothing() {
    let dir = tempdir("diverge");
    let out = cli()
        .args([
            "train",
            "--quiet",
            "--optimizer",
            "sgd",
            "--lr",
            "50",
            "--momentum",
            "0",
        ])
        .args(["--train-limit", "640", "--test-limit", "100"])
        .arg("--out")
        .arg(dir.join("run.json"))
        .arg("--weights")
        .arg(dir.join("run.bpk"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("diverged"), "{stderr}");
    assert!(!dir.join("run.json").exists() && !dir.join("run.bpk").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_rule_is_a_usage_error() {
    let out = cli()
        .args(["train", "--rule", "telepathy", "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown learning rule 'telepathy'"),
        "{stderr}"
    );
}

/// `human-compare` end to end: two scripted participants' CSV files (one of them also given a
/// second time, which must be skipped) and a trained model; the report ranks the model, and its
/// trial table holds the model's answers to the very stimuli the people saw.
#[test]
fn human_compare_reads_people_and_models() {
    use microlearning::human::{ObserverKind, TrialRecord, parse_file, to_csv};
    let dir = tempdir("human");
    let out = cli()
        .args([
            "train", "--task", "mnist", "--epochs", "1", "--seed", "1", "--quiet",
        ])
        .args(["--train-limit", "640", "--test-limit", "200"])
        .arg("--out")
        .arg(dir.join("bp.json"))
        .arg("--weights")
        .arg(dir.join("bp.bpk"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (_, list, people) = common::scripted_people();
    for (id, trials) in people {
        std::fs::write(dir.join(format!("{id}.csv")), to_csv(&trials).unwrap()).unwrap();
    }
    std::fs::copy(dir.join("alice.csv"), dir.join("alice-again.csv")).unwrap();
    let out = cli()
        .arg("human-compare")
        .arg(dir.join("alice.csv"))
        .arg(dir.join("bob.csv"))
        .arg(dir.join("alice-again.csv"))
        .arg(dir.join("bp.json"))
        .arg("--out")
        .arg(dir.join("report.json"))
        .arg("--trials-out")
        .arg(dir.join("all.csv"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("already imported"), "{stderr}");
    assert!(stdout.contains("2 participant(s)"), "{stdout}");
    assert!(stdout.contains("| 1 | bp | bp | learned |"), "{stdout}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    // alice and bob err on different classes: both 90% right; c_obs = 0.8, c_exp = 0.82.
    let hh = report["human_human_kappa"]["mean"].as_f64().unwrap();
    assert!((hh + 1.0 / 9.0).abs() < 1e-9, "human–human κ {hh}");
    let model_rows: Vec<TrialRecord> = parse_file(
        "all.csv",
        &std::fs::read_to_string(dir.join("all.csv")).unwrap(),
    )
    .unwrap()
    .into_iter()
    .filter(|t| t.observer_kind == ObserverKind::Model)
    .collect();
    assert_eq!(
        model_rows.len(),
        list.stimuli.len(),
        "one answer per distinct stimulus"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn human_compare_without_people_fails_clearly() {
    let dir = tempdir("human-none");
    std::fs::write(dir.join("bad.csv"), "participant_id,session_id\nx,y\n").unwrap();
    let out = cli()
        .arg("human-compare")
        .arg(dir.join("bad.csv"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.csv") && stderr.contains("is missing"),
        "{stderr}"
    );
    assert!(stderr.contains("no human trials were imported"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_rule_trains_at_its_own_learning_rate_unless_told_otherwise() {
    let dir = tempdir("rule-lr");
    let run = |rule: &str, lr: Option<&str>| {
        let path = dir.join(format!("{rule}-{}.json", lr.unwrap_or("default")));
        let mut cmd = cli();
        cmd.args(["train", "--rule", rule, "--epochs", "1", "--quiet"])
            .args(["--train-limit", "64", "--test-limit", "20"])
            .args(["--diagnostics-every", "0"])
            .arg("--out")
            .arg(&path);
        if let Some(lr) = lr {
            cmd.args(["--lr", lr]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        RunResults::from_json(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .config
            .learning_rate
    };
    assert_eq!(run("bp", None), 1e-3);
    assert_eq!(run("ff", None), 2e-4);
    assert_eq!(run("ff", Some("5e-4")), 5e-4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `grid` and `train` build the same config from the same recipe (one argument struct), and
/// `compare` writes the library's one comparison of the grid's models.
#[test]
fn grid_and_train_share_a_recipe_and_compare_reads_the_grid() {
    let dir = tempdir("grid-compare");
    let recipe = [
        "--epochs",
        "1",
        "--train-limit",
        "256",
        "--test-limit",
        "100",
        "--diagnostics-every",
        "0",
        "--lr-decay",
        "0.9",
    ];
    let out = cli()
        .args(["grid", "--rules", "bp,fa", "--seeds", "4"])
        .args(recipe)
        .arg("--out-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli()
        .args(["train", "--rule", "fa", "--seed", "4", "--quiet"])
        .args(recipe)
        .arg("--out")
        .arg(dir.join("train.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| {
        RunResults::from_json(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let (from_grid, from_train) = (read("mnist-fa-s4.json"), read("train.json"));
    assert_eq!(from_grid.config, from_train.config);
    assert_eq!(from_grid.config.lr_decay, 0.9);
    assert_eq!(
        from_grid.config.momentum,
        microlearning::training::TrainConfig::new().momentum
    );

    let compared = dir.join("compare");
    let out = cli()
        .arg("compare")
        .arg(dir.join("mnist-bp-s4.json"))
        .arg(dir.join("mnist-fa-s4.json"))
        .args(["--probe-size", "50", "--out-dir"])
        .arg(&compared)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("linear CKA, fc1"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(compared.join("compare.json")).unwrap())
            .unwrap();
    assert_eq!(json["kind"], "microlearning compare");
    assert_eq!(json["models"].as_array().unwrap().len(), 2);
    assert_eq!(json["probe"]["size"], 50);
    let layers = json["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    for layer in layers {
        let cka = layer["linear_cka"]["data"].as_array().unwrap();
        let at = |k: usize| cka[k].as_f64().unwrap();
        assert!(
            (at(0) - 1.0).abs() < 1e-9 && (at(3) - 1.0).abs() < 1e-9,
            "{layer}"
        );
        assert_eq!(at(1), at(2), "symmetric");
        assert!(at(1) < 1.0 - 1e-6, "bp and fa differ: {}", at(1));
        assert_eq!(layer["pca"].as_array().unwrap().len(), 2);
        assert_eq!(layer["pca"][1]["scores"].as_array().unwrap().len(), 50);
        assert_eq!(layer["class_rdms"].as_array().unwrap().len(), 2);
    }
    assert_eq!(json["layer_by_layer"]["n"], 5);
    assert!(compared.join("rsa_kendall_tau_a_fc1.csv").exists());
    assert!(compared.join("layer_by_layer_cka.csv").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
