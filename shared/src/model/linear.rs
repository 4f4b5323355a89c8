//! A linear layer whose frozen weight may be quantized (inference) or dense (training), with an
//! optional LoRA adapter in the PEFT convention `W·x + (α/r)·B·A·x`.

use candle_core::quantized::QMatMul;
use candle_core::{Module, Result, Tensor};

/// Row count from which a quantized matmul dequantizes its weight first (see `forward`).
const DEQUANTIZE_MIN_ROWS: usize = 8;

/// Low-rank adapter: `a` is (r, in), `b` is (out, r), `scale` = α/r.
#[derive(Debug, Clone)]
pub struct Lora {
    pub a: Tensor,
    pub b: Tensor,
    pub scale: f64,
}

#[derive(Debug, Clone)]
pub struct Linear {
    /// (out, in) — quantized, or a dense tensor wrapped as `QMatMul::Tensor`.
    pub weight: QMatMul,
    pub lora: Option<Lora>,
}

impl Linear {
    pub fn new(weight: QMatMul) -> Self {
        Linear { weight, lora: None }
    }

    /// `x` (…, in) → (…, out).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.weight {
            // A prompt (many rows) is compute-bound: dequantizing the block-quantized weight for
            // one f32 GEMM is several times faster than candle's row-by-row quantized dot
            // products, and more accurate (no 8-bit rounding of activations). Weights stay
            // quantized in memory; a single decode row still takes the quantized path.
            QMatMul::QTensor(q) if x.elem_count() / x.dim(candle_core::D::Minus1)? >= DEQUANTIZE_MIN_ROWS => {
                let w = q.dequantize(x.device())?;
                x.broadcast_matmul(&w.t()?)?
            }
            _ => self.weight.forward(x)?,
        };
        match &self.lora {
            None => Ok(y),
            Some(l) => {
                let low = x.broadcast_matmul(&l.a.t()?)?;
                let delta = low.broadcast_matmul(&l.b.t()?)?;
                y + (delta * l.scale)?
            }
        }
    }
}
