//! 2-D convolution, its gradients and the transposed convolution as well-shaped GEMMs.
//!
//! burn-backend's generic `conv2d_weight_backward` swaps batch and channels and runs a
//! convolution. On this backend that convolution becomes one thin GEMM per input channel
//! (N = kh·kw), each re-packing the same left-hand matrix, after NCHW↔NHWC copies of both
//! operands. Here, per image `b` and group `g`, with `cols` the image's unfolded patches
//! (`[C_in/g · kh · kw, H_out · W_out]`, rows are shifted windows of input rows):
//!
//! - forward: `Y_bg = W_g · cols`, written straight into the NCHW output (flex's generic
//!   path copies the input to NHWC, re-lays the weight and scatters each tile's result);
//! - weight gradient: `dW_g += dY_bg · colsᵀ`, one GEMM per image (M = C_out/g,
//!   K = H_out·W_out, N = C_in/g·kh·kw) accumulated in place; images are split into one chunk
//!   per thread and the chunks' sums added in a fixed order, so a given thread count always
//!   gives the same bits;
//! - input gradient and transposed convolution: `dcols = W_gᵀ · dY_bg` (M = C_in/g·kh·kw,
//!   K = C_out/g, N = H_out·W_out), then col2im adds each row of `dcols` into the input rows it
//!   came from as contiguous slices (vectorised when the stride is 1); images run in parallel,
//!   each writing only its own slice of the result;
//! - bias gradient: a sum over the batch and positions, without the generic swap-and-copy.
//!
//! Every layout the caller passes is honoured (non-contiguous tensors are made contiguous first);
//! stride, padding, dilation and groups are all handled by the unfold.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape, bf16, f16};

use crate::{FlexTensor, Layout};

/// A float type the GEMM kernels take natively.
pub(crate) trait GradFloat:
    bytemuck::Pod + burn_backend::Element + Copy + Send + Sync + 'static + core::ops::AddAssign
{
    const ZERO: Self;
    const ONE: Self;
    const DTYPE: DType;
}

impl GradFloat for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const DTYPE: DType = DType::F32;
}

impl GradFloat for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const DTYPE: DType = DType::F64;
}

/// The shape of one 2-D convolution, seen from its forward pass: input `[N, C_in, H_in, W_in]`,
/// weight `[C_out, C_in/groups, kh, kw]`, output `[N, C_out, H_out, W_out]`.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    c_in: usize,
    h_in: usize,
    w_in: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    h_out: usize,
    w_out: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Geometry {
    fn c_in_g(&self) -> usize {
        self.c_in / self.groups
    }
    fn c_out_g(&self) -> usize {
        self.c_out / self.groups
    }
    /// Rows of one group's unfolded patches.
    fn rows(&self) -> usize {
        self.c_in_g() * self.kh * self.kw
    }
    fn positions(&self) -> usize {
        self.h_out * self.w_out
    }
    fn input_len(&self) -> usize {
        self.c_in * self.h_in * self.w_in
    }
    fn output_len(&self) -> usize {
        self.c_out * self.positions()
    }

    /// The output columns `ow` whose input column `ow·s + kx·d − p` lies inside the image.
    fn valid_cols(&self, kx: usize) -> (usize, usize) {
        valid_range(
            kx,
            self.dilation[1],
            self.pad[1],
            self.stride[1],
            self.w_in,
            self.w_out,
        )
    }
    fn valid_rows(&self, ky: usize) -> (usize, usize) {
        valid_range(
            ky,
            self.dilation[0],
            self.pad[0],
            self.stride[0],
            self.h_in,
            self.h_out,
        )
    }
}

/// `[start, end)` of output indices `o < out` with `0 ≤ o·stride + k·dilation − pad < size`.
fn valid_range(
    k: usize,
    dilation: usize,
    pad: usize,
    stride: usize,
    size: usize,
    out: usize,
) -> (usize, usize) {
    let offset = k * dilation;
    // o·stride ≥ pad − offset
    let start = if offset >= pad {
        0
    } else {
        (pad - offset).div_ceil(stride)
    };
    // o·stride < size + pad − offset
    let end = if offset >= size + pad {
        0
    } else {
        (size + pad - offset).div_ceil(stride)
    };
    let end = end.min(out);
    (start.min(end), end)
}

