//! Training throughput of our trainer on the default backbone (a benchmark, not a test).
//!
//!     cargo bench -p alro-trainer --bench train_step -- --data DIR [--model M] [--steps 4]
//!         [--examples 4] [--preset sft] [--last-layers N] [--out inputs.json]
//!
//! DIR is an `alro data prepare` folder; the first `--examples` training examples are cycled
//! through, one example per optimizer step (LoRA q_proj+v_proj, r 8, α 16, AdamW lr 1e-4),
//! after one untimed warm-up step. With `--out`, writes the same sequences (prompt + target
//! ids) in the input format of benches/peft_train.py, so PyTorch + PEFT trains on exactly the
//! same tokens; with `--preset alro` also both views and the objective's constants, so it
//! computes the same ALRO objective (two views + SLL + PSL). Built with `--features cuda`, it
//! trains on the first CUDA GPU (as `alro train`).

use alro_core::data::{parse_jsonl, RankingExample};
use alro_core::model::MatrixPrecision;
use alro_core::prompt::PromptConfig;
use alro_core::rank::Ranker;
use alro_trainer::train::config::{AnswerOrder, OptimConfig};
use alro_trainer::train::lora;
use alro_trainer::train::losses::{first_position_target, sll_pair_weights};
use alro_trainer::train::optim::AdamW;
use alro_trainer::train::step::example_loss;
use alro_trainer::train::view;
use alro_trainer::train::{Preset, TrainConfig};
use candle_core::Tensor;
use std::time::Instant;

mod common;
use common::status_mib;

