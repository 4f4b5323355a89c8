//! Llama-family hyper-parameters, from GGUF metadata (`llama.*`) or a Hugging Face `config.json`.

use crate::gguf::GgufFile;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// How rotary embeddings pair up the dimensions of a head. Hugging Face checkpoints rotate the
/// two halves (`x[i]` with `x[i + d/2]`); llama.cpp's GGUF converter permutes the Q/K weights so
/// that adjacent pairs (`x[2i]`, `x[2i+1]`) rotate instead. Same model, different layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RopeLayout {
    HalfSplit,
    Interleaved,
}

/// Llama 3.1-style rotary frequency scaling (`rope_scaling.rope_type = "llama3"`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Llama3RopeScaling {
    pub factor: f32,
    pub low_freq_factor: f32,
    pub high_freq_factor: f32,
    pub original_max_position_embeddings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub rope_theta: f32,
    pub rms_norm_eps: f64,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    pub rope_layout: RopeLayout,
    pub rope_scaling: Option<Llama3RopeScaling>,
}

/// Refuse configurations that would make us allocate absurd amounts or divide by zero: a model
/// file's numbers are untrusted input.
fn validate(c: &LlamaConfig, source: &str) -> Result<()> {
    let err = |m: String| Err(Error::model(source, m));
    let dims = [
        c.vocab_size,
        c.hidden_size,
        c.intermediate_size,
        c.num_layers,
        c.num_heads,
        c.num_kv_heads,
        c.head_dim,
    ];
    if dims.iter().any(|&d| d == 0 || d > 1 << 20) {
        return err(format!("implausible model dimensions {dims:?}"));
    }
    if c.num_heads % c.num_kv_heads != 0 {
        return err(format!(
            "{} attention heads are not a multiple of {} key/value heads",
            c.num_heads, c.num_kv_heads
        ));
    }
    if c.head_dim % 2 != 0 {
        return err(format!(
            "head dimension {} is odd; rotary embeddings need it even",
            c.head_dim
        ));
    }
    if !(c.rope_theta.is_finite() && c.rope_theta > 0.0)
        || !(c.rms_norm_eps.is_finite() && c.rms_norm_eps >= 0.0)
    {
        return err("rope_theta or rms_norm_eps is not a positive finite number".into());
    }
    if c.max_position_embeddings == 0 || c.max_position_embeddings > 1 << 22 {
        return err(format!(
            "implausible context length {}",
            c.max_position_embeddings
        ));
    }
    Ok(())
}

impl LlamaConfig {
    pub fn from_gguf(g: &GgufFile) -> Result<Self> {
        let arch = g.get_str("general.architecture")?;
        if arch != "llama" {
            return Err(Error::model(
                &g.source_name,
                format!("architecture \"{arch}\" is not supported (only Llama-family models, \"llama\")"),
            ));
        }
        let u = |k: &str| g.get_u64(&format!("llama.{k}")).map(|v| v as usize);
        let hidden_size = u("embedding_length")?;
        let num_heads = u("attention.head_count")?;
        let num_kv_heads = g
            .get_u64("llama.attention.head_count_kv")
            .map(|v| v as usize)
            .unwrap_or(num_heads);
        let vocab_size = match g.get_u64("llama.vocab_size") {
            Ok(v) => v as usize,
            Err(_) => g.get_array("tokenizer.ggml.tokens")?.len(),
        };
        let head_dim = match g.get_u64("llama.rope.dimension_count") {
            Ok(v) => v as usize,
            Err(_) => hidden_size / num_heads.max(1),
        };
        let c = LlamaConfig {
            vocab_size,
            hidden_size,
            intermediate_size: u("feed_forward_length")?,
            num_layers: u("block_count")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rope_theta: g.get_f64("llama.rope.freq_base").unwrap_or(10_000.0) as f32,
            rms_norm_eps: g
                .get_f64("llama.attention.layer_norm_rms_epsilon")
                .unwrap_or(1e-5),
            max_position_embeddings: u("context_length").unwrap_or(4096),
            tie_word_embeddings: g.tensor_info("output.weight").is_none(),
            rope_layout: RopeLayout::Interleaved,
            // GGUF stores Llama 3.1 scaling as a `rope_freqs.weight` tensor instead; the model
            // loader reads it.
            rope_scaling: None,
        };
        validate(&c, &g.source_name)?;
        Ok(c)
    }

