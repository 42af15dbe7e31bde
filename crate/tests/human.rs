//! The human experiment's library side: error consistency on hand-worked cases, the stimulus
//! list (reproducible, balanced, renderable), the trial table (strict import: malformed and
//! duplicate files are skipped whole) and the comparison on a table whose answers are known.

use burn::prelude::*;
use microlearning::data::{DataSplit, ImageSet, Task};
use microlearning::human::{
    GroupData, ImportOutcome, ModelIdentity, ObserverKind, Phase, StimulusDesign, TrialRecord,
    build_list, compare, error_consistency, model_trials, parse_file, render, render_list,
    templates_from_list, to_csv,
};
use microlearning::model::SeedNet;

fn test_set() -> ImageSet {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    DataSplit::load_task(&root, Task::Mnist).unwrap().test
}

fn bools(s: &str) -> Vec<bool> {
    s.chars().map(|c| c == '1').collect()
}

// ---- κ, worked by hand ----

#[test]
fn kappa_of_identical_vectors_is_one() {
    let a = bools("1101100110");
    let e = error_consistency(&a, &a).unwrap();
    // p = 0.6 for both: c_exp = 0.36 + 0.16 = 0.52, c_obs = 1, κ = 0.48 / 0.48 = 1.
    assert!((e.expected - 0.52).abs() < 1e-12);
    assert_eq!(e.observed, 1.0);
    assert!((e.kappa - 1.0).abs() < 1e-12);
}

#[test]
fn kappa_of_complementary_vectors() {
    // p1 = 0.5, p2 = 0.5, never agreeing: c_obs = 0, c_exp = 0.5, κ = −0.5 / 0.5 = −1.
    let a = bools("1100");
    let b = bools("0011");
    assert!((error_consistency(&a, &b).unwrap().kappa + 1.0).abs() < 1e-12);
    // p1 = 0.75, p2 = 0.25: c_exp = 0.1875 + 0.1875 = 0.375, κ = −0.375 / 0.625 = −0.6.
    let a = bools("1110");
    let b = bools("0001");
    let e = error_consistency(&a, &b).unwrap();
    assert!((e.expected - 0.375).abs() < 1e-12);
    assert!((e.kappa + 0.6).abs() < 1e-12);
}

#[test]
fn kappa_of_independent_observers_is_zero() {
    // Every combination of (right, wrong) equally often: c_obs = c_exp = 0.5, κ = 0.
    let a = bools("11110000");
    let b = bools("11001100");
    let e = error_consistency(&a, &b).unwrap();
    assert!((e.observed - 0.5).abs() < 1e-12);
    assert!(e.kappa.abs() < 1e-12);
    // Uneven accuracies, still independent: p1 = 0.75 and p2 = 0.5 in a 2×4 crossing.
    let a = bools("11111100");
    let b = bools("11001010");
    // c_obs: positions 0,1,4,6 agree (1,1),(1,1),(1,1),(0,0)… worked out: 4/8 = 0.5;
    // c_exp = 0.375 + 0.125 = 0.5 ⇒ κ = 0.
    let e = error_consistency(&a, &b).unwrap();
    assert!((e.expected - 0.5).abs() < 1e-12);
    assert!(e.kappa.abs() < 1e-12, "{e:?}");
}

#[test]
fn kappa_is_undefined_when_nobody_errs_or_vectors_differ() {
    assert!(error_consistency(&bools("1111"), &bools("1111")).is_none());
    assert!(error_consistency(&bools("11"), &bools("110")).is_none());
    assert!(error_consistency(&[], &[]).is_none());
}

// ---- stimuli ----

fn small_design(seed: u64) -> StimulusDesign {
    StimulusDesign {
        noise_levels: vec![0.0, 0.4],
        durations_ms: vec![Some(100), None],
        images_per_class: 1,
        practice_trials: 3,
        attention_every: 10,
        ..StimulusDesign::new(Task::Mnist, seed)
    }
}

