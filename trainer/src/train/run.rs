//! The training loop: seeded example order, gradient accumulation, clipping, AdamW, periodic
//! validation with best-checkpoint selection, metrics JSONL, checkpoints and resume.
//!
//! Determinism: every random draw (epoch order, PSL permutation, dropout masks) comes from a
//! stream keyed by (seed, what, step or example index). A run resumed from a checkpoint at step
//! `k` therefore replays steps `k+1…` exactly as the uninterrupted run does.

use super::checkpoint::{self, BackboneId, Best, State};
use super::config::TrainConfig;
use super::lora::Adapters;
use super::optim::{clip_global_norm, learning_rate, AdamW};
use super::step::{example_loss, LossValues};
use super::view;
use alro_core::data::RankingExample;
use alro_core::metrics::ndcg_of_scores;
use alro_core::rank::Ranker;
use anyhow::{bail, Context, Result};
use candle_core::Tensor;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
const ORDER: u64 = 1;
const PSL: u64 = 2;
const DROPOUT: u64 = 3;
const LABELS: u64 = 4;
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

fn permutation(n: usize, seed: u64) -> Vec<usize> {
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
fn truncate_metrics(path: &Path, step: usize) -> Result<()> {
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

fn append_metrics(path: &Path, line: &MetricsLine) -> Result<()> {
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

/// Trains `adapters` (attached to `ranker`'s model) on `inputs`, writing the run to `dir`.
pub fn train(
    ranker: &Ranker,
    adapters: &Adapters,
    cfg: &TrainConfig,
    backbone: BackboneId,
    inputs: Inputs,
    dir: &Path,
    opts: Options,
) -> Result<Summary> {
    let run = RunDir(dir.to_path_buf());
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let subset: Vec<RankingExample>;
    let train: &[RankingExample] = match training_selection(cfg, inputs.train) {
        Some(chosen) => {
            subset = chosen.iter().map(|&i| inputs.train[i].clone()).collect();
            &subset
        }
        None => inputs.train,
    };
    if train.is_empty() {
        bail!("no training examples");
    }
    let validation: &[RankingExample] = match cfg.run.validation_examples {
        Some(n) => &inputs.validation[..n.min(inputs.validation.len())],
        None => inputs.validation,
    };
    let accum = cfg.optim.accumulation;
    let total_examples = train.len() * cfg.run.epochs;
    let mut total_steps = total_examples.div_ceil(accum);
    if let Some(max) = cfg.run.max_steps {
        total_steps = total_steps.min(max);
    }

    let params = adapters.vars();
    let mut optim = AdamW::new(&params, &cfg.optim)?;
    let mut state = State {
        format: checkpoint::FORMAT,
        step: 0,
        total_steps,
        backbone: backbone.clone(),
        config: cfg.clone(),
        data_sha256: inputs.data_sha256.clone(),
        best: None,
        rng: "derived".into(),
        seconds: 0.0,
    };
    let resuming = opts.resume && run.last().exists();
    if opts.resume && !resuming {
        // A run killed before its first checkpoint has nothing to continue from: it starts over
        // (same seed, so the same run), which is what a retry loop around `--resume` wants.
        eprintln!(
            "note: {} has no checkpoint yet; starting the run from step 0",
            dir.display()
        );
    }
    if resuming {
        let path = run.last();
        let loaded = checkpoint::load(&path, &ranker.backbone.model.device)?;
        checkpoint::check_backbone(&path, &loaded.state.backbone, &backbone)?;
        if loaded.state.config != *cfg {
            bail!(
                "{} was written with a different configuration; resume with the run's own \
                 {} (and the same flags)",
                path.display(),
                run.config().display()
            );
        }
        if loaded.state.data_sha256 != inputs.data_sha256 {
            bail!(
                "{} was trained on different data (sha256 {}…); pass the same --data",
                path.display(),
                &loaded.state.data_sha256[..12.min(loaded.state.data_sha256.len())]
            );
        }
        if let Some(stop) = opts.stop_at_step.filter(|&n| loaded.state.step >= n) {
            bail!(
                "{} is already at step {} (≥ --stop-at-step {stop}); resume without \
                 --stop-at-step, or with a later one",
                path.display(),
                loaded.state.step
            );
        }
        checkpoint::restore(&path, &loaded, adapters, Some(&mut optim))?;
        state = loaded.state;
        truncate_metrics(&run.metrics(), state.step)?;
    } else {
        if run.last().exists() {
            bail!(
                "{} already holds a run; pass --resume to continue it or choose another --out",
                dir.display()
            );
        }
        let _ = std::fs::remove_file(run.metrics());
        if let Some(init) = &cfg.run.init_adapter {
            checkpoint::warm_start(
                init,
                adapters,
                &cfg.lora,
                &backbone,
                &ranker.backbone.model.device,
            )?;
        }
    }
    checkpoint::remove_stale_temporaries(dir)?;
    checkpoint::write_atomic(&run.config(), cfg.to_toml().as_bytes())?;

    let bar = if opts.progress {
        let pb = ProgressBar::new(total_steps as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {pos}/{len} steps · {msg} · ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb.set_position(state.step as u64);
        pb
    } else {
        ProgressBar::hidden()
    };

    let seed = cfg.run.seed;
    let mut orders: Vec<Option<Vec<usize>>> = vec![None; cfg.run.epochs];
    let started = Instant::now();
    let seconds_before = state.seconds;
    let (mut run_examples, mut run_tokens) = (0usize, 0usize);
    let mut last_val = None;
    let first_step = state.step;
    let mut stopped_early = false;
    while state.step < total_steps {
        let step = state.step;
        let step_start = Instant::now();
        let mut grads: Option<Vec<Tensor>> = None;
        let mut sum = LossValues::default();
        let mut micro = 0;
        for k in 0..accum {
            let g = step * accum + k; // global example index
            if g >= total_examples {
                break;
            }
            let epoch = g / train.len();
            let order = orders[epoch].get_or_insert_with(|| {
                permutation(train.len(), derive_seed(seed, ORDER, epoch as u64, 0))
            });
            let index = order[g % train.len()];
            let ex = &train[index];
            let perm_key = if cfg.objective.psl_fixed_permutation {
                (index as u64, 1)
            } else {
                (g as u64, 0)
            };
            let perm = cfg.uses_psl().then(|| {
                permutation(
                    ex.candidates.len(),
                    derive_seed(seed, PSL, perm_key.0, perm_key.1),
                )
            });
            let labels = cfg.run.identifier_pool.map(|pool| {
                view::identifier_subset(
                    ex.candidates.len(),
                    pool,
                    derive_seed(seed, LABELS, g as u64, 0),
                )
            });
            let (loss, values) = example_loss(
                ranker,
                ex,
                &cfg.objective,
                perm.as_deref(),
                labels.as_deref(),
                |v| adapters.reseed_dropout(derive_seed(seed, DROPOUT, g as u64, v as u64)),
            )?;
            if let Some(part) = values.non_finite_part() {
                bail!(
                    "step {}: the {part} loss is not finite (example of user {}, window {}); \
                     stopped without saving — the last good checkpoint is {} (step {})",
                    step + 1,
                    ex.user,
                    ex.window_start,
                    run.last().display(),
                    state.step
                );
            }
            let store = loss.backward()?;
            let these: Vec<Tensor> = params
                .iter()
                .map(|p| {
                    store
                        .get(p.as_tensor())
                        .cloned()
                        .map_or_else(|| p.as_tensor().zeros_like(), Ok)
                })
                .collect::<candle_core::Result<_>>()?;
            grads = Some(match grads {
                None => these,
                Some(acc) => acc
                    .iter()
                    .zip(&these)
                    .map(|(a, b)| a + b)
                    .collect::<candle_core::Result<_>>()?,
            });
            for (s, v) in [
                (&mut sum.total, values.total),
                (&mut sum.sft, values.sft),
                (&mut sum.sll, values.sll),
                (&mut sum.first, values.first),
                (&mut sum.psl, values.psl),
            ] {
                *s += v;
            }
            sum.tokens += values.tokens;
            sum.target_tokens += values.target_tokens;
            micro += 1;
        }
        let mut grads: Vec<Tensor> = grads
            .expect("every step has an example")
            .iter()
            .map(|g| g / micro as f64)
            .collect::<candle_core::Result<_>>()?;
        let grad_norm = clip_global_norm(&mut grads, cfg.optim.grad_clip)?;
        if !grad_norm.is_finite() {
            let culprit = grads
                .iter()
                .zip(&adapters.params)
                .find(|(g, _)| {
                    g.sqr()
                        .and_then(|s| s.sum_all())
                        .and_then(|s| s.to_scalar::<f32>())
                        .map_or(true, |v| !v.is_finite())
                })
                .map_or("?".to_string(), |(_, p)| p.name.clone());
            bail!(
                "step {}: the gradient of {culprit} is not finite; stopped without saving — the \
                 last good checkpoint is {} (step {})",
                step + 1,
                run.last().display(),
                state.step
            );
        }
        let lr = learning_rate(&cfg.optim, step, total_steps);
        optim.step(&params, &grads, lr)?;
        state.step += 1;

        let secs = step_start.elapsed().as_secs_f64();
        run_examples += micro;
        run_tokens += sum.tokens;
        let n = micro as f64;
        append_metrics(
            &run.metrics(),
            &MetricsLine::Train {
                step: state.step,
                epoch: (state.step * accum) as f64 / train.len() as f64,
                lr,
                loss: sum.total / n,
                sft: sum.sft / n,
                sll: sum.sll / n,
                first: sum.first / n,
                psl: sum.psl / n,
                grad_norm,
                examples_per_s: n / secs,
                tokens_per_s: sum.tokens as f64 / secs,
                target_tokens_per_s: sum.target_tokens as f64 / secs,
                seconds: seconds_before + started.elapsed().as_secs_f64(),
            },
        )?;
        bar.set_message(format!(
            "loss {:.3} (sft {:.3} first {:.3} sll {:.3} psl {:.3}) · {:.2} ex/s{}",
            sum.total / n,
            sum.sft / n,
            sum.first / n,
            sum.sll / n,
            sum.psl / n,
            n / secs,
            state.best.map_or(String::new(), |b| format!(
                " · best val NDCG@10 {:.4}",
                b.ndcg10
            ))
        ));
        bar.set_position(state.step as u64);

        let finished = state.step == total_steps;
        let validate_now = !validation.is_empty()
            && (finished
                || (cfg.run.validate_every > 0 && state.step % cfg.run.validate_every == 0));
        state.seconds = seconds_before + started.elapsed().as_secs_f64();
        if validate_now {
            let (ndcg10, lists) = validate(ranker, validation)?;
            last_val = Some(ndcg10);
            append_metrics(
                &run.metrics(),
                &MetricsLine::Validation {
                    step: state.step,
                    ndcg10,
                    lists,
                },
            )?;
            if state.best.is_none_or(|b| ndcg10 > b.ndcg10) {
                state.best = Some(Best {
                    step: state.step,
                    ndcg10,
                });
                checkpoint::save(&run.best(), adapters, None, &state)?;
            }
        }
        let stop = !finished
            && (opts
                .stop_after_steps
                .is_some_and(|n| state.step - first_step >= n)
                || opts
                    .stop_after_seconds
                    .is_some_and(|s| started.elapsed().as_secs_f64() >= s)
                || opts.stop_at_step.is_some_and(|n| state.step >= n));
        if finished || stop || state.step % cfg.run.checkpoint_every == 0 {
            checkpoint::save(&run.last(), adapters, Some(&optim), &state)?;
        }
        if stop {
            stopped_early = true;
            break;
        }
    }
    bar.finish_and_clear();
    if state.best.is_none() && !stopped_early {
        // No validation data: the last state is the one to use.
        checkpoint::save(&run.best(), adapters, None, &state)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let summary = Summary {
        steps: state.step,
        total_steps,
        stopped_early,
        best: state.best,
        last_validation_ndcg10: last_val,
        seconds: state.seconds,
        examples_per_s: run_examples as f64 / secs.max(1e-9),
        tokens_per_s: run_tokens as f64 / secs.max(1e-9),
        trainable_parameters: adapters.parameter_count(),
    };
    checkpoint::write_atomic(
        &run.summary(),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(summary)
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
