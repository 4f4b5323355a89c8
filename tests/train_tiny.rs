//! The trainer on a tiny random Llama (fast): every LoRA parameter receives a gradient, a merged
//! model equals the adapter model, each ablation preset overfits a handful of examples, a NaN
//! stops the run without touching the last checkpoint, bad checkpoints are refused, a run
//! can start from an earlier run's adapters, and one stopped at a step keeps its schedule.

use alro_core::data::RankingExample;
use alro_core::metrics::ndcg_of_ranking;
use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
use alro_core::model::{Backbone, Embedding, Kernels, MatrixPrecision, Projection};
use alro_core::prompt::PromptConfig;
use alro_core::rank::{RankMode, Ranker};
use alro_tests::tiny_ranking_examples;
use alro_trainer::train::checkpoint::{self, BackboneId};
use alro_trainer::train::config::{
    AnswerOrder, LoraConfig, ObjectiveConfig, OptimConfig, RunConfig,
};
use alro_trainer::train::lora::{self, Adapters};
use alro_trainer::train::optim::AdamW;
use alro_trainer::train::run::{self, Inputs, Options};
use alro_trainer::train::step::{self, example_loss};
use alro_trainer::train::view;
use alro_trainer::train::{Preset, TrainConfig};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};

fn spec(seed: u64) -> TinySpec {
    TinySpec {
        hidden: 64,
        intermediate: 128,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        seed,
        ..TinySpec::default()
    }
}

fn lora_all(rank: usize) -> LoraConfig {
    LoraConfig {
        rank,
        alpha: 2.0 * rank as f64,
        targets: Projection::ALL.to_vec(),
        ..LoraConfig::default()
    }
}

fn tiny(cfg: &LoraConfig, seed: u64) -> (Ranker, Adapters) {
    let bytes = tiny_llama_gguf(&spec(0)).unwrap();
    let mut b =
        Backbone::from_gguf_bytes(&bytes, "tiny.gguf", MatrixPrecision::F32, &Device::Cpu).unwrap();
    let adapters = lora::attach(&mut b.model, cfg, seed).unwrap();
    (Ranker::new(b, PromptConfig::default()).unwrap(), adapters)
}

/// Gives every B matrix small random values (B starts at 0, which zeroes A's gradient).
fn randomize_b(adapters: &Adapters) {
    for p in adapters
        .params
        .iter()
        .filter(|p| p.name.ends_with("lora_b"))
    {
        let t = Tensor::randn(0f32, 0.02, p.var.dims(), &Device::Cpu).unwrap();
        p.var.set(&t).unwrap();
    }
}

fn backbone_id() -> BackboneId {
    BackboneId {
        name: "tiny".into(),
        sha256: "0".repeat(64),
        layers: 2,
        hidden: 64,
        vocab: 0,
    }
}

#[test]
fn every_lora_parameter_receives_a_gradient() {
    let (ranker, adapters) = tiny(&lora_all(4), 1);
    check_every_parameter_gets_a_gradient(&ranker, &adapters);
    // The same from a Hugging Face directory (safetensors, half-split rotary layout).
    let dir = std::env::temp_dir().join(format!("alro-train-hf-{}", std::process::id()));
    alro_tests::write_tiny_hf_dir(&spec(0), &dir);
    let mut b = Backbone::from_path(&dir, MatrixPrecision::F32, &Device::Cpu).unwrap();
    let adapters = lora::attach(&mut b.model, &lora_all(4), 1).unwrap();
    let ranker = Ranker::new(b, PromptConfig::default()).unwrap();
    check_every_parameter_gets_a_gradient(&ranker, &adapters);
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_every_parameter_gets_a_gradient(ranker: &Ranker, adapters: &Adapters) {
    randomize_b(adapters);
    assert_eq!(adapters.params.len(), 2 * 7 * 2);
    let ex = &tiny_ranking_examples(1, 6, 3)[0];
    let cfg = TrainConfig::default().with_preset(Preset::Alro);
    let perm = [3, 1, 5, 0, 2, 4];
    let (loss, values) =
        example_loss(ranker, ex, &cfg.objective, Some(&perm), None, |_| {}).unwrap();
    assert!(
        values.sft > 0.0 && values.sll > 0.0 && values.psl > 0.0,
        "{values:?}"
    );
    let grads = loss.backward().unwrap();
    for p in &adapters.params {
        let g = grads
            .get(p.var.as_tensor())
            .unwrap_or_else(|| panic!("{} has no gradient", p.name));
        let norm = g
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            norm > 0.0 && norm.is_finite(),
            "{}: |grad| = {norm}",
            p.name
        );
    }
    // The frozen base receives none.
    let model = &ranker.backbone.model;
    match &model.embed_tokens {
        Embedding::Dense(table) => assert!(grads.get(table).is_none()),
        Embedding::Quantized(_) => {} // not a tensor of the graph at all
    }
    assert!(grads.get(&model.layers[0].input_layernorm).is_none());
}