/// Unfolds one image's group into `cols` (`[rows, positions]`, row-major). Positions that fall
/// in the padding are zero.
fn unfold<T: GradFloat>(geo: &Geometry, image: &[T], group: usize, cols: &mut [T]) {
    let positions = geo.positions();
    let plane = geo.h_in * geo.w_in;
    let [sh, sw] = geo.stride;
    let [ph, pw] = geo.pad;
    let [dh, dw] = geo.dilation;
    for ci in 0..geo.c_in_g() {
        let channel = &image[(group * geo.c_in_g() + ci) * plane..][..plane];
        for ky in 0..geo.kh {
            let (oh0, oh1) = geo.valid_rows(ky);
            for kx in 0..geo.kw {
                let row = (ci * geo.kh + ky) * geo.kw + kx;
                let dst = &mut cols[row * positions..][..positions];
                let (ow0, ow1) = geo.valid_cols(kx);
                if oh0 > 0 {
                    dst[..oh0 * geo.w_out].fill(T::ZERO);
                }
                dst[oh1 * geo.w_out..].fill(T::ZERO);
                for oh in oh0..oh1 {
                    let ih = oh * sh + ky * dh - ph;
                    let out_row = &mut dst[oh * geo.w_out..][..geo.w_out];
                    out_row[..ow0].fill(T::ZERO);
                    out_row[ow1..].fill(T::ZERO);
                    if ow0 >= ow1 {
                        continue;
                    }
                    let iw0 = ow0 * sw + kx * dw - pw;
                    let in_row = &channel[ih * geo.w_in..][..geo.w_in];
                    if sw == 1 {
                        out_row[ow0..ow1].copy_from_slice(&in_row[iw0..iw0 + (ow1 - ow0)]);
                    } else {
                        for (j, ow) in (ow0..ow1).enumerate() {
                            out_row[ow] = in_row[iw0 + j * sw];
                        }
                    }
                }
            }
        }
    }
}

/// Adds `dcols` (`[rows, positions]`) of one image's group back into the input positions its
/// patches were unfolded from (the adjoint of [`unfold`]).
fn fold_add<T: GradFloat>(geo: &Geometry, dcols: &[T], group: usize, image: &mut [T]) {
    let positions = geo.positions();
    let plane = geo.h_in * geo.w_in;
    let [sh, sw] = geo.stride;
    let [ph, pw] = geo.pad;
    let [dh, dw] = geo.dilation;
    for ci in 0..geo.c_in_g() {
        let channel = &mut image[(group * geo.c_in_g() + ci) * plane..][..plane];
        for ky in 0..geo.kh {
            let (oh0, oh1) = geo.valid_rows(ky);
            for kx in 0..geo.kw {
                let row = (ci * geo.kh + ky) * geo.kw + kx;
                let src = &dcols[row * positions..][..positions];
                let (ow0, ow1) = geo.valid_cols(kx);
                if ow0 >= ow1 {
                    continue;
                }
                let iw0 = ow0 * sw + kx * dw - pw;
                for oh in oh0..oh1 {
                    let ih = oh * sh + ky * dh - ph;
                    let from = &src[oh * geo.w_out + ow0..oh * geo.w_out + ow1];
                    let in_row = &mut channel[ih * geo.w_in..][..geo.w_in];
                    if sw == 1 {
                        for (d, &s) in in_row[iw0..iw0 + from.len()].iter_mut().zip(from) {
                            *d += s;
                        }
                    } else {
                        for (j, &s) in from.iter().enumerate() {
                            in_row[iw0 + j * sw] += s;
                        }
                    }
                }
            }
        }
    }
}

/// `dst[m, n] (+)= Σ_k lhs[m, k] · rhs[k, n]`, each operand given by its column and row strides.
#[allow(clippy::too_many_arguments)]
fn gemm_strided<T: GradFloat>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    lhs: (&[T], isize, isize),
    rhs: (&[T], isize, isize),
    parallel: bool,
) {
    #[cfg(feature = "rayon")]
    let parallelism = if parallel && m * n * k >= 64 * 64 * 64 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    #[cfg(not(feature = "rayon"))]
    let parallelism = {
        let _ = parallel;
        gemm::Parallelism::None
    };
    debug_assert!(dst.len() >= m * n);
    // SAFETY: the strides describe matrices inside the slices the callers pass: `dst` is
    // `[m, n]` row-major, and each operand's largest index `(rows-1)·rs + (cols-1)·cs` is below
    // its slice's length (checked in debug builds by the callers' slicing).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.1,
            lhs.2,
            rhs.0.as_ptr(),
            rhs.1,
            rhs.2,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads().max(1)
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}

