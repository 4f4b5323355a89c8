//! Building a [`Llama`] from checkpoint tensors. The two supported layouts differ only in tensor
//! names, dtypes and the rotary pairing (see [`super::RopeLayout`]); [`WeightName`] maps one to the other.

use super::config::LlamaConfig;
use super::embedding::Embedding;
use super::linear::Linear;
use super::llama::{Attention, Block, Llama, Mlp};
use super::stacked::Stacked;
use crate::gguf::GgufFile;
use crate::{Error, Result};
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

/// Where the weights come from: a GGUF file (names `blk.N.attn_q.weight`, possibly quantized) or
/// Hugging Face safetensors (names `model.layers.N.self_attn.q_proj.weight`, dense).
pub trait TensorSource {
    /// What to call the source in error messages.
    fn source_name(&self) -> &str;
    /// A matrix as the model will multiply with it (kept quantized when the file is).
    fn matrix(&self, name: &WeightName) -> Result<QMatMul>;
    /// A tensor dequantized to f32 (norm weights, the embedding table).
    fn dense(&self, name: &WeightName) -> Result<Tensor>;
    fn contains(&self, name: &WeightName) -> bool;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightName {
    Embed,
    FinalNorm,
    LmHead,
    RopeFreqs,
    AttnNorm(usize),
    Q(usize),
    K(usize),
    V(usize),
    O(usize),
    FfnNorm(usize),
    Gate(usize),
    Up(usize),
    Down(usize),
}

impl WeightName {
    pub fn gguf(&self) -> String {
        use WeightName::*;
        match *self {
            Embed => "token_embd.weight".into(),
            FinalNorm => "output_norm.weight".into(),
            LmHead => "output.weight".into(),
            RopeFreqs => "rope_freqs.weight".into(),
            AttnNorm(i) => format!("blk.{i}.attn_norm.weight"),
            Q(i) => format!("blk.{i}.attn_q.weight"),
            K(i) => format!("blk.{i}.attn_k.weight"),
            V(i) => format!("blk.{i}.attn_v.weight"),
            O(i) => format!("blk.{i}.attn_output.weight"),
            FfnNorm(i) => format!("blk.{i}.ffn_norm.weight"),
            Gate(i) => format!("blk.{i}.ffn_gate.weight"),
            Up(i) => format!("blk.{i}.ffn_up.weight"),
            Down(i) => format!("blk.{i}.ffn_down.weight"),
        }
    }

    pub fn hf(&self) -> String {
        use WeightName::*;
        match *self {
            Embed => "model.embed_tokens.weight".into(),
            FinalNorm => "model.norm.weight".into(),
            LmHead => "lm_head.weight".into(),
            RopeFreqs => "rope_freqs.weight".into(),
            AttnNorm(i) => format!("model.layers.{i}.input_layernorm.weight"),
            Q(i) => format!("model.layers.{i}.self_attn.q_proj.weight"),
            K(i) => format!("model.layers.{i}.self_attn.k_proj.weight"),
            V(i) => format!("model.layers.{i}.self_attn.v_proj.weight"),
            O(i) => format!("model.layers.{i}.self_attn.o_proj.weight"),
            FfnNorm(i) => format!("model.layers.{i}.post_attention_layernorm.weight"),
            Gate(i) => format!("model.layers.{i}.mlp.gate_proj.weight"),
            Up(i) => format!("model.layers.{i}.mlp.up_proj.weight"),
            Down(i) => format!("model.layers.{i}.mlp.down_proj.weight"),
        }
    }
}

/// How to hold matrices that the file stores quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatrixPrecision {
    /// As stored (inference default: smallest memory, llama.cpp-like speed).
    #[default]
    AsStored,
    /// Dequantized to f32 (training: gradients flow through dense matmuls only).
    F32,
}

