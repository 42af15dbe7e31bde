//! Looking into the current model from the page: the front end's response maps to one test
//! image, and the robustness of the model to degraded test images.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::session::{WebLab, js_error, model_and_test_set};
use crate::data::images_to_tensor;
use crate::training::{read_f32, robustness};

/// Test images the page's robustness check uses at most (class-balanced): all of MNIST-10k's
/// 2,004; 2,000 of Fashion-MNIST's 10,000, so nine evaluations take seconds, not minutes.
const PAGE_ROBUSTNESS_IMAGES: usize = 2004;

#[wasm_bindgen]
impl WebLab {
    /// The first layer's 32 response maps (after its nonlinearity) to test image `index`.
    /// Resolves to JSON `{index, label, pixels: [784], channels, size, values}`.
    pub fn front_end_responses(&self, index: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let (model, test, device) = model_and_test_set(&state.borrow())?;
            if index >= test.len() {
                return Err(js_error(format!(
                    "test image {index} does not exist (0..{})",
                    test.len()
                )));
            }
            let x = images_to_tensor(&test, &[index], &device.inner()); // [1, 1, 28, 28]
            let maps = model.first_layer(x); // [1, 32, 26, 26]
            let [_, channels, size, _] = maps.dims();
            let values = read_f32(maps).await.map_err(js_error)?;
            let json = serde_json::json!({
                "index": index, "label": test.labels()[index], "pixels": test.image(index),
                "channels": channels, "size": size, "values": values,
            });
            Ok(JsValue::from(json.to_string()))
        })
    }

    /// Test accuracy under Gaussian pixel noise and contrast reduction (seeded noise), on up to
    /// 2,004 class-balanced test images. Resolves to JSON `{images, points: [{degradation,
    /// accuracy}]}`.
    pub fn robustness(&self, seed: u64) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let (model, test, device) = model_and_test_set(&state.borrow())?;
            let test = if test.len() > PAGE_ROBUSTNESS_IMAGES {
                test.balanced_subset(2000)
            } else {
                test
            };
            let points = robustness(&model, &test, seed, &device)
                .await
                .map_err(js_error)?;
            let json = serde_json::json!({ "images": test.len(), "points": points });
            Ok(JsValue::from(json.to_string()))
        })
    }
}
