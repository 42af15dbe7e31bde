//! Saving and loading the seed network's weights with burn's record API (burnpack format).
//! Bytes in, bytes out, so the page (no file system) and the CLI share one code path.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};

use super::SeedNet;
use crate::error::{LabError, Result};
use crate::frontends::FrontEndKind;

/// The network's parameters as a burnpack file.
pub fn weights_to_bytes(model: &SeedNet) -> Result<Vec<u8>> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| LabError::Weights(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// The largest weights file the lab reads. The seed network's parameters take about 4.8 MB
/// (1.2 million `f32`s; a Gabor front end adds a few kB), so anything far bigger is not one of
/// its files, and refusing it up front spares the page copying gigabytes into wasm memory.
pub const MAX_WEIGHTS_BYTES: usize = 16 * 1024 * 1024;

/// Checks what can be checked before reading a weights file whole: its size (`len`) and the
/// burnpack header in its first bytes (`head`, at least [`burn_pack::HEADER_SIZE`] of them
/// when the file is that long).
pub fn check_weights_header(head: &[u8], len: usize) -> Result<()> {
    if len > MAX_WEIGHTS_BYTES {
        return Err(LabError::Weights(format!(
            "the file has {len} bytes; a seed network's weights file has about 4.8 MB, and the \
             lab reads at most {MAX_WEIGHTS_BYTES} bytes"
        )));
    }
    if head.len() < burn_pack::HEADER_SIZE {
        return Err(LabError::Weights(format!(
            "the file has only {len} bytes: not a burnpack weights file"
        )));
    }
    burn_pack::Header::from_bytes(&head[..burn_pack::HEADER_SIZE])
        .map_err(|e| LabError::Weights(format!("not a burnpack weights file ({e})")))?;
    Ok(())
}

/// Every tensor of the file must be finite `F32`: burn checks shapes and byte lengths, but an
/// `I32` (or quantised) tensor of the same length would reach `Tensor::from_data` and panic
/// there, and a NaN weight would make every prediction class 0.
fn check_tensors(bytes: &[u8]) -> Result<()> {
    let tensors = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .and_then(|r| r.into_tensors())
        .map_err(|e| LabError::Weights(format!("not a valid burnpack weights file ({e})")))?;
    for tensor in tensors {
        let (name, dtype, _shape, _id, data) = tensor
            .into_parts()
            .map_err(|e| LabError::Weights(format!("not a valid burnpack weights file ({e})")))?;
        if dtype != burn_pack::DType::F32 {
            return Err(LabError::Weights(format!(
                "tensor {name} holds {dtype:?} values; the seed network's weights are F32"
            )));
        }
        let values = data.chunks_exact(4);
        if !values.remainder().is_empty() {
            return Err(LabError::Weights(format!(
                "tensor {name} has {} bytes, not a whole number of F32 values",
                data.len()
            )));
        }
        if let Some(i) = values
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .position(|v| !v.is_finite())
        {
            return Err(LabError::Weights(format!(
                "tensor {name} has a non-finite value (NaN or infinity) at position {i}: the \
                 model it came from diverged"
            )));
        }
    }
    Ok(())
}

/// Loads a burnpack file into a seed network with the given front end. Anything that is not a
/// complete, valid set of that network's parameters (wrong shapes, dtypes other than `F32`,
/// non-finite values, missing tensors, corrupt bytes, more than [`MAX_WEIGHTS_BYTES`]) is an
/// error.
pub fn load_weights(bytes: &[u8], front_end: FrontEndKind, device: &Device) -> Result<SeedNet> {
    check_weights_header(bytes, bytes.len())?;
    check_tensors(bytes)?;
    load_checked(bytes, front_end, device)
}

fn load_checked(bytes: &[u8], front_end: FrontEndKind, device: &Device) -> Result<SeedNet> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| LabError::Weights(format!("not a valid burnpack weights file ({e})")))?;
    SeedNet::with_front_end(0, front_end, device)
        .try_load_record(record.allow_partial(false).validate(true))
        .map_err(|e| LabError::Weights(format!("does not fit the seed network ({e})")))
}

/// Loads a weights file whose front end is not known (the page's "load weights"): the front
/// ends' first layers differ in shape, so at most one fits. Learned and random share a shape;
/// for inference they are the same network.
pub fn load_weights_any_front_end(bytes: &[u8], device: &Device) -> Result<SeedNet> {
    check_weights_header(bytes, bytes.len())?;
    check_tensors(bytes)?;
    let mut last = None;
    for kind in [
        FrontEndKind::Learned,
        FrontEndKind::Gabor,
        FrontEndKind::Dog,
    ] {
        match load_checked(bytes, kind, device) {
            Ok(model) => return Ok(model),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| LabError::Weights("no front end fits".into())))
}

/// `param`'s values as a new parameter on `device`, read back asynchronously.
async fn copy_param<const D: usize>(
    param: &burn::module::Param<burn::tensor::Tensor<D>>,
    device: &Device,
) -> Result<burn::module::Param<burn::tensor::Tensor<D>>> {
    let data = param
        .val()
        .into_data_async()
        .await
        .map_err(|e| LabError::Device(format!("reading the weights back failed: {e:?}")))?;
    Ok(burn::module::Param::from_data(data, device))
}

async fn copy_bias(
    bias: &Option<burn::module::Param<burn::tensor::Tensor<1>>>,
    device: &Device,
) -> Result<Option<burn::module::Param<burn::tensor::Tensor<1>>>> {
    match bias {
        Some(b) => Ok(Some(copy_param(b, device).await?)),
        None => Ok(None),
    }
}

/// Copies the network's weights to `device` through the host, reading every tensor
/// asynchronously. This is how weights cross between WebGPU and the CPU: burn panics on
/// synchronous reads on WebGPU, and `to_device` between backends would make one.
pub async fn copy_to_device(model: &SeedNet, device: &Device) -> Result<SeedNet> {
    use burn::nn::Linear;
    use burn::nn::conv::Conv2d;
    let conv = async |layer: &Conv2d| -> Result<Conv2d> {
        Ok(Conv2d {
            weight: copy_param(&layer.weight, device).await?,
            bias: copy_bias(&layer.bias, device).await?,
            ..layer.clone()
        })
    };
    let linear = async |layer: &Linear| -> Result<Linear> {
        Ok(Linear {
            weight: copy_param(&layer.weight, device).await?,
            bias: copy_bias(&layer.bias, device).await?,
        })
    };
    Ok(SeedNet {
        front_end: model.front_end,
        noise: model.noise.clone(),
        conv1: conv(&model.conv1).await?,
        conv2: conv(&model.conv2).await?,
        fc1: linear(&model.fc1).await?,
        fc2: linear(&model.fc2).await?,
    })
}

/// [`weights_to_bytes`] for a model on any device, WebGPU included.
pub async fn weights_to_bytes_async(model: &SeedNet) -> Result<Vec<u8>> {
    let host = copy_to_device(model, &Device::flex()).await?;
    weights_to_bytes(&host)
}
