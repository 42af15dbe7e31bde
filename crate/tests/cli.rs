//! The `microlearning` binary end to end: a short run writes a valid results file and weights,
//! and bad input gives a clear error, a non-zero exit and no output files.

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
