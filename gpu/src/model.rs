//! A Llama-family model on the GPU: the same block stack as `alro_core::model::Llama`, with
//! every step a WGSL kernel, and an LM head restricted to the rows the caller ranks with.

use crate::context::GpuContext;
use crate::error::{GpuError, Result};
use crate::kernels::{attention_partials_len, Batch, BindCache, MAX_HEAD_DIM};
use crate::weights::{GpuWeight, HostMatrix};
use alro_core::gguf::GgufFile;
use alro_core::model::{LlamaConfig, WeightName};
use candle_core::Device;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest number of prompt tokens run in one pass; longer prompts go through several passes
/// (same result: the KV cache carries the earlier ones). Bounds activation memory.
pub const MAX_TOKENS_PER_PASS: usize = 512;

struct Layer {
    attn_norm: wgpu::Buffer,
    q: GpuWeight,
    k: GpuWeight,
    v: GpuWeight,
    o: GpuWeight,
    ffn_norm: wgpu::Buffer,
    gate: GpuWeight,
    up: GpuWeight,
    down: GpuWeight,
}

/// A model uploaded to the GPU. Weights are uploaded once; a [`GpuSequence`] holds the state of one
/// token sequence.
pub struct GpuModel {
    ctx: GpuContext,
    id: u64,
    pub config: LlamaConfig,
    embed: GpuWeight,
    layers: Vec<Layer>,
    final_norm: wgpu::Buffer,
    /// LM-head rows of `output_rows`, in that order.
    head: GpuWeight,
    output_rows: Vec<u32>,
    /// (head_dim/2) inverse rotary frequencies, with `rope_freqs` divisors applied.
    inv_freqs: Vec<f32>,
    weight_bytes: u64,
}

/// One sequence's KV cache: per layer, keys and values (capacity, kv_heads, head_dim), grown by
/// doubling as the sequence gets longer; and the activations of its last pass.
pub struct GpuSequence {
    model_id: u64,
    len: usize,
    capacity: usize,
    k: Vec<wgpu::Buffer>,
    v: Vec<wgpu::Buffer>,
    workspace: Option<Workspace>,
}

/// The buffers of a pass over `n` tokens, kept for the next pass of the same length: a ranking's
/// decode steps (n = 1 each) then allocate nothing, upload only their token and rotary angles,
/// and reuse the previous step's bind groups (`binds`), rewriting just the parameters.
struct Workspace {
    n: usize,
    ids: wgpu::Buffer,
    cos: wgpu::Buffer,
    sin: wgpu::Buffer,
    x: wgpu::Buffer,
    normed: wgpu::Buffer,
    q: wgpu::Buffer,
    k: wgpu::Buffer,
    v: wgpu::Buffer,
    att: wgpu::Buffer,
    /// Split-attention partials; `None` when n queries fill the GPU without splitting.
    partials: Option<wgpu::Buffer>,
    gate: wgpu::Buffer,
    up: wgpu::Buffer,
    last: wgpu::Buffer,
    last_normed: wgpu::Buffer,
    logits: wgpu::Buffer,
    /// Where the logits are copied for reading, in the same submission as the pass.
    readback: wgpu::Buffer,
    binds: BindCache,
}

impl Workspace {
    fn new(ctx: &GpuContext, c: &LlamaConfig, n: usize, head_rows: usize) -> Result<Workspace> {
        let (h, f, hd) = (c.hidden_size, c.intermediate_size, c.head_dim);
        let (nh, nkv) = (c.num_heads, c.num_kv_heads);
        // Capped at the buffer limit: fewer key ranges, not an error, on a small device.
        let limit = (ctx.info().buffer_limit / 4) as usize;
        let partials = match attention_partials_len(n, nh, hd).min(limit) {
            0 => None,
            len => Some(ctx.storage_zeros("attention partials", len)?),
        };
        Ok(Workspace {
            n,
            ids: ctx.storage_zeros("token ids", n)?,
            cos: ctx.storage_zeros("rope cos", n * hd / 2)?,
            sin: ctx.storage_zeros("rope sin", n * hd / 2)?,
            x: ctx.storage_zeros("hidden", n * h)?,
            normed: ctx.storage_zeros("normed", n * h)?,
            q: ctx.storage_zeros("queries", n * nh * hd)?,
            k: ctx.storage_zeros("keys", n * nkv * hd)?,
            v: ctx.storage_zeros("values", n * nkv * hd)?,
            att: ctx.storage_zeros("attention", n * nh * hd)?,
            partials,
            gate: ctx.storage_zeros("gate", n * f)?,
            up: ctx.storage_zeros("up", n * f)?,
            last: ctx.storage_zeros("last hidden", h)?,
            last_normed: ctx.storage_zeros("last hidden normed", h)?,
            logits: ctx.storage_zeros("logits", head_rows)?,
            readback: ctx.readback_buffer(head_rows),
            binds: BindCache::default(),
        })
    }
}

