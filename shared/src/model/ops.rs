//! The few tensor operations the model needs, each in two versions: candle's fused kernels
//! (fast, used for inference) and compositions of elementary ops (slower, but differentiable).
//!
//! Why both: in candle 0.11 the fused `rms_norm`, `rope*` and `softmax_last_dim` have no
//! backward pass, so a training forward through them silently yields no gradient. The trainer
//! selects [`Kernels::Differentiable`]; tests check that both versions agree.

use candle_core::{DType, Result, Tensor, D};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    Fused,
    Differentiable,
}

/// `x / sqrt(mean(x²) + eps) * weight` over the last dimension.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64, kernels: Kernels) -> Result<Tensor> {
    match kernels {
        Kernels::Fused => candle_nn::ops::rms_norm(&x.contiguous()?, weight, eps as f32),
        Kernels::Differentiable => {
            let dtype = x.dtype();
            let x = x.to_dtype(DType::F32)?;
            let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
            let normed = x.broadcast_div(&(ms + eps)?.sqrt()?)?;
            normed.to_dtype(dtype)?.broadcast_mul(weight)
        }
    }
}

/// Softmax over the last dimension.
pub fn softmax_last(x: &Tensor, kernels: Kernels) -> Result<Tensor> {
    match kernels {
        Kernels::Fused => candle_nn::ops::softmax_last_dim(x),
        Kernels::Differentiable => {
            let max = x.max_keepdim(D::Minus1)?.detach();
            let e = x.broadcast_sub(&max)?.exp()?;
            e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
        }
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
        (Kernels::Differentiable, true) => {
            let (b, h, s, d) = x.dims4()?;
            // (b, h, s, d/2, 2): the last axis holds the rotated pair.
            let pairs = x.reshape((b, h, s, d / 2, 2))?;
            let x0 = pairs.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?;
            let x1 = pairs.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?;
            let (cos, sin) = (
                cos.reshape((1, 1, s, d / 2))?,
                sin.reshape((1, 1, s, d / 2))?,
            );
            let r0 = (x0.broadcast_mul(&cos)? - x1.broadcast_mul(&sin)?)?;
            let r1 = (x0.broadcast_mul(&sin)? + x1.broadcast_mul(&cos)?)?;
            Tensor::stack(&[r0, r1], D::Minus1)?.reshape((b, h, s, d))
        }
        (Kernels::Differentiable, false) => {
            let (_, _, s, d) = x.dims4()?;
            let x0 = x.narrow(D::Minus1, 0, d / 2)?;
            let x1 = x.narrow(D::Minus1, d / 2, d / 2)?;
            let (cos, sin) = (
                cos.reshape((1, 1, s, d / 2))?,
                sin.reshape((1, 1, s, d / 2))?,
            );
            let r0 = (x0.broadcast_mul(&cos)? - x1.broadcast_mul(&sin)?)?;
            let r1 = (x1.broadcast_mul(&cos)? + x0.broadcast_mul(&sin)?)?;
            Tensor::cat(&[r0, r1], D::Minus1)
        }
    }
}

/// SiLU (`x·σ(x)`), written with exp so it differentiates everywhere.
pub fn silu(x: &Tensor, kernels: Kernels) -> Result<Tensor> {
    match kernels {
        Kernels::Fused => candle_nn::ops::silu(x),
        Kernels::Differentiable => x.broadcast_div(&(x.neg()?.exp()? + 1.0)?),
    }
}