/// `dW` for images `range`: returns `[C_out, C_in/g, kh, kw]`, summed in image order.
fn weight_grad_chunk<T: GradFloat>(
    geo: &Geometry,
    x: &[T],
    dy: &[T],
    range: core::ops::Range<usize>,
    parallel_gemm: bool,
) -> Vec<T> {
    let rows = geo.rows();
    let positions = geo.positions();
    let c_out_g = geo.c_out_g();
    let mut dw = vec![T::ZERO; geo.c_out * rows];
    let mut cols = vec![T::ZERO; rows * positions];
    let mut first = true;
    for b in range {
        let image = &x[b * geo.input_len()..][..geo.input_len()];
        for g in 0..geo.groups {
            unfold(geo, image, g, &mut cols);
            let dy_g = &dy[b * geo.output_len() + g * c_out_g * positions..][..c_out_g * positions];
            // dW_g[co, r] += Σ_p dY[co, p] · cols[r, p]
            gemm_strided(
                c_out_g,
                rows,
                positions,
                &mut dw[g * c_out_g * rows..][..c_out_g * rows],
                !first,
                (dy_g, 1, positions as isize),
                (&cols, positions as isize, 1),
                parallel_gemm,
            );
        }
        first = false;
    }
    dw
}

fn weight_grad<T: GradFloat>(geo: &Geometry, x: &[T], dy: &[T]) -> Vec<T> {
    let chunks = threads().min(geo.batch).max(1);
    if chunks <= 1 || geo.batch == 0 {
        return weight_grad_chunk(geo, x, dy, 0..geo.batch, true);
    }
    let per = geo.batch.div_ceil(chunks);
    let ranges: Vec<_> = (0..chunks)
        .map(|c| (c * per).min(geo.batch)..((c + 1) * per).min(geo.batch))
        .filter(|r| !r.is_empty())
        .collect();
    #[cfg(feature = "rayon")]
    let partials: Vec<Vec<T>> = {
        use rayon::prelude::*;
        ranges
            .into_par_iter()
            .map(|r| weight_grad_chunk(geo, x, dy, r, false))
            .collect()
    };
    #[cfg(not(feature = "rayon"))]
    let partials: Vec<Vec<T>> = ranges
        .into_iter()
        .map(|r| weight_grad_chunk(geo, x, dy, r, false))
        .collect();
    let mut partials = partials.into_iter();
    let mut dw = partials
        .next()
        .unwrap_or_else(|| vec![T::ZERO; geo.c_out * geo.rows()]);
    for partial in partials {
        for (d, p) in dw.iter_mut().zip(&partial) {
            *d += *p;
        }
    }
    dw
}