impl GpuSequence {
    /// Number of positions processed so far.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(1);

/// cos and sin (n, head_dim/2) of the angles `pos · inv_freq[i]` for positions start..start+n,
/// computed in f32 exactly as alro-core computes its rotary tables.
pub fn rope_tables(inv_freqs: &[f32], start: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut cos = Vec::with_capacity(n * inv_freqs.len());
    let mut sin = Vec::with_capacity(n * inv_freqs.len());
    for p in start..start + n {
        for &f in inv_freqs {
            let a = p as f32 * f;
            cos.push(a.cos());
            sin.push(a.sin());
        }
    }
    (cos, sin)
}

fn dense_vector(file: &GgufFile, bytes: &[u8], name: WeightName, n: usize) -> Result<Vec<f32>> {
    let t = file.tensor(bytes, &name.gguf(), &Device::Cpu)?;
    let v: Vec<f32> = t.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1()?;
    if v.len() != n || t.shape().dims().len() != 1 {
        return Err(alro_core::Error::model(
            &file.source_name,
            format!(
                "tensor `{}` has shape {:?}, expected [{n}]",
                name.gguf(),
                t.shape().dims()
            ),
        )
        .into());
    }
    Ok(v)
}

impl GpuModel {
    /// Uploads a GGUF Llama. `output_rows` are the token ids whose logits [`GpuModel::forward`]
    /// returns (the ranking identifiers), in that order; only those rows of the LM head are
    /// uploaded and multiplied. Tensor names and shape checks follow alro-core's loader.
    pub async fn from_gguf(
        ctx: &GpuContext,
        file: &GgufFile,
        bytes: &[u8],
        output_rows: &[u32],
    ) -> Result<GpuModel> {
        let config = LlamaConfig::from_gguf(file)?;
        let c = &config;
        if c.head_dim > MAX_HEAD_DIM {
            return Err(GpuError::Unsupported(format!(
                "head dimension {} (the attention kernel supports up to {MAX_HEAD_DIM})",
                c.head_dim
            )));
        }
        if output_rows.is_empty() {
            return Err(GpuError::Input(
                "output_rows is empty: nothing to score".into(),
            ));
        }
        let scope = ctx
            .device()
            .push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let (h, hd) = (c.hidden_size, c.head_dim);
        let matrix = |name: WeightName, rows: usize, k: usize| -> Result<GpuWeight> {
            let m = HostMatrix::from_gguf(file, bytes, &name.gguf())?;
            if (m.rows, m.k) != (rows, k) {
                return Err(alro_core::Error::model(
                    &file.source_name,
                    format!(
                        "tensor `{}` has shape {:?}, expected {:?}",
                        name.gguf(),
                        [m.rows, m.k],
                        [rows, k]
                    ),
                )
                .into());
            }
            m.upload(ctx, &name.gguf())
        };
        let vector = |name: WeightName, n: usize| -> Result<wgpu::Buffer> {
            ctx.storage_f32(&name.gguf(), &dense_vector(file, bytes, name, n)?)
        };
        let mut layers = Vec::with_capacity(c.num_layers);
        for i in 0..c.num_layers {
            layers.push(Layer {
                attn_norm: vector(WeightName::AttnNorm(i), h)?,
                q: matrix(WeightName::Q(i), c.num_heads * hd, h)?,
                k: matrix(WeightName::K(i), c.num_kv_heads * hd, h)?,
                v: matrix(WeightName::V(i), c.num_kv_heads * hd, h)?,
                o: matrix(WeightName::O(i), h, c.num_heads * hd)?,
                ffn_norm: vector(WeightName::FfnNorm(i), h)?,
                gate: matrix(WeightName::Gate(i), c.intermediate_size, h)?,
                up: matrix(WeightName::Up(i), c.intermediate_size, h)?,
                down: matrix(WeightName::Down(i), h, c.intermediate_size)?,
            });
        }
        let embed_host = HostMatrix::from_gguf(file, bytes, &WeightName::Embed.gguf())?;
        if (embed_host.rows, embed_host.k) != (c.vocab_size, h) {
            return Err(alro_core::Error::model(
                &file.source_name,
                format!(
                    "tensor `token_embd.weight` has shape {:?}, expected {:?}",
                    [embed_host.rows, embed_host.k],
                    [c.vocab_size, h]
                ),
            )
            .into());
        }
        let embed = embed_host.upload(ctx, "token_embd.weight")?;
        let head_name =
            if file.tensor_info(&WeightName::LmHead.gguf()).is_some() && !c.tie_word_embeddings {
                WeightName::LmHead
            } else {
                WeightName::Embed
            };
        let head_host = if head_name == WeightName::Embed {
            embed_host
        } else {
            HostMatrix::from_gguf(file, bytes, &head_name.gguf())?
        };
        if (head_host.rows, head_host.k) != (c.vocab_size, h) {
            return Err(alro_core::Error::model(
                &file.source_name,
                format!(
                    "LM head `{}` is not ({}, {h})",
                    head_name.gguf(),
                    c.vocab_size
                ),
            )
            .into());
        }
        let head = head_host
            .select_rows(output_rows)?
            .upload(ctx, "lm_head rows")?;
        let mut inv_freqs = c.inv_freqs();
        if file.tensor_info(&WeightName::RopeFreqs.gguf()).is_some() {
            // llama.cpp's form of Llama 3.1 scaling: per-frequency divisors (as alro-core).
            let d = dense_vector(file, bytes, WeightName::RopeFreqs, hd / 2)?;
            for (f, d) in inv_freqs.iter_mut().zip(d) {
                *f /= d;
            }
        }
        let final_norm = vector(WeightName::FinalNorm, h)?;
        if let Some(e) = scope.pop().await {
            return Err(GpuError::OutOfMemory(format!("uploading the model: {e}")));
        }
        ctx.check()?;
        let weight_bytes = embed.bytes()
            + head.bytes()
            + layers
                .iter()
                .map(|l| {
                    [&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down]
                        .iter()
                        .map(|w| w.bytes())
                        .sum::<u64>()
                })
                .sum::<u64>();
        Ok(GpuModel {
            ctx: ctx.clone(),
            id: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
            embed,
            layers,
            final_norm,
            head,
            output_rows: output_rows.to_vec(),
            inv_freqs,
            weight_bytes,
            config,
        })
    }

