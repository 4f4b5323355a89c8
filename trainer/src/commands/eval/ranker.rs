//! What `alro eval` evaluates: anything that scores the candidates of ALRO examples. The
//! classical baselines are one implementation; the LLM ranker (`--model`) is meant to be
//! another, so evaluation code never knows which kind of ranker it runs.

use crate::baselines::Scorer;
use alro_core::data::{Dataset, RankingExample};
use alro_core::metrics::NdcgAccumulator;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::time::Instant;

/// Orders candidate lists. (Named apart from `alro_core::rank::Ranker`, the LLM inference
/// engine: an adapter around that engine implements this trait for `--model`.)
pub trait ListScorer {
    fn name(&self) -> &str;
    /// One score per candidate for each example, higher = preferred. Equal scores are ties and
    /// are scored by their expected NDCG. A ranker that outputs a permutation returns
    /// descending scores (e.g. `m − rank`).
    fn score_lists(&mut self, examples: &[RankingExample]) -> Result<Vec<Vec<f64>>>;
}

/// Dataset id → index maps, built once and shared by every baseline.
pub struct IdMaps {
    users: HashMap<String, u32>,
    items: HashMap<String, u32>,
}

impl IdMaps {
    pub fn new(ds: &Dataset) -> Self {
        IdMaps {
            users: ds
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| (u.clone(), i as u32))
                .collect(),
            items: ds
                .items
                .iter()
                .enumerate()
                .map(|(i, it)| (it.id.clone(), i as u32))
                .collect(),
        }
    }
}

/// A fitted baseline as a [`ListScorer`].
pub struct BaselineLists<'a> {
    pub name: String,
    pub scorer: Box<dyn Scorer>,
    pub ids: &'a IdMaps,
}

impl ListScorer for BaselineLists<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_lists(&mut self, examples: &[RankingExample]) -> Result<Vec<Vec<f64>>> {
        examples
            .iter()
            .map(|ex| {
                let u =
                    *self.ids.users.get(&ex.user).with_context(|| {
                        format!("user {:?} is not in the training data", ex.user)
                    })?;
                ex.candidates
                    .iter()
                    .map(|c| {
                        let i =
                            *self.ids.items.get(&c.id).with_context(|| {
                                format!("item {:?} is not in the catalog", c.id)
                            })?;
                        Ok(self.scorer.score(u, i))
                    })
                    .collect()
            })
            .collect()
    }
}

/// One ranker's result on one set of lists.
pub struct EvalResult {
    pub name: String,
    pub ndcg: NdcgAccumulator,
    /// Seconds spent fitting (0 for rankers that need none).
    pub fit_seconds: f64,
    pub score_seconds: f64,
}

/// Score every list and accumulate NDCG@1/5/10/20.
pub fn evaluate(
    ranker: &mut dyn ListScorer,
    examples: &[RankingExample],
    fit_seconds: f64,
) -> Result<EvalResult> {
    let t = Instant::now();
    let scores = ranker.score_lists(examples)?;
    let mut ndcg = NdcgAccumulator::default();
    for (ex, s) in examples.iter().zip(&scores) {
        anyhow::ensure!(
            s.len() == ex.candidates.len(),
            "{}: {} scores for {} candidates",
            ranker.name(),
            s.len(),
            ex.candidates.len()
        );
        ndcg.add_scores(&ex.relevance, s);
    }
    Ok(EvalResult {
        name: ranker.name().to_string(),
        ndcg,
        fit_seconds,
        score_seconds: t.elapsed().as_secs_f64(),
    })
}