/// The whole training forward (embedding, the training kernels for RMSNorm/RoPE/attention/SiLU,
/// frozen matmuls, LoRA, SFT + SLL + PSL) differentiated by candle against central finite differences,
/// one random direction per LoRA matrix. The kernels are each checked against composed ops in
/// their own modules; this catches a wrong gradient in how the model strings them together (a
/// layout, a transpose, a residual) that every "non-zero gradient" check would miss.
#[test]
fn every_lora_gradient_matches_finite_differences() {
    lora_gradients_match_finite_differences(&lora_all(4));
}

/// The same with adapters on q/v only (the default): the MLPs are frozen and take the fused
/// frozen-MLP op, whose input gradient is all that carries the loss back to the first block.
#[test]
fn attention_only_lora_gradients_match_finite_differences() {
    let cfg = LoraConfig {
        rank: 4,
        alpha: 8.0,
        ..LoraConfig::default()
    };
    assert_eq!(cfg.targets, [Projection::QProj, Projection::VProj]);
    lora_gradients_match_finite_differences(&cfg);
}

fn lora_gradients_match_finite_differences(lora_cfg: &LoraConfig) {
    let (ranker, adapters) = tiny(lora_cfg, 3);
    // Seeded, so the test is deterministic.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut uniform = |dims: &[usize], bound: f32| {
        let n = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
        Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
    };
    // Large B so that A's gradients and the adapters' effect on the loss are not tiny.
    for p in adapters
        .params
        .iter()
        .filter(|p| p.name.ends_with("lora_b"))
    {
        p.var.set(&uniform(p.var.dims(), 0.5)).unwrap();
    }
    let ex = &tiny_ranking_examples(1, 6, 5)[0];
    let cfg = TrainConfig::default().with_preset(Preset::Alro);
    let perm = [3, 1, 5, 0, 2, 4];
    let loss_of = || {
        let (loss, _) =
            example_loss(&ranker, ex, &cfg.objective, Some(&perm), None, |_| {}).unwrap();
        loss
    };
    let value = |t: &Tensor| t.to_scalar::<f32>().unwrap() as f64;
    let loss = loss_of();
    let grads = loss.backward().unwrap();
    let eps = 1e-2f64;
    let mut worst = (0.0f64, String::new());
    for p in &adapters.params {
        let g = grads.get(p.var.as_tensor()).unwrap().clone();
        let x0 = p.var.as_tensor().copy().unwrap();
        let u = uniform(x0.dims(), 1.0);
        let norm = value(&u.sqr().unwrap().sum_all().unwrap()).sqrt();
        let u = (u / norm).unwrap();
        let analytic = value(&(&g * &u).unwrap().sum_all().unwrap());
        let at = |t: f64| {
            p.var.set(&(&x0 + (&u * t).unwrap()).unwrap()).unwrap();
            value(&loss_of())
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
        p.var.set(&x0).unwrap();
        // f32 loss differences carry ~2e-4 of noise in a derivative; a wrong gradient is off by
        // its own size (0.1-1 here), so relative to max(|derivative|, 0.05).
        let err = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(5e-2);
        assert!(
            err < 0.03,
            "{}: backward {analytic:.6} vs finite difference {numeric:.6}",
            p.name
        );
        if err > worst.0 {
            worst = (err, p.name.clone());
        }
    }
    eprintln!("worst relative error {:.2e} ({})", worst.0, worst.1);
}

