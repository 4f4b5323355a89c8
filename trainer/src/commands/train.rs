//! `alro train`: LoRA fine-tuning with the ALRO objective on examples written by
//! `alro data prepare`.

use crate::model_path;
use alro_core::data::{parse_jsonl, RankingExample};
use alro_core::model::MatrixPrecision;
use alro_core::prompt::PromptConfig;
use alro_core::rank::Ranker;
use alro_trainer::train::checkpoint::BackboneId;
use alro_trainer::train::run::{self, Inputs, Options, RunDir};
use alro_trainer::train::{device, lora, Preset, TrainConfig};
use anyhow::{bail, Context, Result};
use clap::Args;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TrainArgs {
    /// A .gguf file or a Hugging Face directory [default: $ALRO_MODEL or the setup's backbone]
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Directory written by `alro data prepare` (reads train.jsonl and validation.jsonl)
    #[arg(long)]
    pub data: PathBuf,
    /// Training configuration (TOML); every key optional, see docs/TRAINING.md
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Loss weights of the ablation: sft, sft+sll, sft+psl, alro [default: alro]
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Run directory: config.toml, metrics.jsonl, last.safetensors, best.safetensors
    #[arg(long, default_value = "runs/alro")]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint (same model, data and configuration)
    #[arg(long)]
    pub resume: bool,
    /// Override run.max_steps
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Override run.max_train_examples
    #[arg(long)]
    pub train_examples: Option<usize>,
    /// Override run.recent_windows_per_user: train only on each user's K most recent windows
    #[arg(long, value_name = "K")]
    pub recent_windows: Option<usize>,
    /// Override run.validation_examples
    #[arg(long)]
    pub validation_examples: Option<usize>,
    /// Override run.epochs
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override run.seed
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override run.init_adapter: start from this checkpoint's adapters (a curriculum's next
    /// stage; same backbone and [lora] shape)
    #[arg(long, value_name = "CHECKPOINT")]
    pub init_adapter: Option<PathBuf>,
    /// Stop cleanly (with a checkpoint) after the first step past this many minutes; continue
    /// later with --resume
    #[arg(long, value_name = "MINUTES")]
    pub time_limit: Option<f64>,
    /// Stop cleanly (with a checkpoint) at step N without shortening the learning-rate schedule
    /// (unlike --max-steps); continue later with --resume
    #[arg(long, value_name = "N")]
    pub stop_at_step: Option<usize>,
    /// No progress bar
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    fn overrides_config(&self) -> bool {
        self.config.is_some()
            || self.preset.is_some()
            || self.max_steps.is_some()
            || self.train_examples.is_some()
            || self.recent_windows.is_some()
            || self.validation_examples.is_some()
            || self.epochs.is_some()
            || self.seed.is_some()
            || self.init_adapter.is_some()
    }

    /// Defaults ← config file ← preset flag ← override flags. `--resume` with none of them
    /// takes the run's own resolved config.toml.
    fn resolve_config(&self) -> Result<TrainConfig> {
        let run_config = RunDir(self.out.clone()).config();
        let mut cfg = match &self.config {
            Some(path) => TrainConfig::from_toml_file(path)?,
            None if self.resume && !self.overrides_config() && run_config.exists() => {
                return TrainConfig::from_toml_file(&run_config);
            }
            None => TrainConfig::default(),
        };
        if let Some(p) = self.preset {
            cfg = cfg.with_preset(p);
        }
        let r = &mut cfg.run;
        if self.max_steps.is_some() {
            r.max_steps = self.max_steps;
        }
        if self.train_examples.is_some() {
            r.max_train_examples = self.train_examples;
        }
        if self.recent_windows.is_some() {
            r.recent_windows_per_user = self.recent_windows;
        }
        if self.validation_examples.is_some() {
            r.validation_examples = self.validation_examples;
        }
        if let Some(e) = self.epochs {
            r.epochs = e;
        }
        if let Some(s) = self.seed {
            r.seed = s;
        }
        if self.init_adapter.is_some() {
            r.init_adapter = self.init_adapter.clone();
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

fn read_examples(path: &Path, hash: &mut Sha256) -> Result<Vec<RankingExample>> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "reading {} (write it with `alro data prepare --out {}`)",
            path.display(),
            path.parent().unwrap_or(Path::new(".")).display()
        )
    })?;
    hash.update(&bytes);
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("{}: not UTF-8 text", path.display()))?;
    Ok(parse_jsonl(&path.display().to_string(), text)?)
}