impl Llama {
    pub fn load(
        config: LlamaConfig,
        src: &dyn TensorSource,
        precision: MatrixPrecision,
        device: &Device,
    ) -> Result<Self> {
        let c = &config;
        let shape_err = |name: &WeightName, got: &[usize], want: &[usize]| {
            Error::model(
                src.source_name(),
                format!(
                    "tensor `{}` has shape {got:?}, expected {want:?}",
                    name.gguf()
                ),
            )
        };
        let matrix = |name: WeightName, out: usize, inp: usize| -> Result<Linear> {
            let m = src.matrix(&name)?;
            let m = match (precision, m) {
                (MatrixPrecision::F32, QMatMul::QTensor(q)) => {
                    QMatMul::Tensor(q.dequantize(device)?)
                }
                (_, m) => m,
            };
            let dims = match &m {
                QMatMul::QTensor(q) => q.shape().dims().to_vec(),
                QMatMul::Tensor(t) | QMatMul::TensorF16(t) => t.dims().to_vec(),
            };
            if dims != [out, inp] {
                return Err(shape_err(&name, &dims, &[out, inp]));
            }
            Ok(Linear::new(m))
        };
        let vector = |name: WeightName, n: usize| -> Result<Tensor> {
            let t = src.dense(&name)?;
            if t.dims() != [n] {
                return Err(shape_err(&name, t.dims(), &[n]));
            }
            Ok(t)
        };
        let (h, hd) = (c.hidden_size, c.head_dim);
        let mut layers = Vec::with_capacity(c.num_layers);
        for i in 0..c.num_layers {
            layers.push(Block {
                input_layernorm: vector(WeightName::AttnNorm(i), h)?,
                self_attn: Attention {
                    q_proj: matrix(WeightName::Q(i), c.num_heads * hd, h)?,
                    k_proj: matrix(WeightName::K(i), c.num_kv_heads * hd, h)?,
                    v_proj: matrix(WeightName::V(i), c.num_kv_heads * hd, h)?,
                    o_proj: matrix(WeightName::O(i), h, c.num_heads * hd)?,
                    qkv: None,
                },
                post_attention_layernorm: vector(WeightName::FfnNorm(i), h)?,
                mlp: Mlp {
                    gate_proj: matrix(WeightName::Gate(i), c.intermediate_size, h)?,
                    up_proj: matrix(WeightName::Up(i), c.intermediate_size, h)?,
                    down_proj: matrix(WeightName::Down(i), h, c.intermediate_size)?,
                    gate_up: None,
                },
            });
            if precision == MatrixPrecision::F32 {
                let block = layers.last_mut().expect("just pushed");
                let (a, m) = (&mut block.self_attn, &mut block.mlp);
                a.qkv = Stacked::stack(&mut [&mut a.q_proj, &mut a.k_proj, &mut a.v_proj])?;
                m.gate_up = Stacked::stack(&mut [&mut m.gate_proj, &mut m.up_proj])?;
            }
        }
        let tied = !src.contains(&WeightName::LmHead) || c.tie_word_embeddings;
        let lm_head = if tied {
            matrix(WeightName::Embed, c.vocab_size, h)?
        } else {
            matrix(WeightName::LmHead, c.vocab_size, h)?
        };
        // A tied table is the LM head's own storage (quantized, or dense at training precision).
        let embed_tokens = if tied {
            Embedding::of(&lm_head.weight)?
        } else {
            Embedding::of(&src.matrix(&WeightName::Embed)?)?
        };
        if embed_tokens.dims() != [c.vocab_size, h] {
            return Err(shape_err(
                &WeightName::Embed,
                embed_tokens.dims(),
                &[c.vocab_size, h],
            ));
        }
        let mut inv_freqs = c.inv_freqs();
        if src.contains(&WeightName::RopeFreqs) {
            // llama.cpp's form of Llama 3.1 scaling: per-frequency divisors.
            let factors = vector(WeightName::RopeFreqs, hd / 2)?.to_vec1::<f32>()?;
            for (f, d) in inv_freqs.iter_mut().zip(factors) {
                *f /= d;
            }
        }
        let n = inv_freqs.len();
        Ok(Llama {
            embed_tokens,
            layers,
            norm: vector(WeightName::FinalNorm, h)?,
            lm_head,
            inv_freqs: Tensor::from_vec(inv_freqs, n, device)?,
            device: device.clone(),
            config,
        })
    }
}

