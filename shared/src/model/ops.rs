//! The few tensor operations the model needs, each in two versions: candle's fused kernels
//! (fast, used for inference) and differentiable ones for training.
//!
//! Why both: in candle 0.11 the fused `rms_norm`, `rope*` and `softmax_last_dim` have no
//! backward pass, so a training forward through them silently yields no gradient. The trainer
//! selects [`Kernels::Differentiable`]: on CPU (f32), with the `train` feature, that is
//! `grad_ops` (one-pass kernels with a hand-written backward), elsewhere a composition of
//! elementary ops (the `composed` module, also the reference the tests check both against).

#[cfg(feature = "train")]
use super::grad_ops;
use candle_core::{Result, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    Fused,
    Differentiable,
}

/// `x / sqrt(mean(x²) + eps) * weight` over the last dimension.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64, kernels: Kernels) -> Result<Tensor> {
    match kernels {
        Kernels::Fused => candle_nn::ops::rms_norm(&x.contiguous()?, weight, eps as f32),
        #[cfg(feature = "train")]
        Kernels::Differentiable if grad_ops::supported(x) => grad_ops::rms_norm(x, weight, eps),
        Kernels::Differentiable => composed::rms_norm(x, weight, eps),
    }
}

/// Softmax over the last dimension.
pub fn softmax_last(x: &Tensor, kernels: Kernels) -> Result<Tensor> {
    match kernels {
        Kernels::Fused => candle_nn::ops::softmax_last_dim(x),
        #[cfg(feature = "train")]
        Kernels::Differentiable if grad_ops::supported(x) => grad_ops::softmax_last(x),
        Kernels::Differentiable => composed::softmax_last(x),
    }
}

/// Rotary position embedding of `x` (b, heads, seq, head_dim) with `cos`/`sin` (seq, head_dim/2).
/// `interleaved` rotates pairs (2i, 2i+1) (GGUF layout), otherwise (i, i + d/2) (HF layout).
pub fn rope(
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    interleaved: bool,
    kernels: Kernels,
) -> Result<Tensor> {
    let x = x.contiguous()?;
    match (kernels, interleaved) {
        (Kernels::Fused, true) => candle_nn::rotary_emb::rope_i(&x, cos, sin),
        (Kernels::Fused, false) => candle_nn::rotary_emb::rope(&x, cos, sin),
        #[cfg(feature = "train")]
        (Kernels::Differentiable, _) if grad_ops::supported(&x) => {
            grad_ops::rope(&x, cos, sin, interleaved)
        }
        (Kernels::Differentiable, _) => composed::rope(&x, cos, sin, interleaved),
    }
}

/// SiLU (`x·σ(x)`), written with exp so it differentiates everywhere.
pub fn silu(x: &Tensor, kernels: Kernels) -> Result<Tensor> {
    match kernels {
        // A prompt (several positions, prefill): the one-pass kernel, whose exp vectorizes
        // (candle's calls libm per value). A decode step (one position per sequence) keeps
        // candle's, the same on x86 and wasm.
        #[cfg(feature = "train")]
        Kernels::Fused if grad_ops::supported(x) && several_positions(x) => grad_ops::silu(x),
        Kernels::Fused => candle_nn::ops::silu(x),
        #[cfg(feature = "train")]
        Kernels::Differentiable if grad_ops::supported(x) => grad_ops::silu(x),
        Kernels::Differentiable => composed::silu(x),
    }
}

/// Whether `x` (…, positions, features) holds more than one position per sequence.
#[cfg(feature = "train")]
fn several_positions(x: &Tensor) -> bool {
    let dims = x.dims();
    dims.len() >= 2 && dims[dims.len() - 2] > 1
}

/// The differentiable versions as compositions of elementary candle ops: portable to every
/// device, and the reference for `grad_ops`.
pub mod composed {
    use candle_core::{DType, Result, Tensor, D};

    pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
        let dtype = x.dtype();
        let x = x.to_dtype(DType::F32)?;
        let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = x.broadcast_div(&(ms + eps)?.sqrt()?)?;
        normed.to_dtype(dtype)?.broadcast_mul(weight)
    }

    pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
        let max = x.max_keepdim(D::Minus1)?.detach();
        let e = x.broadcast_sub(&max)?.exp()?;
        e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
    }

    pub fn silu(x: &Tensor) -> Result<Tensor> {
        x.broadcast_div(&(x.neg()?.exp()? + 1.0)?)
    }

    /// `interleaved` rotates pairs (2i, 2i+1) (GGUF layout), otherwise (i, i + d/2) (HF).
    pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor, interleaved: bool) -> Result<Tensor> {
        let (b, h, s, d) = x.dims4()?;
        let (cos, sin) = (
            cos.reshape((1, 1, s, d / 2))?,
            sin.reshape((1, 1, s, d / 2))?,
        );
        if interleaved {
            // (b, h, s, d/2, 2): the last axis holds the rotated pair.
            let pairs = x.reshape((b, h, s, d / 2, 2))?;
            let x0 = pairs.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?;
            let x1 = pairs.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?;
            let r0 = (x0.broadcast_mul(&cos)? - x1.broadcast_mul(&sin)?)?;
            let r1 = (x0.broadcast_mul(&sin)? + x1.broadcast_mul(&cos)?)?;
            Tensor::stack(&[r0, r1], D::Minus1)?.reshape((b, h, s, d))
        } else {
            let x0 = x.narrow(D::Minus1, 0, d / 2)?;
            let x1 = x.narrow(D::Minus1, d / 2, d / 2)?;
            let r0 = (x0.broadcast_mul(&cos)? - x1.broadcast_mul(&sin)?)?;
            let r1 = (x1.broadcast_mul(&cos)? + x0.broadcast_mul(&sin)?)?;
            Tensor::cat(&[r0, r1], D::Minus1)
        }
    }
}