#[test]
fn stimulus_list_is_reproducible_balanced_and_without_repeats() {
    let test = test_set();
    let design = StimulusDesign::new(Task::Mnist, 7);
    let a = build_list(&design, &test).unwrap();
    let b = build_list(&design, &test).unwrap();
    assert_eq!(a, b, "same seed, same list");
    let c = build_list(&StimulusDesign::new(Task::Mnist, 8), &test).unwrap();
    assert_ne!(a.stimuli, c.stimuli, "another seed, another list");

    let tests: Vec<_> = a
        .stimuli
        .iter()
        .filter(|s| s.phase == Phase::Test)
        .collect();
    assert_eq!(tests.len(), 160);
    assert_eq!(
        a.stimuli
            .iter()
            .filter(|s| s.phase == Phase::Attention)
            .count(),
        10
    );
    assert_eq!(
        a.stimuli
            .iter()
            .filter(|s| s.phase == Phase::Practice)
            .count(),
        6
    );
    // Every condition holds each class once.
    for (sigma, duration) in design.conditions() {
        let mut classes: Vec<u8> = tests
            .iter()
            .filter(|s| s.noise_sigma == sigma && s.duration_ms == duration)
            .map(|s| s.label)
            .collect();
        classes.sort();
        assert_eq!(classes, (0..10).collect::<Vec<u8>>());
    }
    // No image twice; labels match the test set; indices run 0..n.
    let mut images: Vec<usize> = a.stimuli.iter().map(|s| s.test_index).collect();
    images.sort();
    images.dedup();
    assert_eq!(images.len(), a.stimuli.len());
    for (i, s) in a.stimuli.iter().enumerate() {
        assert_eq!(s.stimulus_index, i);
        assert_eq!(s.label, test.labels()[s.test_index]);
        assert!(s.noise_seed < 1 << 53);
    }
    // Attention checks are clean and unlimited.
    assert!(
        a.stimuli
            .iter()
            .filter(|s| s.phase == Phase::Attention)
            .all(|s| s.noise_sigma == 0.0 && s.duration_ms.is_none())
    );
}

#[test]
fn rendering_is_exact_and_seeded() {
    let test = test_set();
    let clean = render(&test, 5, 0.0, 123).unwrap();
    assert_eq!(&clean[..], test.image(5));
    let noisy = render(&test, 5, 0.5, 123).unwrap();
    assert_eq!(noisy, render(&test, 5, 0.5, 123).unwrap());
    assert_ne!(noisy, render(&test, 5, 0.5, 124).unwrap());
    let changed = noisy.iter().zip(&clean).filter(|(a, b)| a != b).count();
    assert!(
        changed > 300,
        "σ = 0.5 should change most pixels, changed {changed}"
    );
    let list = build_list(&small_design(1), &test).unwrap();
    assert_eq!(
        render_list(&list, &test).unwrap().len(),
        list.stimuli.len() * 784
    );
    assert!(render(&test, 999_999, 0.1, 1).is_err());
    assert!(render(&test, 0, 1.5, 1).is_err());
}

#[test]
fn bad_designs_are_refused() {
    let test = test_set();
    for design in [
        StimulusDesign {
            noise_levels: vec![],
            ..small_design(1)
        },
        StimulusDesign {
            noise_levels: vec![f64::NAN],
            ..small_design(1)
        },
        StimulusDesign {
            durations_ms: vec![Some(0)],
            ..small_design(1)
        },
        StimulusDesign {
            images_per_class: 500,
            ..small_design(1)
        },
        StimulusDesign {
            seed: 1 << 60,
            ..small_design(1)
        },
        // Crafted sizes: refused before anything is multiplied or allocated.
        StimulusDesign {
            images_per_class: usize::MAX,
            ..small_design(1)
        },
        StimulusDesign {
            noise_levels: vec![0.5; 5000],
            durations_ms: vec![Some(100); 5000],
            ..small_design(1)
        },
        StimulusDesign {
            practice_trials: usize::MAX,
            ..small_design(1)
        },
        StimulusDesign {
            attention_every: usize::MAX,
            ..small_design(1)
        },
    ] {
        let err = build_list(&design, &test).unwrap_err().to_string();
        assert!(err.starts_with("stimulus design:"), "{err}");
    }
}

// ---- the trial table ----

/// A participant answering `policy(label)` on every stimulus of `seed`'s small list.
fn session(session: &str, seed: u64, policy: impl Fn(u8) -> u8) -> Vec<TrialRecord> {
    let list = build_list(&small_design(seed), &test_set()).unwrap();
    templates_from_list(&list)
        .into_iter()
        .map(|t| {
            let response = policy(t.label);
            TrialRecord {
                participant_id: format!("p-{session}"),
                session_id: session.into(),
                observer_kind: ObserverKind::Human,
                rt: Some(640.0),
                measured_duration_ms: t.requested_duration_ms.map(|d| d + 1.0),
                response,
                correct: response == t.label,
                ..t
            }
        })
        .collect()
}

#[test]
fn csv_round_trips_and_json_export_reads_back() {
    let trials = session("s1", 3, |l| l);
    let csv = to_csv(&trials).unwrap();
    assert_eq!(parse_file("s1.csv", &csv).unwrap(), trials);
    let json = serde_json::json!({
        "format": "microlearning-human-session/1",
        "session": {"list_seed": 3},
        "trials": trials,
    })
    .to_string();
    assert_eq!(parse_file("s1.json", &json).unwrap(), trials);
}

