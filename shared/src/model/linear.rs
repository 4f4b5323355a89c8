//! A linear layer whose frozen weight may be quantized (inference) or dense (training), with an
//! optional LoRA adapter in the PEFT convention `W·x + (α/r)·B·A·x`.

use super::frozen::frozen_matmul;
use super::matvec::quantized_matvecs;
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Module, Result, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};

/// Row count from which a quantized matmul dequantizes its weight first (see `forward`).
const DEQUANTIZE_MIN_ROWS: usize = 2;

/// Low-rank adapter: `a` is (r, in), `b` is (out, r), `scale` = α/r.
#[derive(Debug, Clone)]
pub struct Lora {
    pub a: Tensor,
    pub b: Tensor,
    pub scale: f64,
    /// Dropout on the adapter's input (training only; PEFT's `lora_dropout`).
    pub dropout: Option<LoraDropout>,
}

/// Inverted dropout drawn from one seeded stream that all adapters of a model share. The
/// trainer reseeds it before every forward pass, so a step's masks depend only on (seed, step)
/// and a resumed run draws the same masks as an uninterrupted one.
#[derive(Debug, Clone)]
pub struct LoraDropout {
    pub p: f32,
    pub rng: Arc<Mutex<ChaCha8Rng>>,
}

impl LoraDropout {
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            (0..x.elem_count())
                .map(|_| {
                    if rng.random::<f32>() < self.p {
                        0.0
                    } else {
                        keep
                    }
                })
                .collect()
        };
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x * mask
    }
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
        let rows = x.elem_count() / x.dim(candle_core::D::Minus1)?;
        // A prompt (many rows) is compute-bound: dequantizing the block-quantized weight for
        // one f32 GEMM is several times faster than candle's row-by-row quantized dot products,
        // and exact (no 8-bit rounding of activations). Weights stay quantized in memory; a
        // single decode row decodes them row by row (`matvec`), also without rounding `x`.
        match &self.weight {
            QMatMul::QTensor(q) if rows == 1 && x.device().is_cpu() => {
                Ok(decode_rows(&[self], &[q], x)?.remove(0))
            }
            _ if rows >= DEQUANTIZE_MIN_ROWS => self.forward_dequantized(x),
            _ => self.add_lora(x, self.weight.forward(x)?),
        }
    }

    /// `parts`' outputs for the same input `x`, each as [`Linear::forward`] gives it. A single
    /// decode row through block-quantized weights takes one pass over the thread pool for all
    /// of them (`quantized_matvecs`): a decode step's q/k/v or gate/up hand off once, not once
    /// per projection.
    pub fn forward_together(parts: &[&Linear], x: &Tensor) -> Result<Vec<Tensor>> {
        let rows = x.elem_count() / x.dim(candle_core::D::Minus1)?;
        let weights: Option<Vec<_>> = parts
            .iter()
            .map(|p| match &p.weight {
                QMatMul::QTensor(q) => Some(q.as_ref()),
                _ => None,
            })
            .collect();
        let Some(weights) = weights.filter(|_| rows == 1 && x.device().is_cpu()) else {
            return parts.iter().map(|p| p.forward(x)).collect();
        };
        decode_rows(parts, &weights, x)
    }

    /// Like `forward`, always multiplying with the dequantized (f32) weight.
    pub fn forward_dequantized(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.weight {
            QMatMul::QTensor(q) => x.broadcast_matmul(&q.dequantize(x.device())?.t()?)?,
            // Training: the base weight is frozen, never differentiate with respect to it.
            QMatMul::Tensor(w) => frozen_matmul(x, w)?,
            QMatMul::TensorF16(_) => self.weight.forward(x)?,
        };
        self.add_lora(x, y)
    }

    pub(crate) fn add_lora(&self, x: &Tensor, y: Tensor) -> Result<Tensor> {
        match &self.lora {
            None => Ok(y),
            Some(l) => {
                let x = match &l.dropout {
                    Some(d) => d.apply(x)?,
                    None => x.clone(),
                };
                // Scaled at rank width ((x·Aᵀ)·s, then ·Bᵀ): the same product as scaling the
                // full-width delta, without one more pass over it forward and backward.
                let low = (x.broadcast_matmul(&l.a.t()?)? * l.scale)?;
                let delta = low.broadcast_matmul(&l.b.t()?)?;
                y + delta
            }
        }
    }
}

/// `parts`' outputs for one decode row `x`, their block-quantized `weights` multiplied in one
/// thread-pool pass (`quantized_matvecs`), then each part's LoRA.
fn decode_rows(parts: &[&Linear], weights: &[&QTensor], x: &Tensor) -> Result<Vec<Tensor>> {
    let flat = x
        .flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1()?;
    let outs = quantized_matvecs(weights, &flat)?;
    parts
        .iter()
        .zip(outs)
        .map(|(part, y)| {
            let mut shape = x.dims().to_vec();
            *shape.last_mut().expect("x has a last dimension") = y.len();
            let y = Tensor::from_vec(y, shape, x.device())?.to_dtype(x.dtype())?;
            part.add_lora(x, y)
        })
        .collect()
}