/// `dX` (`[N, C_in, H_in, W_in]`) from `dY` and the weight, one image per task.
fn input_grad<T: GradFloat>(geo: &Geometry, weight: &[T], dy: &[T]) -> Vec<T> {
    let rows = geo.rows();
    let positions = geo.positions();
    let c_out_g = geo.c_out_g();
    let mut dx = vec![T::ZERO; geo.batch * geo.input_len()];
    if geo.input_len() == 0 || positions == 0 {
        return dx;
    }
    let parallel_gemm = geo.batch < threads();
    let image_grad = |b: usize, dx_b: &mut [T], dcols: &mut Vec<T>| {
        dcols.resize(rows * positions, T::ZERO);
        for g in 0..geo.groups {
            let w_g = &weight[g * c_out_g * rows..][..c_out_g * rows];
            let dy_g = &dy[b * geo.output_len() + g * c_out_g * positions..][..c_out_g * positions];
            // dcols[r, p] = Σ_co W[co, r] · dY[co, p]
            gemm_strided(
                rows,
                positions,
                c_out_g,
                dcols,
                false,
                (w_g, rows as isize, 1),
                (dy_g, 1, positions as isize),
                parallel_gemm,
            );
            fold_add(geo, dcols, g, dx_b);
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        dx.par_chunks_mut(geo.input_len())
            .enumerate()
            .for_each_init(Vec::new, |dcols, (b, dx_b)| image_grad(b, dx_b, dcols));
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut dcols = Vec::new();
        for (b, dx_b) in dx.chunks_mut(geo.input_len()).enumerate() {
            image_grad(b, dx_b, &mut dcols);
        }
    }
    dx
}

/// `Y` (`[N, C_out, H_out, W_out]`) from the input and the weight: per image and group,
/// `Y_bg = W_g · cols`, written straight into the output (no layout copies), one image per task.
fn forward<T: GradFloat>(geo: &Geometry, x: &[T], weight: &[T]) -> Vec<T> {
    let rows = geo.rows();
    let positions = geo.positions();
    let c_out_g = geo.c_out_g();
    let mut y = vec![T::ZERO; geo.batch * geo.output_len()];
    if geo.output_len() == 0 {
        return y;
    }
    let parallel_gemm = geo.batch < threads();
    let image_forward = |b: usize, y_b: &mut [T], cols: &mut Vec<T>| {
        cols.resize(rows * positions, T::ZERO);
        let image = &x[b * geo.input_len()..][..geo.input_len()];
        for g in 0..geo.groups {
            unfold(geo, image, g, cols);
            let w_g = &weight[g * c_out_g * rows..][..c_out_g * rows];
            // Y[co, p] = Σ_r W[co, r] · cols[r, p]
            gemm_strided(
                c_out_g,
                positions,
                rows,
                &mut y_b[g * c_out_g * positions..][..c_out_g * positions],
                false,
                (w_g, 1, rows as isize),
                (cols, 1, positions as isize),
                parallel_gemm,
            );
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        y.par_chunks_mut(geo.output_len())
            .enumerate()
            .for_each_init(Vec::new, |cols, (b, y_b)| image_forward(b, y_b, cols));
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut cols = Vec::new();
        for (b, y_b) in y.chunks_mut(geo.output_len()).enumerate() {
            image_forward(b, y_b, &mut cols);
        }
    }
    y
}

fn forward_typed<T: GradFloat>(tensors: Vec<FlexTensor>, options: &ConvOptions<2>) -> FlexTensor {
    let [x, weight]: [FlexTensor; 2] = tensors.try_into().expect("two tensors");
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let xs = dims4(&x, "conv2d input");
    let ws = dims4(&weight, "conv2d weight");
    let size = |i: usize| {
        let (begin, end) = options.padding[i];
        let span = xs[2 + i] + begin + end;
        let reach = options.dilation[i] * (ws[2 + i] - 1) + 1;
        assert!(
            span >= reach,
            "conv2d: the kernel is larger than the padded input"
        );
        (span - reach) / options.stride[i] + 1
    };
    let out = [xs[0], ws[0], size(0), size(1)];
    let geo = forward_geometry(xs, ws, out, options);
    float_tensor(forward(&geo, x.storage::<T>(), weight.storage::<T>()), out)
}

/// `conv2d(x, weight) + bias` with any stride, padding (symmetric or not), dilation and groups.
pub fn conv2d(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = x.dtype();
    let out = dispatch(
        dtype,
        vec![x, weight],
        |t| forward_typed::<f32>(t, options),
        |t| forward_typed::<f64>(t, options),
    );
    match bias {
        None => out,
        Some(bias) => add_channel_bias(out, bias),
    }
}

fn dims4(tensor: &FlexTensor, what: &str) -> [usize; 4] {
    let shape = tensor.layout().shape();
    assert_eq!(
        shape.num_dims(),
        4,
        "{what}: expected a 4-D tensor, got {shape:?}"
    );
    [shape[0], shape[1], shape[2], shape[3]]
}

fn float_tensor<T: GradFloat>(data: Vec<T>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape.to_vec())),
        T::DTYPE,
    )
}

/// Runs `f` in `T`'s own precision, or through f32 for the half types (as flex's other
/// convolutions do).
fn dispatch(
    dtype: DType,
    tensors: Vec<FlexTensor>,
    f32_fn: impl FnOnce(Vec<FlexTensor>) -> FlexTensor,
    f64_fn: impl FnOnce(Vec<FlexTensor>) -> FlexTensor,
) -> FlexTensor {
    match dtype {
        DType::F32 => f32_fn(tensors),
        DType::F64 => f64_fn(tensors),
        DType::F16 => {
            let wide = tensors
                .into_iter()
                .map(|t| super::module::cast_to_f32::<f16>(t, f16::to_f32))
                .collect();
            super::module::cast_from_f32::<f16>(f32_fn(wide), f16::from_f32)
        }
        DType::BF16 => {
            let wide = tensors
                .into_iter()
                .map(|t| super::module::cast_to_f32::<bf16>(t, bf16::to_f32))
                .collect();
            super::module::cast_from_f32::<bf16>(f32_fn(wide), bf16::from_f32)
        }
        dtype => panic!("conv2d gradient: unsupported dtype {dtype:?}"),
    }
}