#[test]
fn ndjson_exports_and_jatos_result_files_read_back() {
    // The collection server's NDJSON export: one trial row per line.
    let a = session("a", 3, |l| l);
    let b = session("b", 3, |l| (l + 1) % 10);
    let ndjson: String = a
        .iter()
        .map(|t| format!("{}\n", serde_json::to_string(t).unwrap()))
        .collect();
    assert_eq!(parse_file("export.ndjson", &ndjson).unwrap(), a);
    // A JATOS result file: one session file per participant, one after another.
    let file = |trials: &[TrialRecord]| {
        serde_json::json!({ "format": "microlearning-human-session/1", "session": {}, "trials": trials })
            .to_string()
    };
    let jatos = format!("{}\n{}\n", file(&a), file(&b));
    let both: Vec<TrialRecord> = a.iter().chain(&b).cloned().collect();
    assert_eq!(parse_file("results.txt", &jatos).unwrap(), both);
    // A line that is neither is refused with its position.
    let broken = format!("{}{{\"label\": 3}}\n", ndjson);
    let err = parse_file("broken.ndjson", &broken)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("JSON value {}", a.len() + 1)),
        "{err}"
    );
}

#[test]
fn csv_cells_that_spreadsheets_would_run_are_escaped_and_read_back() {
    let mut trials = session("s1", 3, |l| l);
    for (t, id) in trials.iter_mut().zip(
        [
            "=HYPERLINK(\"x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "'quoted",
            "plain",
        ]
        .iter()
        .cycle(),
    ) {
        t.participant_id = id.to_string();
    }
    let csv = to_csv(&trials).unwrap();
    assert!(csv.contains("\n'+1,"), "{}", &csv[..300]);
    assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\""));
    assert!(csv.contains("\n''quoted,"));
    assert!(
        !csv.lines()
            .any(|l| l.starts_with('=') || l.starts_with('+') || l.starts_with('@'))
    );
    assert_eq!(parse_file("escaped.csv", &csv).unwrap(), trials);
}

