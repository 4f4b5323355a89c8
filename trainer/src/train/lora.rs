//! LoRA adapters on a frozen backbone, PEFT convention: `y = W·x + (α/r)·B·A·x` with `A` (r, in)
//! drawn like PEFT's default (Kaiming-uniform, bound `1/√in`) and `B` (out, r) zero, so an
//! untrained adapter changes nothing.

use super::config::LoraConfig;
use alro_core::model::{Linear, Llama, Lora, LoraDropout, Projection};
use anyhow::{bail, Result};
use candle_core::quantized::QMatMul;
use candle_core::{DType, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};

/// One trainable matrix and its checkpoint name, e.g. `layers.29.q_proj.lora_a`.
pub struct Param {
    pub name: String,
    pub var: Var,
}

/// The adapters attached to a model: the trainable parameters, in a fixed order.
pub struct Adapters {
    pub params: Vec<Param>,
    pub scale: f64,
    /// The stream all adapter dropouts draw from (None without dropout).
    pub dropout_rng: Option<Arc<Mutex<ChaCha8Rng>>>,
}

impl Adapters {
    /// Reseeds the shared dropout stream; call before every forward pass.
    pub fn reseed_dropout(&self, seed: u64) {
        if let Some(rng) = &self.dropout_rng {
            *rng.lock().unwrap_or_else(|e| e.into_inner()) = ChaCha8Rng::seed_from_u64(seed);
        }
    }

    pub fn vars(&self) -> Vec<&Var> {
        self.params.iter().map(|p| &p.var).collect()
    }

    /// Number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.params.iter().map(|p| p.var.elem_count()).sum()
    }
}

/// Indices of the blocks that get adapters.
pub fn adapted_layers(num_layers: usize, cfg: &LoraConfig) -> std::ops::Range<usize> {
    let n = cfg.last_layers.unwrap_or(num_layers).min(num_layers);
    num_layers - n..num_layers
}

/// Attaches fresh adapters (seeded) to `model`'s target projections.
pub fn attach(model: &mut Llama, cfg: &LoraConfig, seed: u64) -> Result<Adapters> {
    let device = model.device.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale = cfg.alpha / cfg.rank as f64;
    let dropout_rng =
        (cfg.dropout > 0.0).then(|| Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed))));
    let mut params = Vec::new();
    let layers = adapted_layers(model.layers.len(), cfg);
    for i in layers {
        for &target in &cfg.targets {
            let linear = model.layers[i].projection_mut(target);
            if linear.lora.is_some() {
                bail!("layer {i} {target} already has an adapter");
            }
            let (out, inp) = weight_dims(&linear.weight);
            let bound = 1.0 / (inp as f32).sqrt();
            let a: Vec<f32> = (0..cfg.rank * inp)
                .map(|_| rng.random_range(-bound..bound))
                .collect();
            let a = Var::from_tensor(&Tensor::from_vec(a, (cfg.rank, inp), &device)?)?;
            let b = Var::from_tensor(&Tensor::zeros((out, cfg.rank), DType::F32, &device)?)?;
            linear.lora = Some(Lora {
                a: a.as_tensor().clone(),
                b: b.as_tensor().clone(),
                scale,
                dropout: dropout_rng.as_ref().map(|rng| LoraDropout {
                    p: cfg.dropout,
                    rng: rng.clone(),
                }),
            });
            params.push(Param {
                name: format!("layers.{i}.{target}.lora_a"),
                var: a,
            });
            params.push(Param {
                name: format!("layers.{i}.{target}.lora_b"),
                var: b,
            });
        }
    }
    Ok(Adapters {
        params,
        scale,
        dropout_rng,
    })
}

/// (out, in) of a projection weight.
pub fn weight_dims(w: &QMatMul) -> (usize, usize) {
    let dims = match w {
        QMatMul::QTensor(q) => q.shape().dims().to_vec(),
        QMatMul::Tensor(t) | QMatMul::TensorF16(t) => t.dims().to_vec(),
    };
    (dims[0], dims[1])
}

/// The dense weight of `linear` with its adapter folded in: `W + (α/r)·B·A` (f32).
pub fn merged_weight(linear: &Linear) -> Result<Tensor> {
    let w = match &linear.weight {
        QMatMul::QTensor(q) => q.dequantize(&q.device())?,
        QMatMul::Tensor(t) | QMatMul::TensorF16(t) => t.to_dtype(DType::F32)?,
    };
    Ok(match &linear.lora {
        None => w,
        Some(l) => (w + (l.b.matmul(&l.a)? * l.scale)?)?,
    })
}

/// Replaces every adapted projection of `model` by its merged dense weight and drops the
/// adapters: the model then computes the same function with no LoRA branch.
pub fn merge_into(model: &mut Llama) -> Result<()> {
    for block in &mut model.layers {
        for p in Projection::ALL {
            let linear = block.projection_mut(p);
            if linear.lora.is_some() {
                let merged = merged_weight(linear)?.detach();
                *linear = Linear::new(QMatMul::Tensor(merged));
            }
        }
    }
    Ok(())
}
