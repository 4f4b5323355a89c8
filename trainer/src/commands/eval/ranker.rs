//! What `alro eval` evaluates: anything that scores the candidates of ALRO examples. The
//! classical baselines are one implementation; the LLM ranker (`--model`) is meant to be
//! another, so evaluation code never knows which kind of ranker it runs.

use crate::baselines::Scorer;
use alro_core::data::{Dataset, RankingExample};
use alro_core::metrics::{ndcg_of_scores, paired_bootstrap, NdcgAccumulator, PairedDifference};
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

/// The cut-off of the per-list scores, the `--versus` intervals and `--show`.
pub const PER_LIST_K: usize = 10;
/// Bootstrap resamples of every `--versus` interval.
pub const VERSUS_RESAMPLES: usize = 1000;
/// Seed of every `--versus` interval (fixed: the same lists give the same interval).
pub const VERSUS_SEED: u64 = 2024;

/// One ranker's result on one set of lists.
pub struct EvalResult {
    pub name: String,
    pub ndcg: NdcgAccumulator,
    /// NDCG@10 of every list, in list order (`ndcg_of_scores`, ties in expectation); `None` for a
    /// list without a positive (IDCG 0), which depends on the list only, so every ranker skips
    /// the same lists.
    pub per_list: Vec<Option<f64>>,
    /// The scores of the first lists (as many as `evaluate` was asked to keep), for `--show`.
    pub kept_scores: Vec<Vec<f64>>,
    /// Seconds spent fitting (0 for rankers that need none).
    pub fit_seconds: f64,
    pub score_seconds: f64,
}

impl EvalResult {
    /// `self − other` in NDCG@10, list by list, with its 95% paired-bootstrap interval
    /// ([`VERSUS_RESAMPLES`] resamples, seed [`VERSUS_SEED`]) over the lists both score. `None`
    /// when no list has a positive.
    pub fn versus(&self, other: &EvalResult) -> Option<PairedDifference> {
        let (a, b): (Vec<f64>, Vec<f64>) = self
            .per_list
            .iter()
            .zip(&other.per_list)
            .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
            .unzip();
        paired_bootstrap(&a, &b, VERSUS_RESAMPLES, VERSUS_SEED)
    }
}

/// Score every list and accumulate NDCG@1/5/10/20, keeping each list's NDCG@10 and the scores of
/// the first `keep` lists.
pub fn evaluate(
    ranker: &mut dyn ListScorer,
    examples: &[RankingExample],
    fit_seconds: f64,
    keep: usize,
) -> Result<EvalResult> {
    let t = Instant::now();
    let mut scores = ranker.score_lists(examples)?;
    let mut ndcg = NdcgAccumulator::default();
    let mut per_list = Vec::with_capacity(examples.len());
    for (ex, s) in examples.iter().zip(&scores) {
        anyhow::ensure!(
            s.len() == ex.candidates.len(),
            "{}: {} scores for {} candidates",
            ranker.name(),
            s.len(),
            ex.candidates.len()
        );
        ndcg.add_scores(&ex.relevance, s);
        per_list.push(ndcg_of_scores(&ex.relevance, s, PER_LIST_K));
    }
    scores.truncate(keep);
    Ok(EvalResult {
        name: ranker.name().to_string(),
        ndcg,
        per_list,
        kept_scores: scores,
        fit_seconds,
        score_seconds: t.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alro_core::data::Split;
    use alro_core::request::Candidate;

    struct Fixed(Vec<Vec<f64>>);
    impl ListScorer for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }
        fn score_lists(&mut self, _: &[RankingExample]) -> Result<Vec<Vec<f64>>> {
            Ok(self.0.clone())
        }
    }

    fn list(relevance: Vec<f32>) -> RankingExample {
        RankingExample {
            user: "u".into(),
            split: Split::Test,
            window_start: 0,
            history: vec![],
            history_items: vec![],
            candidates: (0..relevance.len())
                .map(|i| Candidate {
                    id: i.to_string(),
                    title: format!("Film {i}"),
                    note: None,
                })
                .collect(),
            target: (0..relevance.len()).collect(),
            relevance,
        }
    }

    #[test]
    fn per_list_scores_agree_with_the_accumulator_and_skip_the_same_lists() {
        let lists = [
            list(vec![4.0, 0.0]),
            list(vec![0.0, 0.0]),
            list(vec![0.0, 3.0]),
        ];
        let mut good = Fixed(vec![vec![1.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0]]);
        let mut tied = Fixed(vec![vec![0.0, 0.0]; 3]);
        let g = evaluate(&mut good, &lists, 0.0, 1).unwrap();
        let t = evaluate(&mut tied, &lists, 0.0, 0).unwrap();
        assert_eq!(g.per_list, [Some(1.0), None, Some(1.0)]);
        assert_eq!((g.ndcg.lists, g.ndcg.skipped), (2, 1));
        let mean = |r: &EvalResult| {
            r.per_list.iter().flatten().sum::<f64>() / r.per_list.iter().flatten().count() as f64
        };
        assert!((mean(&t) - t.ndcg.mean(10).unwrap()).abs() < 1e-12);
        assert_eq!(g.kept_scores, vec![vec![1.0, 0.0]]);
        assert!(t.kept_scores.is_empty());
        let d = g.versus(&t).unwrap();
        assert_eq!((d.lists, d.resamples), (2, VERSUS_RESAMPLES));
        assert!((d.mean - (1.0 - mean(&t))).abs() < 1e-12);
        assert_eq!(d.verdict(), "above");
        assert_eq!(t.versus(&g).unwrap().verdict(), "below");
    }
}