    /// From the text of a Hugging Face `config.json`.
    pub fn from_hf_json(json: &[u8], source: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct RopeScalingJson {
            rope_type: Option<String>,
            #[serde(rename = "type")]
            kind: Option<String>,
            factor: Option<f32>,
            low_freq_factor: Option<f32>,
            high_freq_factor: Option<f32>,
            original_max_position_embeddings: Option<usize>,
        }
        #[derive(Deserialize)]
        struct HfConfig {
            #[serde(default)]
            model_type: Option<String>,
            vocab_size: usize,
            hidden_size: usize,
            intermediate_size: usize,
            num_hidden_layers: usize,
            num_attention_heads: usize,
            num_key_value_heads: Option<usize>,
            head_dim: Option<usize>,
            rope_theta: Option<f32>,
            rms_norm_eps: Option<f64>,
            max_position_embeddings: Option<usize>,
            tie_word_embeddings: Option<bool>,
            rope_scaling: Option<RopeScalingJson>,
        }
        let h: HfConfig = serde_json::from_slice(json)
            .map_err(|e| Error::model(source, format!("config.json is not a Llama config: {e}")))?;
        if let Some(t) = &h.model_type {
            if t != "llama" {
                return Err(Error::model(
                    source,
                    format!("model_type \"{t}\" is not supported (only \"llama\")"),
                ));
            }
        }
        let rope_scaling = match h.rope_scaling {
            None => None,
            Some(r) => {
                let kind = r.rope_type.or(r.kind).unwrap_or_default();
                if kind != "llama3" {
                    return Err(Error::model(
                        source,
                        format!("rope_scaling type \"{kind}\" is not supported (only \"llama3\")"),
                    ));
                }
                let missing = || Error::model(source, "llama3 rope_scaling lacks a field");
                Some(Llama3RopeScaling {
                    factor: r.factor.ok_or_else(missing)?,
                    low_freq_factor: r.low_freq_factor.ok_or_else(missing)?,
                    high_freq_factor: r.high_freq_factor.ok_or_else(missing)?,
                    original_max_position_embeddings: r
                        .original_max_position_embeddings
                        .ok_or_else(missing)?,
                })
            }
        };
        let c = LlamaConfig {
            vocab_size: h.vocab_size,
            hidden_size: h.hidden_size,
            intermediate_size: h.intermediate_size,
            num_layers: h.num_hidden_layers,
            num_heads: h.num_attention_heads,
            num_kv_heads: h.num_key_value_heads.unwrap_or(h.num_attention_heads),
            head_dim: h
                .head_dim
                .unwrap_or(h.hidden_size / h.num_attention_heads.max(1)),
            rope_theta: h.rope_theta.unwrap_or(10_000.0),
            rms_norm_eps: h.rms_norm_eps.unwrap_or(1e-6),
            max_position_embeddings: h.max_position_embeddings.unwrap_or(4096),
            tie_word_embeddings: h.tie_word_embeddings.unwrap_or(false),
            rope_layout: RopeLayout::HalfSplit,
            rope_scaling,
        };
        validate(&c, source)?;
        Ok(c)
    }

    /// Inverse rotary frequencies, one per pair of head dimensions, with Llama 3.1 scaling applied.
    pub fn inv_freqs(&self) -> Vec<f32> {
        let d = self.head_dim;
        let mut f: Vec<f32> = (0..d / 2)
            .map(|i| 1.0 / self.rope_theta.powf(2.0 * i as f32 / d as f32))
            .collect();
        if let Some(s) = self.rope_scaling {
            let low_wavelen = s.original_max_position_embeddings as f32 / s.low_freq_factor;
            let high_wavelen = s.original_max_position_embeddings as f32 / s.high_freq_factor;
            for x in f.iter_mut() {
                let wavelen = 2.0 * std::f32::consts::PI / *x;
                *x = if wavelen < high_wavelen {
                    *x
                } else if wavelen > low_wavelen {
                    *x / s.factor
                } else {
                    let smooth = (s.original_max_position_embeddings as f32 / wavelen
                        - s.low_freq_factor)
                        / (s.high_freq_factor - s.low_freq_factor);
                    (1.0 - smooth) * *x / s.factor + smooth * *x
                };
            }
        }
        f
    }
}
