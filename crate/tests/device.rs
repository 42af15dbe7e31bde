//! `--device`: the CPU unless told otherwise, a GPU only when there is one, and the CPU fallback
//! of `--device auto` gives the CPU's very numbers. Built without the `gpu` feature (the
//! default), `--device gpu` is refused naming the feature; `scripts/test.sh` also runs this file
//! with `--features gpu`, where the machine's wgpu adapters are probed for real: with none, or
//! only a software one, `auto` falls back to the CPU and says why; `gpu` trains on the adapter if
//! there is one and is refused with the driver's reason if there is none.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use microlearning::results::RunResults;

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "microlearning-device-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A short run on `device`, writing `dir/NAME.json` and `dir/NAME.bpk`.
fn train(dir: &Path, name: &str, device: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_microlearning"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_remove("MICROLEARNING_DEVICE")
        .args([
            "--device", device, "train", "--task", "mnist", "--epochs", "1",
        ])
        .args(["--train-limit", "256", "--test-limit", "100", "--quiet"])
        .arg("--out")
        .arg(dir.join(format!("{name}.json")))
        .arg("--weights")
        .arg(dir.join(format!("{name}.bpk")))
        .output()
        .unwrap()
}

fn results(dir: &Path, name: &str) -> RunResults {
    RunResults::from_json(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
        .unwrap()
}

#[test]
fn auto_falls_back_to_the_cpu_with_the_cpus_numbers_and_says_why() {
    let dir = tempdir("auto");
    let cpu = train(&dir, "cpu", "cpu");
    assert!(
        cpu.status.success(),
        "{}",
        String::from_utf8_lossy(&cpu.stderr)
    );
    let auto = train(&dir, "auto", "auto");
    let stderr = String::from_utf8_lossy(&auto.stderr);
    assert!(auto.status.success(), "{stderr}");
    if stderr.contains("computing on GPU:") {
        // A machine with a hardware GPU: nothing to compare bit for bit.
        eprintln!("a hardware GPU is present: {stderr}");
    } else {
        assert!(
            stderr.contains("computing on CPU (burn flex); ")
                && (stderr.contains("no GPU: ") || stderr.contains("software")),
            "the fallback does not say why: {stderr}"
        );
        // Bit for bit (the weights files differ only in burn's random parameter ids): the
        // training loss follows every step's weights, the test loss the final ones.
        let numbers = |name: &str| -> Vec<(u64, u64, u64)> {
            results(&dir, name)
                .epochs
                .iter()
                .map(|e| {
                    (
                        e.train_loss.to_bits(),
                        e.test_loss.to_bits(),
                        e.test_accuracy.to_bits(),
                    )
                })
                .collect()
        };
        assert_eq!(
            numbers("auto"),
            numbers("cpu"),
            "the CPU fallback trained other numbers than --device cpu"
        );
        assert_eq!(results(&dir, "auto").backend, "cpu (burn flex)");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gpu_trains_on_an_adapter_or_is_refused_with_the_reason() {
    let dir = tempdir("gpu");
    let out = train(&dir, "gpu", "gpu");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "it panicked: {stderr}");
    if !cfg!(feature = "gpu") {
        assert!(
            !out.status.success() && stderr.contains("--features gpu"),
            "{stderr}"
        );
    } else if out.status.success() {
        assert!(stderr.contains("computing on GPU: "), "{stderr}");
        // The same network, seed and data as on the CPU: GPU kernels round differently, so
        // the numbers are close, not equal.
        let cpu = train(&dir, "cpu", "cpu");
        assert!(cpu.status.success());
        let (gpu, cpu) = (
            results(&dir, "gpu").final_test_accuracy,
            results(&dir, "cpu").final_test_accuracy,
        );
        assert!(
            (gpu - cpu).abs() <= 0.1,
            "accuracy {gpu} on the GPU, {cpu} on the CPU"
        );
    } else {
        assert!(
            stderr.contains("error: --device gpu: ") && stderr.contains("GPU"),
            "{stderr}"
        );
        assert!(
            !dir.join("gpu.json").exists(),
            "a refused run wrote results"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
