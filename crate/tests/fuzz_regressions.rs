//! Regression tests for the fuzz targets (`fuzz/`, run by `scripts/fuzz.sh`), on stable: every
//! input under `crate/tests/fuzz-regressions/<target>/` (the crashes the fuzzer found, kept after
//! their fix), every committed seed under `fuzz/seeds/<target>/` and a few hand-written nasty
//! inputs go through the very same entry functions as the fuzz targets (`fuzz/src/lib.rs`,
//! included below), and each must return `Ok` or `Err`, never panic.
//!
//! Like the fuzz runs (`-malloc_limit_mb=1024`), no input may make a single allocation of
//! 1 GiB or more: this test binary's allocator records each thread's largest allocation.
//!
//! `write_fuzz_seeds` (ignored; `scripts/fuzz.sh` runs it) writes the seed corpora from the
//! shipped data and from files the library itself writes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod entries;

use entries::{TARGETS, idx_input};

/// The fuzz runs' `-malloc_limit_mb=1024`.
const MALLOC_LIMIT: usize = 1 << 30;

thread_local! {
    /// The largest single allocation this thread made since it was last reset.
    static LARGEST_ALLOCATION: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, noting each allocation's size in [`LARGEST_ALLOCATION`].
struct Tracking;

fn note(size: usize) {
    // A const-initialised `Cell` needs no destructor, so this never allocates itself.
    let _ = LARGEST_ALLOCATION.try_with(|largest| largest.set(largest.get().max(size)));
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn regression_dir(target: &str) -> PathBuf {
    manifest_dir().join("tests/fuzz-regressions").join(target)
}

fn committed_seeds_dir(target: &str) -> PathBuf {
    manifest_dir().join("../fuzz/seeds").join(target)
}

/// Every file in `dir` (none if it does not exist), sorted by name.
fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// Feeds the regression files, the committed seeds and `nasty` to `target`; fails naming every
/// input that panicked or made an allocation of [`MALLOC_LIMIT`] or more.
fn check(target: &str, nasty: Vec<(&str, Vec<u8>)>) {
    let mut inputs = files_in(&regression_dir(target));
    inputs.extend(files_in(&committed_seeds_dir(target)));
    inputs.extend(nasty.into_iter().map(|(n, b)| (format!("nasty: {n}"), b)));
    let mut panicked = Vec::new();
    for (name, bytes) in &inputs {
        LARGEST_ALLOCATION.set(0);
        let outcome = catch_unwind(AssertUnwindSafe(|| entries::run(target, bytes)));
        let largest = LARGEST_ALLOCATION.get();
        if largest >= MALLOC_LIMIT {
            panicked.push(format!("{name}: allocated {largest} bytes at once"));
        }
        match outcome {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no fuzz target {target}"),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panicked.push(format!("{name}: {message}"));
            }
        }
    }
    assert!(
        panicked.is_empty(),
        "{target}: {} of {} inputs panicked or allocated too much:\n{}",
        panicked.len(),
        inputs.len(),
        panicked.join("\n")
    );
}

/// `prefix` then `n` bytes of zeros, gzip'd (the zeros about 1,000 to 1), without ever
/// holding them whole.
fn gzip_zeros(prefix: &[u8], n: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(prefix).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..n / chunk.len() {
        enc.write_all(&chunk).unwrap();
    }
    enc.finish().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

#[test]
fn every_regression_folder_names_a_target() {
    let stray = files_in(&manifest_dir().join("tests/fuzz-regressions"));
    assert!(
        stray.is_empty(),
        "regression inputs go in a folder named after their target: {:?}",
        stray.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
    if let Ok(dirs) = std::fs::read_dir(manifest_dir().join("tests/fuzz-regressions")) {
        for dir in dirs {
            let name = dir.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                TARGETS.contains(&name.as_str()),
                "tests/fuzz-regressions/{name} is not a fuzz target ({TARGETS:?})"
            );
        }
    }
}

#[test]
fn idx_inputs_never_panic() {
    let labels = [&idx_header(&[2])[..], &[3, 7]].concat();
    let image = |n: u32| {
        let mut v = idx_header(&[n, 28, 28]);
        v.resize(v.len() + n as usize * 784, 9);
        v
    };
    check(
        "idx",
        vec![
            ("empty", vec![]),
            ("split only", vec![0xff; 4]),
            (
                "255 dimensions of 2^32 − 1",
                idx_input(&idx_header(&[u32::MAX; 255]), &labels),
            ),
            (
                "dimensions whose product overflows",
                idx_input(&idx_header(&[u32::MAX; 3]), &labels),
            ),
            (
                "4 billion images, no data",
                idx_input(&idx_header(&[u32::MAX, 28, 28]), &labels),
            ),
            (
                "2^31 elements exactly",
                idx_input(&idx_header(&[1 << 31]), &labels),
            ),
            (
                "no images",
                idx_input(&idx_header(&[0, 28, 28]), &idx_header(&[0])),
            ),
            ("count mismatch", idx_input(&image(3), &labels)),
            (
                "label 10",
                idx_input(&image(1), &[&idx_header(&[1])[..], &[10]].concat()),
            ),
            ("gzip magic only", idx_input(&[0x1f, 0x8b], &[0x1f, 0x8b])),
            (
                "truncated gzip",
                idx_input(&gzip(&image(2))[..40], &gzip(&labels)[..12]),
            ),
            (
                // 1 GiB of zeros in 1 MiB: refused by its header (bad magic) as it is read,
                // never decompressed whole (which took 1 GiB before the reader streamed).
                "gzip bomb",
                idx_input(&gzip_zeros(&[], 1 << 30), &gzip_zeros(&[], 1 << 30)),
            ),
            (
                // A valid header, then 64 MiB of data more than it promises.
                "gzip'd labels with 64 MiB of trailing zeros",
                idx_input(&gzip(&image(2)), &gzip_zeros(&labels, 64 << 20)),
            ),
            ("valid, gzip'd", idx_input(&gzip(&image(2)), &gzip(&labels))),
        ],
    );
}

#[test]
fn weights_inputs_never_panic() {
    use microlearning::frontends::FrontEndKind;
    use microlearning::model::{SeedNet, weights_to_bytes};
    let device = burn::tensor::Device::flex();
    let good =
        weights_to_bytes(&SeedNet::with_front_end(1, FrontEndKind::Learned, &device)).unwrap();
    // The same file with every tensor's dtype relabelled: the byte sizes still agree.
    let relabel = |from: &[u8], to: &[u8]| {
        let mut bytes = good.clone();
        let meta_end = 10 + u32::from_le_bytes(bytes[6..10].try_into().unwrap()) as usize;
        for i in 10..meta_end - from.len() {
            if &bytes[i..i + from.len()] == from {
                bytes[i..i + from.len()].copy_from_slice(to);
            }
        }
        bytes
    };
    assert_ne!(relabel(b"F32", b"I32"), good, "no dtype found to relabel");
    let mut huge_metadata = b"NRUB".to_vec();
    huge_metadata.extend_from_slice(&1u16.to_le_bytes());
    huge_metadata.extend_from_slice(&u32::MAX.to_le_bytes());
    check(
        "weights",
        vec![
            ("empty", vec![]),
            ("magic only", good[..4].to_vec()),
            ("metadata of 4 GiB promised", huge_metadata),
            ("header and metadata, no tensors", good[..1024].to_vec()),
            ("truncated in the middle", good[..good.len() / 2].to_vec()),
            ("one byte short", good[..good.len() - 1].to_vec()),
            ("one byte extra", [&good[..], &[0]].concat()),
            ("dtype F32 relabelled I32", relabel(b"F32", b"I32")),
            ("dtype F32 relabelled U32", relabel(b"F32", b"U32")),
            ("dtype F32 relabelled F64", relabel(b"F32", b"F64")),
            ("all NaN weights", {
                let mut bytes = good.clone();
                let n = bytes.len();
                for chunk in bytes[n - 40_000..].chunks_exact_mut(4) {
                    chunk.copy_from_slice(&f32::NAN.to_le_bytes());
                }
                bytes
            }),
        ],
    );
}

#[test]
fn results_inputs_never_panic() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_config = format!(
        r#"{{"schema_version": 1, "config": {}{}}}"#,
        "{\"a\":".repeat(50_000),
        "}".repeat(50_000)
    );
    check(
        "results",
        vec![
            ("empty", vec![]),
            ("null", b"null".to_vec()),
            ("array", b"[1, 2]".to_vec()),
            ("string", br#""schema_version""#.to_vec()),
            ("deep nesting", deep.into_bytes()),
            ("deep nesting in config", deep_config.into_bytes()),
            ("version only", br#"{"schema_version": 1}"#.to_vec()),
            (
                "config not an object",
                br#"{"schema_version": 1, "config": []}"#.to_vec(),
            ),
            (
                "config empty",
                br#"{"schema_version": 4, "config": {}}"#.to_vec(),
            ),
            ("version 0", br#"{"schema_version": 0}"#.to_vec()),
            (
                "version u64::MAX",
                br#"{"schema_version": 18446744073709551615}"#.to_vec(),
            ),
            (
                "version 2^64",
                br#"{"schema_version": 18446744073709551616}"#.to_vec(),
            ),
            ("version negative", br#"{"schema_version": -1}"#.to_vec()),
            ("version fractional", br#"{"schema_version": 4.5}"#.to_vec()),
            (
                "number too large",
                br#"{"schema_version": 5, "final_test_accuracy": 1e999}"#.to_vec(),
            ),
            ("invalid UTF-8", vec![b'{', 0xff, 0xfe, b'}']),
            (
                "duplicate keys",
                br#"{"schema_version": 5, "schema_version": 1}"#.to_vec(),
            ),
        ],
    );
}

#[test]
fn trial_inputs_never_panic() {
    let header = microlearning::human::csv_header();
    let row = |rt: &str, label: &str| {
        format!("p,s,human,,,mnist,1,,,,test,0,0,{label},0,1,,,3,{rt},false\n")
    };
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    check(
        "trials",
        vec![
            ("empty", vec![]),
            ("byte-order mark only", "\u{feff}".into()),
            ("brace only", b"{".to_vec()),
            ("empty object", b"{}".to_vec()),
            (
                "deep nesting",
                format!("{{\"trials\": {deep}}}").into_bytes(),
            ),
            (
                "session file without trials",
                br#"{"format": "microlearning-human-session/1", "session": null, "trials": []}"#
                    .to_vec(),
            ),
            ("wrong format", br#"{"format": 7, "trials": []}"#.to_vec()),
            ("header only", header.clone().into_bytes()),
            ("header twice", format!("{header}{header}").into_bytes()),
            (
                "duplicate columns",
                format!("{},label\n", header.trim_end()).into_bytes(),
            ),
            ("ragged row", format!("{header}p,s\n").into_bytes()),
            (
                "rt 1e999",
                format!("{header}{}", row("1e999", "5")).into_bytes(),
            ),
            (
                "rt NaN",
                format!("{header}{}", row("NaN", "5")).into_bytes(),
            ),
            (
                "rt 1e308, which the writer rounds to infinity",
                format!("{header}{}", row("1e308", "5")).into_bytes(),
            ),
            (
                "label 300",
                format!("{header}{}", row("1", "300")).into_bytes(),
            ),
            (
                "label -1",
                format!("{header}{}", row("1", "-1")).into_bytes(),
            ),
            (
                "a valid row",
                format!("{header}{}", row("640", "5")).into_bytes(),
            ),
            (
                "invalid UTF-8",
                [header.as_bytes(), &[0xff, 0xfe, b'\n']].concat(),
            ),
            ("quote never closed", format!("{header}\"p").into_bytes()),
        ],
    );
}

#[test]
fn stimulus_design_inputs_never_panic() {
    use microlearning::data::Task;
    use microlearning::human::StimulusDesign;
    let design = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = serde_json::to_value(StimulusDesign::new(Task::Mnist, 7)).unwrap();
        edit(&mut v);
        v.to_string().into_bytes()
    };
    let many = |n: usize| serde_json::Value::from(vec![0.5; n]);
    check(
        "stimuli",
        vec![
            ("empty", vec![]),
            ("the default", design(&|_| {})),
            (
                "images_per_class usize::MAX",
                design(&|v| v["images_per_class"] = usize::MAX.into()),
            ),
            (
                "practice_trials usize::MAX",
                design(&|v| v["practice_trials"] = usize::MAX.into()),
            ),
            (
                "attention_every 1",
                design(&|v| v["attention_every"] = 1.into()),
            ),
            (
                "attention_every usize::MAX",
                design(&|v| v["attention_every"] = usize::MAX.into()),
            ),
            (
                "break_every usize::MAX",
                design(&|v| v["break_every"] = usize::MAX.into()),
            ),
            ("seed u64::MAX", design(&|v| v["seed"] = u64::MAX.into())),
            ("65 noise levels", design(&|v| v["noise_levels"] = many(65))),
            (
                "64 × 64 conditions",
                design(&|v| {
                    v["noise_levels"] = many(64);
                    v["durations_ms"] = vec![100u32; 64].into();
                }),
            ),
            (
                "a million noise levels",
                design(&|v| v["noise_levels"] = many(1_000_000)),
            ),
            ("no conditions", design(&|v| v["noise_levels"] = many(0))),
            (
                "duration 0",
                design(&|v| v["durations_ms"] = vec![0u32].into()),
            ),
            ("mask u32::MAX", design(&|v| v["mask_ms"] = u32::MAX.into())),
            (
                "noise −0",
                design(&|v| v["noise_levels"] = vec![-0.0].into()),
            ),
            (
                "noise 1e999",
                br#"{"task": "mnist", "noise_levels": [1e999]}"#.to_vec(),
            ),
            ("unknown task", design(&|v| v["task"] = "emnist".into())),
        ],
    );
}

/// Writes the seed corpora into `$FUZZ_SEEDS_DIR/<target>/`: small IDX files cut from the
/// shipped data (raw, gzip'd, and real gzip'd files truncated), weight files of every front end
/// (and a tiny burnpack of another module), results files of every schema version, trial
/// tables as CSV, session JSON, NDJSON and a JATOS result file, and the stimulus-design presets.
#[test]
#[ignore = "writes the fuzz seed corpora; run by scripts/fuzz.sh"]
fn write_fuzz_seeds() {
    let Some(out) = std::env::var_os("FUZZ_SEEDS_DIR") else {
        panic!("set FUZZ_SEEDS_DIR to the folder to write the seeds into");
    };
    let out = PathBuf::from(out);
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    seeds_idx(&write);
    seeds_weights(&write);
    seeds_results(&write);
    let test = seeds_stimuli(&write);
    seeds_trials(&write, &test);
}

type SeedWriter<'a> = dyn Fn(&str, &str, &[u8]) + 'a;

fn seeds_idx(write: &SeedWriter) {
    use microlearning::data::{IMAGE_PIXELS, Task, maybe_gunzip};
    for task in Task::ALL {
        let dir = manifest_dir().join("../data").join(task.data_subdir());
        let images_gz = std::fs::read(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
        let labels_gz = std::fs::read(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
        let images = maybe_gunzip("images", &images_gz).unwrap();
        let labels = maybe_gunzip("labels", &labels_gz).unwrap();
        for n in [1usize, 3, 10] {
            let mut img = idx_header(&[n as u32, 28, 28]);
            img.extend_from_slice(&images[16..16 + n * IMAGE_PIXELS]);
            let mut lab = idx_header(&[n as u32]);
            lab.extend_from_slice(&labels[8..8 + n]);
            let id = task.id();
            write("idx", &format!("{id}-{n}-raw"), &idx_input(&img, &lab));
            write(
                "idx",
                &format!("{id}-{n}-gz"),
                &idx_input(&gzip(&img), &gzip(&lab)),
            );
            write(
                "idx",
                &format!("{id}-{n}-mixed"),
                &idx_input(&img, &gzip(&lab)),
            );
        }
        // The real files, truncated: the start of a gzip stream that ends early.
        write(
            "idx",
            &format!("{}-truncated-gz", task.id()),
            &idx_input(&images_gz[..2048], &labels_gz[..labels_gz.len() / 2]),
        );
    }
}

fn seeds_weights(write: &SeedWriter) {
    use burn::module::Module;
    use microlearning::frontends::FrontEndKind;
    use microlearning::model::{SeedNet, weights_to_bytes};
    let device = burn::tensor::Device::flex();
    for (id, kind) in [
        ("learned", FrontEndKind::Learned),
        ("gabor", FrontEndKind::Gabor),
        ("dog", FrontEndKind::Dog),
    ] {
        let net = SeedNet::with_front_end(3, kind, &device);
        write(
            "weights",
            &format!("{id}.bpk"),
            &weights_to_bytes(&net).unwrap(),
        );
    }
    // A small burnpack of another module: the parser's paths without 4.8 MB of data.
    let linear = burn::nn::LinearConfig::new(3, 2).init(&device);
    let bytes = linear.into_record().into_bytes().unwrap();
    write("weights", "linear-3x2.bpk", &bytes);
}

fn seeds_results(write: &SeedWriter) {
    use microlearning::results::{DataInfo, RunResults};
    use microlearning::training::{
        ConfusionMatrix, DiagnosticSample, EpochDiagnostics, EpochMetrics, LayerDiagnostics,
        TrainConfig,
    };
    let mut confusion = ConfusionMatrix::new();
    for (t, p) in [(0, 0), (1, 1), (2, 3), (9, 9), (5, 5)] {
        confusion.add(t, p);
    }
    let layers = vec![LayerDiagnostics {
        layer: "fc2".into(),
        update_bp_angle_deg: Some(12.5),
        feedback_angle_deg: None,
        weight_norm: 3.25,
    }];
    let samples = vec![DiagnosticSample {
        epoch: 1,
        batch: 1,
        layers,
    }];
    let epoch = EpochMetrics {
        epoch: 1,
        train_loss: 0.5,
        test_loss: 0.25,
        test_accuracy: confusion.accuracy(),
        confusion,
        train_seconds: 1.5,
        images_per_second: 640.0,
        diagnostics: EpochDiagnostics::from_samples(samples),
    };
    let data = DataInfo {
        task: "mnist".into(),
        train_images: 64,
        test_images: 5,
        source: "shipped".into(),
    };
    let config = TrainConfig::new().with_train_limit(Some(64));
    let results = RunResults::new("cpu (flex)".into(), config, data, vec![epoch]).unwrap();
    let json = results.to_json().unwrap();
    write("results", "v5.json", json.as_bytes());
    // Older schema versions, as files written then held them.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (version, dropped) in [
        (4, &["lr_decay"][..]),
        (3, &["lr_decay", "neuronal_noise"]),
        (2, &["lr_decay", "neuronal_noise", "front_end"]),
        (
            1,
            &[
                "lr_decay",
                "neuronal_noise",
                "front_end",
                "diagnostics_every",
            ],
        ),
    ] {
        value["schema_version"] = version.into();
        let config = value["config"].as_object_mut().unwrap();
        for key in dropped {
            config.remove(*key);
        }
        write(
            "results",
            &format!("v{version}.json"),
            value.to_string().as_bytes(),
        );
    }
}

fn seeds_stimuli(write: &SeedWriter) -> microlearning::data::ImageSet {
    use microlearning::data::Task;
    use microlearning::human::StimulusDesign;
    for task in Task::ALL {
        for preset in ["short", "standard"] {
            let design = StimulusDesign::preset(preset, task, 42).unwrap();
            let json = serde_json::to_string_pretty(&design).unwrap();
            write(
                "stimuli",
                &format!("{preset}-{}.json", task.id()),
                json.as_bytes(),
            );
        }
    }
    let mut small = StimulusDesign::preset("short", Task::Mnist, 3).unwrap();
    small.images_per_class = 2;
    small.durations_ms = vec![Some(50), Some(10_000), None];
    write(
        "stimuli",
        "small.json",
        serde_json::to_string(&small).unwrap().as_bytes(),
    );
    entries::test_split().clone()
}

fn seeds_trials(write: &SeedWriter, test: &microlearning::data::ImageSet) {
    use microlearning::data::Task;
    use microlearning::human::{
        ObserverKind, StimulusDesign, TrialRecord, build_list, templates_from_list, to_csv,
    };
    let session = |id: &str, kind: ObserverKind| -> Vec<TrialRecord> {
        let design = StimulusDesign::preset("short", Task::Mnist, 5).unwrap();
        let list = build_list(&design, test).unwrap();
        templates_from_list(&list)
            .into_iter()
            .take(12)
            .enumerate()
            .map(|(k, t)| {
                let response = if k % 3 == 0 {
                    (t.label + 1) % 10
                } else {
                    t.label
                };
                let human = kind == ObserverKind::Human;
                TrialRecord {
                    participant_id: format!("p-{id}"),
                    session_id: id.into(),
                    observer_kind: kind,
                    rule: (!human).then(|| "bp".into()),
                    front_end: (!human).then(|| "learned".into()),
                    trial_index: human.then_some(k as u64 + 3),
                    trial_type: human.then(|| "image-keyboard-response".into()),
                    time_elapsed: human.then_some(1234.5 + k as f64 * 800.25),
                    rt: human.then_some(640.125),
                    measured_duration_ms: t
                        .requested_duration_ms
                        .filter(|_| human)
                        .map(|d| d + 0.5),
                    response,
                    correct: response == t.label,
                    ..t
                }
            })
            .collect()
    };
    let a = session("a", ObserverKind::Human);
    let b = session("=b", ObserverKind::Model);
    write("trials", "human.csv", to_csv(&a).unwrap().as_bytes());
    write("trials", "model.csv", to_csv(&b).unwrap().as_bytes());
    let file = |trials: &[TrialRecord]| {
        serde_json::json!({
            "format": "microlearning-human-session/1",
            "session": {"list_seed": 5, "design": "short", "browser": "fuzz"},
            "trials": trials,
        })
        .to_string()
    };
    write("trials", "session.json", file(&a).as_bytes());
    let ndjson: String = a
        .iter()
        .map(|t| format!("{}\n", serde_json::to_string(t).unwrap()))
        .collect();
    write("trials", "export.ndjson", ndjson.as_bytes());
    let jatos = format!("{}\n{}\n", file(&a), file(&b));
    write("trials", "jatos.txt", jatos.as_bytes());
}