pub fn run(args: TrainArgs) -> Result<()> {
    let cfg = args.resolve_config()?;
    let mut hash = Sha256::new();
    let train = read_examples(&args.data.join("train.jsonl"), &mut hash)?;
    let validation = read_examples(&args.data.join("validation.jsonl"), &mut hash)?;
    if train.is_empty() {
        bail!("{}/train.jsonl has no examples", args.data.display());
    }
    let data_sha256 = format!("{:x}", hash.finalize());

    let model_path = model_path::backbone(args.model.clone());
    let device = device()?;
    let mut backbone = model_path::load(&model_path, MatrixPrecision::F32, &device)?;
    let adapters = lora::attach(&mut backbone.model, &cfg.lora, cfg.run.seed)?;
    let ranker = Ranker::new(backbone, PromptConfig::default())?;
    let id = BackboneId::of(&model_path, &ranker.backbone)?;
    if !args.quiet {
        eprintln!(
            "training {} ({} params) with {} LoRA parameters on {} examples ({} for validation), \
             preset {}, into {}",
            ranker.backbone.info.name,
            ranker.backbone.info.parameters,
            adapters.parameter_count(),
            run::training_selection(&cfg, &train).map_or(train.len(), |chosen| chosen.len()),
            cfg.run
                .validation_examples
                .map_or(validation.len(), |n| n.min(validation.len())),
            cfg.preset.map_or("custom", |p| p.name()),
            args.out.display()
        );
        if let (Some(init), false) = (&cfg.run.init_adapter, args.resume) {
            eprintln!("starting from the adapters of {}", init.display());
        }
    }
    // On a rayon worker, this thread's own serial work and the pool's parallel products share
    // the cores instead of this thread waking idle workers and competing with them.
    let summary = rayon::scope(|_| {
        run::train(
            &ranker,
            &adapters,
            &cfg,
            id,
            Inputs {
                train: &train,
                validation: &validation,
                data_sha256,
            },
            &args.out,
            Options {
                resume: args.resume,
                progress: !args.quiet,
                stop_after_steps: None,
                stop_after_seconds: args.time_limit.map(|m| m * 60.0),
                stop_at_step: args.stop_at_step,
            },
        )
    })?;
    let dir = RunDir(args.out.clone());
    if summary.stopped_early && args.stop_at_step.is_some_and(|n| summary.steps >= n) {
        println!(
            "stopped at step {} of {} (--stop-at-step); continue with --resume and a later \
             --stop-at-step or none",
            summary.steps, summary.total_steps
        );
    } else if summary.stopped_early {
        println!(
            "stopped at the time limit after step {} of {}; continue with the same command plus --resume",
            summary.steps, summary.total_steps
        );
    } else {
        println!(
            "done: {} steps in {:.0} s ({:.2} examples/s, {:.0} tokens/s)",
            summary.steps, summary.seconds, summary.examples_per_s, summary.tokens_per_s
        );
    }
    if let Some(b) = summary.best {
        println!(
            "best validation NDCG@10 {:.4} at step {} → {}",
            b.ndcg10,
            b.step,
            dir.best().display()
        );
    }
    println!(
        "metrics: {} (plot with `alro plot {}`)",
        dir.metrics().display(),
        args.out.display()
    );
    Ok(())
}