#[test]
fn merged_model_equals_the_adapter_model() {
    let (ranker, adapters) = tiny(&lora_all(4), 2);
    randomize_b(&adapters);
    let model = &ranker.backbone.model;
    let ids: Vec<u32> = (40..90).collect();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let logits = |m: &alro_core::model::Llama| {
        let h = m.forward_hidden(&input, None, Kernels::Fused).unwrap();
        m.logits(&h).unwrap()
    };
    let with_adapters = logits(model);
    let mut merged = model.clone();
    lora::merge_into(&mut merged).unwrap();
    assert!(merged.layers.iter().all(|b| !b.has_lora()));
    let diff = (with_adapters.clone() - logits(&merged))
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    // The adapters changed the function (so the comparison means something)…
    let mut plain = model.clone();
    for b in &mut plain.layers {
        for p in Projection::ALL {
            b.projection_mut(p).lora = None;
        }
    }
    let moved = (with_adapters - logits(&plain))
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(moved > 1e-3, "adapters had no effect ({moved})");
    // …and the merged weights reproduce it.
    assert!(diff < 1e-4, "merged vs adapter logits differ by {diff}");
}

fn greedy_ndcg10(ranker: &Ranker, examples: &[RankingExample]) -> f64 {
    let mut sum = 0.0;
    for ex in examples {
        let resp = ranker.rank(&ex.request(), RankMode::Greedy).unwrap();
        let order: Vec<usize> = resp
            .ranking
            .iter()
            .map(|id| ex.candidates.iter().position(|c| &c.id == id).unwrap())
            .collect();
        sum += ndcg_of_ranking(&ex.relevance, &order, 10).unwrap();
    }
    sum / examples.len() as f64
}

fn overfit_config(preset: Preset, steps: usize) -> TrainConfig {
    let mut cfg = TrainConfig {
        lora: lora_all(8),
        optim: OptimConfig {
            lr: 3e-3,
            warmup_ratio: 0.0,
            min_lr_ratio: 1.0,
            accumulation: 4,
            ..OptimConfig::default()
        },
        run: RunConfig {
            epochs: 1000,
            max_steps: Some(steps),
            validate_every: 0,
            validation_examples: None,
            checkpoint_every: 1000,
            ..RunConfig::default()
        },
        ..TrainConfig::default()
    }
    .with_preset(preset);
    // "Fixed examples": the PSL view of each example is the same permutation every epoch.
    cfg.objective.psl_fixed_permutation = true;
    cfg
}

