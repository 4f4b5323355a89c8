//! The Llama block stack: token embedding, `num_layers` × (RMSNorm → grouped-query attention with
//! rotary positions → residual, RMSNorm → SwiGLU MLP → residual), final RMSNorm, LM head.
//! Field names mirror the checkpoint (`attn_q` = `self_attn.q_proj`, …).

use super::config::{LlamaConfig, RopeLayout};
use super::decode_attention;
use super::embedding::Embedding;
use super::linear::Linear;
use super::ops::{self, Kernels};
use super::stacked::Stacked;
use candle_core::{DType, Device, Result, Tensor};

#[derive(Debug, Clone)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    /// q/k/v as one stacked matrix (dense training weights only; see [`Stacked`]).
    pub qkv: Option<Stacked>,
}

#[derive(Debug, Clone)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
    /// gate/up as one stacked matrix (dense training weights only; see [`Stacked`]).
    pub gate_up: Option<Stacked>,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub input_layernorm: Tensor,
    pub self_attn: Attention,
    pub post_attention_layernorm: Tensor,
    pub mlp: Mlp,
}

#[derive(Debug, Clone)]
pub struct Llama {
    pub config: LlamaConfig,
    /// (vocab, hidden): as stored (sharing the tied LM head's storage), rows decoded on lookup.
    pub embed_tokens: Embedding,
    pub layers: Vec<Block>,
    pub norm: Tensor,
    /// (vocab, hidden); shares the embedding's data when the model ties them.
    pub lm_head: Linear,
    /// (head_dim / 2) inverse rotary frequencies.
    pub inv_freqs: Tensor,
    pub device: Device,
}

/// Keys and values of the positions already processed, one entry per layer.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    len: usize,
}

