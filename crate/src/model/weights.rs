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

/// Loads a burnpack file into a seed network with the given front end. Anything that is not a
/// complete, valid set of that network's parameters (wrong shapes, missing tensors, corrupt
/// bytes) is an error.
pub fn load_weights(bytes: &[u8], front_end: FrontEndKind, device: &Device) -> Result<SeedNet> {
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
    let mut last = None;
    for kind in [
        FrontEndKind::Learned,
        FrontEndKind::Gabor,
        FrontEndKind::Dog,
    ] {
        match load_weights(bytes, kind, device) {
            Ok(model) => return Ok(model),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| LabError::Weights("no front end fits".into())))
}

async fn read_param<const D: usize>(
    param: &burn::module::Param<burn::tensor::Tensor<D>>,
) -> Result<burn::tensor::TensorData> {
    param
        .val()
        .into_data_async()
        .await
        .map_err(|e| LabError::Device(format!("reading the weights back failed: {e:?}")))
}

async fn copy_conv(
    layer: &burn::nn::conv::Conv2d,
    device: &Device,
) -> Result<burn::nn::conv::Conv2d> {
    let mut copy = layer.clone();
    copy.weight = burn::module::Param::from_data(read_param(&layer.weight).await?, device);
    if let Some(bias) = &layer.bias {
        copy.bias = Some(burn::module::Param::from_data(
            read_param(bias).await?,
            device,
        ));
    }
    Ok(copy)
}

async fn copy_linear(layer: &burn::nn::Linear, device: &Device) -> Result<burn::nn::Linear> {
    let mut copy = layer.clone();
    copy.weight = burn::module::Param::from_data(read_param(&layer.weight).await?, device);
    if let Some(bias) = &layer.bias {
        copy.bias = Some(burn::module::Param::from_data(
            read_param(bias).await?,
            device,
        ));
    }
    Ok(copy)
}

/// Copies the network's weights to `device` through the host, reading every tensor
/// asynchronously. This is how weights cross between WebGPU and the CPU: burn panics on
/// synchronous reads on WebGPU, and `to_device` between backends would make one.
pub async fn copy_to_device(model: &SeedNet, device: &Device) -> Result<SeedNet> {
    Ok(SeedNet {
        front_end: model.front_end,
        noise: model.noise.clone(),
        conv1: copy_conv(&model.conv1, device).await?,
        conv2: copy_conv(&model.conv2, device).await?,
        fc1: copy_linear(&model.fc1, device).await?,
        fc2: copy_linear(&model.fc2, device).await?,
    })
}

/// [`weights_to_bytes`] for a model on any device, WebGPU included.
pub async fn weights_to_bytes_async(model: &SeedNet) -> Result<Vec<u8>> {
    let host = copy_to_device(model, &Device::flex()).await?;
    weights_to_bytes(&host)
}