fn forward_geometry(
    x: [usize; 4],
    w: [usize; 4],
    dy: [usize; 4],
    options: &ConvOptions<2>,
) -> Geometry {
    assert!(options.groups >= 1, "conv2d: groups must be at least 1");
    assert_eq!(
        x[1],
        w[1] * options.groups,
        "conv2d: input channels do not match the weight"
    );
    assert_eq!(
        dy[1], w[0],
        "conv2d: output channels do not match the weight"
    );
    assert_eq!(
        w[0] % options.groups,
        0,
        "conv2d: output channels not divisible by groups"
    );
    assert_eq!(dy[0], x[0], "conv2d: batch sizes differ");
    Geometry {
        batch: x[0],
        c_in: x[1],
        h_in: x[2],
        w_in: x[3],
        c_out: w[0],
        kh: w[2],
        kw: w[3],
        h_out: dy[2],
        w_out: dy[3],
        stride: options.stride,
        pad: options.padding_begin(),
        dilation: options.dilation,
        groups: options.groups,
    }
}

fn weight_backward_typed<T: GradFloat>(
    tensors: Vec<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let [x, weight, dy]: [FlexTensor; 3] = tensors.try_into().expect("three tensors");
    let (x, dy) = (x.to_contiguous(), dy.to_contiguous());
    let w_shape = dims4(&weight, "conv2d weight");
    let geo = forward_geometry(
        dims4(&x, "conv2d input"),
        w_shape,
        dims4(&dy, "conv2d output grad"),
        options,
    );
    let dw = weight_grad(&geo, x.storage::<T>(), dy.storage::<T>());
    float_tensor(dw, w_shape)
}

fn input_backward_typed<T: GradFloat>(
    tensors: Vec<FlexTensor>,
    x_shape: [usize; 4],
    options: &ConvOptions<2>,
) -> FlexTensor {
    let [weight, dy]: [FlexTensor; 2] = tensors.try_into().expect("two tensors");
    let (weight, dy) = (weight.to_contiguous(), dy.to_contiguous());
    let geo = forward_geometry(
        x_shape,
        dims4(&weight, "conv2d weight"),
        dims4(&dy, "conv2d output grad"),
        options,
    );
    let dx = input_grad(&geo, weight.storage::<T>(), dy.storage::<T>());
    float_tensor(dx, x_shape)
}

/// The gradient of `conv2d(x, weight)` with respect to `weight`, given the output's gradient.
/// Padding must be symmetric (callers pad asymmetric inputs first).
pub fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = x.dtype();
    dispatch(
        dtype,
        vec![x, weight, output_grad],
        |t| weight_backward_typed::<f32>(t, options),
        |t| weight_backward_typed::<f64>(t, options),
    )
}

/// The gradient of `conv2d(x, weight)` with respect to `x` (of shape `x_shape`), given the
/// output's gradient. Padding must be symmetric.
pub fn conv2d_x_backward(
    x_shape: [usize; 4],
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = output_grad.dtype();
    dispatch(
        dtype,
        vec![weight, output_grad],
        |t| input_backward_typed::<f32>(t, x_shape, options),
        |t| input_backward_typed::<f64>(t, x_shape, options),
    )
}

/// The gradient of `conv2d` with respect to its bias: the output gradient summed over the batch
/// and every position.
pub fn conv2d_bias_backward(output_grad: FlexTensor) -> FlexTensor {
    fn typed<T: GradFloat>(tensors: Vec<FlexTensor>) -> FlexTensor {
        let dy = tensors
            .into_iter()
            .next()
            .expect("one tensor")
            .to_contiguous();
        let [batch, channels, h, w] = dims4(&dy, "conv2d output grad");
        let data = dy.storage::<T>();
        let plane = h * w;
        let mut sums = vec![T::ZERO; channels];
        for b in 0..batch {
            for (c, sum) in sums.iter_mut().enumerate() {
                for &v in &data[(b * channels + c) * plane..][..plane] {
                    *sum += v;
                }
            }
        }
        FlexTensor::new(
            Bytes::from_elems(sums),
            Layout::contiguous(Shape::from(vec![channels])),
            T::DTYPE,
        )
    }
    let dtype = output_grad.dtype();
    dispatch(dtype, vec![output_grad], typed::<f32>, typed::<f64>)
}

/// `conv_transpose2d(x, weight)`: the input gradient of the convolution whose weight is
/// `weight` (`[C_in, C_out/groups, kh, kw]` here is `[C_out, C_in/groups, kh, kw]` there) and
/// whose output is `x`, plus the bias.
pub fn conv_transpose2d(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let [batch, _, h, w] = dims4(&x, "conv_transpose2d input");
    let [_, c_out_g, kh, kw] = dims4(&weight, "conv_transpose2d weight");
    let size = |i: usize, k: usize, n: usize| {
        let span = (n - 1) * options.stride[i]
            + options.dilation[i] * (k - 1)
            + options.padding_out[i]
            + 1;
        span.checked_sub(2 * options.padding[i])
            .expect("conv_transpose2d: padding larger than the output")
    };
    assert!(h > 0 && w > 0, "conv_transpose2d: empty input");
    let out_shape = [
        batch,
        c_out_g * options.groups,
        size(0, kh, h),
        size(1, kw, w),
    ];
    let conv = ConvOptions::new(
        options.stride,
        options.padding,
        options.dilation,
        options.groups,
    );
    let out = conv2d_x_backward(out_shape, weight, x, &conv);
    match bias {
        None => out,
        Some(bias) => add_channel_bias(out, bias),
    }
}