/// One layer's keys and values, (1, kv_heads, positions, hd) each, as the chunks the passes added
/// (the prompt, then one position per decode step). A decode step reads the chunks in place
/// (`decode_attention`), so it appends without copying the cache; any other pass joins them first.
#[derive(Debug, Clone, Default)]
pub struct LayerKv {
    k: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl LayerKv {
    fn push(&mut self, k: Tensor, v: Tensor) -> Result<()> {
        self.k.push(k.contiguous()?);
        self.v.push(v.contiguous()?);
        Ok(())
    }

    /// All positions as one key and one value tensor (kept joined for the next pass).
    fn joined(&mut self) -> Result<(Tensor, Tensor)> {
        for chunks in [&mut self.k, &mut self.v] {
            if chunks.len() > 1 {
                *chunks = vec![Tensor::cat(chunks, 2)?];
            }
        }
        Ok((self.k[0].clone(), self.v[0].clone()))
    }
}

impl KvCache {
    pub fn new(num_layers: usize) -> Self {
        KvCache {
            layers: vec![LayerKv::default(); num_layers],
            len: 0,
        }
    }
    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Llama {
    /// Rotary tables for absolute positions `start..start+len`: two (len, head_dim/2) tensors.
    fn rope_tables(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let pos = Tensor::arange(start as u32, (start + len) as u32, &self.device)?
            .to_dtype(DType::F32)?;
        let angles = pos
            .unsqueeze(1)?
            .broadcast_mul(&self.inv_freqs.unsqueeze(0)?)?;
        Ok((angles.cos()?, angles.sin()?))
    }

    /// Runs `ids` (b, s) through the blocks after the positions in `cache` (if any), appending to
    /// it, and returns the final-normed hidden states (b, s, hidden).
    pub fn forward_hidden(
        &self,
        ids: &Tensor,
        mut cache: Option<&mut KvCache>,
        kernels: Kernels,
    ) -> Result<Tensor> {
        let (b, s) = ids.dims2()?;
        let start = cache.as_ref().map_or(0, |c| c.len);
        if start + s > self.config.max_position_embeddings {
            candle_core::bail!(
                "sequence of {} tokens exceeds the model's context of {}",
                start + s,
                self.config.max_position_embeddings
            );
        }
        let mut x = self
            .embed_tokens
            .lookup(ids)?
            .reshape((b, s, self.config.hidden_size))?;
        let (cos, sin) = self.rope_tables(start, s)?;
        let mask = causal_mask(s, start, &self.device)?;
        let ctx = PassContext {
            cos: &cos,
            sin: &sin,
            mask: mask.as_ref(),
            cfg: &self.config,
            kernels,
        };
        for (i, block) in self.layers.iter().enumerate() {
            let layer_cache = cache.as_mut().map(|c| &mut c.layers[i]);
            x = block.forward(&x, layer_cache, &ctx)?;
        }
        if let Some(c) = cache {
            c.len += s;
        }
        let kernels = if x.track_op() {
            kernels
        } else {
            Kernels::Fused
        };
        ops::rms_norm(&x, &self.norm, self.config.rms_norm_eps, kernels)
    }

    /// LM-head logits for hidden states (…, hidden) → (…, vocab). Apply it only to the positions
    /// whose next token matters: the vocabulary projection is the largest matmul of the model.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.lm_head.forward_dequantized(hidden)
    }
}

/// Additive mask (s, start + s): 0 where query `i` may see key `j`, −∞ after it. None for one
/// query (it sees everything cached).
pub(super) fn causal_mask(s: usize, start: usize, device: &Device) -> Result<Option<Tensor>> {
    if s == 1 {
        return Ok(None);
    }
    let t = start + s;
    let mask: Vec<f32> = (0..s)
        .flat_map(|i| {
            (0..t).map(move |j| {
                if j > start + i {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_vec(mask, (s, t), device).map(Some)
}

/// What every block of one forward pass shares: the rotary tables and causal mask for the
/// positions being processed, the configuration and the kernel choice.
#[derive(Clone, Copy)]
struct PassContext<'a> {
    /// (s, head_dim/2) each.
    cos: &'a Tensor,
    sin: &'a Tensor,
    /// (s, cached + s) additive mask; None for a single query.
    mask: Option<&'a Tensor>,
    cfg: &'a LlamaConfig,
    kernels: Kernels,
}

impl Block {
    fn forward(
        &self,
        x: &Tensor,
        cache: Option<&mut LayerKv>,
        ctx: &PassContext,
    ) -> Result<Tensor> {
        // A block whose input carries no gradient and that holds no adapter needs none: it may
        // take the fused kernels even in a training pass (the frozen layers below the first
        // adapted one, when only the last layers are adapted).
        let kernels = match ctx.kernels {
            Kernels::Differentiable if !x.track_op() && !self.has_lora() => Kernels::Fused,
            k => k,
        };
        let ctx = &PassContext { kernels, ..*ctx };
        let eps = ctx.cfg.rms_norm_eps;
        let h = ops::rms_norm(x, &self.input_layernorm, eps, kernels)?;
        let attn = self.self_attn.forward(&h, cache, ctx)?;
        let x = (x + attn)?;
        let h = ops::rms_norm(&x, &self.post_attention_layernorm, eps, kernels)?;
        let mlp = self.mlp.forward(&h, kernels)?;
        x + mlp
    }
}

impl Mlp {
    fn forward(&self, x: &Tensor, kernels: Kernels) -> Result<Tensor> {
        let parts = [&self.gate_proj, &self.up_proj];
        #[cfg(feature = "train")]
        if let Some(y) = self.forward_frozen(x, kernels, &parts)? {
            return Ok(y);
        }
        let (gate, up) = match stacked_forward(self.gate_up.as_ref(), x, &parts)? {
            Some([gate, up]) => (gate, up),
            None => {
                let [gate, up] = together(&parts, x)?;
                (gate, up)
            }
        };
        let gate = ops::silu(&gate, kernels)?;
        self.down_proj.forward(&(gate * up)?)
    }
}

impl Mlp {
    /// A training pass through an MLP without adapters takes one fused op (see
    /// [`super::frozen_mlp`]); None when it does not apply.
    #[cfg(feature = "train")]
    fn forward_frozen(
        &self,
        x: &Tensor,
        kernels: Kernels,
        parts: &[&Linear; 2],
    ) -> Result<Option<Tensor>> {
        use super::frozen_mlp;
        use candle_core::quantized::QMatMul;
        let adapted = [&self.gate_proj, &self.up_proj, &self.down_proj]
            .iter()
            .any(|l| l.lora.is_some());
        if kernels != Kernels::Differentiable || adapted {
            return Ok(None);
        }
        let (Some(gate_up), QMatMul::Tensor(down)) = (
            self.gate_up.as_ref().and_then(|s| s.weight_of(parts)),
            &self.down_proj.weight,
        ) else {
            return Ok(None);
        };
        if !frozen_mlp::supported(x, gate_up, down) {
            return Ok(None);
        }
        frozen_mlp::frozen_mlp(x, gate_up, down).map(Some)
    }
}

/// `parts`' outputs, each its own product (one thread-pool pass for a decode row).
fn together<const N: usize>(parts: &[&Linear; N], x: &Tensor) -> Result<[Tensor; N]> {
    Ok(Linear::forward_together(parts, x)?
        .try_into()
        .expect("one output per part"))
}

/// `parts`' outputs through their stack, when there is one and it is intact.
fn stacked_forward<const N: usize>(
    stack: Option<&Stacked>,
    x: &Tensor,
    parts: &[&Linear; N],
) -> Result<Option<[Tensor; N]>> {
    let Some(stack) = stack else {
        return Ok(None);
    };
    Ok(stack
        .forward(x, parts)?
        .map(|out| out.try_into().expect("one output per part")))
}

impl Attention {
    fn forward(
        &self,
        x: &Tensor,
        cache: Option<&mut LayerKv>,
        ctx: &PassContext,
    ) -> Result<Tensor> {
        let PassContext {
            cos,
            sin,
            cfg,
            kernels,
            ..
        } = *ctx;
        let (b, s, _) = x.dims3()?;
        let (nh, nkv, hd) = (cfg.num_heads, cfg.num_kv_heads, cfg.head_dim);
        // (b, s, heads*hd) → (b, heads, s, hd)
        let parts = [&self.q_proj, &self.k_proj, &self.v_proj];
        let (q, k, v) = match stacked_forward(self.qkv.as_ref(), x, &parts)? {
            Some([q, k, v]) => (q, k, v),
            None => {
                let [q, k, v] = together(&parts, x)?;
                (q, k, v)
            }
        };
        let q = q.reshape((b, s, nh, hd))?.transpose(1, 2)?;
        let k = k.reshape((b, s, nkv, hd))?.transpose(1, 2)?;
        let v = v.reshape((b, s, nkv, hd))?.transpose(1, 2)?.contiguous()?;
        let interleaved = cfg.rope_layout == RopeLayout::Interleaved;
        let q = ops::rope(&q, cos, sin, interleaved, kernels)?;
        let k = ops::rope(&k, cos, sin, interleaved, kernels)?;

        // A decode step (one query over the cache): plain loops over the cached chunks, no
        // GEMM and no copy of the cache (`decode_attention`).
        if let Some(layer) = cache {
            layer.push(k, v)?;
            if s == 1 && b == 1 && decode_attention::applies(&q) {
                let scale = 1.0 / (hd as f32).sqrt();
                let out = decode_attention::decode_attention(&q, &layer.k, &layer.v, scale)?;
                return self.o_proj.forward(&out);
            }
            let (k, v) = layer.joined()?;
            return self.attend(&q, &k, &v, ctx);
        }
        self.attend(&q, &k, &v, ctx)
    }

    /// Attention of `q` (b, heads, s, hd) over `k`, `v` (b, kv_heads, t, hd), then `o_proj`.
    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, ctx: &PassContext) -> Result<Tensor> {
        let PassContext {
            mask, cfg, kernels, ..
        } = *ctx;
        let (b, nh, s, hd) = q.dims4()?;
        let nkv = cfg.num_kv_heads;
        // Training: the fused causal kernel (half the work, one backward), from position 0 or
        // after a cached prefix (views that share their first tokens).
        #[cfg(feature = "train")]
        if kernels == Kernels::Differentiable
            && mask.is_some()
            && super::causal_attention::supported(q)
        {
            let scale = 1.0 / (hd as f64).sqrt();
            let out = super::causal_attention::causal_attention(q, k, v, scale)?;
            let out = out.transpose(1, 2)?.reshape((b, s, nh * hd))?;
            return self.o_proj.forward(&out);
        }
        // A prompt's prefill from position 0 (inference): the same kernel's forward alone.
        #[cfg(feature = "train")]
        if kernels == Kernels::Fused
            && mask.is_some()
            && k.dim(2)? == s
            && !q.track_op()
            && super::causal_attention::supported(q)
        {
            let scale = 1.0 / (hd as f64).sqrt();
            let out = super::causal_attention::causal_attention_inference(q, k, v, scale)?;
            let out = out.transpose(1, 2)?.reshape((b, s, nh * hd))?;
            return self.o_proj.forward(&out);
        }
        let t = k.dim(2)?;
        // Grouped-query attention: fold the query heads that share a key/value head into the
        // sequence axis instead of copying K/V: (b, nkv, rep*s, hd).
        let rep = nh / nkv;
        let q = q.reshape((b, nkv, rep * s, hd))?;
        let scale = 1.0 / (hd as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?; // (b, nkv, rep*s, t)
        let scores = match mask {
            None => scores,
            Some(m) => scores
                .reshape((b, nkv, rep, s, t))?
                .broadcast_add(m)?
                .reshape((b, nkv, rep * s, t))?,
        };
        let probs = ops::softmax_last(&scores, kernels)?;
        let out = probs.matmul(v)?; // (b, nkv, rep*s, hd)
        let out = out
            .reshape((b, nh, s, hd))?
            .transpose(1, 2)?
            .reshape((b, s, nh * hd))?;
        self.o_proj.forward(&out)
    }
}