/// The inputs of benches/peft_train.py: per example the SFT sequence (prompt + answer) and, for
/// the ALRO objective, both views with what the losses read (identifier columns, SLL pair
/// weights, first-position target), so PyTorch computes the same objective on the same tokens.
fn peft_inputs(
    ranker: &Ranker,
    examples: &[RankingExample],
    cfg: &TrainConfig,
    perm: &[usize],
    steps: usize,
) -> anyhow::Result<serde_json::Value> {
    let o = &cfg.objective;
    anyhow::ensure!(
        o.continuation_weight == 0.0 && matches!(o.answer_order, AnswerOrder::Target),
        "benches/peft_train.py has no continuation loss or note-order answers"
    );
    let view_json = |v: &view::View| {
        serde_json::json!({
            "tokens": v.tokens, "prompt_len": v.prompt_len, "targets": v.targets,
            "identifier_ids": v.identifier_ids, "item_cols": v.shown_of_item,
        })
    };
    let mut seqs = Vec::new();
    for ex in examples {
        let identity: Vec<usize> = (0..ex.candidates.len()).collect();
        let v = view::build(ranker, ex, &identity, None, &ex.target)?;
        let mut tokens = v.tokens.clone();
        tokens.push(*v.targets.last().unwrap());
        let mut views = vec![view_json(&v)];
        if o.psl_weight > 0.0 {
            views.push(view_json(&view::build(ranker, ex, perm, None, &ex.target)?));
        }
        seqs.push(serde_json::json!({
            "tokens": tokens, "target_start": v.prompt_len, "views": views,
            "pair_weights": sll_pair_weights(&ex.relevance, &ex.target, o.idcg_normalize),
            "first_target": first_position_target(&ex.relevance),
        }));
    }
    Ok(serde_json::json!({
        "examples": seqs,
        "lora": {"r": cfg.lora.rank, "alpha": cfg.lora.alpha, "dropout": 0.0,
                 "targets": cfg.lora.targets},
        "lr": cfg.optim.lr, "steps": steps, "accumulation": 1,
        "objective": {
            "sft_weight": o.sft_weight, "sll_weight": o.sll_weight, "psl_weight": o.psl_weight,
            "first_position_weight": o.first_position_weight, "gamma": o.gamma,
            "sigma": o.sigma, "pair_loss": o.pair_loss,
            "psl_divergence": o.psl_divergence,
        },
    }))
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
    let data = std::path::PathBuf::from(flag("--data").expect("--data DIR (alro data prepare)"));
    let steps: usize = flag("--steps").map_or(4, |s| s.parse().unwrap());
    let n_examples: usize = flag("--examples").map_or(4, |s| s.parse().unwrap());
    let preset = match flag("--preset").as_deref() {
        None | Some("sft") => Preset::Sft,
        Some("alro") => Preset::Alro,
        Some(p) => anyhow::bail!("--preset {p}: sft or alro"),
    };
    let mut cfg = TrainConfig::default().with_preset(preset);
    cfg.lora.last_layers = flag("--last-layers").map(|s| s.parse().unwrap());
    cfg.optim = OptimConfig {
        lr: 1e-4,
        ..OptimConfig::default()
    };

    let text = std::fs::read_to_string(data.join("train.jsonl"))?;
    let first: String = text
        .lines()
        .take(n_examples)
        .map(|l| format!("{l}\n"))
        .collect();
    let examples = parse_jsonl("train.jsonl", &first)?;

    let t0 = Instant::now();
    // The CPU, or the GPU in a `--features cuda` build (as `alro train`).
    let device = alro_trainer::train::device()?;
    let mut backbone =
        alro_core::model::Backbone::from_path(&model, MatrixPrecision::F32, &device)?;
    let adapters = lora::attach(&mut backbone.model, &cfg.lora, 0)?;
    let ranker = Ranker::new(backbone, PromptConfig::default())?;
    let load_s = t0.elapsed().as_secs_f64();
    let params = adapters.vars();
    let mut optim = AdamW::new(&params, &cfg.optim)?;

    // The PSL view shows the candidates in reverse order.
    let perm: Vec<usize> = (0..examples[0].candidates.len()).rev().collect();
    if let Some(out) = flag("--out") {
        let json = peft_inputs(&ranker, &examples, &cfg, &perm, steps)?;
        std::fs::write(&out, serde_json::to_string(&json)?)?;
    }

    let mut step = |i: usize| -> anyhow::Result<(f64, usize, usize, f64, f64)> {
        let ex = &examples[i % examples.len()];
        let t = Instant::now();
        let (loss, values) = example_loss(&ranker, ex, &cfg.objective, Some(&perm), None, |_| {})?;
        let store = loss.backward()?;
        let grads: Vec<Tensor> = params
            .iter()
            .map(|p| store.get(p.as_tensor()).cloned().unwrap())
            .collect();
        optim.step(&params, &grads, cfg.optim.lr)?;
        device.synchronize()?; // a GPU runs asynchronously: the step ends when its work does
        Ok((
            t.elapsed().as_secs_f64(),
            values.tokens,
            values.target_tokens,
            values.sft,
            values.total,
        ))
    };
    // As `alro train` does, every step runs on one rayon worker (see commands/train.rs). One
    // scope for all of them, not one per step: a step that lands on the other worker allocates
    // from that thread's malloc arena while the first one keeps the memory it freed, and the
    // peak RSS jumps by the step's working set (~1.7 GiB) on some runs and not others.
    let (mut secs, mut tokens, mut targets) = (Vec::new(), 0, 0);
    let (mut losses, mut total_losses) = (Vec::new(), Vec::new());
    // Resident and peak memory after each step: where a run's peak comes from.
    let (mut rss_after, mut peak_after) = (Vec::new(), Vec::new());
    let mut workers = Vec::new();
    let warmup_loss = rayon::scope(|_| -> anyhow::Result<f64> {
        // Warm-up. Its loss is the untrained model's (LoRA B starts at zero), whatever the
        // random LoRA A: the value PyTorch's warm-up step must reproduce.
        let warmup_loss = step(0)?.4;
        for i in 0..steps {
            let (s, t, g, l, total) = step(i)?; // the examples PyTorch times
            secs.push(s);
            tokens += t;
            targets += g;
            losses.push(l);
            total_losses.push(total);
            rss_after.push(status_mib("VmRSS:"));
            peak_after.push(status_mib("VmHWM:"));
            workers.push(rayon::current_thread_index());
        }
        Ok(warmup_loss)
    })?;
    let total: f64 = secs.iter().sum();
    println!(
        "{}",
        serde_json::json!({
            "engine": "alro",
            "device": if device.is_cuda() { "cuda" } else { "cpu" },
            "preset": preset.name(),
            "last_layers": cfg.lora.last_layers,
            "steps": steps,
            "examples_per_s": steps as f64 / total,
            "tokens_per_s": tokens as f64 / total,
            "target_tokens_per_s": targets as f64 / total,
            "seconds_per_step": total / steps as f64,
            "seconds_per_step_min": secs.iter().copied().fold(f64::INFINITY, f64::min),
            "seconds": secs,
            "load_s": load_s,
            "losses": losses,
            "total_losses": total_losses,
            "warmup_loss": warmup_loss,
            "trainable_parameters": adapters.parameter_count(),
            "peak_rss_mib": status_mib("VmHWM:"),
            "rss_mib_after_step": rss_after,
            "peak_rss_mib_after_step": peak_after,
            "rayon_worker_of_step": workers,
        })
    );
    Ok(())
}
