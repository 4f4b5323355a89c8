//! The whole model on the GPU against alro-core's CPU forward pass, on tiny random Llamas in
//! every natively supported weight type: a prompt prefill, then several decode steps.

mod common;

use alro_core::gguf::GgufFile;
use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
use alro_core::model::{GgufSource, Kernels, KvCache, Llama, LlamaConfig, MatrixPrecision};
use alro_gpu::{GpuContext, GpuModel};
use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};
use common::*;

/// Multiples of 256 (Q4_K's super-block); 4 query heads over 2 kv heads of dimension 64.
fn spec(dtype: GgmlDType) -> TinySpec {
    TinySpec {
        hidden: 256,
        intermediate: 512,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        context: 256,
        matrix_dtype: dtype,
        seed: 5,
    }
}

/// The identifier tokens " A".." Z" of the tiny vocabulary come right after the 256 bytes.
fn output_rows() -> Vec<u32> {
    (256..282).collect()
}

struct Cpu {
    model: Llama,
    cache: KvCache,
}

impl Cpu {
    fn new(file: &GgufFile, bytes: &[u8], precision: MatrixPrecision) -> Cpu {
        let config = LlamaConfig::from_gguf(file).unwrap();
        let src = GgufSource {
            file,
            bytes,
            device: Device::Cpu,
            copied: None,
        };
        let model = Llama::load(config, &src, precision, &Device::Cpu).unwrap();
        let cache = KvCache::new(model.config.num_layers);
        Cpu { model, cache }
    }