#[test]
fn csv_numbers_are_written_as_javascript_writes_them() {
    use microlearning::human::js_number;
    for (x, js) in [
        (0.0, "0"),
        (5.0, "5"),
        (0.3, "0.3"),
        (512.346, "512.346"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (123456789012345680000.0, "123456789012345680000"),
        (-2.5, "-2.5"),
    ] {
        assert_eq!(js_number(x), js, "{x}");
    }
}

#[test]
fn malformed_and_duplicate_files_are_skipped_whole() {
    let good = to_csv(&session("s1", 3, |l| l)).unwrap();
    let mut group = GroupData::new();
    assert!(matches!(
        group.import("a.csv", &good),
        ImportOutcome::Added { trials: 47, .. }
    ));

    // The same session again, under another file name.
    match group.import("copy-of-a.csv", &good) {
        ImportOutcome::Skipped { reason, .. } => {
            assert!(reason.contains("already imported"), "{reason}")
        }
        other => panic!("duplicate accepted: {other:?}"),
    }
    // Malformed: a wrong `correct`, a truncated row, a missing column, not a table at all.
    let other = to_csv(&session("s2", 4, |l| l)).unwrap();
    let wrong_correct = other.replacen(",true\n", ",false\n", 1);
    let mut lines: Vec<&str> = other.lines().collect();
    let truncated_row = lines[5].rsplitn(4, ',').last().unwrap().to_string();
    lines[5] = &truncated_row;
    let truncated = lines.join("\n");
    let no_label = other.replace("label,", "lable,");
    for (name, text, expect) in [
        ("wrong.csv", wrong_correct.as_str(), "correct = false"),
        ("truncated.csv", truncated.as_str(), "line 6"),
        ("renamed.csv", no_label.as_str(), "\"label\" is missing"),
        ("garbage.json", "{\"format\": 3}", "not a session file"),
        ("empty.csv", "", "missing"),
    ] {
        match group.import(name, text) {
            ImportOutcome::Skipped { reason, .. } => {
                assert!(reason.contains(expect), "{name}: {reason}");
                assert!(
                    reason.contains(name),
                    "the message names the file: {reason}"
                );
            }
            other => panic!("{name} accepted: {other:?}"),
        }
    }
    assert_eq!(
        group.trials().len(),
        47,
        "nothing of a skipped file was imported"
    );
    assert!(matches!(
        group.import("b.csv", &other),
        ImportOutcome::Added { .. }
    ));
}

// ---- the comparison ----

#[test]
fn comparison_matches_a_known_policy() {
    // Human 1: right except every 1 answered as 7; human 2: the same policy. A "model" answers
    // every 3 as 8. κ(human, human) = 1; κ(model, human) is computed by hand below.
    let h1 = session("h1", 3, |l| if l == 1 { 7 } else { l });
    let h2 = session("h2", 3, |l| if l == 1 { 7 } else { l });
    let model: Vec<TrialRecord> = session("m", 3, |l| if l == 3 { 8 } else { l })
        .into_iter()
        .map(|t| TrialRecord {
            participant_id: "model-a".into(),
            session_id: "model-a/list-3".into(),
            observer_kind: ObserverKind::Model,
            rule: Some("bp".into()),
            rt: None,
            measured_duration_ms: None,
            ..t
        })
        .collect();
    let all: Vec<TrialRecord> = h1.iter().chain(&h2).chain(&model).cloned().collect();
    let report = compare(&all);

    assert_eq!(report.participants.len(), 2);
    assert_eq!(report.participants[0].test_trials, 40);
    assert_eq!(report.participants[0].accuracy, 0.9);
    assert_eq!(
        report.participants[0].attention_accuracy.map(|a| a <= 1.0),
        Some(true)
    );
    let hh = report.human_human_kappa.unwrap();
    assert!((hh.mean - 1.0).abs() < 1e-12);

    // Human vs model over the 40 test trials: 4 ones (human wrong), 4 threes (model wrong).
    // p1 = p2 = 0.9; c_obs = 32/40 = 0.8; c_exp = 0.81 + 0.01 = 0.82; κ = −0.02/0.18 = −1/9.
    let row = &report.ranking[0];
    assert_eq!(row.name, "model-a");
    assert!((row.accuracy - 0.9).abs() < 1e-12);
    let k = row.kappa.unwrap();
    assert!((k.mean + 1.0 / 9.0).abs() < 1e-12, "κ = {}", k.mean);
    assert_eq!(k.n, 2);

    // Pooled human confusion: the 1s all went to 7.
    assert_eq!(report.human_confusion.0[1][7], 8);
    assert_eq!(report.human_confusion.0[1][1], 0);
    assert_eq!(report.ranking[0].confusion.0[3][8], 4);
    // Four conditions; humans at 90% in each (one "1" per condition).
    assert_eq!(report.conditions.len(), 4);
    for c in &report.conditions {
        assert!((c.humans.unwrap().mean - 0.9).abs() < 1e-12);
        assert_eq!(c.models, vec![Some(0.9)]);
    }
}

#[test]
fn a_model_answers_the_exact_stimuli() {
    let test = test_set();
    let list = build_list(&small_design(5), &test).unwrap();
    let device = Device::flex();
    let model = SeedNet::init(0, &device);
    let who = ModelIdentity {
        name: "untrained".into(),
        rule: None,
        front_end: None,
    };
    let templates = templates_from_list(&list);
    let trials = microlearning::block_on(model_trials(
        &model,
        &who,
        Task::Mnist,
        &test,
        &templates,
        &device,
    ))
    .unwrap();
    assert_eq!(trials.len(), list.stimuli.len());
    // The same answers as classifying the rendered pixels directly.
    let pixels = render_list(&list, &test).unwrap();
    let labels: Vec<u8> = list.stimuli.iter().map(|s| s.label).collect();
    let set = ImageSet::new(pixels, labels).unwrap();
    let eval =
        microlearning::block_on(microlearning::training::evaluate(&model, &set, 64, &device))
            .unwrap();
    let answers: Vec<u8> = trials.iter().map(|t| t.response).collect();
    assert_eq!(answers, eval.predictions);
    assert!(trials.iter().all(|t| t.correct == (t.response == t.label)));
    // A table of another task is refused.
    assert!(
        microlearning::block_on(model_trials(
            &model,
            &who,
            Task::Fashion,
            &test,
            &templates,
            &device
        ))
        .is_err()
    );
}

#[test]
fn one_participant_gets_no_confidence_interval_and_big_seeds_are_refused() {
    let h1 = session("solo", 3, |l| if l == 1 { 7 } else { l });
    let report = compare(&h1);
    let acc = report.human_accuracy.unwrap();
    assert_eq!((acc.n, acc.low, acc.high), (1, None, None));
    assert!(
        report.human_human_kappa.is_none(),
        "one participant has no pair"
    );
    let mut bad = h1.clone();
    bad[0].noise_seed = 1 << 60;
    let err = parse_file("big.csv", &to_csv(&bad).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("noise_seed") && err.contains("2^53"), "{err}");
}

#[test]
fn conditions_apart_by_less_than_a_thousandth_stay_apart() {
    // Every other trial at σ 0.4 moves to σ 0.4004, and every other one at σ 0 · 100 ms to
    // 100.4 ms: differences below any rounding to 10⁻³ or to whole ms, so seven conditions, not
    // four. Person a is right on every trial; person b is wrong on every moved trial and right
    // elsewhere, so a merged row would show 75% where the true rows show 100% and 50%.
    let shift = |trials: &mut Vec<TrialRecord>| {
        let mut seen: std::collections::HashMap<(u64, Option<u64>), usize> = Default::default();
        let mut moved = Vec::new();
        for (i, t) in trials.iter_mut().enumerate() {
            let key = (
                t.noise_sigma.to_bits(),
                t.requested_duration_ms.map(f64::to_bits),
            );
            if t.phase != Phase::Test {
                continue;
            }
            let n = seen.entry(key).or_default();
            *n += 1;
            if n.is_multiple_of(2) {
                continue;
            }
            if t.noise_sigma == 0.4 {
                t.noise_sigma = 0.4004;
                moved.push(i);
            } else if t.requested_duration_ms == Some(100.0) {
                t.requested_duration_ms = Some(100.4);
                t.measured_duration_ms = Some(101.0);
                moved.push(i);
            }
        }
        moved
    };
    let mut a = session("a", 3, |l| l);
    let mut b = session("b", 3, |l| l);
    shift(&mut a);
    for i in shift(&mut b) {
        b[i].response = (b[i].label + 1) % 10;
        b[i].correct = false;
    }
    let all: Vec<TrialRecord> = a.iter().chain(&b).cloned().collect();
    let report = compare(&all);
    let rows: Vec<(f64, Option<f64>, f64)> = report
        .conditions
        .iter()
        .map(|c| {
            (
                c.condition.noise_sigma,
                c.condition.duration_ms,
                c.humans.unwrap().mean,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (0.0, Some(100.0), 1.0),
            (0.0, Some(100.4), 0.5),
            (0.0, None, 1.0),
            (0.4, Some(100.0), 1.0),
            (0.4, None, 1.0),
            (0.4004, Some(100.0), 0.5),
            (0.4004, None, 0.5),
        ],
        "one row per exact condition, ordered by σ then duration, unlimited last"
    );
}

#[test]
fn presentations_off_by_more_than_a_frame_are_left_out_of_the_human_side() {
    use microlearning::human::format_report;
    // Timed test trials measured 40 ms over (a hidden tab) and 17 ms short are left out; 16 ms
    // over is within a frame (1000/60 ms) and kept; an unlimited trial is never mistimed.
    let mut h = session("h", 3, |l| l);
    let timed: Vec<usize> = (0..h.len())
        .filter(|&i| h[i].phase == Phase::Test && h[i].requested_duration_ms.is_some())
        .collect();
    let untimed = (0..h.len())
        .find(|&i| h[i].phase == Phase::Test && h[i].requested_duration_ms.is_none())
        .unwrap();
    let requested = |t: &TrialRecord| t.requested_duration_ms.unwrap();
    for (k, &i) in timed.iter().take(3).enumerate() {
        h[i].measured_duration_ms = Some(requested(&h[i]) + [40.0, 250.0, -17.0][k]);
        // Wrong answers, so that counting them would show.
        h[i].response = (h[i].label + 1) % 10;
        h[i].correct = false;
    }
    h[timed[3]].measured_duration_ms = Some(requested(&h[timed[3]]) + 16.0);
    h[untimed].measured_duration_ms = Some(9000.0);
    let model: Vec<TrialRecord> = session("m", 3, |l| l)
        .into_iter()
        .map(|t| TrialRecord {
            participant_id: "model-a".into(),
            session_id: "model-a/list-3".into(),
            observer_kind: ObserverKind::Model,
            rt: None,
            measured_duration_ms: None,
            ..t
        })
        .collect();
    let all: Vec<TrialRecord> = h.iter().chain(&model).cloned().collect();
    let report = compare(&all);
    assert_eq!(report.mistimed_trials, 3);
    assert!((report.frame_ms - 1000.0 / 60.0).abs() < 1e-12);
    let p = &report.participants[0];
    assert_eq!((p.test_trials, p.mistimed_trials), (37, 3));
    assert_eq!(
        p.accuracy, 1.0,
        "the wrong answers were all on mistimed trials"
    );
    assert_eq!(
        report.ranking[0].test_trials, 40,
        "a model's trials are never left out"
    );
    let text = format_report(&report);
    assert!(text.contains("3 human test trial(s) left out"), "{text}");
}
