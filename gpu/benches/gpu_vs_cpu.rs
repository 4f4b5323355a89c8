//! Prefill of a ~500-token ranking prompt + 20 decode steps on the default backbone
//! (SmolLM2-135M-Instruct Q4_1): alro-gpu vs alro-core's CPU path (the ranker's: `AsStored`
//! weights, `Kernels::Fused`). Not a test: prints times and ratios.
//!
//! `cargo bench -p alro-gpu --bench gpu_vs_cpu` (ALRO_BENCH_REPEATS=n for more repeats).

use alro_core::gguf::GgufFile;
use alro_core::model::{Backbone, Kernels, KvCache, MatrixPrecision};
use alro_core::prompt::PromptConfig;
use alro_core::rank::Ranker;
use alro_core::request::{Candidate, HistoryEntry, RankRequest};
use alro_gpu::{GpuContext, GpuModel, GpuOptions};
use candle_core::{Device, Tensor};
use std::time::{Duration, Instant};

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);
const PROMPT_TOKENS: usize = 500;
const DECODE_STEPS: usize = 20;

fn request() -> RankRequest {
    RankRequest {
        history: (0..30)
            .map(|i| HistoryEntry {
                title: format!("A fairly long movie title number {i} ({})", 1960 + i),
                rating: (i % 5) as f32 + 1.0,
            })
            .collect(),
        candidates: (0..20)
            .map(|i| Candidate {
                id: format!("c{i}"),
                title: format!("Candidate film {i}: the sequel ({})", 1990 + i),
                note: None,
            })
            .collect(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// With `ALRO_BENCH_SYNTHETIC=1`: a random model of SmolLM2-135M's shapes (hidden 576, MLP 1536,
/// 30 blocks, 9 heads, 3 KV heads, Q4_1) and the tiny byte-level vocabulary, for machines the
/// 94 MiB backbone cannot be copied to. Times depend on shapes, not on weight values; the
/// vocabulary only changes the tokenisation (the prompt is padded to PROMPT_TOKENS anyway).
fn model_bytes() -> Vec<u8> {
    if std::env::var("ALRO_BENCH_SYNTHETIC").is_ok_and(|v| v == "1") {
        let spec = alro_core::model::tiny::TinySpec {
            hidden: 576,
            intermediate: 1536,
            layers: 30,
            heads: 9,
            kv_heads: 3,
            context: 8192,
            matrix_dtype: candle_core::quantized::GgmlDType::Q4_1,
            seed: 7,
        };
        return alro_core::model::tiny::tiny_llama_gguf(&spec).expect("synthetic model");
    }
    std::fs::read(MODEL).unwrap_or_else(|e| panic!("{MODEL}: {e} (run scripts/setup.sh)"))
}

fn main() {
    let bytes = model_bytes();
    let repeats: usize = std::env::var("ALRO_BENCH_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let backbone =
        Backbone::from_gguf_bytes(&bytes, MODEL, MatrixPrecision::AsStored, &Device::Cpu).unwrap();
    let prompt = PromptConfig {
        max_history: 30,
        ..Default::default()
    };
    let ranker = Ranker::new(backbone, prompt).unwrap();
    let mut tokens = ranker.prepare(&request()).unwrap().tokens;
    // Pad (repeating the prompt) or cut to exactly PROMPT_TOKENS.
    let base = tokens.clone();
    while tokens.len() < PROMPT_TOKENS {
        tokens.extend_from_slice(&base);
    }
    tokens.truncate(PROMPT_TOKENS);
    let ids = ranker.identifiers.token_ids.clone();
    let decode: Vec<u32> = (0..DECODE_STEPS).map(|i| ids[i % ids.len()]).collect();

    let ctx = pollster::block_on(GpuContext::new(GpuOptions::default())).expect("GPU adapter");
    let info = ctx.info().clone();
    let file = GgufFile::parse(&bytes, MODEL).unwrap();
    let t0 = Instant::now();
    let gpu = pollster::block_on(GpuModel::from_gguf(&ctx, &file, &bytes, &ids)).unwrap();
    let gpu_load = t0.elapsed();

    let model = &ranker.backbone.model;
    assert!(model.config.tie_word_embeddings, "the bench assumes a tied LM head");
    // The ranker's identifier head, built once: the listed rows of the (tied) LM head.
    let head_w = {
        let idx = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap();
        model.embed_tokens.index_select(&idx, 0).unwrap().t().unwrap().contiguous().unwrap()
    };
    let (mut gp, mut gd, mut cp, mut cd) = (vec![], vec![], vec![], vec![]);
    for _ in 0..repeats {
        let mut s = gpu.new_session();
        let t0 = Instant::now();
        pollster::block_on(gpu.forward(&mut s, &tokens)).unwrap();
        gp.push(t0.elapsed());
        let t0 = Instant::now();
        for &t in &decode {
            pollster::block_on(gpu.forward(&mut s, &[t])).unwrap();
        }
        gd.push(t0.elapsed());

        let mut cache = KvCache::new(model.config.num_layers);
        let head = |h: &Tensor| {
            let s = h.dim(1).unwrap();
            let last = h.narrow(1, s - 1, 1).unwrap().squeeze(1).unwrap();
            last.matmul(&head_w).unwrap().to_vec2::<f32>().unwrap()
        };
        let t0 = Instant::now();
        let x = Tensor::new(tokens.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        head(&model.forward_hidden(&x, Some(&mut cache), Kernels::Fused).unwrap());
        cp.push(t0.elapsed());
        let t0 = Instant::now();
        for &t in &decode {
            let x = Tensor::new(&[t], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            head(&model.forward_hidden(&x, Some(&mut cache), Kernels::Fused).unwrap());
        }
        cd.push(t0.elapsed());
    }
    let (gp, gd, cp, cd) = (median(gp), median(gd), median(cp), median(cd));
    println!(
        "device: {} ({}, {}, fallback: {}); {} CPU threads; model load to GPU {gpu_load:.2?}",
        info.adapter_name,
        info.backend,
        info.device_type,
        info.is_fallback,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("prompt {PROMPT_TOKENS} tokens, {DECODE_STEPS} decode steps, median of {repeats}");
    println!("| phase | GPU | CPU (alro-core) | GPU/CPU time |");
    println!("|---|---|---|---|");
    println!(
        "| prefill {PROMPT_TOKENS} tok | {gp:.2?} ({:.1} tok/s) | {cp:.2?} ({:.1} tok/s) | {:.2}x |",
        PROMPT_TOKENS as f64 / gp.as_secs_f64(),
        PROMPT_TOKENS as f64 / cp.as_secs_f64(),
        gp.as_secs_f64() / cp.as_secs_f64()
    );
    println!(
        "| {DECODE_STEPS} decode steps | {gd:.2?} ({:.1} ms/tok) | {cd:.2?} ({:.1} ms/tok) | {:.2}x |",
        gd.as_secs_f64() * 1e3 / DECODE_STEPS as f64,
        cd.as_secs_f64() * 1e3 / DECODE_STEPS as f64,
        gd.as_secs_f64() / cd.as_secs_f64()
    );
}