    /// The token ids whose logits `forward` returns, in order.
    pub fn output_rows(&self) -> &[u32] {
        &self.output_rows
    }

    /// Bytes of matrix weights on the GPU.
    pub fn weight_bytes(&self) -> u64 {
        self.weight_bytes
    }

    /// An empty KV cache for one sequence (no GPU memory until the first forward).
    pub fn new_sequence(&self) -> GpuSequence {
        GpuSequence {
            model_id: self.id,
            len: 0,
            capacity: 0,
            k: Vec::new(),
            v: Vec::new(),
            workspace: None,
        }
    }

    /// Runs `tokens` after the positions already in `sequence` (a whole prompt, or one decode
    /// token), appends them to its cache, and returns the logits of `output_rows` for the next
    /// token after the last one.
    pub async fn forward(&self, sequence: &mut GpuSequence, tokens: &[u32]) -> Result<Vec<f32>> {
        let c = &self.config;
        if sequence.model_id != self.id {
            return Err(GpuError::Input(
                "this sequence belongs to another model; create it with this model's new_sequence()"
                    .into(),
            ));
        }
        if tokens.is_empty() {
            return Err(GpuError::Input("no tokens to run".into()));
        }
        if let Some(&t) = tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(GpuError::Input(format!(
                "token id {t} is outside the vocabulary of {} tokens",
                c.vocab_size
            )));
        }
        let end = sequence.len + tokens.len();
        if end > c.max_position_embeddings {
            return Err(GpuError::Input(format!(
                "sequence of {end} tokens exceeds the model's context of {}",
                c.max_position_embeddings
            )));
        }
        self.ctx.check()?;
        self.reserve(sequence, end).await?;
        // The widest activation row decides how many tokens fit one pass within the limit.
        let widest = [c.hidden_size, c.intermediate_size, c.num_heads * c.head_dim]
            .into_iter()
            .max()
            .unwrap_or(1) as u64
            * 4;
        let fit = (self.ctx.info().buffer_limit / widest).max(1) as usize;
        let per_pass = fit.min(MAX_TOKENS_PER_PASS);
        let mut readback = None;
        for (i, part) in tokens.chunks(per_pass).enumerate() {
            let last = (i + 1) * per_pass >= tokens.len();
            readback = self.pass(sequence, part, last)?;
        }
        let readback = readback.ok_or_else(|| GpuError::Gpu("no pass produced logits".into()))?;
        self.ctx.map_read_f32(&readback, self.head.rows).await
    }

