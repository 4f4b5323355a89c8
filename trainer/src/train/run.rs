//! The training loop ([`train`], over a [`Trainer`]) and what it shares: the run folder's files,
//! the training selection, the seeded random streams, metrics lines, stop options, validation.

use super::checkpoint::{self, BackboneId, Best};
use super::config::TrainConfig;
use super::lora::Adapters;
use super::trainer::Trainer;
use alro_core::data::RankingExample;
use alro_core::metrics::ndcg_of_scores;
use alro_core::rank::Ranker;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Files of a run directory.
pub struct RunDir(pub PathBuf);

impl RunDir {
    pub fn last(&self) -> PathBuf {
        self.0.join("last.safetensors")
    }
    pub fn best(&self) -> PathBuf {
        self.0.join("best.safetensors")
    }
    pub fn metrics(&self) -> PathBuf {
        self.0.join("metrics.jsonl")
    }
    pub fn config(&self) -> PathBuf {
        self.0.join("config.toml")
    }
    pub fn summary(&self) -> PathBuf {
        self.0.join("summary.json")
    }
}

/// Stream tags, so that no two purposes share random numbers.
pub(super) const ORDER: u64 = 1;
pub(super) const PSL: u64 = 2;
pub(super) const DROPOUT: u64 = 3;
pub(super) const LABELS: u64 = 4;
const SUBSET: u64 = 4;

/// Which training examples a run uses, as sorted indices (None = all of them): each user's
/// `recent_windows_per_user` most recent windows, then a seeded random `max_train_examples` of
/// those (a limited budget; prepared files are ordered by user, so a prefix would not do).
pub fn training_selection(cfg: &TrainConfig, all: &[RankingExample]) -> Option<Vec<usize>> {
    let mut chosen: Vec<usize> = match cfg.run.recent_windows_per_user {
        Some(k) => most_recent_windows(all, k),
        None => (0..all.len()).collect(),
    };
    if let Some(n) = cfg.run.max_train_examples {
        if n < chosen.len() {
            let pick = permutation(chosen.len(), derive_seed(cfg.run.seed, SUBSET, 0, 0));
            let mut kept: Vec<usize> = pick[..n].iter().map(|&j| chosen[j]).collect();
            kept.sort_unstable();
            chosen = kept;
        }
    }
    (chosen.len() < all.len()).then_some(chosen)
}

/// Indices of the examples among each user's `k` latest windows (largest `window_start`).
fn most_recent_windows(all: &[RankingExample], k: usize) -> Vec<usize> {
    let mut starts: HashMap<&str, Vec<usize>> = HashMap::new();
    for ex in all {
        starts.entry(&ex.user).or_default().push(ex.window_start);
    }
    // The k-th largest start of each user: their windows at or after it are kept.
    let cutoff: HashMap<&str, usize> = starts
        .into_iter()
        .map(|(user, mut s)| {
            s.sort_unstable_by(|a, b| b.cmp(a));
            (user, s[k.min(s.len()) - 1])
        })
        .collect();
    (0..all.len())
        .filter(|&i| all[i].window_start >= cutoff[all[i].user.as_str()])
        .collect()
}

