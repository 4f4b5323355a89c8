//! Training configuration: one TOML file, every field optional, defaults from METHOD.md (values
//! marked [ours] there are choices, so they live here rather than in code).
//!
//! ```toml
//! preset = "alro"            # sft | sft+sll | sft+psl | alro: sets the two loss weights
//! [lora]
//! rank = 8
//! alpha = 16.0
//! targets = ["q_proj", "v_proj"]
//! [objective]
//! gamma = 10.0
//! [optim]
//! lr = 2e-4
//! [run]
//! epochs = 1
//! ```

use alro_core::model::Projection;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The ablation of METHOD.md §6: which auxiliary losses are on (SFT is always on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Preset {
    #[serde(rename = "sft")]
    #[value(name = "sft")]
    Sft,
    #[serde(rename = "sft+sll")]
    #[value(name = "sft+sll")]
    SftSll,
    #[serde(rename = "sft+psl")]
    #[value(name = "sft+psl")]
    SftPsl,
    #[serde(rename = "alro")]
    #[value(name = "alro")]
    Alro,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Preset::Sft, Preset::SftSll, Preset::SftPsl, Preset::Alro];

    /// (α, β): the weights of SLL and PSL.
    pub fn weights(self) -> (f64, f64) {
        match self {
            Preset::Sft => (0.0, 0.0),
            Preset::SftSll => (1.0, 0.0),
            Preset::SftPsl => (0.0, 1.0),
            Preset::Alro => (1.0, 1.0),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Preset::Sft => "sft",
            Preset::SftSll => "sft+sll",
            Preset::SftPsl => "sft+psl",
            Preset::Alro => "alro",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Sets `objective.sll_weight` and `objective.psl_weight`; do not combine with them.
    pub preset: Option<Preset>,
    pub lora: LoraConfig,
    pub objective: ObjectiveConfig,
    pub optim: OptimConfig,
    pub run: RunConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            preset: Some(Preset::Alro),
            lora: LoraConfig::default(),
            objective: ObjectiveConfig::default(),
            optim: OptimConfig::default(),
            run: RunConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// `r`.
    pub rank: usize,
    /// `α`; the update is scaled by `α / r`.
    pub alpha: f64,
    /// Dropout on the adapter input (PEFT `lora_dropout`).
    pub dropout: f32,
    /// Projections that get an adapter: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
    /// down_proj (PEFT names). PEFT's Llama default is q_proj + v_proj.
    pub targets: Vec<Projection>,
    /// Adapt only the last `n` blocks (None = all). Gradients then stop below the first adapted
    /// block, which makes CPU training several times cheaper.
    pub last_layers: Option<usize>,
}

impl LoraConfig {
    /// The targets as PEFT writes them, e.g. "q_proj,v_proj".
    pub fn target_names(&self) -> String {
        let names: Vec<_> = self.targets.iter().map(|p| p.name()).collect();
        names.join(",")
    }
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            dropout: 0.0,
            targets: vec![Projection::QProj, Projection::VProj],
            last_layers: None,
        }
    }
}

/// The pair term of the Soft Lambda Loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairLoss {
    /// `log2(1 + exp(−σ·(s_j − s_i)))` (LambdaLoss).
    Logistic,
    /// `max(0, 1 − σ·(s_j − s_i))`.
    Hinge,
}

