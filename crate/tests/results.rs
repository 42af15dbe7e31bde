//! The results file: round trip, and clear errors for anything else.

use microlearning::results::{DataInfo, RunResults};
use microlearning::training::{ConfusionMatrix, EpochMetrics, TrainConfig};

fn sample() -> RunResults {
    let mut confusion = ConfusionMatrix::new();
    for i in 0..10 {
        confusion.add(i, i);
    }
    confusion.add(1, 7);
    let epoch = EpochMetrics {
        epoch: 1,
        train_loss: 0.5,
        test_loss: 0.4,
        test_accuracy: confusion.accuracy(),
        confusion,
        train_seconds: 1.0,
        images_per_second: 100.0,
        diagnostics: Default::default(),
    };
    RunResults::new(
        "cpu".into(),
        TrainConfig::new(),
        DataInfo {
            task: "mnist".into(),
            train_images: 100,
            test_images: 11,
            source: "test".into(),
        },
        vec![epoch],
    )
    .unwrap()
}

#[test]
fn results_round_trip() {
    let r = sample();
    assert_eq!(RunResults::from_json(&r.to_json().unwrap()).unwrap(), r);
    assert!((r.final_test_accuracy - 10.0 / 11.0).abs() < 1e-12);
}

fn with_field(json: &str, field: &str, value: serde_json::Value) -> String {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    v[field] = value;
    v.to_string()
}

#[test]
fn malformed_results_are_rejected_with_a_reason() {
    let good = sample().to_json().unwrap();
    let cases = [
        ("{not json".to_string(), "not valid JSON"),
        ("{}".to_string(), "schema_version"),
        (
            good.replace("\"schema_version\": 5", "\"schema_version\": 99"),
            "not supported",
        ),
        (
            good.replace("\"final_test_accuracy\"", "\"renamed\""),
            "missing or malformed",
        ),
        (
            with_field(&good, "final_test_accuracy", serde_json::json!(0.5)),
            "disagrees",
        ),
        (
            with_field(
                &good,
                "final_confusion",
                serde_json::json!([[1, 2], [3, 4]]),
            ),
            "10×10",
        ),
    ];
    for (text, expected) in cases {
        let err = RunResults::from_json(&text).unwrap_err().to_string();
        assert!(err.contains(expected), "expected '{expected}' in '{err}'");
    }
}

#[test]
fn version_1_files_from_before_the_diagnostics_still_load() {
    // Version 1 had neither `diagnostics_every` in the config nor `diagnostics` per epoch.
    let mut v: serde_json::Value = serde_json::from_str(&sample().to_json().unwrap()).unwrap();
    v["schema_version"] = 1.into();
    v["config"]
        .as_object_mut()
        .unwrap()
        .remove("diagnostics_every");
    v["config"].as_object_mut().unwrap().remove("front_end");
    v["config"]
        .as_object_mut()
        .unwrap()
        .remove("neuronal_noise");
    v["config"].as_object_mut().unwrap().remove("lr_decay");
    v["epochs"][0]
        .as_object_mut()
        .unwrap()
        .remove("diagnostics");
    let r = RunResults::from_json(&v.to_string()).unwrap();
    assert_eq!(
        r.config.diagnostics_every, 0,
        "v1 runs measured no diagnostics"
    );
    assert_eq!(r.schema_version, 5);
    assert!(r.epochs[0].diagnostics.samples.is_empty());
}

#[test]
fn version_3_files_keep_their_front_end_and_get_no_noise() {
    let mut v: serde_json::Value = serde_json::from_str(&sample().to_json().unwrap()).unwrap();
    v["schema_version"] = 3.into();
    v["config"]["front_end"] = "gabor".into();
    v["config"]
        .as_object_mut()
        .unwrap()
        .remove("neuronal_noise");
    v["config"].as_object_mut().unwrap().remove("lr_decay");
    let r = RunResults::from_json(&v.to_string()).unwrap();
    assert_eq!(r.config.front_end.id(), "gabor");
    assert_eq!(r.config.neuronal_noise, 0.0);
    assert_eq!(r.config.lr_decay, 1.0);
}

#[test]
fn version_4_files_keep_their_noise_and_a_constant_learning_rate() {
    let mut v: serde_json::Value = serde_json::from_str(&sample().to_json().unwrap()).unwrap();
    v["schema_version"] = 4.into();
    v["config"]["front_end"] = "gabor".into();
    v["config"]["neuronal_noise"] = 0.5.into();
    v["config"].as_object_mut().unwrap().remove("lr_decay");
    let r = RunResults::from_json(&v.to_string()).unwrap();
    assert_eq!(r.schema_version, 5);
    assert_eq!(r.config.neuronal_noise, 0.5);
    assert_eq!(r.config.lr_decay, 1.0);
}

/// Files that parse but were not written by the lab: each is refused with the reason.
#[test]
fn inconsistent_results_are_rejected() {
    let good: serde_json::Value = serde_json::from_str(&sample().to_json().unwrap()).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let cases = [
        (edit(&|v| v["epochs"] = serde_json::json!([])), "no epochs"),
        (
            edit(&|v| v["epochs"][0]["confusion"] = serde_json::json!([[1]])),
            "epoch 1 confusion matrix is not 10×10",
        ),
        (edit(&|v| v["epochs"][0]["epoch"] = 3.into()), "numbered 3"),
        (
            edit(&|v| v["config"]["batch_size"] = 0.into()),
            "configuration is invalid",
        ),
        (
            edit(&|v| v["config"]["learning_rate"] = (-1.0).into()),
            "configuration is invalid",
        ),
        (
            edit(&|v| v["config"]["epochs"] = 0.into()),
            "configuration is invalid",
        ),
        (
            edit(&|v| v["data"]["task"] = "fashion".into()),
            "disagrees with config.task",
        ),
        (
            edit(&|v| v["data"]["test_images"] = 12.into()),
            "counts 11 test images",
        ),
        (
            edit(&|v| {
                v["epochs"][0]["test_accuracy"] = 0.5.into();
            }),
            "epoch 1 test accuracy",
        ),
    ];
    for (text, expected) in cases {
        let err = RunResults::from_json(&text).unwrap_err().to_string();
        assert!(err.contains(expected), "expected '{expected}' in '{err}'");
    }
}

/// A seed above 2^53 survives reading and writing (the page keeps the file's text; it never
/// re-serialises the numbers through JavaScript).
#[test]
fn a_large_seed_round_trips_exactly() {
    let mut r = sample();
    r.config.seed = u64::MAX - 1;
    let text = RunResults::from_json(&r.to_json().unwrap())
        .unwrap()
        .to_json()
        .unwrap();
    assert!(text.contains("18446744073709551614"), "{text}");
}
