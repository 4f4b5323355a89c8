//! Evaluation on ALRO candidate lists, as `alro eval` runs it: anything that scores the
//! candidates ([`ListScorer`]: a fitted baseline, the notes read alone, the LLM ranker) gets
//! NDCG@k per list, paired-bootstrap differences to another scorer and the position-bias
//! measure; evaluation code never knows which kind of ranker it runs.

use crate::baselines::Scorer;
use alro_core::data::{Dataset, RankingExample};
use alro_core::metrics::{
    kendall_tau, ndcg_of_ranking, ndcg_of_scores, paired_bootstrap, NdcgAccumulator,
    PairedDifference,
};
use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
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
    /// `--position-bias K`: how the ranking moves with the presentation order (LLM rankers).
    pub position_bias: Option<PositionBias>,
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
        position_bias: None,
    })
}

/// Seed of the `--position-bias` presentation orders (fixed, with the list index as the stream:
/// the same lists are shown in the same orders on every run and to every ranker).
pub const POSITION_BIAS_SEED: u64 = 2024;

/// `k` presentation orders of list number `list`, of `m` candidates: the list's own order, then
/// `k − 1` shuffles seeded by `seed` and `list`. Each is `perm` with `perm[j]` = the original
/// index of the candidate shown at position `j`.
pub fn presentation_orders(seed: u64, list: usize, m: usize, k: usize) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(list as u64);
    (0..k)
        .map(|b| {
            let mut perm: Vec<usize> = (0..m).collect();
            if b > 0 {
                perm.shuffle(&mut rng);
            }
            perm
        })
        .collect()
}

/// `ex` with its candidates shown in the order `perm` (as [`presentation_orders`] gives it):
/// candidates, relevance and target move together; ids, history and the rest are unchanged.
pub fn permuted(ex: &RankingExample, perm: &[usize]) -> RankingExample {
    let mut at = vec![0; perm.len()];
    perm.iter().enumerate().for_each(|(j, &i)| at[i] = j);
    RankingExample {
        candidates: perm.iter().map(|&i| ex.candidates[i].clone()).collect(),
        relevance: perm.iter().map(|&i| ex.relevance[i]).collect(),
        target: ex.target.iter().map(|&i| at[i]).collect(),
        ..ex.clone()
    }
}

/// How much a ranker's output depends on the order the candidates are shown in, over `orders`
/// presentation orders of every list. No position bias: τ 1, spread 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionBias {
    /// `K`, the presentation orders per list.
    pub orders: usize,
    /// Lists ranked (each `K` times).
    pub lists: usize,
    /// Mean over lists of the mean Kendall τ between the `K(K−1)/2` pairs of its rankings (lists
    /// of fewer than 2 candidates have none); `None` when no list has one.
    pub kendall_tau: Option<f64>,
    /// Mean over lists of the standard deviation (over the `K` orders, divided by `K − 1`) of its
    /// NDCG@10; lists whose candidates are all equally relevant are left out of both NDCG values.
    pub ndcg10_spread: Option<f64>,
    /// Mean NDCG@10 over all `K ×` lists rankings.
    pub ndcg10_mean: Option<f64>,
}

/// Ranks every list of `examples` under `orders` presentation orders ([`presentation_orders`]
/// with `seed` and the list's index) with `rank`, which gets the permuted list and returns its
/// ranking as indices into the candidates it was shown, best first, and measures how much the
/// rankings agree ([`PositionBias`]).
pub fn position_bias(
    examples: &[RankingExample],
    orders: usize,
    seed: u64,
    mut rank: impl FnMut(&RankingExample) -> Result<Vec<usize>>,
) -> Result<PositionBias> {
    anyhow::ensure!(
        orders >= 2,
        "position bias needs at least 2 presentation orders, got {orders}"
    );
    let (mut tau_sum, mut tau_lists) = (0.0, 0usize);
    let (mut spread_sum, mut ndcg_sum, mut ndcg_lists) = (0.0, 0.0, 0usize);
    for (n, ex) in examples.iter().enumerate() {
        let m = ex.candidates.len();
        let mut rankings: Vec<Vec<usize>> = Vec::with_capacity(orders);
        for perm in presentation_orders(seed, n, m, orders) {
            let local = rank(&permuted(ex, &perm))?;
            let mut seen = vec![false; m];
            anyhow::ensure!(
                local.len() == m
                    && local
                        .iter()
                        .all(|&j| j < m && !std::mem::replace(&mut seen[j], true)),
                "list {n}: ranking {local:?} is not a permutation of {m} candidates"
            );
            // Back to the list's own indices, so the K rankings are comparable.
            rankings.push(local.iter().map(|&j| perm[j]).collect());
        }
        let taus: Vec<f64> = (0..orders)
            .flat_map(|a| (a + 1..orders).map(move |b| (a, b)))
            .filter_map(|(a, b)| kendall_tau(&rankings[a], &rankings[b]))
            .collect();
        if !taus.is_empty() {
            tau_sum += taus.iter().sum::<f64>() / taus.len() as f64;
            tau_lists += 1;
        }
        let all_equal = ex.relevance.windows(2).all(|w| w[0] == w[1]);
        let ndcgs: Option<Vec<f64>> = rankings
            .iter()
            .map(|r| ndcg_of_ranking(&ex.relevance, r, PER_LIST_K))
            .collect();
        if let (false, Some(v)) = (all_equal, ndcgs) {
            let mean = v.iter().sum::<f64>() / orders as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (orders - 1) as f64;
            spread_sum += var.sqrt();
            ndcg_sum += mean;
            ndcg_lists += 1;
        }
    }
    let mean = |sum: f64, n: usize| (n > 0).then(|| sum / n as f64);
    Ok(PositionBias {
        orders,
        lists: examples.len(),
        kendall_tau: mean(tau_sum, tau_lists),
        ndcg10_spread: mean(spread_sum, ndcg_lists),
        ndcg10_mean: mean(ndcg_sum, ndcg_lists),
    })
}