/// How PSL compares the two views' position distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Divergence {
    /// `KL(Y_orig || Y_perm)`.
    Kl,
    /// `(KL(Y_orig || Y_perm) + KL(Y_perm || Y_orig)) / 2`.
    SymmetricKl,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// Weight of the SFT loss (1 in METHOD.md; lower it to let a listwise term lead).
    pub sft_weight: f64,
    /// Weight of the first-position loss ([`super::losses::first_position_loss`], [ours]; 0 in
    /// METHOD.md): a listwise term on the one row single-pass inference ranks by.
    pub first_position_weight: f64,
    /// `α`, weight of the Soft Lambda Loss.
    pub sll_weight: f64,
    /// `β`, weight of the Permutation-Sensitive Loss.
    pub psl_weight: f64,
    /// `γ`, temperature of the soft-argmax over positions.
    pub gamma: f64,
    /// `σ`, slope of the pair term.
    pub sigma: f64,
    /// Divide the SLL pair weights by IDCG (LambdaLoss NDCG-Loss2).
    pub idcg_normalize: bool,
    pub pair_loss: PairLoss,
    pub psl_divergence: Divergence,
    /// PSL's second view: a fresh seeded permutation every time an example is seen (false), or
    /// one fixed permutation per example for the whole run (true).
    pub psl_fixed_permutation: bool,
    /// Weight of the continuation loss ([`super::losses::continuation_loss`], [ours]): the
    /// first-position loss of every later answer row, over the candidates not yet answered.
    pub continuation_weight: f64,
    /// The answer a view reads after its prompt (teacher forcing).
    pub answer_order: AnswerOrder,
}