    /// Grows the sequence's caches to hold `needed` positions (doubling, at least 64, at most the
    /// context), copying what they hold.
    async fn reserve(&self, s: &mut GpuSequence, needed: usize) -> Result<()> {
        if needed <= s.capacity {
            return Ok(());
        }
        let c = &self.config;
        let cap = needed
            .next_power_of_two()
            .max(64)
            .min(c.max_position_embeddings)
            .max(needed);
        let row = c.num_kv_heads * c.head_dim;
        let scope = self
            .ctx
            .device()
            .push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let mut batch = Batch::new(&self.ctx);
        let mut k = Vec::with_capacity(c.num_layers);
        let mut v = Vec::with_capacity(c.num_layers);
        for l in 0..c.num_layers {
            let what = format!("the KV cache of {cap} positions (one layer)");
            let nk = self.ctx.storage_zeros(&what, cap * row)?;
            let nv = self.ctx.storage_zeros(&what, cap * row)?;
            if s.len > 0 {
                batch.copy(&s.k[l], 0, &nk, 0, s.len * row)?;
                batch.copy(&s.v[l], 0, &nv, 0, s.len * row)?;
            }
            k.push(nk);
            v.push(nv);
        }
        batch.submit()?;
        if let Some(e) = scope.pop().await {
            return Err(GpuError::OutOfMemory(format!("growing the KV cache: {e}")));
        }
        s.k = k;
        s.v = v;
        s.capacity = cap;
        Ok(())
    }

    /// Records and submits one pass over `tokens` (≤ MAX_TOKENS_PER_PASS); when `last`, the
    /// output-row logits are copied into the returned read-back buffer by the same submission.
    fn pass(
        &self,
        s: &mut GpuSequence,
        tokens: &[u32],
        last: bool,
    ) -> Result<Option<wgpu::Buffer>> {
        let c = &self.config;
        let ctx = &self.ctx;
        let n = tokens.len();
        let start = s.len;
        let (h, f, hd) = (c.hidden_size, c.intermediate_size, c.head_dim);
        let (nh, nkv) = (c.num_heads, c.num_kv_heads);
        let eps = c.rms_norm_eps as f32;
        let mut ws = match s.workspace.take() {
            Some(ws) if ws.n == n => ws,
            _ => Workspace::new(ctx, c, n, self.head.rows)?,
        };
        let (cos, sin) = rope_tables(&self.inv_freqs, start, n);
        ctx.queue()
            .write_buffer(&ws.ids, 0, bytemuck::cast_slice(tokens));
        ctx.queue()
            .write_buffer(&ws.cos, 0, bytemuck::cast_slice(&cos));
        ctx.queue()
            .write_buffer(&ws.sin, 0, bytemuck::cast_slice(&sin));
        let w = &ws;
        let mut b = Batch::new(ctx);
        b.embedding(&self.embed, &w.ids, n, &w.x)?;
        for (l, layer) in self.layers.iter().enumerate() {
            b.rms_norm(&w.x, &layer.attn_norm, &w.normed, n, h, eps)?;
            b.matmul(&layer.q, &w.normed, n, &w.q)?;
            b.matmul(&layer.k, &w.normed, n, &w.k)?;
            b.matmul(&layer.v, &w.normed, n, &w.v)?;
            b.rope(&w.q, &w.cos, &w.sin, n, nh, hd, c.rope_layout)?;
            b.rope(&w.k, &w.cos, &w.sin, n, nkv, hd, c.rope_layout)?;
            // Append this pass's keys/values: (n, kv_heads, head_dim) rows are contiguous.
            b.copy(&w.k, 0, &s.k[l], start * nkv * hd, n * nkv * hd)?;
            b.copy(&w.v, 0, &s.v[l], start * nkv * hd, n * nkv * hd)?;
            let partials = w.partials.as_ref();
            b.attention(
                &w.q, &s.k[l], &s.v[l], &w.att, partials, n, start, nh, nkv, hd,
            )?;
            b.matmul_add(&layer.o, &w.att, n, &w.x)?;
            b.rms_norm(&w.x, &layer.ffn_norm, &w.normed, n, h, eps)?;
            b.matmul(&layer.gate, &w.normed, n, &w.gate)?;
            b.matmul(&layer.up, &w.normed, n, &w.up)?;
            b.silu_mul(&w.gate, &w.up, n * f)?;
            b.matmul_add(&layer.down, &w.gate, n, &w.x)?;
        }
        if last {
            // Only the last position's next-token logits matter.
            b.copy(&w.x, (n - 1) * h, &w.last, 0, h)?;
            b.rms_norm(&w.last, &self.final_norm, &w.last_normed, 1, h, eps)?;
            b.matmul(&self.head, &w.last_normed, 1, &w.logits)?;
            b.copy(&w.logits, 0, &w.readback, 0, self.head.rows)?;
        }
        let readback = last.then(|| w.readback.clone());
        b.submit_cached(&mut ws.binds)?;
        s.workspace = Some(ws);
        s.len += n;
        Ok(readback)
    }
}
