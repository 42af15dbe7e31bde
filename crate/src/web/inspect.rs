//! Looking into the current model from the page: the first layer's kernels, its response maps
//! to one test image, and the model's robustness to degraded test images.

use js_sys::{Float32Array, Function, Promise, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{js_error, report, to_js};
use super::lab::WebLab;
use super::state::BusyGuard;
use crate::data::images_to_tensor;
use crate::error::{LabError, Result};
use crate::model::SeedNet;
use crate::training::{RobustnessPoint, read_f32, robustness};

/// Test images the page's robustness check uses at most (class-balanced): all of MNIST-10k's
/// 2,004; 2,000 of Fashion-MNIST's 10,000, so nine evaluations take seconds, not minutes.
const PAGE_ROBUSTNESS_IMAGES: usize = 2004;
/// The class-balanced subset taken from a larger test set.
const PAGE_ROBUSTNESS_SUBSET: usize = 2000;

/// The first layer's kernels, `channels × size × size` values, row-major. The Gabor bank has
/// 48: 16 simple cells, then the complex cells' even and odd filters.
#[derive(Serialize)]
pub(super) struct Filters {
    front_end: &'static str,
    channels: usize,
    size: usize,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    values: Float32Array,
}

pub(super) async fn read_filters(model: &SeedNet) -> Result<Filters> {
    let [channels, _, size, _] = model.conv1.weight.val().dims();
    let values = read_f32(model.conv1.weight.val()).await?;
    Ok(Filters {
        front_end: model.front_end.id(),
        channels,
        size,
        values: Float32Array::from(values.as_slice()),
    })
}

#[derive(Serialize)]
struct ResponseMaps {
    index: usize,
    label: u8,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pixels: Uint8Array,
    channels: usize,
    size: usize,
    /// `channels × size × size`, row-major.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    values: Float32Array,
}

#[derive(Serialize)]
struct Robustness {
    /// The model measured.
    name: String,
    images: usize,
    points: Vec<RobustnessPoint>,
}

#[wasm_bindgen]
impl WebLab {
    /// The first layer's response maps (after its nonlinearity) to test image `index`.
    /// Resolves to `{index, label, pixels, channels, size, values}`.
    pub fn front_end_responses(&self, index: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let _guard = BusyGuard::take(&state).map_err(js_error)?;
            let (model, test, device) = {
                let s = state.borrow();
                let (model, test) = s.model_and_test_set().map_err(js_error)?;
                (model, test, s.device())
            };
            if index >= test.len() {
                return Err(js_error(LabError::Config(format!(
                    "test image {index} does not exist (0..{})",
                    test.len()
                ))));
            }
            let x = images_to_tensor(&test, &[index], &device.inner()); // [1, 1, 28, 28]
            let maps = model.first_layer(x); // [1, C, 26, 26]
            let [_, channels, size, _] = maps.dims();
            let values = read_f32(maps).await.map_err(js_error)?;
            to_js(&ResponseMaps {
                index,
                label: test.labels()[index],
                pixels: Uint8Array::from(test.image(index)),
                channels,
                size,
                values: Float32Array::from(values.as_slice()),
            })
        })
    }

    /// Test accuracy under Gaussian pixel noise and contrast reduction (seeded noise), on up to
    /// 2,004 class-balanced test images, of the kept model `name` (its own data set's test set),
    /// or of the model in use when `name` is absent. `on_progress(done, total)` follows the
    /// evaluations. Resolves to `{name, images, points: [{degradation, accuracy}]}`.
    pub fn robustness(
        &self,
        name: Option<String>,
        seed: u64,
        on_progress: Option<Function>,
    ) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let _guard = BusyGuard::take(&state).map_err(js_error)?;
            let (model, test, device, name) = {
                let s = state.borrow();
                match name {
                    Some(name) => {
                        let kept =
                            s.models.iter().find(|m| m.name == name).ok_or_else(|| {
                                js_error(format!("no kept model is called {name:?}"))
                            })?;
                        let test = s.test_set_of(kept.task).map_err(js_error)?;
                        (kept.model.clone(), test, s.device(), name)
                    }
                    None => {
                        let (model, test) = s.model_and_test_set().map_err(js_error)?;
                        (model, test, s.device(), s.current_name())
                    }
                }
            };
            let test = if test.len() > PAGE_ROBUSTNESS_IMAGES {
                test.balanced_subset(PAGE_ROBUSTNESS_SUBSET)
            } else {
                test
            };
            let points = robustness(&model, &test, seed, &device, |done, total| {
                report(&on_progress, done, total)
            })
            .await
            .map_err(js_error)?;
            to_js(&Robustness {
                name,
                images: test.len(),
                points,
            })
        })
    }
}
