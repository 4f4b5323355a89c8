//! alro-gpu: WebGPU compute kernels (WGSL, through wgpu) for alro's ranking inference, natively
//! (Vulkan, Metal, DX12, GL; Mesa's lavapipe without a GPU) and in the browser (wgpu's `webgpu`
//! backend on wasm32).
//!
//! # Kernels (`src/shaders/`, one kernel per file, pulled in with `include_str!`)
//! | file | computes |
//! |---|---|
//! | `matmul.wgsl` | y = x·Wᵀ (or y += x·Wᵀ, a residual) for many rows (prefill): 32×32 output tiles, W dequantized into k-major workgroup memory once per tile, 4×4 outer-product micro-tiles per thread |
//! | `matvec.wgsl` | the same for ≤ 8 rows (decode, LM head): 32 threads per weight row, tree reduction in workgroup memory |
//! | `embedding.wgsl` | rows of the (quantized) token-embedding matrix |
//! | `rms_norm.wgsl` | x / √(mean(x²) + ε) · w |
//! | `rope.wgsl` | rotary embedding, interleaved (GGUF) or half-split (HF) pairs |
//! | `attention.wgsl` | causal grouped-query attention over the KV cache, online softmax; for few queries (decode) the keys are split into ranges walked by separate workgroups |
//! | `attention_combine.wgsl` | merges those ranges' partial softmax sums |
//! | `silu_mul.wgsl` | silu(gate) · up |
//! | `add.wgsl` | elementwise add (the model fuses its residual adds into the projections) |
//!
//! The weight formats are decoders, not kernels: `weight_{f32,q8_0,q4_0,q4_1,q4_k}.wgsl` each
//! define `load_w8(row, k0, k)` (8 consecutive weights of a row, from raw ggml blocks in an
//! `array<u32>`; `bytes.wgsl` holds the unaligned-byte helpers Q8_0/Q4_0 need), and are
//! prepended to `matmul`, `matvec` and `embedding` to make one pipeline per (kernel, format).
//!
//! # Tensor types
//! F32, Q8_0, Q4_0, Q4_1 and Q4_K matrices are uploaded byte for byte as the GGUF file stores
//! them and decoded in the shaders. Every other GGUF type (F16, BF16, Q5_0, Q5_1, Q8_1, Q2_K,
//! Q3_K, Q5_K, Q6_K, Q8_K) is converted on the CPU at load: candle's `QTensor::dequantize`,
//! then `QTensor::quantize(.., GgmlDType::Q8_0)` (or F32 when a row is not a multiple of 32).
//! Norm weights and `rope_freqs` are dequantized to f32. All arithmetic is f32 (activations
//! are never quantized, unlike ggml's CPU dot products); `shader-f16` is requested where the
//! adapter has it but not used yet.
//!
//! # Limits and the split rule
//! The device is requested with the adapter's own limits. Every buffer must fit
//! `buffer_limit = min(max_storage_buffer_binding_size, max_buffer_size[, GpuOptions::max_buffer_bytes])`:
//! a weight is split into row chunks of ⌊(limit − 3) / row_bytes⌋ rows, each its own buffer and
//! its own dispatch writing its columns of the output; a prompt is run in passes of at most
//! `min(512, limit / (4 · widest activation row))` tokens; a KV-cache layer larger than the
//! limit is an error ([`GpuError::TooLarge`]). Dispatches larger than
//! `max_compute_workgroups_per_dimension` are folded into a 2D grid.
//!
//! # Host API
//! Everything that waits for the GPU is `async` (a browser maps buffers only between tasks);
//! natively, drive it with `pollster::block_on`. The futures are not `Send` (wgpu error scopes).
//! ```no_run
//! # async fn demo(bytes: &[u8], ids: &[u32], prompt: &[u32]) -> alro_gpu::Result<()> {
//! use alro_gpu::{GpuContext, GpuModel, GpuOptions};
//! let ctx = GpuContext::new(GpuOptions::default()).await?;
//! println!("{:?}", ctx.info());
//! let file = alro_core::gguf::GgufFile::parse(bytes, "model.gguf")?;
//! let model = GpuModel::from_gguf(&ctx, &file, bytes, ids).await?; // ids: identifier tokens
//! let mut sequence = model.new_sequence();
//! let logits = model.forward(&mut sequence, prompt).await?; // one logit per id, after the prompt
//! let next = model.forward(&mut sequence, &[ids[0]]).await?; // a decode step
//! # Ok(()) }
//! ```
//! [`GpuRanker`] wraps a model with its tokenizer and prompt settings and implements
//! `alro_core::rank::RankBackend`: `ranker.rank(&request, mode).await` ranks exactly as the CPU
//! ranker does (the browser package and `alro rank --backend wgpu` use it).
//! [`Batch`] exposes the individual kernels (the tests check each against a CPU reference).
//!
//! # What a decode step costs
//! A greedy ranking is one prefill and then one `forward` per identifier, each a chain of
//! ~420 small dispatches that cannot fill a GPU, so latency and host overhead rule, not
//! arithmetic. Hence: a sequence keeps its activation buffers, parameter buffer and bind groups
//! between steps of the same length and only rewrites parameters and the token (the bind-group
//! cache is keyed on the exact kernels and buffers, so a grown KV cache rebuilds it); a batch
//! is submitted in parts of 96 dispatches so the GPU starts while the rest is recorded; the
//! logits are copied for read-back in the same submission. `GpuOptions::profile` times every
//! kernel with timestamp queries (the `gpu_vs_cpu` bench prints the table with
//! `ALRO_BENCH_PROFILE=1`).
//!
//! # Tolerances (checked by `tests/`, on lavapipe)
//! - `add`, `rope`, `embedding`: max abs error ≤ 1e-6; `rms_norm`, `silu_mul`: ≤ 1e-5 (f32
//!   rounding; the GPU's `exp`, `sqrt` and division are within a few ulp).
//! - Matmuls (every format, matrix-vector and tiled, split or not): |y − y_ref| ≤
//!   1e-4 · (1 + Σ_k |x_k·w_k|) against candle's dequantize + f32 matmul of the same blocks
//!   (the summation order differs, so the bound scales with the absolute sum).
//! - Attention: ≤ 1e-5 against an f64 CPU softmax reference.
//! - Whole model, tiny random Llamas (F32/Q8_0/Q4_0/Q4_1/Q4_K, prefill + 5 decode steps):
//!   ≤ 2e-3 · max(1, |logit|) against alro-core's CPU `forward_hidden` with the weights
//!   dequantized to f32 (`MatrixPrecision::F32`: the same arithmetic); measured ≤ 3.1e-5.
//!   Against the CPU's default path (which since 2026-11-26 also keeps decode activations in
//!   f32, `alro_core::model::matvec`) the bound stays 0.5 (measured ≤ 0.12 when the CPU still
//!   rounded decode activations to 8 bits). Types converted to Q8_0 at load: ≤ 0.1.
//! - Default backbone (SmolLM2-135M Q4_1, real ranking prompt): top identifier equal and logits
//!   within 2e-2 of the f32-weight CPU path, prefill and decode; measured 2.1e-5 on the full
//!   177-token prompt.
//!
//! # Performance note
//! The kernels are plain f32 WGSL without subgroups or f16. On lavapipe (a CPU rasterizer)
//! they are far slower than alro-core's CPU kernels — lavapipe is a correctness target here,
//! not a speed one; see the `gpu_vs_cpu` bench.

mod context;
mod error;
mod kernels;
mod model;
mod profile;
mod ranker;
mod weights;

pub use context::{GpuContext, GpuInfo, GpuOptions};
pub use error::{GpuError, Result};
pub use kernels::{
    attention_partials_len, Batch, Kernel, RopeLayout, MATVEC_MAX_ROWS, MAX_ATTENTION_SPLITS,
    MAX_HEAD_DIM,
};
pub use model::{rope_tables, GpuModel, GpuSequence, MAX_TOKENS_PER_PASS};
pub use profile::KernelTime;
pub use ranker::GpuRanker;
pub use weights::{GpuWeight, HostMatrix, WeightChunk, WeightType};
