//! `--device`: where the native commands compute. `cpu` is burn's flex backend, the default and
//! the one whose numbers are the same for the same seed; `gpu` is burn's wgpu backend (Vulkan,
//! Metal or DX12, built with the `gpu` cargo feature), refused with a reason when there is no
//! usable adapter; `auto` takes a hardware GPU when there is one and the CPU otherwise, saying
//! which. The choice is made once per process, before any tensor exists.

use std::sync::OnceLock;

use burn::tensor::Device;

use crate::error::{LabError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    Cpu,
    Gpu,
    Auto,
}

/// The device the commands compute on, and how to describe it to the user.
#[derive(Clone, Debug)]
pub struct Compute {
    pub device: Device,
    pub description: String,
    /// What a run's results record as its backend.
    pub label: String,
}

static CHOSEN: OnceLock<Compute> = OnceLock::new();

/// The CPU backend's description.
fn cpu(why: Option<String>) -> Compute {
    let mut description = "CPU (burn flex)".to_string();
    if let Some(why) = why {
        description.push_str(&format!("; {why}"));
    }
    Compute {
        device: Device::flex(),
        description,
        label: "cpu (burn flex)".into(),
    }
}

/// Opens the chosen device for this process. Call once, first; later calls keep the first
/// choice.
pub fn choose(choice: DeviceChoice) -> Result<&'static Compute> {
    if let Some(chosen) = CHOSEN.get() {
        return Ok(chosen);
    }
    let compute = match choice {
        DeviceChoice::Cpu => cpu(None),
        DeviceChoice::Gpu => match gpu()? {
            Gpu::Hardware(c) | Gpu::Software(c) => c,
        },
        DeviceChoice::Auto => match gpu() {
            Ok(Gpu::Hardware(c)) => c,
            Ok(Gpu::Software(c)) => cpu(Some(format!(
                "the only GPU adapter is a software one ({}), slower than the CPU backend",
                c.description
            ))),
            Err(e) => cpu(Some(format!("no GPU: {e}"))),
        },
    };
    Ok(CHOSEN.get_or_init(|| compute))
}

/// The device chosen for this process (the CPU unless `choose` picked another).
pub fn current() -> Device {
    CHOSEN.get_or_init(|| cpu(None)).device.clone()
}

/// What a run on `current()` records as its backend: "cpu (burn flex)" or the GPU adapter.
pub fn label() -> String {
    CHOSEN.get_or_init(|| cpu(None)).label.clone()
}

#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
enum Gpu {
    Hardware(Compute),
    /// A CPU-emulated adapter (llvmpipe, lavapipe, SwiftShader, WARP): it works, slowly.
    Software(Compute),
}

#[cfg(feature = "gpu")]
fn gpu() -> Result<Gpu> {
    use burn::tensor::wgpu::wgpu::DeviceType;
    // wgpu reports a missing driver as an error, but some drivers panic while being probed;
    // neither may take the process down without a message.
    let opened = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup())
        .map_err(|_| LabError::Device("the GPU driver panicked while it was probed".into()))?
        .map_err(|e| LabError::Device(format!("no usable GPU adapter: {e}")))?;
    let (device, setup) = opened;
    let info = setup.adapter.get_info();
    let name = if info.name.is_empty() {
        "unnamed adapter"
    } else {
        info.name.as_str()
    };
    let mut description = format!("GPU: {name} [{:?}, {:?}]", info.device_type, info.backend);
    if !info.driver.is_empty() {
        description.push_str(&format!(" ({} {})", info.driver, info.driver_info));
    }
    let compute = Compute {
        device,
        label: format!("wgpu ({name}, {:?})", info.backend),
        description,
    };
    Ok(if info.device_type == DeviceType::Cpu {
        Gpu::Software(compute)
    } else {
        Gpu::Hardware(compute)
    })
}

#[cfg(not(feature = "gpu"))]
fn gpu() -> Result<Gpu> {
    Err(LabError::Config(
        "this binary was built without GPU support: build it with `cargo build --release \
         --features gpu` (burn's wgpu backend: Vulkan, Metal or DX12)"
            .into(),
    ))
}