/// A list of `relevance.len()` candidates ("Film 0", …) in presentation order, for tests.
#[cfg(test)]
pub(crate) fn test_list(relevance: Vec<f32>) -> RankingExample {
    use alro_core::data::Split;
    use alro_core::request::Candidate;
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

#[cfg(test)]
mod tests {
    use super::test_list as list;
    use super::*;

    struct Fixed(Vec<Vec<f64>>);
    impl ListScorer for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }
        fn score_lists(&mut self, _: &[RankingExample]) -> Result<Vec<Vec<f64>>> {
            Ok(self.0.clone())
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

    /// Lists of `m` candidates with ids `"0".."m-1"`, relevance varying from list to list.
    fn lists(n: usize, m: usize) -> Vec<RankingExample> {
        (0..n)
            .map(|i| list((0..m).map(|c| ((c * 7 + i * 3) % 5) as f32).collect()))
            .collect()
    }

    #[test]
    fn permuting_a_list_moves_relevance_and_target_with_the_candidates() {
        let mut ex = list(vec![0.0, 5.0, 3.0]);
        ex.target = vec![1, 2, 0];
        let p = permuted(&ex, &[2, 0, 1]);
        let ids: Vec<&str> = p.candidates.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["2", "0", "1"]);
        assert_eq!(p.relevance, [3.0, 0.0, 5.0]);
        let target_ids: Vec<&str> = p
            .target
            .iter()
            .map(|&i| p.candidates[i].id.as_str())
            .collect();
        assert_eq!(target_ids, ["1", "2", "0"]);
        let orders = presentation_orders(POSITION_BIAS_SEED, 4, 6, 3);
        assert_eq!(orders[0], [0, 1, 2, 3, 4, 5]);
        assert_eq!(
            orders,
            presentation_orders(POSITION_BIAS_SEED, 4, 6, 3),
            "seeded"
        );
        assert_ne!(
            orders,
            presentation_orders(POSITION_BIAS_SEED, 5, 6, 3),
            "per list"
        );
    }

    #[test]
    fn a_ranker_that_keeps_the_shown_order_agrees_only_by_chance() {
        let (n, m, k) = (300, 10, 4);
        let examples = lists(n, m);
        let pb = position_bias(&examples, k, POSITION_BIAS_SEED, |ex| {
            Ok((0..ex.candidates.len()).collect())
        })
        .unwrap();
        // Its rankings are the presentation orders themselves: τ is their mean pairwise τ, whose
        // expectation between random permutations is 0.
        let expected = (0..n)
            .map(|i| {
                let o = presentation_orders(POSITION_BIAS_SEED, i, m, k);
                let mut t = Vec::new();
                for a in 0..k {
                    for b in a + 1..k {
                        t.push(kendall_tau(&o[a], &o[b]).unwrap());
                    }
                }
                t.iter().sum::<f64>() / t.len() as f64
            })
            .sum::<f64>()
            / n as f64;
        let tau = pb.kendall_tau.unwrap();
        assert!((tau - expected).abs() < 1e-12, "{tau} vs {expected}");
        assert!(tau.abs() < 0.05, "{tau}");
        assert!(pb.ndcg10_spread.unwrap() > 0.05, "{pb:?}");
        assert_eq!((pb.orders, pb.lists), (k, n));
    }

    #[test]
    fn a_ranker_by_a_hidden_score_has_no_position_bias() {
        let examples = lists(50, 8);
        // The hidden score of a candidate depends on its id only, never on where it is shown.
        let hidden = |id: &str| (id.parse::<usize>().unwrap() * 5 % 8) as f64;
        let pb = position_bias(&examples, 5, 7, |ex| {
            let mut order: Vec<usize> = (0..ex.candidates.len()).collect();
            order.sort_by(|&a, &b| {
                hidden(&ex.candidates[b].id).total_cmp(&hidden(&ex.candidates[a].id))
            });
            Ok(order)
        })
        .unwrap();
        assert_eq!(pb.kendall_tau, Some(1.0));
        assert_eq!(pb.ndcg10_spread, Some(0.0));
        let by_hidden: Vec<usize> = {
            let mut o: Vec<usize> = (0..8).collect();
            o.sort_by(|&a, &b| hidden(&b.to_string()).total_cmp(&hidden(&a.to_string())));
            o
        };
        let expected = examples
            .iter()
            .filter_map(|ex| ndcg_of_ranking(&ex.relevance, &by_hidden, PER_LIST_K))
            .sum::<f64>()
            / examples.len() as f64;
        assert!((pb.ndcg10_mean.unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn equally_relevant_lists_count_for_tau_only_and_bad_rankings_are_refused() {
        let examples = [list(vec![0.0; 4]), list(vec![2.0; 4])];
        let pb = position_bias(&examples, 3, 1, |ex| {
            Ok((0..ex.candidates.len()).rev().collect())
        })
        .unwrap();
        assert!(pb.kendall_tau.is_some());
        assert_eq!((pb.ndcg10_spread, pb.ndcg10_mean), (None, None));
        let err = position_bias(&examples, 3, 1, |_| Ok(vec![0, 0, 1, 2]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a permutation"), "{err}");
        assert!(position_bias(&examples, 1, 1, |_| Ok(vec![0, 1, 2, 3])).is_err());
    }
}
