//! Data sets: the IDX reader, in-memory image sets and their conversion to network input.

mod batch;
mod dataset;
mod idx;

pub use batch::{
    NORM_MEAN, NORM_STD, images_to_tensor, labels_to_tensor, normalize_pixel, one_hot,
};
pub use dataset::{
    DataSplit, IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS, ImageSet, NUM_CLASSES, TEST_IMAGES,
    TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, Task,
};
pub use idx::{IdxArray, IdxError, maybe_gunzip, parse_idx, parse_images, parse_labels};
