//! Choosing the compute device in the browser: burn's `flex` CPU backend (simd128) always, and
//! WebGPU when `navigator.gpu` gives an adapter.

use burn::tensor::Device;

/// The device a session computes on, with a description for the page.
#[derive(Clone)]
pub struct Backend {
    pub kind: BackendKind,
    pub device: Device,
    /// Shown to the user: "CPU (burn flex, wasm simd128)" or the WebGPU adapter's name.
    pub description: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BackendKind {
    Cpu,
    WebGpu,
}

impl BackendKind {
    pub fn id(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::WebGpu => "webgpu",
        }
    }
}

pub fn cpu() -> Backend {
    Backend {
        kind: BackendKind::Cpu,
        device: Device::flex(),
        description: "CPU (burn flex, wasm simd128)".into(),
    }
}

/// Asks the browser for a WebGPU device. Fails with a readable message when there is no
/// adapter (no `navigator.gpu`, blocked, or no GPU); the caller stays on the CPU.
///
/// burn's runtime can be initialised once per page; later calls reuse the first device.
pub async fn webgpu() -> Result<Backend, String> {
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
    Ok(Backend {
        kind: BackendKind::WebGpu,
        device,
        description,
    })
}