/// A seed for (`seed`, `tag`, `a`, `b`) (SplitMix64 finaliser over the mixed inputs).
pub fn derive_seed(seed: u64, tag: u64, a: u64, b: u64) -> u64 {
    let mut z = seed
        ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ a.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ b.wrapping_mul(0x1656_67B1_9E37_79F9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    p
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MetricsLine {
    Train {
        step: usize,
        epoch: f64,
        lr: f64,
        loss: f64,
        sft: f64,
        sll: f64,
        /// First-position loss (logged whatever its weight).
        first: f64,
        psl: f64,
        /// Continuation loss (0 when its weight is 0).
        continuation: f64,
        grad_norm: f64,
        examples_per_s: f64,
        tokens_per_s: f64,
        target_tokens_per_s: f64,
        seconds: f64,
    },
    Validation {
        step: usize,
        #[serde(rename = "ndcg@10")]
        ndcg10: f64,
        lists: usize,
    },
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub steps: usize,
    pub total_steps: usize,
    /// True when a stop option ended the run before `total_steps`.
    pub stopped_early: bool,
    pub best: Option<Best>,
    pub last_validation_ndcg10: Option<f64>,
    pub seconds: f64,
    pub examples_per_s: f64,
    pub tokens_per_s: f64,
    pub trainable_parameters: usize,
}

pub struct Inputs<'a> {
    pub train: &'a [RankingExample],
    pub validation: &'a [RankingExample],
    pub data_sha256: String,
}

pub struct Options {
    pub resume: bool,
    pub progress: bool,
    /// Stop (with a checkpoint) after this many steps of this invocation; `--resume` continues.
    pub stop_after_steps: Option<usize>,
    /// Stop (with a checkpoint) after the first step that ends past this many seconds.
    pub stop_after_seconds: Option<f64>,
    /// Stop (with a checkpoint) once the run reaches this step. Unlike `run.max_steps` it
    /// leaves the schedule alone, so a run stopped here and one stopped by the clock at the same
    /// step are the same run (a GPU run cut by `--time-limit`, replayed elsewhere).
    pub stop_at_step: Option<usize>,
}

impl Options {
    /// Whether a stop option ends this invocation after the step `trainer` just took.
    fn stops(&self, trainer: &Trainer) -> bool {
        self.stop_after_steps
            .is_some_and(|n| trainer.steps_this_invocation() >= n)
            || self
                .stop_after_seconds
                .is_some_and(|s| trainer.seconds_this_invocation() >= s)
            || self.stop_at_step.is_some_and(|n| trainer.steps_done() >= n)
    }

    pub fn new(resume: bool) -> Self {
        Options {
            resume,
            progress: false,
            stop_after_steps: None,
            stop_after_seconds: None,
            stop_at_step: None,
        }
    }
}

/// Mean NDCG@10 of single-pass rankings (first-position distribution) over `examples`.
pub fn validate(ranker: &Ranker, examples: &[RankingExample]) -> Result<(f64, usize)> {
    let (mut sum, mut n) = (0.0, 0usize);
    for ex in examples {
        let prepared = ranker.prepare(&ex.request())?;
        let lp = ranker.first_position_logprobs(&prepared)?;
        let scores: Vec<f64> = lp.iter().map(|&v| v as f64).collect();
        if let Some(v) = ndcg_of_scores(&ex.relevance, &scores, 10) {
            sum += v;
            n += 1;
        }
    }
    Ok((if n > 0 { sum / n as f64 } else { 0.0 }, n))
}

/// Keeps only the metrics lines of steps ≤ `step` (the part a resumed run has not redone).
pub(super) fn truncate_metrics(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                .is_some_and(|s| s as usize <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    checkpoint::write_atomic(path, kept.as_bytes())
}

pub(super) fn append_metrics(path: &Path, line: &MetricsLine) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    // One write call for the whole line: `writeln!` writes the text and the newline separately,
    // and a kill between the two left a line without its end. A single small append to a
    // regular file lands whole or not at all; a resume drops any line it cannot parse anyway.
    let mut text = serde_json::to_string(line)?;
    text.push('\n');
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Trains `adapters` (attached to `ranker`'s model) on `inputs`, writing the run to `dir`:
/// step, validate when due, checkpoint when due, until the schedule ends or an option stops it
/// (with a checkpoint, so `--resume` continues).
pub fn train(
    ranker: &Ranker,
    adapters: &Adapters,
    cfg: &TrainConfig,
    backbone: BackboneId,
    inputs: Inputs,
    dir: &Path,
    opts: Options,
) -> Result<Summary> {
    let mut trainer = Trainer::start(ranker, adapters, cfg, backbone, inputs, dir, &opts)?;
    let bar = progress_bar(opts.progress, trainer.total_steps(), trainer.steps_done());
    let mut stopped_early = false;
    while !trainer.finished() {
        let report = trainer.step()?;
        bar.set_message(report.progress_message(trainer.best()));
        bar.set_position(report.step as u64);
        if trainer.validation_due() {
            trainer.validate()?;
        }
        let stop = !trainer.finished() && opts.stops(&trainer);
        if trainer.finished() || stop || trainer.checkpoint_due() {
            trainer.checkpoint()?;
        }
        if stop {
            stopped_early = true;
            break;
        }
    }
    bar.finish_and_clear();
    trainer.finish(stopped_early)
}

fn progress_bar(show: bool, total_steps: usize, done: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total_steps as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} steps · {msg} · ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_position(done as u64);
    pb
}

#[cfg(test)]
mod tests {
    use super::*;
    use alro_core::data::Split;

    fn window(user: &str, window_start: usize) -> RankingExample {
        RankingExample {
            user: user.into(),
            split: Split::Train,
            window_start,
            history: vec![],
            history_items: vec![],
            candidates: vec![],
            relevance: vec![],
            target: vec![],
        }
    }

    #[test]
    fn recent_windows_keep_each_users_latest_then_the_budget_samples_them() {
        // Prepared files list a user's windows in any order; user "b" has fewer than k.
        let all = [
            window("a", 5),
            window("a", 20),
            window("a", 10),
            window("b", 7),
            window("a", 15),
            window("c", 3),
            window("c", 9),
        ];
        let mut cfg = TrainConfig::default();
        assert_eq!(training_selection(&cfg, &all), None, "no limit: everything");
        cfg.run.recent_windows_per_user = Some(2);
        assert_eq!(training_selection(&cfg, &all), Some(vec![1, 3, 4, 5, 6]));
        cfg.run.recent_windows_per_user = Some(1);
        assert_eq!(training_selection(&cfg, &all), Some(vec![1, 3, 6]));
        cfg.run.recent_windows_per_user = Some(9);
        assert_eq!(
            training_selection(&cfg, &all),
            None,
            "k above every user's count"
        );
        // The budget draws from the recent windows only, and keeps file order.
        cfg.run.recent_windows_per_user = Some(2);
        cfg.run.max_train_examples = Some(3);
        let picked = training_selection(&cfg, &all).unwrap();
        assert_eq!(picked.len(), 3);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        assert!(picked.iter().all(|i| [1, 3, 4, 5, 6].contains(i)));
        // Without recent windows the budget picks what it always picked (old runs reproduce).
        cfg.run.recent_windows_per_user = None;
        let pick = permutation(all.len(), derive_seed(cfg.run.seed, SUBSET, 0, 0));
        let mut want = pick[..3].to_vec();
        want.sort_unstable();
        assert_eq!(training_selection(&cfg, &all), Some(want));
    }
}
