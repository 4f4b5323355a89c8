//! Inference speed of our ranker on the default backbone (a benchmark, not a test).
//!
//!     cargo bench -p alro-trainer --bench inference -- [--model M] [--out ids.json]
//!         [--repeats N] [--decode-repeats N]
//!
//! Measures, on the first request of examples/requests.jsonl:
//! - prefill tokens/s for exactly 512 prompt tokens (the request's prompt, repeated and cut);
//! - end-to-end time to rank its 20 candidates (tokenize + prefill + 19 constrained decode steps);
//! - one decode step on its own (one token through the KV cache of the ranking prompt, then the
//!   identifier logits): the median over the 19 steps of a greedy ranking;
//! - the process's peak resident memory.
//! With `--out`, writes the 512 token ids and the ranking prompt's ids so that
//! benches/llamacpp_inference.py times llama.cpp on exactly the same input.

use alro_core::model::{Backbone, Kernels, MatrixPrecision};
use alro_core::prompt::PromptConfig;
use alro_core::rank::driver::run_ready;
use alro_core::rank::{RankBackend, RankMode, Ranker};
use alro_core::request::RankRequest;
use candle_core::{Device, Tensor};
use std::time::Instant;

mod common;
use common::status_mib;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let model = flag("--model")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    let repeats: usize = flag("--repeats").and_then(|r| r.parse().ok()).unwrap_or(5);

    let t0 = Instant::now();
    let backbone = Backbone::from_path(&model, MatrixPrecision::AsStored, &Device::Cpu)?;
    let load_s = t0.elapsed().as_secs_f64();
    let ranker = Ranker::new(backbone, PromptConfig::default())?;
    let line = std::fs::read_to_string(root.join("examples/requests.jsonl"))?;
    let req: RankRequest = serde_json::from_str(line.lines().next().unwrap())?;
    let prompt = ranker.prepare(&req)?;
    let ids512: Vec<u32> = prompt.tokens.iter().cycle().take(512).copied().collect();

    let model = &ranker.backbone.model;
    let input = Tensor::new(ids512.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    model.forward_hidden(&input, None, Kernels::Fused)?; // warm-up
    let prefill: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            model
                .forward_hidden(&input, None, Kernels::Fused)
                .map(|_| t.elapsed().as_secs_f64())
        })
        .collect::<Result<_, _>>()?;
    let rank: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            ranker
                .rank(&req, RankMode::Greedy)
                .map(|_| t.elapsed().as_secs_f64())
        })
        .collect::<Result<_, _>>()?;
    // Decode steps on their own: the ranking prompt's cache, then one identifier per step (a
    // large --decode-repeats makes a profile of this run a profile of decode steps).
    let decode_repeats = flag("--decode-repeats")
        .and_then(|r| r.parse().ok())
        .unwrap_or(repeats);
    let (prefilled, _) = run_ready(ranker.start(&prompt.tokens))?;
    let mut steps = Vec::new();
    for _ in 0..decode_repeats {
        let mut cache = prefilled.clone();
        for &token in &ranker.identifier_token_ids()[..req.candidates.len() - 1] {
            let t = Instant::now();
            run_ready(ranker.next(&mut cache, token))?;
            steps.push(t.elapsed().as_secs_f64());
        }
    }
    let p = median(prefill);
    let r = median(rank);
    let report = serde_json::json!({
        "impl": "alro",
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "load_s": load_s,
        "prefill_tokens": 512,
        "prefill_s": p,
        "prefill_tokens_per_s": 512.0 / p,
        "rank_prompt_tokens": prompt.tokens.len(),
        "rank_candidates": req.candidates.len(),
        "rank_s": r,
        "decode_step_ms": median(steps) * 1000.0,
        "peak_rss_mib": status_mib("VmHWM:"),
    });
    println!("{report}");
    if let Some(out) = flag("--out") {
        let ids = serde_json::json!({"prefill_ids": ids512, "rank_prompt_ids": prompt.tokens, "identifier_ids": ranker.identifiers.token_ids[..req.candidates.len()].to_vec()});
        std::fs::write(out, ids.to_string())?;
    }
    Ok(())
}
