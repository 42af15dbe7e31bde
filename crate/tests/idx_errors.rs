//! The IDX reader accepts valid files (raw and gzip'd) and rejects each kind of malformed file
//! with a typed error instead of a panic.

use std::io::Write;

use microlearning::data::{DataSplit, IdxError, ImageSet, Task, parse_idx};

fn idx_images(n: u32, rows: u32, cols: u32, fill: u8) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, 3];
    for d in [n, rows, cols] {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend(std::iter::repeat_n(fill, (n * rows * cols) as usize));
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, 1];
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn valid_files_parse_raw_and_gzipped() {
    let images = idx_images(3, 28, 28, 7);
    let labels = idx_labels(&[0, 5, 9]);
    let raw = ImageSet::from_idx_bytes("img", &images, "lab", &labels).unwrap();
    let gz = ImageSet::from_idx_bytes("img", &gzip(&images), "lab", &gzip(&labels)).unwrap();
    assert_eq!(raw, gz);
    assert_eq!(raw.len(), 3);
    assert_eq!(raw.labels(), &[0, 5, 9]);
    assert!(raw.image(2).iter().all(|&p| p == 7));
}

#[test]
fn bad_magic_is_rejected() {
    let mut images = idx_images(1, 28, 28, 0);
    images[0] = 0x12;
    let err = parse_idx("img", &images).unwrap_err();
    assert!(matches!(err, IdxError::BadMagic { .. }), "{err:?}");
    assert!(err.to_string().contains("bad magic"));
}

#[test]
fn unsupported_element_type_is_rejected() {
    let mut images = idx_images(1, 28, 28, 0);
    images[2] = 0x0D; // float
    let err = parse_idx("img", &images).unwrap_err();
    assert!(
        matches!(err, IdxError::UnsupportedType { found: 0x0D, .. }),
        "{err:?}"
    );
}

#[test]
fn wrong_dimensions_are_rejected() {
    let images = idx_images(2, 32, 32, 0);
    let labels = idx_labels(&[1, 2]);
    let err = ImageSet::from_idx_bytes("img", &images, "lab", &labels).unwrap_err();
    assert!(matches!(err, IdxError::WrongDimensions { .. }), "{err:?}");

    // A labels file with two dimensions.
    let mut two_d = vec![0, 0, 0x08, 2];
    two_d.extend_from_slice(&2u32.to_be_bytes());
    two_d.extend_from_slice(&1u32.to_be_bytes());
    two_d.extend_from_slice(&[1, 2]);
    let err =
        ImageSet::from_idx_bytes("img", &idx_images(2, 28, 28, 0), "lab", &two_d).unwrap_err();
    assert!(matches!(err, IdxError::WrongDimensions { .. }), "{err:?}");
}

#[test]
fn truncated_files_are_rejected() {
    let images = idx_images(4, 28, 28, 1);
    let cut = &images[..images.len() - 100];
    let err = parse_idx("img", cut).unwrap_err();
    assert_eq!(
        err,
        IdxError::Truncated {
            file: "img".into(),
            expected: 4 * 784,
            found: 4 * 784 - 100
        }
    );
    // Cut inside the header.
    let err = parse_idx("img", &images[..9]).unwrap_err();
    assert!(matches!(err, IdxError::Truncated { .. }), "{err:?}");
    // Empty file.
    assert!(matches!(
        parse_idx("img", &[]).unwrap_err(),
        IdxError::Truncated { .. }
    ));
    // A truncated gzip stream.
    let gz = gzip(&images);
    let err = parse_idx("img", &gz[..gz.len() / 2]).unwrap_err();
    assert!(
        matches!(err, IdxError::Gzip { .. } | IdxError::Truncated { .. }),
        "{err:?}"
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut labels = idx_labels(&[1, 2, 3]);
    labels.push(4);
    let err = parse_idx("lab", &labels).unwrap_err();
    assert!(
        matches!(err, IdxError::TrailingBytes { extra: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn image_and_label_counts_must_match() {
    let images = idx_images(3, 28, 28, 0);
    let labels = idx_labels(&[1, 2]);
    let err = ImageSet::from_idx_bytes("img", &images, "lab", &labels).unwrap_err();
    assert_eq!(
        err,
        IdxError::CountMismatch {
            images_file: "img".into(),
            images: 3,
            labels_file: "lab".into(),
            labels: 2
        }
    );
}

#[test]
fn labels_outside_the_classes_are_rejected() {
    let images = idx_images(2, 28, 28, 0);
    let labels = idx_labels(&[3, 10]);
    let err = ImageSet::from_idx_bytes("img", &images, "lab", &labels).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::LabelOutOfRange {
                index: 1,
                label: 10,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn absurd_header_sizes_do_not_allocate_or_panic() {
    let mut v = vec![0, 0, 0x08, 3];
    for d in [u32::MAX, u32::MAX, u32::MAX] {
        v.extend_from_slice(&d.to_be_bytes());
    }
    assert!(parse_idx("img", &v).is_err());
}

#[test]
fn missing_folder_is_a_clear_error() {
    let err = DataSplit::load_dir(std::path::Path::new("/nonexistent/mnist")).unwrap_err();
    assert!(matches!(err, IdxError::Unreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("train-images-idx3-ubyte"));
}

fn data_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

#[test]
fn shipped_mnist10k_has_the_documented_split() {
    let data = DataSplit::load_task(&data_root(), Task::Mnist).unwrap();
    assert_eq!(data.train.len(), 7996);
    assert_eq!(data.test.len(), 2004);
    // 800–1,200 images per digit (digit 5 has 863), 80% of each in train.
    for digit in 0..10u8 {
        let train = data.train.labels().iter().filter(|&&l| l == digit).count();
        let test = data.test.labels().iter().filter(|&&l| l == digit).count();
        let n = train + test;
        assert!((800..1200).contains(&n), "digit {digit}: {n}");
        assert_eq!(train, n * 4 / 5, "digit {digit}");
    }
}

#[test]
fn shipped_fashion_mnist_is_complete() {
    let data = DataSplit::load_task(&data_root(), Task::Fashion).unwrap();
    assert_eq!(data.train.len(), 60_000);
    assert_eq!(data.test.len(), 10_000);
}
