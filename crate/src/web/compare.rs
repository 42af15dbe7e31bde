//! Comparing the representations of the models kept in one browser session: the page's view
//! of `analysis` (linear CKA between models and between layers, class RDMs, PCA).

use std::rc::Rc;

use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{js_error, to_js};
use super::lab::WebLab;
use super::state::{BusyGuard, State};
use crate::analysis::cka::linear_cka;
use crate::analysis::pca::pca_from_gram;
use crate::analysis::rdm::{Dissimilarity, rdm};
use crate::analysis::{CAPTURED_LAYERS, LayerCapture, SquareMatrix, capture_layers, probe_indices};
use crate::data::Task;
use crate::model::SeedNet;

/// A finished model kept for comparison, with its capture once computed.
pub(super) struct SessionModel {
    pub(super) name: String,
    pub(super) task: Task,
    /// The learning rule that trained it; unknown for a loaded weights file.
    pub(super) rule: Option<String>,
    pub(super) model: SeedNet,
    /// Host matrices: they stay valid when the model moves to another device.
    capture: Option<Rc<Vec<LayerCapture>>>,
}

/// Probe images for the page's comparisons (the CLI uses 1,000): 400 keeps the widest layer's
/// features under ~120 MB while capturing and each model's matrices at ~13 MB.
const PAGE_PROBE_SIZE: usize = 400;
/// The most models the page keeps for comparison; the oldest is dropped beyond it.
const MAX_SESSION_MODELS: usize = 6;

/// What the page is told of a newly kept model.
#[derive(Serialize)]
pub(super) struct KeptModel {
    pub(super) count: usize,
    pub(super) name: String,
}

/// Keeps `model` for the comparisons as "#n label"; the oldest goes beyond
/// [`MAX_SESSION_MODELS`].
pub(super) fn keep(
    s: &mut State,
    model: SeedNet,
    task: Task,
    rule: Option<String>,
    label: &str,
) -> KeptModel {
    s.models_made += 1;
    let name = format!("#{} {label}", s.models_made);
    s.models.push(SessionModel {
        name: name.clone(),
        task,
        rule,
        model,
        capture: None,
    });
    if s.models.len() > MAX_SESSION_MODELS {
        s.models.remove(0);
    }
    KeptModel {
        count: s.models.len(),
        name,
    }
}

#[derive(Serialize)]
struct Pca {
    model: String,
    layer: &'static str,
    explained_variance: Vec<f64>,
    /// `[x, y, label]` per probe image.
    points: Vec<(f64, f64, u8)>,
}

#[derive(Serialize)]
struct Comparison {
    models: Vec<String>,
    layers: &'static [&'static str],
    probe_size: usize,
    /// `[layer][i][j]`.
    cka: Vec<Vec<Vec<f64>>>,
    /// First vs last model, layer × layer; `null` with one model.
    layer_by_layer: Option<Vec<Vec<f64>>>,
    /// `[layer][model]`, 10 × 10.
    class_rdms: Vec<Vec<Vec<Vec<f64>>>>,
    pca: Pca,
}

#[wasm_bindgen]
impl WebLab {
    /// Compares the kept models of the loaded task on a seeded probe set of the test split.
    /// Resolves to `{models, layers, probe_size, cka, layer_by_layer, class_rdms, pca: {model,
    /// layer, explained_variance, points}}`. `pca_layer` indexes `layers`.
    pub fn compare_models(&self, pca_layer: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            // The models of the data set in use: the current model's, else the loaded one.
            let (task, test, device) = {
                let s = state.borrow();
                let task = s
                    .model_task()
                    .or(s.data.as_ref().map(|d| d.task))
                    .ok_or_else(|| js_error("load a data set first"))?;
                (task, s.test_set_of(task).map_err(js_error)?, s.device())
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
            let cka = (0..layers)
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
            let class_rdms = (0..layers)
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
            let points = projection
                .scores
                .iter()
                .zip(&indices)
                .map(|(p, &i)| {
                    let at = |k: usize| p.get(k).copied().unwrap_or(0.0);
                    (at(0), at(1), test.labels()[i])
                })
                .collect();
            to_js(&Comparison {
                models: kept.iter().map(|(name, _)| name.clone()).collect(),
                layers: &CAPTURED_LAYERS,
                probe_size: indices.len(),
                cka,
                layer_by_layer,
                class_rdms,
                pca: Pca {
                    model: kept[n - 1].0.clone(),
                    layer: CAPTURED_LAYERS[layer],
                    explained_variance: projection.explained_variance,
                    points,
                },
            })
        })
    }
}