/// The identifiers a view reads after its prompt, row by row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerOrder {
    /// The ground-truth order: what SFT, SLL and PSL score.
    #[default]
    Target,
    /// The candidates by their notes' tiers, highest first, ties in presentation order
    /// ([`super::view::note_order`]). A ranker that follows its notes decodes close to this, so
    /// with the continuation loss its later rows learn to go on after the kind of picks greedy
    /// decoding makes, mistakes included, instead of after the ground truth only. SFT, SLL and
    /// PSL compare the answer with the ground truth, so they must be off.
    Notes,
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            sft_weight: 1.0,
            first_position_weight: 0.0,
            sll_weight: 1.0,
            psl_weight: 1.0,
            gamma: 10.0,
            sigma: 1.0,
            idcg_normalize: true,
            pair_loss: PairLoss::Logistic,
            psl_divergence: Divergence::Kl,
            psl_fixed_permutation: false,
            continuation_weight: 0.0,
            answer_order: AnswerOrder::Target,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Peak learning rate (AdamW).
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Fraction of the steps spent warming up linearly from 0 to `lr`; cosine decay after.
    pub warmup_ratio: f64,
    /// The learning rate at the end of the cosine, as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Clip the global gradient norm to this (0 = off).
    pub grad_clip: f64,
    /// Examples whose gradients are summed (averaged) per optimizer step.
    pub accumulation: usize,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 2e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            warmup_ratio: 0.05,
            min_lr_ratio: 0.1,
            grad_clip: 1.0,
            accumulation: 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Seeds the adapter initialisation, example order, PSL permutations and dropout.
    pub seed: u64,
    pub epochs: usize,
    /// Stop after this many optimizer steps (None = all epochs).
    pub max_steps: Option<usize>,
    /// Train only on each user's `k` most recent training windows (None = all): the lists
    /// closest in time to the validation and test windows, which they resemble most
    /// (research/benchmarks-history.md, "Recent windows"). Applied before `max_train_examples`.
    pub recent_windows_per_user: Option<usize>,
    /// Train on a seeded random subset of `n` training examples (None = all).
    pub max_train_examples: Option<usize>,
    /// Validate every this many steps, and at the end (0 = only at the end).
    pub validate_every: usize,
    /// Validate on the first `n` validation examples (None = all).
    pub validation_examples: Option<usize>,
    /// Write `last.safetensors` every this many steps, and at the end.
    pub checkpoint_every: usize,
    /// Start from the adapters of this checkpoint (an earlier run's `best.safetensors` or
    /// `last.safetensors`, same backbone and LoRA shape) instead of fresh ones: a curriculum's
    /// second stage. The optimizer and schedule start fresh.
    pub init_adapter: Option<PathBuf>,
    /// Label each training list with `m` identifiers drawn from the first `n` (kept in order,
    /// a new draw per example) instead of the first `m`: lists shorter than those the ranker
    /// serves then still teach every letter an `n`-candidate list shows (None = the first `m`).
    pub identifier_pool: Option<usize>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            seed: 2024,
            epochs: 1,
            max_steps: None,
            recent_windows_per_user: None,
            max_train_examples: None,
            validate_every: 50,
            validation_examples: Some(100),
            checkpoint_every: 10,
            identifier_pool: None,
            init_adapter: None,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML file; unknown keys are errors (a typo must not silently train the default).
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        Self::from_toml_str(&text).with_context(|| format!("config {}", path.display()))
    }

    pub fn from_toml_str(text: &str) -> Result<Self> {
        let raw: toml::Table = toml::from_str(text)?;
        let sets_weights = raw
            .get("objective")
            .and_then(|o| o.as_table())
            .is_some_and(|o| o.contains_key("sll_weight") || o.contains_key("psl_weight"));
        let mut cfg: TrainConfig = toml::from_str(text)?;
        match (raw.contains_key("preset"), sets_weights) {
            (true, true) => {
                let preset = cfg.preset.expect("preset key parsed");
                let set = (cfg.objective.sll_weight, cfg.objective.psl_weight);
                if set != preset.weights() {
                    bail!(
                        "`preset = \"{}\"` and `objective.sll_weight`/`psl_weight` disagree on the \
                         loss weights; keep one",
                        preset.name()
                    );
                }
            }
            (false, true) => cfg.preset = None,
            (false, false) => cfg.preset = Some(Preset::Alro),
            (true, false) => {}
        }
        cfg.apply_preset();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Uses `preset`'s loss weights.
    pub fn with_preset(mut self, preset: Preset) -> Self {
        self.preset = Some(preset);
        self.apply_preset();
        self
    }

    fn apply_preset(&mut self) {
        if let Some(p) = self.preset {
            (self.objective.sll_weight, self.objective.psl_weight) = p.weights();
        }
    }

    pub fn validate(&self) -> Result<()> {
        let l = &self.lora;
        if l.rank == 0 {
            bail!("lora.rank must be at least 1");
        }
        if !(0.0..1.0).contains(&l.dropout) {
            bail!("lora.dropout must be in [0, 1), got {}", l.dropout);
        }
        if l.targets.is_empty() {
            bail!("lora.targets is empty: nothing would be trained");
        }
        for (i, t) in l.targets.iter().enumerate() {
            if l.targets[..i].contains(t) {
                bail!("lora.targets names {t} twice");
            }
        }
        if l.last_layers == Some(0) {
            bail!("lora.last_layers must be at least 1 (or absent for all layers)");
        }
        let o = &self.objective;
        for (name, v) in [
            ("objective.sft_weight", o.sft_weight),
            ("objective.first_position_weight", o.first_position_weight),
            ("objective.sll_weight", o.sll_weight),
            ("objective.psl_weight", o.psl_weight),
            ("objective.continuation_weight", o.continuation_weight),
            ("objective.gamma", o.gamma),
            ("objective.sigma", o.sigma),
        ] {
            if !v.is_finite() || v < 0.0 {
                bail!("{name} must be a finite number ≥ 0, got {v}");
            }
        }
        if o.sft_weight
            + o.first_position_weight
            + o.sll_weight
            + o.psl_weight
            + o.continuation_weight
            == 0.0
        {
            bail!("every objective weight is 0: nothing would be trained");
        }
        if o.answer_order == AnswerOrder::Notes && o.sft_weight + o.sll_weight + o.psl_weight > 0.0
        {
            bail!(
                "objective.answer_order = \"notes\" reads an answer in note order, but SFT, SLL and \
                 PSL score the answer against the ground truth: set objective.sft_weight, \
                 sll_weight and psl_weight to 0 (train with first_position_weight and \
                 continuation_weight)"
            );
        }
        let p = &self.optim;
        if !(p.lr > 0.0 && p.lr.is_finite()) {
            bail!("optim.lr must be > 0, got {}", p.lr);
        }
        if p.accumulation == 0 {
            bail!("optim.accumulation must be at least 1");
        }
        if !(0.0..1.0).contains(&p.warmup_ratio) {
            bail!("optim.warmup_ratio must be in [0, 1)");
        }
        if self.run.epochs == 0 {
            bail!("run.epochs must be at least 1");
        }
        if self.run.checkpoint_every == 0 {
            bail!("run.checkpoint_every must be at least 1");
        }
        if let Some(pool) = self.run.identifier_pool {
            if !(2..=26).contains(&pool) {
                bail!("run.identifier_pool = {pool}: draw labels from 2 to 26 identifiers (A–Z), or leave it out for the first m");
            }
        }
        if self.run.recent_windows_per_user == Some(0) {
            bail!("run.recent_windows_per_user must be at least 1 (or absent for all windows)");
        }
        Ok(())
    }

    /// The resolved configuration, as written next to a run.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Does this objective need the second (permuted) view?
    pub fn uses_psl(&self) -> bool {
        self.objective.psl_weight > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_presets_and_errors() {
        let c = TrainConfig::from_toml_str("").unwrap();
        assert_eq!(c.preset, Some(Preset::Alro));
        assert_eq!((c.objective.sll_weight, c.objective.psl_weight), (1.0, 1.0));
        assert_eq!(c.objective.gamma, 10.0);
        let c = TrainConfig::from_toml_str("preset = \"sft+psl\"\n[lora]\nrank = 4\n").unwrap();
        assert_eq!((c.objective.sll_weight, c.objective.psl_weight), (0.0, 1.0));
        assert_eq!(c.lora.rank, 4);
        let c = TrainConfig::from_toml_str("[objective]\nsll_weight = 0.5\n").unwrap();
        assert_eq!(c.preset, None);
        assert_eq!((c.objective.sll_weight, c.objective.psl_weight), (0.5, 1.0));
        // Round trip through the resolved form, with and without a preset.
        assert_eq!(TrainConfig::from_toml_str(&c.to_toml()).unwrap(), c);
        let d = TrainConfig::default().with_preset(Preset::SftSll);
        assert_eq!(TrainConfig::from_toml_str(&d.to_toml()).unwrap(), d);

        let err = |t: &str| format!("{:#}", TrainConfig::from_toml_str(t).unwrap_err());
        assert!(err("[lora]\nrnak = 4\n").contains("rnak"));
        assert!(err("[lora]\ntargets = [\"qproj\"]\n").contains("qproj"));
        assert!(err("preset = \"sft\"\n[objective]\npsl_weight = 1.0\n").contains("keep one"));
        assert!(err("preset = \"fancy\"\n").contains("fancy"));
        assert!(err("[run]\nrecent_windows_per_user = 0\n").contains("recent_windows_per_user"));
        assert!(err("[run]\nidentifier_pool = 1\n").contains("identifier_pool"));
        assert!(err("preset = \"sft\"\n[objective]\nsft_weight = 0.0\n").contains("nothing"));
        assert!(err("[objective]\nfirst_position_weight = -1.0\n").contains("first_position"));
        assert!(err("[run]\nidentifier_pool = 27\n").contains("identifier_pool"));
        // An answer in note order is not the ground truth: the terms that compare with it are off.
        let rollout = "[objective]\nsft_weight = 0.0\nsll_weight = 0.0\npsl_weight = 0.0\n\
                       first_position_weight = 1.0\ncontinuation_weight = 1.0\n";
        let c =
            TrainConfig::from_toml_str(&format!("{rollout}answer_order = \"notes\"\n")).unwrap();
        assert_eq!(c.objective.answer_order, AnswerOrder::Notes);
        assert_eq!(TrainConfig::from_toml_str(&c.to_toml()).unwrap(), c);
        let with_sll = "[objective]\nsll_weight = 1.0\npsl_weight = 0.0\nsft_weight = 0.0\n\
                        answer_order = \"notes\"\n";
        assert!(err(with_sll).contains("answer_order"));
        assert!(err("[objective]\ncontinuation_weight = -1.0\n").contains("continuation"));
    }
}