fn add_channel_bias(out: FlexTensor, bias: FlexTensor) -> FlexTensor {
    fn typed<T: GradFloat>(tensors: Vec<FlexTensor>) -> FlexTensor {
        let [mut out, bias]: [FlexTensor; 2] = tensors.try_into().expect("two tensors");
        let bias = bias.to_contiguous();
        let [_, channels, h, w] = dims4(&out, "conv output");
        let bias: Vec<T> = bias.storage::<T>().to_vec();
        assert_eq!(
            bias.len(),
            channels,
            "conv: bias length does not match the channels"
        );
        for (i, plane) in out.storage_mut::<T>().chunks_mut(h * w).enumerate() {
            let b = bias[i % channels];
            for v in plane {
                *v += b;
            }
        }
        out
    }
    let dtype = out.dtype();
    dispatch(dtype, vec![out, bias], typed::<f32>, typed::<f64>)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv_transpose;

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn tensor(data: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
        float_tensor(data, shape)
    }

    struct Case {
        x: [usize; 4],
        w: [usize; 4],
        stride: [usize; 2],
        padding: [(usize, usize); 2],
        dilation: [usize; 2],
        groups: usize,
    }

    impl Case {
        fn options(&self) -> ConvOptions<2> {
            ConvOptions::new_with_padding(self.stride, self.padding, self.dilation, self.groups)
        }
        fn out(&self) -> [usize; 4] {
            let size = |i: usize| {
                let (b, e) = self.padding[i];
                (self.x[2 + i] + b + e - self.dilation[i] * (self.w[2 + i] - 1) - 1)
                    / self.stride[i]
                    + 1
            };
            [self.x[0], self.w[0], size(0), size(1)]
        }
        /// The input index read by output (oh, ow) at kernel tap (ky, kx), if inside.
        fn tap(&self, oh: usize, ow: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
            let ih =
                (oh * self.stride[0] + ky * self.dilation[0]) as isize - self.padding[0].0 as isize;
            let iw =
                (ow * self.stride[1] + kx * self.dilation[1]) as isize - self.padding[1].0 as isize;
            (ih >= 0 && iw >= 0 && (ih as usize) < self.x[2] && (iw as usize) < self.x[3])
                .then_some((ih as usize, iw as usize))
        }
        /// Y by the definition, in f64.
        fn naive_forward(&self, x: &[f32], w: &[f32]) -> Vec<f64> {
            let [b_n, c_in, h, wd] = self.x;
            let [c_out, c_in_g, kh, kw] = self.w;
            let [_, _, oh_n, ow_n] = self.out();
            let c_out_g = c_out / self.groups;
            let mut y = vec![0f64; b_n * c_out * oh_n * ow_n];
            for b in 0..b_n {
                for co in 0..c_out {
                    let g = co / c_out_g;
                    for oh in 0..oh_n {
                        for ow in 0..ow_n {
                            let mut sum = 0f64;
                            for ci in 0..c_in_g {
                                for ky in 0..kh {
                                    for kx in 0..kw {
                                        if let Some((ih, iw)) = self.tap(oh, ow, ky, kx) {
                                            let xi =
                                                ((b * c_in + g * c_in_g + ci) * h + ih) * wd + iw;
                                            let wi = ((co * c_in_g + ci) * kh + ky) * kw + kx;
                                            sum += x[xi] as f64 * w[wi] as f64;
                                        }
                                    }
                                }
                            }
                            y[((b * c_out + co) * oh_n + oh) * ow_n + ow] = sum;
                        }
                    }
                }
            }
            y
        }

        /// dX and dW by the definition, in f64.
        fn naive_grads(&self, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>) {
            let [b_n, c_in, h, wd] = self.x;
            let [c_out, c_in_g, kh, kw] = self.w;
            let [_, _, oh_n, ow_n] = self.out();
            let c_out_g = c_out / self.groups;
            let mut dx = vec![0f64; x.len()];
            let mut dw = vec![0f64; w.len()];
            for b in 0..b_n {
                for co in 0..c_out {
                    let g = co / c_out_g;
                    for oh in 0..oh_n {
                        for ow in 0..ow_n {
                            let d = dy[((b * c_out + co) * oh_n + oh) * ow_n + ow] as f64;
                            for ci in 0..c_in_g {
                                let cx = g * c_in_g + ci;
                                for ky in 0..kh {
                                    for kx in 0..kw {
                                        if let Some((ih, iw)) = self.tap(oh, ow, ky, kx) {
                                            let xi = ((b * c_in + cx) * h + ih) * wd + iw;
                                            let wi = ((co * c_in_g + ci) * kh + ky) * kw + kx;
                                            dx[xi] += d * w[wi] as f64;
                                            dw[wi] += d * x[xi] as f64;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (dx, dw)
        }
    }

    fn assert_close(what: &str, actual: &[f32], reference: &[f64]) {
        assert_eq!(actual.len(), reference.len(), "{what}: lengths differ");
        let scale = reference.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
        for (i, (&a, &r)) in actual.iter().zip(reference).enumerate() {
            assert!(
                ((a as f64) - r).abs() <= 1e-5 * scale,
                "{what}: element {i} is {a}, expected {r} (scale {scale})"
            );
        }
    }

    fn cases() -> Vec<Case> {
        let case = |x, w, stride, padding, dilation, groups| Case {
            x,
            w,
            stride,
            padding,
            dilation,
            groups,
        };
        vec![
            // The lab's seed network: conv1 and conv2.
            case(
                [4, 1, 28, 28],
                [32, 1, 3, 3],
                [1, 1],
                [(0, 0); 2],
                [1, 1],
                1,
            ),
            case(
                [3, 32, 26, 26],
                [64, 32, 3, 3],
                [1, 1],
                [(0, 0); 2],
                [1, 1],
                1,
            ),
            case([2, 3, 9, 8], [5, 3, 3, 3], [1, 1], [(1, 1); 2], [1, 1], 1),
            case(
                [2, 3, 9, 8],
                [4, 3, 3, 2],
                [2, 3],
                [(1, 1), (0, 0)],
                [1, 1],
                1,
            ),
            case(
                [2, 4, 10, 11],
                [6, 2, 3, 3],
                [1, 2],
                [(2, 2), (1, 1)],
                [2, 1],
                2,
            ),
            case([1, 4, 7, 7], [4, 1, 3, 3], [1, 1], [(1, 1); 2], [1, 1], 4),
            case(
                [3, 2, 8, 9],
                [3, 2, 2, 3],
                [2, 1],
                [(0, 1), (2, 0)],
                [1, 2],
                1,
            ),
            case([5, 2, 5, 5], [3, 2, 1, 1], [1, 1], [(0, 0); 2], [1, 1], 1),
            case([2, 2, 4, 4], [3, 2, 5, 5], [1, 1], [(2, 2); 2], [1, 1], 1),
        ]
    }

    #[test]
    fn forward_and_gradients_match_the_definition() {
        for (k, case) in cases().iter().enumerate() {
            let x = values(case.x.iter().product(), 3 * k as u64 + 1);
            let w = values(case.w.iter().product(), 3 * k as u64 + 2);
            let dy = values(case.out().iter().product(), 3 * k as u64 + 3);
            let (dx_ref, dw_ref) = case.naive_grads(&x, &w, &dy);
            let options = case.options();
            let y = conv2d(
                tensor(x.clone(), case.x),
                tensor(w.clone(), case.w),
                None,
                &options,
            );
            assert_eq!(
                y.layout().shape().to_vec(),
                case.out().to_vec(),
                "case {k}: output shape"
            );
            assert_close(
                &format!("case {k} Y"),
                y.storage::<f32>(),
                &case.naive_forward(&x, &w),
            );
            let dw = conv2d_weight_backward(
                tensor(x.clone(), case.x),
                tensor(w.clone(), case.w),
                tensor(dy.clone(), case.out()),
                &options,
            );
            assert_eq!(dw.layout().shape().to_vec(), case.w.to_vec());
            assert_close(&format!("case {k} dW"), dw.storage::<f32>(), &dw_ref);
            let dx = conv2d_x_backward(case.x, tensor(w, case.w), tensor(dy, case.out()), &options);
            assert_close(&format!("case {k} dX"), dx.storage::<f32>(), &dx_ref);
        }
    }

    #[test]
    fn a_non_contiguous_gradient_is_read_by_its_layout() {
        let case = &cases()[2];
        let x = values(case.x.iter().product(), 11);
        let w = values(case.w.iter().product(), 12);
        let dy = values(case.out().iter().product(), 13);
        let (dx_ref, dw_ref) = case.naive_grads(&x, &w, &dy);
        // The same dY stored as [N, H, W, C] and viewed as [N, C, H, W].
        let [n, c, h, wd] = case.out();
        let mut nhwc = vec![0f32; dy.len()];
        for b in 0..n {
            for ch in 0..c {
                for i in 0..h * wd {
                    nhwc[(b * h * wd + i) * c + ch] = dy[(b * c + ch) * h * wd + i];
                }
            }
        }
        let dy_view = tensor(nhwc, [n, h, wd, c]).permute(&[0, 3, 1, 2]);
        assert!(!dy_view.is_contiguous());
        let options = case.options();
        let dw = conv2d_weight_backward(
            tensor(x, case.x),
            tensor(w.clone(), case.w),
            dy_view.clone(),
            &options,
        );
        assert_close("strided dY dW", dw.storage::<f32>(), &dw_ref);
        let dx = conv2d_x_backward(case.x, tensor(w, case.w), dy_view, &options);
        assert_close("strided dY dX", dx.storage::<f32>(), &dx_ref);
    }

    #[test]
    fn transposed_convolution_matches_flex_s_own() {
        // (input, weight [C_in, C_out/g, kh, kw], stride, padding, padding_out, dilation, groups)
        let grid = [
            (
                [2, 64, 24, 24],
                [64, 32, 3, 3],
                [1, 1],
                [0, 0],
                [0, 0],
                [1, 1],
                1,
            ),
            (
                [2, 4, 5, 6],
                [4, 3, 3, 3],
                [2, 2],
                [1, 1],
                [1, 0],
                [1, 1],
                1,
            ),
            (
                [1, 6, 4, 4],
                [6, 2, 3, 2],
                [1, 2],
                [0, 1],
                [0, 1],
                [2, 1],
                3,
            ),
            (
                [3, 2, 3, 3],
                [2, 2, 1, 1],
                [1, 1],
                [0, 0],
                [0, 0],
                [1, 1],
                1,
            ),
        ];
        for (k, (xs, ws, stride, padding, padding_out, dilation, groups)) in
            grid.into_iter().enumerate()
        {
            let options = ConvTransposeOptions::new(stride, padding, padding_out, dilation, groups);
            let x = tensor(values(xs.iter().product(), 20 + k as u64), xs);
            let w = tensor(values(ws.iter().product(), 30 + k as u64), ws);
            let c_out = ws[1] * groups;
            let bias = FlexTensor::new(
                Bytes::from_elems(values(c_out, 40 + k as u64)),
                Layout::contiguous(Shape::from(vec![c_out])),
                DType::F32,
            );
            let ours = conv_transpose2d(x.clone(), w.clone(), Some(bias.clone()), &options);
            let theirs = conv_transpose::conv_transpose2d_f32(x, w, Some(bias), &options);
            assert_eq!(
                ours.layout().shape(),
                theirs.layout().shape(),
                "case {k}: shapes"
            );
            let reference: Vec<f64> = theirs.storage::<f32>().iter().map(|&v| v as f64).collect();
            assert_close(
                &format!("transpose case {k}"),
                ours.storage::<f32>(),
                &reference,
            );
        }
    }

    #[test]
    fn the_bias_gradient_sums_batch_and_positions() {
        let dy = values(2 * 3 * 4 * 5, 50);
        let sums = conv2d_bias_backward(tensor(dy.clone(), [2, 3, 4, 5]));
        let expected: Vec<f64> = (0..3)
            .map(|c| {
                (0..2)
                    .flat_map(|b| dy[(b * 3 + c) * 20..][..20].to_vec())
                    .map(|v| v as f64)
                    .sum()
            })
            .collect();
        assert_close("bias", sums.storage::<f32>(), &expected);
    }

    #[test]
    fn the_weight_gradient_is_the_same_bits_twice() {
        // The batch is split into one chunk per thread and the chunks are added in order, so
        // a given thread count gives the same bits every time.
        let case = &cases()[1];
        let x = values(case.x.iter().product(), 60);
        let dy = values(case.out().iter().product(), 61);
        let w = values(case.w.iter().product(), 62);
        let run = || {
            conv2d_weight_backward(
                tensor(x.clone(), case.x),
                tensor(w.clone(), case.w),
                tensor(dy.clone(), case.out()),
                &case.options(),
            )
            .storage::<f32>()
            .to_vec()
        };
        assert_eq!(run(), run());
    }
}