    /// Output-row logits after the last of `tokens`, appended to the cache.
    fn forward(&mut self, tokens: &[u32], rows: &[u32]) -> Vec<f32> {
        let ids = Tensor::new(tokens, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let hidden = self
            .model
            .forward_hidden(&ids, Some(&mut self.cache), Kernels::Fused)
            .unwrap();
        let s = hidden.dim(1).unwrap();
        let last = hidden.narrow(1, s - 1, 1).unwrap().squeeze(1).unwrap();
        let all: Vec<f32> = self
            .model
            .logits(&last)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap();
        rows.iter().map(|&r| all[r as usize]).collect()
    }
}

fn prompt(len: usize, seed: u64) -> Vec<u32> {
    use rand::Rng;
    let mut r = rng(seed);
    (0..len).map(|_| r.random_range(0..284u32)).collect()
}

/// GPU vs CPU logits, prefill of `prompt_len` tokens then 5 decode steps (greedy over the output
/// rows, as the ranker decodes). Tolerance against the CPU with f32 weights (identical math, f32
/// rounding in another order): 2e-3 · max(1, |logit|), logits here are O(10). Against the CPU's
/// default path (decode steps multiply with 8-bit-quantized activations) the bound is the
/// quantization noise, `loose`.
fn compare(ctx: &GpuContext, spec: TinySpec, prompt_len: usize, loose: f32) {
    let dtype = spec.matrix_dtype;
    let bytes = tiny_llama_gguf(&spec).unwrap();
    let file = GgufFile::parse(&bytes, "tiny.gguf").unwrap();
    let rows = output_rows();
    let gpu = pollster::block_on(GpuModel::from_gguf(ctx, &file, &bytes, &rows)).unwrap();
    let mut exact = Cpu::new(&file, &bytes, MatrixPrecision::F32);
    let mut stored = Cpu::new(&file, &bytes, MatrixPrecision::AsStored);
    let mut sequence = gpu.new_sequence();
    let mut input = prompt(prompt_len, dtype as u64);
    let (mut worst, mut worst_stored) = (0f32, 0f32);
    for step in 0..6 {
        let g = pollster::block_on(gpu.forward(&mut sequence, &input)).unwrap();
        let want = exact.forward(&input, &rows);
        let want_stored = stored.forward(&input, &rows);
        for (i, (a, b)) in g.iter().zip(&want).enumerate() {
            let tol = 2e-3 * b.abs().max(1.0);
            assert!(
                (a - b).abs() <= tol,
                "{dtype:?} step {step}: logit {i}: gpu {a} vs cpu {b} (tol {tol})"
            );
        }
        worst = worst.max(max_abs_diff(&g, &want));
        worst_stored = worst_stored.max(max_abs_diff(&g, &want_stored));
        let best = (0..rows.len())
            .max_by(|&a, &b| g[a].total_cmp(&g[b]))
            .unwrap();
        input = vec![rows[best]];
    }
    assert_eq!(sequence.len(), prompt_len + 5);
    eprintln!(
        "{dtype:?}: max |gpu - cpu f32 weights| = {worst:.2e}, \
         max |gpu - cpu as stored| = {worst_stored:.2e}"
    );
    assert!(
        worst_stored <= loose,
        "{dtype:?}: {worst_stored} vs CPU default path"
    );
}

#[test]
fn tiny_f32() {
    let Some(ctx) = ctx() else { return };
    compare(&ctx, spec(GgmlDType::F32), 37, 2e-3 * 20.0);
}

/// 126 prompt tokens: the KV cache grows from 128 to 256 positions during the decode steps, so
/// the bind groups the steps reuse must be rebuilt on the new cache buffers.
#[test]
fn tiny_q8_0() {
    let Some(ctx) = ctx() else { return };
    compare(&ctx, spec(GgmlDType::Q8_0), 126, 0.5);
}

#[test]
fn tiny_q4_0() {
    let Some(ctx) = ctx() else { return };
    compare(&ctx, spec(GgmlDType::Q4_0), 37, 0.5);
}

/// 90 prompt tokens: decode steps see more than 64 keys, so their attention is split into key
/// ranges and merged.
#[test]
fn tiny_q4_1() {
    let Some(ctx) = ctx() else { return };
    compare(&ctx, spec(GgmlDType::Q4_1), 90, 0.5);
}

#[test]
fn tiny_q4_k() {
    let Some(ctx) = ctx() else { return };
    compare(&ctx, spec(GgmlDType::Q4K), 37, 0.5);
}

/// 8 blocks: a pass has more dispatches than one command buffer takes, so it is submitted in
/// parts.
#[test]
fn tiny_deep_model_submitted_in_parts() {
    let Some(ctx) = ctx() else { return };
    let deep = TinySpec {
        layers: 8,
        ..spec(GgmlDType::Q4_0)
    };
    compare(&ctx, deep, 70, 0.5);
}

#[test]
fn tiny_converted_types_run_as_q8_0() {
    // Q5_0 and F16 have no WGSL decoder: they are converted to Q8_0 at load. The reference is
    // then the CPU with the original weights; Q8_0 re-quantization adds ≤ 1/254 relative error
    // per weight, so the bound is looser than for native types.
    let Some(ctx) = ctx() else { return };
    for dtype in [GgmlDType::Q5_0, GgmlDType::F16] {
        let bytes = tiny_llama_gguf(&spec(dtype)).unwrap();
        let file = GgufFile::parse(&bytes, "tiny.gguf").unwrap();
        let rows = output_rows();
        let gpu = pollster::block_on(GpuModel::from_gguf(&ctx, &file, &bytes, &rows)).unwrap();
        let mut cpu = Cpu::new(&file, &bytes, MatrixPrecision::F32);
        let tokens = prompt(20, 3);
        let g = pollster::block_on(gpu.forward(&mut gpu.new_sequence(), &tokens)).unwrap();
        let want = cpu.forward(&tokens, &rows);
        let d = max_abs_diff(&g, &want);
        eprintln!("{dtype:?} via Q8_0: max diff {d:.2e}");
        assert!(d <= 0.1, "{dtype:?}: {d}");
    }
}

#[test]
fn tiny_split_weights_and_multi_pass_prompt() {
    // 32 KiB pretend limit: every Q8_0 matrix splits into row chunks, a prompt runs in passes of
    // 16 tokens, dispatch grids fold into 2D (at most 16 workgroups per dimension), and the KV
    // cache (64 positions × 2 × 64 × 4 bytes = 32 KiB per layer) just fits.
    let Some(ctx) = small_ctx(32768, 16) else {
        return;
    };
    let bytes = tiny_llama_gguf(&spec(GgmlDType::Q8_0)).unwrap();
    let file = GgufFile::parse(&bytes, "tiny.gguf").unwrap();
    let rows = output_rows();
    let gpu = pollster::block_on(GpuModel::from_gguf(&ctx, &file, &bytes, &rows)).unwrap();
    let mut cpu = Cpu::new(&file, &bytes, MatrixPrecision::F32);
    let mut sequence = gpu.new_sequence();
    let tokens = prompt(40, 8);
    let g = pollster::block_on(gpu.forward(&mut sequence, &tokens)).unwrap();
    let want = cpu.forward(&tokens, &rows);
    let d = max_abs_diff(&g, &want);
    assert!(d <= 2e-2, "split path: max diff {d}");
    for t in [rows[0], rows[5]] {
        let g = pollster::block_on(gpu.forward(&mut sequence, &[t])).unwrap();
        let want = cpu.forward(&[t], &rows);
        assert!(max_abs_diff(&g, &want) <= 2e-2);
    }
    // 65 positions no longer fit one cache buffer under the limit: a clear error.
    let long = prompt(70, 9);
    let e = pollster::block_on(gpu.forward(&mut gpu.new_sequence(), &long)).unwrap_err();
    assert!(e.to_string().contains("KV cache"), "{e}");
}

#[test]
fn bad_input_is_an_error() {
    let Some(ctx) = ctx() else { return };
    let bytes = tiny_llama_gguf(&spec(GgmlDType::F32)).unwrap();
    let file = GgufFile::parse(&bytes, "tiny.gguf").unwrap();
    let rows = output_rows();
    let gpu = pollster::block_on(GpuModel::from_gguf(&ctx, &file, &bytes, &rows)).unwrap();
    let mut s = gpu.new_sequence();
    let e = pollster::block_on(gpu.forward(&mut s, &[100_000])).unwrap_err();
    assert!(e.to_string().contains("vocabulary"), "{e}");
    assert!(pollster::block_on(gpu.forward(&mut s, &[])).is_err());
    let too_long = vec![1u32; 257];
    let e = pollster::block_on(gpu.forward(&mut s, &too_long)).unwrap_err();
    assert!(e.to_string().contains("context"), "{e}");
    assert!(s.is_empty(), "failed calls must not advance the sequence");
    let e = pollster::block_on(GpuModel::from_gguf(&ctx, &file, &bytes, &[9999])).err();
    assert!(e.is_some_and(|e| e.to_string().contains("9999")));
    let other = pollster::block_on(GpuModel::from_gguf(&ctx, &file, &bytes, &rows)).unwrap();
    assert!(
        pollster::block_on(other.forward(&mut s, &[1])).is_err(),
        "foreign sequence"
    );
}
