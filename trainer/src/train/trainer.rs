//! A training run in progress: started fresh or resumed from its run folder, advanced one
//! optimizer step at a time, validated and checkpointed when its loop asks.
//!
//! [`super::run::train`] is that loop; this type holds everything a step needs, so the loop
//! reads as the algorithm (step, log, validate, checkpoint, stop) and a test or another driver
//! can run the same steps.
//!
//! Determinism: every random draw (epoch order, PSL permutation, identifier labels, dropout
//! masks) comes from a stream keyed by (seed, what, step or example index), so a run resumed at
//! step `k` replays steps `k+1…` exactly as the uninterrupted run does.

use super::checkpoint::{self, BackboneId, Best, State};
use super::config::TrainConfig;
use super::lora::Adapters;
use super::optim::{clip_global_norm, learning_rate, AdamW};
use super::run::{
    append_metrics, derive_seed, permutation, training_selection, truncate_metrics, validate,
    Inputs, MetricsLine, Options, RunDir, Summary, DROPOUT, LABELS, ORDER, PSL,
};
use super::step::{example_loss, LossValues};
use super::view;
use alro_core::data::RankingExample;
use alro_core::rank::Ranker;
use anyhow::{bail, Context, Result};
use candle_core::{Tensor, Var};
use std::borrow::Cow;
use std::path::Path;
use std::time::Instant;

pub struct Trainer<'a> {
    ranker: &'a Ranker,
    adapters: &'a Adapters,
    cfg: &'a TrainConfig,
    run: RunDir,
    /// The lists this run trains on (the config's selection of the prepared ones).
    train: Cow<'a, [RankingExample]>,
    validation: &'a [RankingExample],
    params: Vec<&'a Var>,
    optim: AdamW,
    /// What checkpoints hold: step, schedule length, best validation, seconds so far.
    state: State,
    /// Examples the whole run sees: epochs × training lists.
    total_examples: usize,
    /// Each epoch's seeded example order, drawn when first needed.
    orders: Vec<Option<Vec<usize>>>,
    clock: Clock,
    last_validation: Option<f64>,
}

/// Time and work of this invocation (a resumed run counts from its resume).
struct Clock {
    started: Instant,
    /// `state.seconds` when this invocation began.
    seconds_before: f64,
    first_step: usize,
    examples: usize,
    tokens: usize,
}

/// What one optimizer step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Steps completed, this one included.
    pub step: usize,
    pub lr: f64,
    /// The loss parts, mean over the step's examples; token counts summed.
    pub losses: LossValues,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub examples: usize,
    pub seconds: f64,
}

impl StepReport {
    /// The progress bar's message.
    pub fn progress_message(&self, best: Option<Best>) -> String {
        let l = &self.losses;
        format!(
            "loss {:.3} (sft {:.3} first {:.3} sll {:.3} psl {:.3}{}) · {:.2} ex/s{}",
            l.total,
            l.sft,
            l.first,
            l.sll,
            l.psl,
            if l.continuation > 0.0 {
                format!(" cont {:.3}", l.continuation)
            } else {
                String::new()
            },
            self.examples as f64 / self.seconds,
            best.map_or(String::new(), |b| format!(
                " · best val NDCG@10 {:.4}",
                b.ndcg10
            ))
        )
    }
}