/// GGUF tensors, read from the file's bytes on demand.
pub struct GgufSource<'a> {
    pub file: &'a GgufFile,
    pub bytes: &'a [u8],
    pub device: Device,
    /// Told each tensor's byte range in `bytes` once the tensor is copied out: a memory-mapped
    /// file drops those pages there, so the weights are held once, not twice, during a load.
    pub copied: Option<&'a dyn Fn(std::ops::Range<usize>)>,
}

impl GgufSource<'_> {
    fn tensor(&self, name: &WeightName) -> Result<QTensor> {
        let name = name.gguf();
        let q = self.file.tensor(self.bytes, &name, &self.device)?;
        if let (Some(copied), Some(info)) = (self.copied, self.file.tensor_info(&name)) {
            let start = (self.file.data_start + info.offset) as usize;
            copied(start..start + info.size_bytes as usize);
        }
        Ok(q)
    }
}

impl TensorSource for GgufSource<'_> {
    fn source_name(&self) -> &str {
        &self.file.source_name
    }
    fn matrix(&self, name: &WeightName) -> Result<QMatMul> {
        let q = self.tensor(name)?;
        // candle keeps F32/F16 "quantized" tensors as plain matmuls anyway.
        Ok(QMatMul::from_arc(Arc::new(q))?)
    }
    fn dense(&self, name: &WeightName) -> Result<Tensor> {
        let q = self.tensor(name)?;
        Ok(q.dequantize(&self.device)?)
    }
    fn contains(&self, name: &WeightName) -> bool {
        self.file.tensor_info(&name.gguf()).is_some()
    }
}

/// Hugging Face safetensors tensors, already loaded (every shard) and converted to f32.
pub struct SafetensorsSource {
    pub source_name: String,
    pub tensors: HashMap<String, Tensor>,
}

impl SafetensorsSource {
    /// Reads shards given as bytes. Each shard's header is validated by the `safetensors` crate
    /// (offsets within the buffer) before candle copies the data.
    pub fn from_shards(
        source_name: &str,
        shards: &[(&str, &[u8])],
        device: &Device,
    ) -> Result<Self> {
        let mut tensors = HashMap::new();
        for (shard_name, bytes) in shards {
            let err = |m: String| Error::model(format!("{source_name}/{shard_name}"), m);
            let st = safetensors::SafeTensors::deserialize(bytes)
                .map_err(|e| err(format!("not a valid safetensors file: {e}")))?;
            for (name, view) in st.tensors() {
                let t = candle_core::safetensors::Load::load(&view, device)
                    .map_err(|e| err(format!("tensor `{name}`: {e}")))?
                    .to_dtype(DType::F32)?;
                tensors.insert(name, t);
            }
        }
        Ok(SafetensorsSource {
            source_name: source_name.to_string(),
            tensors,
        })
    }

    fn get(&self, name: &WeightName) -> Result<&Tensor> {
        self.tensors.get(&name.hf()).ok_or_else(|| {
            Error::model(&self.source_name, format!("missing tensor `{}`", name.hf()))
        })
    }
}

impl TensorSource for SafetensorsSource {
    fn source_name(&self) -> &str {
        &self.source_name
    }
    fn matrix(&self, name: &WeightName) -> Result<QMatMul> {
        Ok(QMatMul::Tensor(self.get(name)?.clone()))
    }
    fn dense(&self, name: &WeightName) -> Result<Tensor> {
        self.get(name).cloned()
    }
    fn contains(&self, name: &WeightName) -> bool {
        self.tensors.contains_key(&name.hf())
    }
}
