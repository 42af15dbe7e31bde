//! Choosing the compute device in the browser: burn's `flex` CPU backend (simd128) always, and
//! WebGPU when `navigator.gpu` gives an adapter. Switching moves every model the session holds.

use burn::tensor::Device;
use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{js_error, to_js};
use super::lab::WebLab;
use super::state::{BusyGuard, State};
use crate::error::{LabError, Result};
use crate::model::{SeedNet, copy_to_device};

/// The page's largest training batch on the CPU backend. A training step holds about 2 MB per
/// image (conv2's unfolded input alone is 663 kB), and a wasm32 module has at most 4 GB.
const CPU_MAX_BATCH: usize = 512;
/// The biggest single buffer of a training step per image, if conv2 is computed on an unfolded
/// input (24 × 24 positions × 288 inputs × 4 bytes): what WebGPU's binding limit is held to.
const BYTES_PER_IMAGE_IN_LARGEST_BUFFER: u64 = 24 * 24 * 288 * 4;

/// The device a session computes on, with a description for the page.
#[derive(Clone)]
pub struct Backend {
    pub kind: BackendKind,
    pub device: Device,
    /// Shown to the user: "CPU (burn flex, wasm simd128)" or the WebGPU adapter's name.
    pub description: String,
    /// The largest batch a run may use here, and why.
    pub max_batch_size: usize,
    pub batch_limit_reason: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Cpu,
    WebGpu,
}

/// What the page shows of the backend.
#[derive(Serialize)]
pub(super) struct BackendInfo {
    kind: BackendKind,
    description: String,
    max_batch_size: usize,
}

impl Backend {
    pub(super) fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: self.kind,
            description: self.description.clone(),
            max_batch_size: self.max_batch_size,
        }
    }

    /// Refuses a batch this backend cannot hold, naming the limit.
    pub(super) fn check_batch_size(&self, batch_size: usize) -> Result<()> {
        if batch_size > self.max_batch_size {
            return Err(LabError::Config(format!(
                "batch size {batch_size} is above this backend's limit of {} ({})",
                self.max_batch_size, self.batch_limit_reason
            )));
        }
        Ok(())
    }
}

pub fn cpu() -> Backend {
    Backend {
        kind: BackendKind::Cpu,
        device: Device::flex(),
        description: "CPU (burn flex, wasm simd128)".into(),
        max_batch_size: CPU_MAX_BATCH,
        batch_limit_reason: "a step needs about 2 MB per image and the page has at most 4 GB"
            .into(),
    }
}

/// Asks the browser for a WebGPU device. Fails with a readable message when there is no
/// adapter (no `navigator.gpu`, blocked, or no GPU); the caller stays on the CPU.
///
/// burn's runtime can be initialised once per page; later calls reuse the first device.
pub async fn webgpu() -> std::result::Result<Backend, String> {
    use burn::tensor::wgpu::WgpuBackend;
    let (device, setup) = Device::wgpu_options()
        .graphics_api(WgpuBackend::WebGpu)
        .init_with_setup_async()
        .await
        .map_err(|e| format!("no usable WebGPU adapter: {e}"))?;
    let info = setup.adapter.get_info();
    let name = if info.name.is_empty() {
        "unnamed adapter"
    } else {
        info.name.as_str()
    };
    let mut description = format!(
        "WebGPU: {name} [{:?}, {:?}]",
        info.device_type, info.backend
    );
    if !info.driver.is_empty() {
        description.push_str(&format!(" ({})", info.driver));
    }
    if info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu {
        description.push_str(" — a software adapter: correct, but slower than the CPU backend");
    }
    let binding = setup.device.limits().max_storage_buffer_binding_size;
    let by_binding = (binding / BYTES_PER_IMAGE_IN_LARGEST_BUFFER).max(1) as usize;
    Ok(Backend {
        kind: BackendKind::WebGpu,
        device,
        description,
        max_batch_size: by_binding.min(CPU_MAX_BATCH),
        batch_limit_reason: format!(
            "this adapter binds at most {binding} bytes to one buffer, about {} kB per image",
            BYTES_PER_IMAGE_IN_LARGEST_BUFFER / 1000
        ),
    })
}

/// Copies every model of the session to `device`; nothing changes if one copy fails.
async fn move_models(
    state: &std::rc::Rc<std::cell::RefCell<State>>,
    device: &Device,
) -> Result<()> {
    let (current, kept): (Option<SeedNet>, Vec<SeedNet>) = {
        let s = state.borrow();
        (
            s.model.as_ref().map(|m| m.net.clone()),
            s.models.iter().map(|m| m.model.clone()).collect(),
        )
    };
    let current = match current {
        Some(net) => Some(copy_to_device(&net, device).await?),
        None => None,
    };
    let mut moved = Vec::with_capacity(kept.len());
    for net in &kept {
        moved.push(copy_to_device(net, device).await?);
    }
    let mut s = state.borrow_mut();
    if let (Some(m), Some(net)) = (s.model.as_mut(), current) {
        m.net = net;
    }
    for (m, net) in s.models.iter_mut().zip(moved) {
        m.model = net;
    }
    Ok(())
}

#[wasm_bindgen]
impl WebLab {
    /// The backend in use: `{kind, description, max_batch_size}`.
    pub fn backend_info(&self) -> std::result::Result<JsValue, JsValue> {
        let info = self.with(|s| Ok(s.backend.info())).map_err(js_error)?;
        to_js(&info)
    }

    /// Switches to "cpu" or "webgpu", resolving to the backend info. WebGPU is initialised on
    /// first use. The current model and every kept model move to the new device; a run in
    /// progress must be stopped first. A failure rejects and leaves the session as it was.
    pub fn set_backend(&self, kind: String) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let _guard = BusyGuard::take(&state).map_err(js_error)?;
            let (running, cached_gpu) = {
                let s = state.borrow();
                (s.run.is_some(), s.webgpu.clone())
            };
            if running {
                return Err(js_error(LabError::State(
                    "stop the training run before switching backends".into(),
                )));
            }
            let new_backend = match kind.as_str() {
                "cpu" => cpu(),
                "webgpu" => match cached_gpu {
                    Some(b) => b,
                    None => webgpu().await.map_err(js_error)?,
                },
                other => return Err(js_error(format!("unknown backend {other:?}"))),
            };
            move_models(&state, &new_backend.device)
                .await
                .map_err(js_error)?;
            let mut s = state.borrow_mut();
            if new_backend.kind == BackendKind::WebGpu {
                s.webgpu = Some(new_backend.clone());
            }
            s.backend = new_backend;
            to_js(&s.backend.info())
        })
    }
}
