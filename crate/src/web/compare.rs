//! Comparing the representations of the models trained in one browser session: the page's view
//! of `analysis` (linear CKA between models and between layers, class RDMs, PCA).

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::session::{BusyGuard, WebLab, current_device, current_model, js_error};
use crate::analysis::cka::linear_cka;
use crate::analysis::pca::pca_from_gram;
use crate::analysis::rdm::{Dissimilarity, rdm};
use crate::analysis::{CAPTURED_LAYERS, LayerCapture, SquareMatrix, capture_layers, probe_indices};
use crate::data::Task;
use crate::error::LabError;
use crate::model::SeedNet;

/// A finished model kept for comparison, with its capture once computed.
pub(super) struct SessionModel {
    pub(super) name: String,
    pub(super) task: Task,
    /// The learning rule that trained it; unknown for a loaded weights file.
    pub(super) rule: Option<String>,
    pub(super) model: SeedNet,
    capture: Option<Rc<Vec<LayerCapture>>>,
}

/// Probe images for the page's comparisons (the CLI uses 1,000): 400 keeps the widest layer's
/// features under ~120 MB while capturing and each model's matrices at ~13 MB.
const PAGE_PROBE_SIZE: usize = 400;
/// The most models the page keeps for comparison; the oldest is dropped beyond it.
const MAX_SESSION_MODELS: usize = 6;

#[wasm_bindgen]
impl WebLab {
    /// Keeps the current model (the finished or stopped run's, or a loaded one) for the
    /// representation comparison, under `name`. Returns the number of models kept.
    pub fn keep_model(&self, name: &str) -> std::result::Result<usize, JsValue> {
        self.with(|s| {
            let model = current_model(s)?;
            let task = match (&s.trainer, &s.data) {
                (Some(t), _) => t.config().task,
                (None, Some(d)) => d.task,
                (None, None) => return Err(LabError::Config("no data set loaded".into())),
            };
            let rule = s.trainer.as_ref().map(|t| t.config().rule.clone());
            s.models.push(SessionModel {
                name: name.to_string(),
                task,
                rule,
                model,
                capture: None,
            });
            if s.models.len() > MAX_SESSION_MODELS {
                s.models.remove(0);
            }
            Ok(s.models.len())
        })
        .map_err(js_error)
    }

    /// Compares the kept models of the loaded task on a seeded probe set of the test split.
    /// Resolves to JSON: `{models, layers, probe_size, cka: [layer][i][j], layer_by_layer
    /// (first vs last model, or null), class_rdms: [layer][model] 10×10, pca: {model, layer,
    /// points: [[x, y, label]]}}`. `pca_layer` indexes `layers`.
    pub fn compare_models(&self, pca_layer: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            let (task, test, device) = {
                let s = state.borrow();
                let d = s
                    .data
                    .as_ref()
                    .ok_or_else(|| js_error("load a data set first"))?;
                (d.task, d.split.test.clone(), current_device(&s))
            };
            let indices = probe_indices(&test, PAGE_PROBE_SIZE, 0);
            // Capture the models that lack it, one at a time, without holding a borrow.
            let pending: Vec<(usize, SeedNet)> = state
                .borrow()
                .models
                .iter()
                .enumerate()
                .filter(|(_, m)| m.task == task && m.capture.is_none())
                .map(|(i, m)| (i, m.model.clone()))
                .collect();
            for (i, model) in pending {
                let capture = capture_layers(&model, &test, &indices, &device)
                    .await
                    .map_err(js_error)?;
                if let Some(m) = state.borrow_mut().models.get_mut(i) {
                    m.capture = Some(Rc::new(capture));
                }
            }
            let kept: Vec<(String, Rc<Vec<LayerCapture>>)> = state
                .borrow()
                .models
                .iter()
                .filter(|m| m.task == task)
                .filter_map(|m| Some((m.name.clone(), m.capture.clone()?)))
                .collect();
            drop(guard);
            if kept.is_empty() {
                return Err(js_error(
                    "no finished models for this data set yet: train or load one first",
                ));
            }
            let n = kept.len();
            let layers = CAPTURED_LAYERS.len();
            let rows = |m: &SquareMatrix| m.rows().map(|r| r.to_vec()).collect::<Vec<_>>();
            let cka: Vec<_> = (0..layers)
                .map(|l| {
                    rows(&SquareMatrix::from_fn(n, |i, j| {
                        linear_cka(&kept[i].1[l].gram, &kept[j].1[l].gram)
                    }))
                })
                .collect();
            let layer_by_layer = (n >= 2).then(|| {
                rows(&SquareMatrix::from_fn(layers, |a, b| {
                    linear_cka(&kept[0].1[a].gram, &kept[n - 1].1[b].gram)
                }))
            });
            let class_rdms: Vec<Vec<_>> = (0..layers)
                .map(|l| {
                    kept.iter()
                        .map(|(_, c)| {
                            rows(&rdm(
                                Dissimilarity::Correlation,
                                &c[l].class_gram,
                                &c[l].class_correlation,
                            ))
                        })
                        .collect()
                })
                .collect();
            let layer = pca_layer.min(layers - 1);
            let projection = pca_from_gram(&kept[n - 1].1[layer].gram, 2);
            let points: Vec<_> = projection
                .scores
                .iter()
                .zip(&indices)
                .map(|(p, &i)| serde_json::json!([p[0], p[1], test.labels()[i]]))
                .collect();
            let json = serde_json::json!({
                "models": kept.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>(),
                "layers": CAPTURED_LAYERS,
                "probe_size": indices.len(),
                "cka": cka,
                "layer_by_layer": layer_by_layer,
                "class_rdms": class_rdms,
                "pca": {
                    "model": kept[n - 1].0,
                    "layer": CAPTURED_LAYERS[layer],
                    "explained_variance": projection.explained_variance,
                    "points": points,
                },
            });
            Ok(JsValue::from(json.to_string()))
        })
    }
}
