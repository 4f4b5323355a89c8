//! Prefill of a ~500-token ranking prompt + 20 decode steps on the default backbone
//! (SmolLM2-135M-Instruct Q4_1): alro-gpu vs alro-core's CPU path (the ranker's: `AsStored`
//! weights, `Kernels::Fused`). Not a test: prints times and ratios.
//!
//! `cargo bench -p alro-gpu --bench gpu_vs_cpu` (ALRO_BENCH_REPEATS=n for more repeats).
//! With `ALRO_BENCH_PROFILE=1` it then runs once more with every kernel timed by timestamp
//! queries (where the adapter has them) and prints where the GPU time of a prefill and of the
//! decode steps goes; wall time minus GPU time is recording, submission and read-back.

use alro_core::gguf::GgufFile;
use alro_core::model::{Backbone, Kernels, KvCache, MatrixPrecision};
use alro_core::prompt::PromptConfig;
use alro_core::rank::Ranker;
use alro_core::request::{Candidate, HistoryEntry, RankRequest};
use alro_gpu::{GpuContext, GpuModel, GpuOptions, KernelTime};
use candle_core::{Device, Tensor};
use std::time::{Duration, Instant};

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);
const DEFAULT_PROMPT_TOKENS: usize = 500;
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
/// vocabulary only changes the tokenisation (the prompt is padded to the same length anyway).
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
    // ALRO_BENCH_PROMPT_TOKENS: a shorter prompt for slow (software) adapters.
    let prompt_tokens: usize = std::env::var("ALRO_BENCH_PROMPT_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_PROMPT_TOKENS);
    let mut tokens = ranker.prepare(&request()).unwrap().tokens;
    // Pad (repeating the prompt) or cut to exactly `prompt_tokens`.
    let base = tokens.clone();
    while tokens.len() < prompt_tokens {
        tokens.extend_from_slice(&base);
    }
    tokens.truncate(prompt_tokens);
    let ids = ranker.identifiers.token_ids.clone();
    let decode: Vec<u32> = (0..DECODE_STEPS).map(|i| ids[i % ids.len()]).collect();

    let ctx = pollster::block_on(GpuContext::new(GpuOptions::default())).expect("GPU adapter");
    let info = ctx.info().clone();
    let file = GgufFile::parse(&bytes, MODEL).unwrap();
    let t0 = Instant::now();
    let gpu = pollster::block_on(GpuModel::from_gguf(&ctx, &file, &bytes, &ids)).unwrap();
    let gpu_load = t0.elapsed();

    let model = &ranker.backbone.model;
    assert!(
        model.config.tie_word_embeddings,
        "the bench assumes a tied LM head"
    );
    // The ranker's identifier head, built once: the listed rows of the (tied) LM head.
    let head_w = {
        let idx = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap();
        model
            .embed_tokens
            .lookup(&idx)
            .unwrap()
            .t()
            .unwrap()
            .contiguous()
            .unwrap()
    };
    // GPU: `repeats` rankings back to back (clocks up, as in a busy page), then one after the
    // GPU has idled (what a visitor who clicks "rank" gets: the clocks have dropped).
    let gpu_ranking = || {
        let mut s = gpu.new_sequence();
        let t0 = Instant::now();
        pollster::block_on(gpu.forward(&mut s, &tokens)).unwrap();
        let prefill = t0.elapsed();
        let t0 = Instant::now();
        for &t in &decode {
            pollster::block_on(gpu.forward(&mut s, &[t])).unwrap();
        }
        (prefill, t0.elapsed())
    };
    gpu_ranking(); // compiles the pipelines
    let (gp, gd): (Vec<_>, Vec<_>) = (0..repeats).map(|_| gpu_ranking()).unzip();
    std::thread::sleep(Duration::from_secs(2));
    let (gp_idle, gd_idle) = gpu_ranking();

    let (mut cp, mut cd) = (vec![], vec![]);
    for _ in 0..repeats {
        let mut cache = KvCache::new(model.config.num_layers);
        let head = |h: &Tensor| {
            let s = h.dim(1).unwrap();
            let last = h.narrow(1, s - 1, 1).unwrap().squeeze(1).unwrap();
            last.matmul(&head_w).unwrap().to_vec2::<f32>().unwrap()
        };
        let t0 = Instant::now();
        let x = Tensor::new(tokens.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        head(
            &model
                .forward_hidden(&x, Some(&mut cache), Kernels::Fused)
                .unwrap(),
        );
        cp.push(t0.elapsed());
        let t0 = Instant::now();
        for &t in &decode {
            let x = Tensor::new(&[t], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            head(
                &model
                    .forward_hidden(&x, Some(&mut cache), Kernels::Fused)
                    .unwrap(),
            );
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
    println!(
        "prompt {prompt_tokens} tokens, {DECODE_STEPS} decode steps; median of {repeats} back to \
         back, and one after 2 s idle"
    );
    println!("| phase | GPU back to back | GPU after idle | CPU (alro-core) | GPU/CPU time |");
    println!("|---|---|---|---|---|");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| prefill {prompt_tokens} tok | {:.1} ms ({:.0} tok/s) | {:.1} ms | {:.1} ms ({:.0} tok/s) | {:.2}x |",
        ms(gp),
        prompt_tokens as f64 / gp.as_secs_f64(),
        ms(gp_idle),
        ms(cp),
        prompt_tokens as f64 / cp.as_secs_f64(),
        ms(gp) / ms(cp)
    );
    println!(
        "| {DECODE_STEPS} decode steps | {:.1} ms ({:.2} ms/tok) | {:.1} ms | {:.1} ms ({:.1} ms/tok) | {:.2}x |",
        ms(gd),
        ms(gd) / DECODE_STEPS as f64,
        ms(gd_idle),
        ms(cd),
        ms(cd) / DECODE_STEPS as f64,
        ms(gd) / ms(cd)
    );
    println!(
        "| greedy ranking (both) | {:.1} ms | {:.1} ms | {:.1} ms | {:.2}x |",
        ms(gp + gd),
        ms(gp_idle + gd_idle),
        ms(cp + cd),
        ms(gp + gd) / ms(cp + cd)
    );
    if std::env::var("ALRO_BENCH_PROFILE").is_ok_and(|v| v == "1") {
        profile(&bytes, &file, &ids, &tokens, &decode);
    }
}

/// One prefill and the decode steps with every dispatch timed on the GPU.
fn profile(bytes: &[u8], file: &GgufFile, ids: &[u32], tokens: &[u32], decode: &[u32]) {
    let options = GpuOptions {
        profile: true,
        ..Default::default()
    };
    let ctx = pollster::block_on(GpuContext::new(options)).expect("GPU adapter");
    if ctx.take_profile().is_none() {
        println!("(no per-kernel profile: the adapter has no timestamp queries)");
        return;
    }
    let gpu = pollster::block_on(GpuModel::from_gguf(&ctx, file, bytes, ids)).unwrap();
    // A first sequence compiles the pipelines; the second is the one measured.
    for measured in [false, true] {
        let mut s = gpu.new_sequence();
        ctx.take_profile();
        let t0 = Instant::now();
        pollster::block_on(gpu.forward(&mut s, tokens)).unwrap();
        let prefill = (t0.elapsed(), ctx.take_profile().unwrap_or_default());
        let t0 = Instant::now();
        for &t in decode {
            pollster::block_on(gpu.forward(&mut s, &[t])).unwrap();
        }
        let steps = (t0.elapsed(), ctx.take_profile().unwrap_or_default());
        if measured {
            print_profile(&format!("prefill {} tokens", tokens.len()), prefill);
            print_profile(&format!("{} decode steps", decode.len()), steps);
        }
    }
}

fn print_profile(what: &str, (wall, kernels): (Duration, Vec<KernelTime>)) {
    let gpu: f64 = kernels.iter().map(|k| k.gpu_ms).sum();
    println!(
        "\n{what}: GPU {gpu:.2} ms in {} dispatches (wall {:.2} ms while profiling)",
        kernels.iter().map(|k| k.dispatches).sum::<u64>(),
        wall.as_secs_f64() * 1e3
    );
    println!("| kernel | dispatches | GPU ms | share |");
    println!("|---|---|---|---|");
    for k in &kernels {
        println!(
            "| {} | {} | {:.3} | {:.1}% |",
            k.kernel,
            k.dispatches,
            k.gpu_ms,
            100.0 * k.gpu_ms / gpu.max(1e-9)
        );
    }
}
