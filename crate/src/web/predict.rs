//! The drawing pad's guesses: class probabilities of the current model for one drawn digit.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use js_sys::{Float32Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::convert::js_error;
use super::lab::WebLab;
use super::state::BusyGuard;
use crate::data::normalize_pixel;
use crate::training::read_f32;

const PIXELS: u32 = 28 * 28;

#[wasm_bindgen]
impl WebLab {
    /// Class probabilities for one 28×28 image of raw intensities 0..=255 (784 values,
    /// row-major, white digit on black as in MNIST). Resolves to a `Float32Array` of 10.
    pub fn predict(&self, pixels: Float32Array) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            if pixels.length() != PIXELS {
                return Err(js_error(format!(
                    "predict needs {PIXELS} pixel values, got {}",
                    pixels.length()
                )));
            }
            let pixels = pixels.to_vec();
            if pixels.iter().any(|v| !v.is_finite()) {
                return Err(js_error("predict needs finite pixel values"));
            }
            let _guard = BusyGuard::take(&state).map_err(js_error)?;
            let (model, device) = {
                let s = state.borrow();
                (s.current_model().map_err(js_error)?, s.device())
            };
            let input: Vec<f32> = pixels
                .iter()
                .map(|&p| normalize_pixel(p.clamp(0.0, 255.0)))
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(input, [1, 1, 28, 28]), &device); // [1, 1, 28, 28]
            let probs = softmax(model.logits(x), 1); // [1, 10]
            let values = read_f32(probs).await.map_err(js_error)?;
            Ok(Float32Array::from(values.as_slice()).into())
        })
    }
}