impl<'a> Trainer<'a> {
    /// Starts the run in `dir`, or with `opts.resume` continues it from `last.safetensors`
    /// (same config, data and backbone, else an error saying which differs). A fresh run takes
    /// `run.init_adapter`'s adapters when the config names one.
    pub fn start(
        ranker: &'a Ranker,
        adapters: &'a Adapters,
        cfg: &'a TrainConfig,
        backbone: BackboneId,
        inputs: Inputs<'a>,
        dir: &Path,
        opts: &Options,
    ) -> Result<Self> {
        let run = RunDir(dir.to_path_buf());
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let train: Cow<'a, [RankingExample]> = match training_selection(cfg, inputs.train) {
            Some(chosen) => Cow::Owned(chosen.iter().map(|&i| inputs.train[i].clone()).collect()),
            None => Cow::Borrowed(inputs.train),
        };
        if train.is_empty() {
            bail!("no training examples");
        }
        let validation: &[RankingExample] = match cfg.run.validation_examples {
            Some(n) => &inputs.validation[..n.min(inputs.validation.len())],
            None => inputs.validation,
        };
        let total_examples = train.len() * cfg.run.epochs;
        let mut total_steps = total_examples.div_ceil(cfg.optim.accumulation);
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
            // A run killed before its first checkpoint has nothing to continue from: it starts
            // over (same seed, so the same run), which is what a retry loop around `--resume`
            // wants.
            eprintln!(
                "note: {} has no checkpoint yet; starting the run from step 0",
                dir.display()
            );
        }
        let device = &ranker.backbone.model.device;
        if resuming {
            let path = run.last();
            let loaded = checkpoint::load(&path, device)?;
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
                checkpoint::warm_start(init, adapters, &cfg.lora, &backbone, device)?;
            }
        }
        checkpoint::remove_stale_temporaries(dir)?;
        checkpoint::write_atomic(&run.config(), cfg.to_toml().as_bytes())?;
        let clock = Clock {
            started: Instant::now(),
            seconds_before: state.seconds,
            first_step: state.step,
            examples: 0,
            tokens: 0,
        };
        Ok(Trainer {
            ranker,
            adapters,
            cfg,
            run,
            train,
            validation,
            params,
            optim,
            state,
            total_examples,
            orders: vec![None; cfg.run.epochs],
            clock,
            last_validation: None,
        })
    }

    /// Optimizer steps completed.
    pub fn steps_done(&self) -> usize {
        self.state.step
    }

    pub fn total_steps(&self) -> usize {
        self.state.total_steps
    }

    pub fn finished(&self) -> bool {
        self.state.step == self.state.total_steps
    }

    pub fn best(&self) -> Option<Best> {
        self.state.best
    }

    /// Steps taken by this invocation (not counting those before a resume).
    pub fn steps_this_invocation(&self) -> usize {
        self.state.step - self.clock.first_step
    }

    /// Seconds since this invocation started.
    pub fn seconds_this_invocation(&self) -> f64 {
        self.clock.started.elapsed().as_secs_f64()
    }

    /// One optimizer step: the gradients of `accumulation` examples averaged, clipped, AdamW at
    /// the schedule's rate. Appends the step's line to `metrics.jsonl`. A non-finite loss or
    /// gradient stops the run without saving (the last checkpoint stays good).
    pub fn step(&mut self) -> Result<StepReport> {
        let step = self.state.step;
        let started = Instant::now();
        let accum = self.cfg.optim.accumulation;
        let mut grads: Option<Vec<Tensor>> = None;
        let mut sum = LossValues::default();
        let mut examples = 0;
        // `g`: the global example index, which keys every random draw of that example.
        for g in step * accum..((step + 1) * accum).min(self.total_examples) {
            let (these, values) = self.example_gradients(g)?;
            grads = Some(match grads {
                None => these,
                Some(acc) => acc
                    .iter()
                    .zip(&these)
                    .map(|(a, b)| a + b)
                    .collect::<candle_core::Result<_>>()?,
            });
            sum.add(&values);
            examples += 1;
        }
        let mut grads: Vec<Tensor> = grads
            .expect("every step has an example")
            .iter()
            .map(|g| g / examples as f64)
            .collect::<candle_core::Result<_>>()?;
        let grad_norm = clip_global_norm(&mut grads, self.cfg.optim.grad_clip)?;
        if !grad_norm.is_finite() {
            bail!(
                "step {}: the gradient of {} is not finite; stopped without saving — the last \
                 good checkpoint is {} (step {})",
                step + 1,
                self.non_finite_parameter(&grads),
                self.run.last().display(),
                self.state.step
            );
        }
        let lr = learning_rate(&self.cfg.optim, step, self.state.total_steps);
        self.optim.step(&self.params, &grads, lr)?;
        self.state.step += 1;

        let report = StepReport {
            step: self.state.step,
            lr,
            losses: sum.mean_over(examples),
            grad_norm,
            examples,
            seconds: started.elapsed().as_secs_f64(),
        };
        self.clock.examples += examples;
        self.clock.tokens += sum.tokens;
        append_metrics(&self.run.metrics(), &self.train_line(&report))?;
        self.state.seconds = self.clock.seconds_before + self.seconds_this_invocation();
        Ok(report)
    }

    /// The loss of training example number `g` (global index over epochs) and the gradient of
    /// each adapter parameter (zeros where it gets none).
    fn example_gradients(&mut self, g: usize) -> Result<(Vec<Tensor>, LossValues)> {
        let (seed, n) = (self.cfg.run.seed, self.train.len());
        let epoch = g / n;
        let order = self.orders[epoch]
            .get_or_insert_with(|| permutation(n, derive_seed(seed, ORDER, epoch as u64, 0)));
        let index = order[g % n];
        let ex = &self.train[index];
        let perm_key = if self.cfg.objective.psl_fixed_permutation {
            (index as u64, 1)
        } else {
            (g as u64, 0)
        };
        let perm = self.cfg.uses_psl().then(|| {
            permutation(
                ex.candidates.len(),
                derive_seed(seed, PSL, perm_key.0, perm_key.1),
            )
        });
        let labels = self.cfg.run.identifier_pool.map(|pool| {
            view::identifier_subset(
                ex.candidates.len(),
                pool,
                derive_seed(seed, LABELS, g as u64, 0),
            )
        });
        let adapters = self.adapters;
        let (loss, values) = example_loss(
            self.ranker,
            ex,
            &self.cfg.objective,
            perm.as_deref(),
            labels.as_deref(),
            |v| adapters.reseed_dropout(derive_seed(seed, DROPOUT, g as u64, v as u64)),
        )?;
        if let Some(part) = values.non_finite_part() {
            bail!(
                "step {}: the {part} loss is not finite (example of user {}, window {}); \
                 stopped without saving — the last good checkpoint is {} (step {})",
                self.state.step + 1,
                ex.user,
                ex.window_start,
                self.run.last().display(),
                self.state.step
            );
        }
        let store = loss.backward()?;
        let grads = self
            .params
            .iter()
            .map(|p| {
                store
                    .get(p.as_tensor())
                    .cloned()
                    .map_or_else(|| p.as_tensor().zeros_like(), Ok)
            })
            .collect::<candle_core::Result<_>>()?;
        Ok((grads, values))
    }

    /// The name of the first parameter whose gradient is not finite ("?" if none is found).
    fn non_finite_parameter(&self, grads: &[Tensor]) -> String {
        grads
            .iter()
            .zip(&self.adapters.params)
            .find(|(g, _)| {
                g.sqr()
                    .and_then(|s| s.sum_all())
                    .and_then(|s| s.to_scalar::<f32>())
                    .map_or(true, |v| !v.is_finite())
            })
            .map_or("?".to_string(), |(_, p)| p.name.clone())
    }

    fn train_line(&self, r: &StepReport) -> MetricsLine {
        let (l, secs) = (&r.losses, r.seconds);
        MetricsLine::Train {
            step: r.step,
            epoch: (r.step * self.cfg.optim.accumulation) as f64 / self.train.len() as f64,
            lr: r.lr,
            loss: l.total,
            sft: l.sft,
            sll: l.sll,
            first: l.first,
            psl: l.psl,
            continuation: l.continuation,
            grad_norm: r.grad_norm,
            examples_per_s: r.examples as f64 / secs,
            tokens_per_s: l.tokens as f64 / secs,
            target_tokens_per_s: l.target_tokens as f64 / secs,
            seconds: self.clock.seconds_before + self.seconds_this_invocation(),
        }
    }

    /// Whether the config asks for a validation after the step just taken (every
    /// `validate_every` steps and at the end, when there are validation lists).
    pub fn validation_due(&self) -> bool {
        let every = self.cfg.run.validate_every;
        !self.validation.is_empty()
            && (self.finished() || (every > 0 && self.state.step.is_multiple_of(every)))
    }

    /// Validates (mean single-pass NDCG@10), logs it, and saves `best.safetensors` when it is
    /// the best so far.
    pub fn validate(&mut self) -> Result<f64> {
        let (ndcg10, lists) = validate(self.ranker, self.validation)?;
        self.last_validation = Some(ndcg10);
        append_metrics(
            &self.run.metrics(),
            &MetricsLine::Validation {
                step: self.state.step,
                ndcg10,
                lists,
            },
        )?;
        if self.state.best.is_none_or(|b| ndcg10 > b.ndcg10) {
            self.state.best = Some(Best {
                step: self.state.step,
                ndcg10,
            });
            checkpoint::save(&self.run.best(), self.adapters, None, &self.state)?;
        }
        Ok(ndcg10)
    }

    /// Whether the config asks for a checkpoint after the step just taken.
    pub fn checkpoint_due(&self) -> bool {
        self.state
            .step
            .is_multiple_of(self.cfg.run.checkpoint_every)
    }

    /// Saves `last.safetensors` (adapters, optimizer state, progress): what `--resume` reads.
    pub fn checkpoint(&self) -> Result<()> {
        checkpoint::save(
            &self.run.last(),
            self.adapters,
            Some(&self.optim),
            &self.state,
        )
    }

    /// Ends this invocation: without validation lists the last state becomes
    /// `best.safetensors`; writes and returns the summary.
    pub fn finish(self, stopped_early: bool) -> Result<Summary> {
        if self.state.best.is_none() && !stopped_early {
            checkpoint::save(&self.run.best(), self.adapters, None, &self.state)?;
        }
        let secs = self.seconds_this_invocation().max(1e-9);
        let summary = Summary {
            steps: self.state.step,
            total_steps: self.state.total_steps,
            stopped_early,
            best: self.state.best,
            last_validation_ndcg10: self.last_validation,
            seconds: self.state.seconds,
            examples_per_s: self.clock.examples as f64 / secs,
            tokens_per_s: self.clock.tokens as f64 / secs,
            trainable_parameters: self.adapters.parameter_count(),
        };
        checkpoint::write_atomic(
            &self.run.summary(),
            serde_json::to_string_pretty(&summary)?.as_bytes(),
        )?;
        Ok(summary)
    }
}