#[test]
fn each_preset_overfits_a_handful_of_examples() {
    // Train in rounds of ROUND steps (stop, check greedy NDCG@10 on the training examples,
    // resume) until every list is ranked perfectly, at most MAX_STEPS.
    const ROUND: usize = 10;
    const MAX_STEPS: usize = 200;
    let examples = tiny_ranking_examples(4, 5, 11);
    for preset in Preset::ALL {
        let cfg = overfit_config(preset, MAX_STEPS);
        let (ranker, adapters) = tiny(&cfg.lora, 5);
        let before = greedy_ndcg10(&ranker, &examples);
        let dir = tempdir(&format!("overfit-{}", preset.name()));
        let mut ndcg = before;
        let mut steps = 0;
        while ndcg < 1.0 && steps < MAX_STEPS {
            let summary = train_without_validation(
                &ranker,
                &adapters,
                &cfg,
                &examples,
                &dir,
                Options {
                    stop_after_steps: Some(ROUND),
                    ..Options::new(steps > 0)
                },
            )
            .unwrap();
            steps = summary.steps;
            ndcg = greedy_ndcg10(&ranker, &examples);
        }
        eprintln!(
            "{}: NDCG@10 {before:.3} → {ndcg:.3} in {steps} steps",
            preset.name()
        );
        if ndcg < 1.0 {
            eprintln!(
                "{}",
                std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap()
            );
        }
        assert_eq!(
            ndcg,
            1.0,
            "{}: not overfitted in {MAX_STEPS} steps",
            preset.name()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_continuation_loss_on_note_order_answers_trains_the_later_rows() {
    // Answers in note order (these lists carry no notes, so presentation order), trained by the
    // first-position and continuation terms alone: the rows after the first learn to choose the
    // best candidate not yet answered.
    let mut cfg = overfit_config(Preset::Sft, 30);
    cfg.preset = None;
    cfg.objective = ObjectiveConfig {
        sft_weight: 0.0,
        sll_weight: 0.0,
        psl_weight: 0.0,
        first_position_weight: 1.0,
        continuation_weight: 1.0,
        answer_order: AnswerOrder::Notes,
        ..cfg.objective
    };
    cfg.validate().unwrap();
    let examples = tiny_ranking_examples(4, 5, 11);
    let (ranker, adapters) = tiny(&cfg.lora, 5);
    let continuation = |ranker: &Ranker| {
        examples
            .iter()
            .map(|ex| {
                let (_, v) = example_loss(ranker, ex, &cfg.objective, None, None, |_| {}).unwrap();
                assert!(v.continuation > 0.0 && v.first > 0.0, "{v:?}");
                v.continuation
            })
            .sum::<f64>()
            / examples.len() as f64
    };
    let before = continuation(&ranker);
    let dir = tempdir("continuation");
    train_without_validation(
        &ranker,
        &adapters,
        &cfg,
        &examples,
        &dir,
        Options::new(false),
    )
    .unwrap();
    let after = continuation(&ranker);
    eprintln!("continuation loss {before:.3} → {after:.3} in 30 steps");
    assert!(after < 0.5 * before, "{before} → {after}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `run::train` on `examples` with no validation lists.
fn train_without_validation(
    ranker: &Ranker,
    adapters: &Adapters,
    cfg: &TrainConfig,
    examples: &[RankingExample],
    dir: &std::path::Path,
    options: Options,
) -> anyhow::Result<run::Summary> {
    run::train(
        ranker,
        adapters,
        cfg,
        backbone_id(),
        Inputs {
            train: examples,
            validation: &[],
            data_sha256: "x".into(),
        },
        dir,
        options,
    )
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("alro-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_nan_stops_the_run_naming_the_step_and_keeps_the_last_checkpoint() {
    let mut cfg = overfit_config(Preset::Alro, 4);
    cfg.run.checkpoint_every = 1;
    let (ranker, adapters) = tiny(&cfg.lora, 6);
    let examples = tiny_ranking_examples(4, 5, 12);
    let dir = tempdir("nan");
    let train = |resume| {
        train_without_validation(
            &ranker,
            &adapters,
            &cfg,
            &examples,
            &dir,
            Options::new(resume),
        )
    };
    // A first good run leaves a checkpoint at step 4.
    train(false).unwrap();
    let before = std::fs::read(dir.join("last.safetensors")).unwrap();
    // Poison one adapter and continue from there: the resumed run restores the checkpoint, so
    // poison through the checkpoint itself.
    let mut loaded = checkpoint::load(&dir.join("last.safetensors"), &Device::Cpu).unwrap();
    let name = &adapters.params[0].name;
    let shape = loaded.tensors[name].dims().to_vec();
    loaded.tensors.insert(
        name.clone(),
        Tensor::full(f32::NAN, shape, &Device::Cpu).unwrap(),
    );
    checkpoint::restore(&dir.join("last.safetensors"), &loaded, &adapters, None).unwrap();
    let mut state = loaded.state.clone();
    state.total_steps = 8;
    let mut cfg8 = cfg.clone();
    cfg8.run.max_steps = Some(8);
    state.config = cfg8.clone();
    let dir8 = tempdir("nan8");
    checkpoint::save(&dir8.join("last.safetensors"), &adapters, None, &state).unwrap();
    let err = run::train(
        &ranker,
        &adapters,
        &cfg8,
        backbone_id(),
        Inputs {
            train: &examples,
            validation: &[],
            data_sha256: "x".into(),
        },
        &dir8,
        Options::new(true),
    );
    // The moments are missing from this hand-made checkpoint: the resume is refused by name.
    let msg = format!("{:#}", err.err().expect("refused"));
    assert!(msg.contains("missing tensor adamw.m."), "{msg}");

    // With the NaN in place and a fresh run directory, step 1 fails and names the loss part.
    let fresh = tempdir("nan-fresh");
    let err = run::train(
        &ranker,
        &adapters,
        &cfg,
        backbone_id(),
        Inputs {
            train: &examples,
            validation: &[],
            data_sha256: "x".into(),
        },
        &fresh,
        Options::new(false),
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.starts_with("step 1: the SFT loss is not finite"),
        "{msg}"
    );
    assert!(!fresh.join("last.safetensors").exists());
    // The first run's checkpoint is untouched.
    assert_eq!(std::fs::read(dir.join("last.safetensors")).unwrap(), before);
    for d in [dir, dir8, fresh] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A checkpoint's run state at `step` of 10.
fn run_state(step: usize) -> checkpoint::State {
    checkpoint::State {
        format: checkpoint::FORMAT,
        step,
        total_steps: 10,
        backbone: backbone_id(),
        config: TrainConfig::default(),
        data_sha256: "x".into(),
        best: None,
        rng: "derived".into(),
        seconds: 1.0,
    }
}

#[test]
fn corrupt_and_foreign_checkpoints_are_refused() {
    let dir = tempdir("ckpt");
    let path = dir.join("c.safetensors");
    std::fs::write(&path, b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage").unwrap();
    let err = checkpoint::load(&path, &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not a valid alro checkpoint"), "{err}");

    let (_, adapters) = tiny(&lora_all(2), 1);
    let state = run_state(3);
    checkpoint::save(&path, &adapters, None, &state).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // Truncated anywhere: refused, never a panic.
    for cut in [0, 7, 8, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        assert!(
            checkpoint::load(&path, &Device::Cpu).is_err(),
            "cut at {cut}"
        );
    }
    std::fs::write(&path, &bytes).unwrap();
    let loaded = checkpoint::load(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.state, state);
    let other = BackboneId {
        sha256: "f".repeat(64),
        ..backbone_id()
    };
    let err = checkpoint::check_backbone(&path, &loaded.state.backbone, &other)
        .unwrap_err()
        .to_string();
    assert!(err.contains("was trained on backbone"), "{err}");
    // Adapters of another shape (rank 4 vs 2) do not load.
    let (_, wider) = tiny(&lora_all(4), 1);
    let err = checkpoint::restore(&path, &loaded, &wider, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has shape"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn short_lists_can_show_a_subset_of_the_identifiers() {
    let (ranker, adapters) = tiny(&lora_all(2), 4);
    randomize_b(&adapters);
    let ex = &tiny_ranking_examples(1, 4, 5)[0];
    let identity = [0, 1, 2, 3];
    let plain = view::build(&ranker, ex, &identity, None, &ex.target).unwrap();
    let ids = &ranker.identifiers.token_ids;
    assert_eq!(plain.identifier_ids, ids[..4].to_vec());
    // Labels B, E, F, J: the prompt shows them in order and the targets are among them.
    let labels = [1, 4, 5, 9];
    let v = view::build(&ranker, ex, &identity, Some(&labels), &ex.target).unwrap();
    let chosen: Vec<u32> = labels.iter().map(|&i| ids[i]).collect();
    assert_eq!(v.identifier_ids, chosen);
    assert!(v.targets.iter().all(|t| chosen.contains(t)));
    let text = ranker
        .backbone
        .tokenizer
        .decode(&v.tokens[..v.prompt_len])
        .unwrap();
    let shown: Vec<&str> = ["[A]", "[B]", "[E]", "[F]", "[J]"]
        .into_iter()
        .filter(|l| text.contains(l))
        .collect();
    assert_eq!(shown, ["[B]", "[E]", "[F]", "[J]"], "{text}");
    // The same example with other labels gives another loss; the subset draw is seeded, sorted,
    // distinct and within the pool.
    let cfg = TrainConfig::default().with_preset(Preset::SftSll);
    let (a, _) = example_loss(&ranker, ex, &cfg.objective, None, None, |_| {}).unwrap();
    let (b, _) = example_loss(&ranker, ex, &cfg.objective, None, Some(&labels), |_| {}).unwrap();
    let (a, b) = (a.to_scalar::<f32>().unwrap(), b.to_scalar::<f32>().unwrap());
    assert!(a.is_finite() && b.is_finite() && a != b, "{a} {b}");
    let s = view::identifier_subset(6, 20, 11);
    assert_eq!(s, view::identifier_subset(6, 20, 11));
    assert!(
        s.windows(2).all(|w| w[0] < w[1]) && s.len() == 6 && s[5] < 20,
        "{s:?}"
    );
    let seen: std::collections::BTreeSet<usize> = (0..200)
        .flat_map(|k| view::identifier_subset(6, 20, k))
        .collect();
    assert_eq!(seen.len(), 20, "every label of the pool is drawn");
}

#[test]
fn a_release_adapter_is_the_checkpoint_in_f16_without_optimizer_state() {
    let dir = tempdir("f16");
    let (_, adapters) = tiny(&lora_all(2), 1);
    randomize_b(&adapters);
    let state = run_state(5);
    let full = dir.join("last.safetensors");
    let optim = AdamW::new(&adapters.vars(), &TrainConfig::default().optim).unwrap();
    checkpoint::save(&full, &adapters, Some(&optim), &state).unwrap();
    let release = dir.join("adapter.safetensors");
    let written = checkpoint::save_adapters_f16(&full, &release).unwrap();
    assert_eq!(written, adapters.params.len());
    let (a, b) = (
        checkpoint::load(&full, &Device::Cpu).unwrap(),
        checkpoint::load(&release, &Device::Cpu).unwrap(),
    );
    assert!(a.tensors.keys().any(|n| n.starts_with("adamw.")));
    assert!(!b.tensors.keys().any(|n| n.starts_with("adamw.")));
    // Every adapter tensor is back within f16 rounding (relative 2^-11), state unchanged.
    for (name, t) in &b.tensors {
        let (x, y) = (
            a.tensors[name]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert_eq!(x.len(), y.len(), "{name}");
        for (u, v) in x.iter().zip(&y) {
            assert!(
                (u - v).abs() <= u.abs() / 2048.0 + 1e-7,
                "{name}: {u} vs {v}"
            );
        }
    }
    assert_eq!(b.state, a.state);
    // Two bytes a parameter fewer than the adapters alone in f32 (the headers differ only in
    // offsets), and it restores into the same shapes.
    let adapters_f32 = dir.join("adapters-f32.safetensors");
    checkpoint::save(&adapters_f32, &adapters, None, &a.state).unwrap();
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() as i64;
    let params: usize = adapters
        .params
        .iter()
        .map(|p| p.var.as_tensor().elem_count())
        .sum();
    let saved = size(&adapters_f32) - size(&release);
    assert!(
        (saved - 2 * params as i64).abs() < 64,
        "{saved} bytes saved for {params} params"
    );
    let (_, fresh) = tiny(&lora_all(2), 9);
    checkpoint::restore(&release, &b, &fresh, None).unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_run_can_start_from_an_earlier_runs_adapters() {
    let examples = tiny_ranking_examples(4, 5, 13);
    let inputs = || Inputs {
        train: &examples,
        validation: &[],
        data_sha256: "x".into(),
    };
    // Stage 1 learns the lists.
    let stage1 = overfit_config(Preset::Sft, 60);
    let (ranker1, adapters1) = tiny(&stage1.lora, 7);
    let dir1 = tempdir("stage1");
    run::train(
        &ranker1,
        &adapters1,
        &stage1,
        backbone_id(),
        inputs(),
        &dir1,
        Options::new(false),
    )
    .unwrap();
    let learned = greedy_ndcg10(&ranker1, &examples);

    // Stage 2 attaches fresh adapters (another seed) and starts from stage 1's: with a learning
    // rate too small to move anything, it ranks exactly as stage 1 ended, unlike fresh adapters.
    let mut stage2 = overfit_config(Preset::Alro, 2);
    stage2.optim.lr = 1e-9;
    stage2.run.init_adapter = Some(dir1.join("last.safetensors"));
    let (ranker2, adapters2) = tiny(&stage2.lora, 8);
    let fresh = greedy_ndcg10(&ranker2, &examples);
    assert!(fresh < learned, "fresh {fresh} vs learned {learned}");
    let dir2 = tempdir("stage2");
    run::train(
        &ranker2,
        &adapters2,
        &stage2,
        backbone_id(),
        inputs(),
        &dir2,
        Options::new(false),
    )
    .unwrap();
    assert_eq!(greedy_ndcg10(&ranker2, &examples), learned);
    let written = std::fs::read_to_string(dir2.join("config.toml")).unwrap();
    assert!(written.contains("init_adapter"), "{written}");

    // Adapters of another shape are refused by name, before any step.
    let mut wider = stage2.clone();
    wider.lora = lora_all(4);
    let (ranker3, adapters3) = tiny(&wider.lora, 8);
    let dir3 = tempdir("stage2-wider");
    let err = run::train(
        &ranker3,
        &adapters3,
        &wider,
        backbone_id(),
        inputs(),
        &dir3,
        Options::new(false),
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("rank 8") && msg.contains("rank 4"), "{msg}");
    assert!(!dir3.join("last.safetensors").exists());
    for d in [dir1, dir2, dir3] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn stop_at_step_keeps_the_schedule_and_resumes_to_the_uninterrupted_run() {
    let examples = tiny_ranking_examples(4, 5, 17);
    let mut cfg = overfit_config(Preset::Sft, 6);
    cfg.optim.min_lr_ratio = 0.1; // a cosine that a shortened schedule would end early
    let train = |dir: &std::path::Path, opts: Options| {
        let (ranker, adapters) = tiny(&cfg.lora, 3);
        let inputs = Inputs {
            train: &examples,
            validation: &[],
            data_sha256: "x".into(),
        };
        run::train(&ranker, &adapters, &cfg, backbone_id(), inputs, dir, opts)
    };
    // The optimizer's record of each step, without its wall-clock fields.
    let steps = |dir: &std::path::Path| -> Vec<(u64, f64, f64, f64)> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["kind"] == "train")
            .map(|v| {
                let f = |k: &str| v[k].as_f64().unwrap();
                (
                    v["step"].as_u64().unwrap(),
                    f("lr"),
                    f("loss"),
                    f("grad_norm"),
                )
            })
            .collect()
    };

    let full = tempdir("stop-at-full");
    assert_eq!(train(&full, Options::new(false)).unwrap().steps, 6);

    let cut = tempdir("stop-at-cut");
    let stopped = train(
        &cut,
        Options {
            stop_at_step: Some(3),
            ..Options::new(false)
        },
    )
    .unwrap();
    assert_eq!((stopped.steps, stopped.total_steps), (3, 6));
    assert!(stopped.stopped_early);
    assert_eq!(steps(&cut), steps(&full)[..3].to_vec());
    assert!(
        steps(&cut)[2].1 > cfg.optim.lr * 0.5,
        "the schedule was shortened"
    );

    // Resuming with a stop the run has already passed is refused by name, before any step.
    let err = train(
        &cut,
        Options {
            stop_at_step: Some(2),
            ..Options::new(true)
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--stop-at-step"), "{err}");

    assert_eq!(train(&cut, Options::new(true)).unwrap().steps, 6);
    assert_eq!(steps(&cut), steps(&full));
    let _ = std::fs::remove_dir_all(full);
    let _ = std::fs::remove_dir_all(cut);
}

/// The two PSL views share the instructions and the history: one pass over that prefix feeds
/// both. Outputs and every LoRA gradient equal one pass per view's, up to rounding.
#[test]
fn views_sharing_a_prefix_give_the_losses_and_gradients_of_separate_passes() {
    let (ranker, adapters) = tiny(&lora_all(4), 5);
    randomize_b(&adapters);
    let ex = &tiny_ranking_examples(1, 6, 4)[0];
    let identity: Vec<usize> = (0..6).collect();
    let perm = [3, 1, 5, 0, 2, 4];
    let views: Vec<view::View> = [&identity[..], &perm[..]]
        .iter()
        .map(|p| view::build(&ranker, ex, p, None, &ex.target).unwrap())
        .collect();
    let shared = step::shared_prefix_len(&views);
    assert!(
        shared >= 16 && shared < views[0].prompt_len,
        "shared prefix {shared} of a {}-token prompt",
        views[0].prompt_len
    );
    // A scalar that reads every output: SFT and all position log-probabilities, weighted.
    let weights = Tensor::randn(0f32, 1.0, (6, 6), &Device::Cpu).unwrap();
    let run = |share: bool| {
        let outputs = step::forward_views(&ranker, &views, share, |_| {}).unwrap();
        let mut loss = Tensor::zeros((), candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut flat = Vec::new();
        for o in &outputs {
            let read = (&o.log_y * &weights).unwrap().sum_all().unwrap();
            loss = (loss + (&o.sft + read).unwrap()).unwrap();
            flat.extend(o.log_y.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            flat.push(o.sft.to_scalar::<f32>().unwrap());
        }
        let grads = loss.backward().unwrap();
        let grads: Vec<Vec<f32>> = adapters
            .params
            .iter()
            .map(|p| {
                let g = grads.get(p.var.as_tensor()).expect("a gradient");
                g.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            })
            .collect();
        (flat, grads)
    };
    let (out_shared, grads_shared) = run(true);
    let (out_separate, grads_separate) = run(false);
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    assert!(max_diff(&out_shared, &out_separate) < 1e-5);
    for ((p, a), b) in adapters
        .params
        .iter()
        .zip(&grads_shared)
        .zip(&grads_separate)
    {
        let scale = b.iter().map(|x| x.abs()).fold(0f32, f32::max).max(1e-3);
        let diff = max_diff(a, b);
        assert!(
            diff <= 1e-4 * scale,
            "{}: gradients differ by {diff} (scale {scale})",
            p.name
        );
    }
}
