//! Ranking metrics (METHOD.md §2 and §8).
//!
//! Gain `G = 2^rel − 1`, discount `D_k = log2(1 + k)` for 1-based rank `k`,
//! `DCG@K = Σ_{k≤K} G_k / D_k`, `NDCG@K = DCG@K / IDCG@K`. A list whose IDCG is 0 (no item
//! with positive relevance) has no NDCG: the functions return `None` and the accumulator skips
//! and counts it.
//!
//! Scorers that produce ties (popularity, item means, the random ranker) are scored by the
//! *expected* NDCG over a uniformly random order within each tie (McSherry & Najork, ECIR 2008):
//! within a tied block every item gets the block's mean gain at each of the block's positions.
//! This is exact, needs no random numbers, and makes the random baseline (everything tied) its
//! analytic expected value.

use serde::{Deserialize, Serialize};

/// The cut-offs we report (METHOD.md §2, [ours]).
pub const REPORT_KS: [usize; 4] = [1, 5, 10, 20];

/// `2^rel − 1`.
pub fn gain(rel: f32) -> f64 {
    (rel as f64).exp2() - 1.0
}

/// `log2(1 + k)` for the 1-based rank `k`.
pub fn discount(rank: usize) -> f64 {
    ((1 + rank) as f64).log2()
}

/// DCG@K of relevances given in ranked order (best first).
pub fn dcg_at_k(ranked_relevance: &[f32], k: usize) -> f64 {
    ranked_relevance
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &r)| gain(r) / discount(i + 1))
        .sum()
}

/// IDCG@K: the DCG@K of the relevances sorted descending.
pub fn idcg_at_k(relevance: &[f32], k: usize) -> f64 {
    let mut sorted = relevance.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    dcg_at_k(&sorted, k)
}

/// NDCG@K of relevances given in ranked order; `None` if IDCG@K is 0.
pub fn ndcg_at_k(ranked_relevance: &[f32], k: usize) -> Option<f64> {
    let idcg = idcg_at_k(ranked_relevance, k);
    (idcg > 0.0).then(|| dcg_at_k(ranked_relevance, k) / idcg)
}

/// NDCG@K of a ranking given as indices into `relevance`, best first (a permutation).
pub fn ndcg_of_ranking(relevance: &[f32], ranking: &[usize], k: usize) -> Option<f64> {
    let ranked: Vec<f32> = ranking.iter().map(|&i| relevance[i]).collect();
    let idcg = idcg_at_k(relevance, k);
    (idcg > 0.0).then(|| dcg_at_k(&ranked, k) / idcg)
}

/// Expected NDCG@K of ranking by `scores` (higher first), ties broken uniformly at random, in
/// closed form. `None` if IDCG@K is 0. NaN scores rank last.
pub fn ndcg_of_scores(relevance: &[f32], scores: &[f64], k: usize) -> Option<f64> {
    assert_eq!(relevance.len(), scores.len(), "one score per candidate");
    let idcg = idcg_at_k(relevance, k);
    if idcg <= 0.0 {
        return None;
    }
    let key = |s: f64| if s.is_nan() { f64::NEG_INFINITY } else { s };
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| key(scores[b]).total_cmp(&key(scores[a])));
    let mut dcg = 0.0;
    let mut start = 0;
    while start < order.len() && start < k {
        let mut end = start + 1;
        while end < order.len() && key(scores[order[end]]) == key(scores[order[start]]) {
            end += 1;
        }
        let mean_gain = order[start..end]
            .iter()
            .map(|&i| gain(relevance[i]))
            .sum::<f64>()
            / (end - start) as f64;
        let discounts: f64 = (start..end.min(k)).map(|p| 1.0 / discount(p + 1)).sum();
        dcg += mean_gain * discounts;
        start = end;
    }
    Some(dcg / idcg)
}

/// Mean NDCG at several cut-offs over many lists; lists with IDCG = 0 are skipped and counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NdcgAccumulator {
    pub ks: Vec<usize>,
    sums: Vec<f64>,
    /// Lists that entered the means.
    pub lists: usize,
    /// Lists skipped because they have no positive (IDCG = 0).
    pub skipped: usize,
}

impl Default for NdcgAccumulator {
    fn default() -> Self {
        Self::new(&REPORT_KS)
    }
}

impl NdcgAccumulator {
    pub fn new(ks: &[usize]) -> Self {
        NdcgAccumulator {
            ks: ks.to_vec(),
            sums: vec![0.0; ks.len()],
            lists: 0,
            skipped: 0,
        }
    }

    /// Add one list scored by `scores` (tie-aware, see [`ndcg_of_scores`]).
    pub fn add_scores(&mut self, relevance: &[f32], scores: &[f64]) {
        self.add_with(|k| ndcg_of_scores(relevance, scores, k));
    }

    /// Add one list ranked as a permutation (best first).
    pub fn add_ranking(&mut self, relevance: &[f32], ranking: &[usize]) {
        self.add_with(|k| ndcg_of_ranking(relevance, ranking, k));
    }

    fn add_with(&mut self, f: impl Fn(usize) -> Option<f64>) {
        let vals: Option<Vec<f64>> = self.ks.iter().map(|&k| f(k)).collect();
        match vals {
            Some(v) => {
                self.sums.iter_mut().zip(v).for_each(|(s, x)| *s += x);
                self.lists += 1;
            }
            None => self.skipped += 1,
        }
    }

    /// Mean NDCG@k for each k (0 when no list was counted).
    pub fn means(&self) -> Vec<(usize, f64)> {
        let n = self.lists.max(1) as f64;
        self.ks
            .iter()
            .zip(&self.sums)
            .map(|(&k, &s)| (k, s / n))
            .collect()
    }

    pub fn mean(&self, k: usize) -> Option<f64> {
        self.means()
            .into_iter()
            .find(|&(kk, _)| kk == k)
            .map(|(_, v)| v)
    }
}

/// Kendall's τ-a between two rankings of the same `n` items, each a permutation of `0..n` given
/// best first. 1 = identical order, −1 = reversed. `None` for fewer than two items.
pub fn kendall_tau(a: &[usize], b: &[usize]) -> Option<f64> {
    let n = a.len();
    assert_eq!(n, b.len(), "rankings of different lengths");
    if n < 2 {
        return None;
    }
    let pos = |r: &[usize]| {
        let mut p = vec![usize::MAX; n];
        r.iter()
            .enumerate()
            .for_each(|(rank, &item)| p[item] = rank);
        assert!(p.iter().all(|&x| x != usize::MAX), "not a permutation");
        p
    };
    let (pa, pb) = (pos(a), pos(b));
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            let x = (pa[i] as i64 - pa[j] as i64).signum() * (pb[i] as i64 - pb[j] as i64).signum();
            s += x;
        }
    }
    Some(s as f64 / (n * (n - 1) / 2) as f64)
}

/// A difference of means with its 95% paired-bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    /// Mean of `a − b` over the lists.
    pub mean: f64,
    /// 2.5th and 97.5th percentiles of the resampled means.
    pub lo: f64,
    pub hi: f64,
    pub lists: usize,
    pub resamples: usize,
}

impl PairedDifference {
    /// "above" (the interval excludes zero on the positive side), "below", or "level".
    pub fn verdict(&self) -> &'static str {
        if self.lo > 0.0 {
            "above"
        } else if self.hi < 0.0 {
            "below"
        } else {
            "level"
        }
    }
}

/// The mean per-list difference `a[i] − b[i]` of two rankers scored on the same lists, with a 95%
/// percentile interval from `resamples` bootstrap resamples of the lists (seeded: the same inputs
/// give the same interval). Pairing matters: the lists vary far more than the rankers do, and
/// resampling lists jointly cancels that. `None` for empty or unequal inputs.
pub fn paired_bootstrap(
    a: &[f64],
    b: &[f64],
    resamples: usize,
    seed: u64,
) -> Option<PairedDifference> {
    use rand::{Rng, SeedableRng};
    if a.is_empty() || a.len() != b.len() || resamples == 0 {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    let mean = d.iter().sum::<f64>() / n as f64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| d[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Some(PairedDifference {
        mean,
        lo: at(0.025),
        hi: at(0.975),
        lists: n,
        resamples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn gains_and_discounts() {
        assert!(close(gain(0.0), 0.0));
        assert!(close(gain(1.0), 1.0));
        assert!(close(gain(5.0), 31.0));
        assert!(close(gain(0.5), 2f64.sqrt() - 1.0));
        assert!(close(discount(1), 1.0));
        assert!(close(discount(3), 2.0));
    }

    /// Relevances [3, 0, 2] in ranked order: DCG@3 = 7/1 + 0/log2 3 + 3/2 = 8.5;
    /// ideal [3, 2, 0]: 7 + 3/log2 3. NDCG@1 = 7/7 = 1.
    #[test]
    fn ndcg_hand_computed() {
        let ranked = [3.0, 0.0, 2.0];
        let idcg3 = 7.0 + 3.0 / 3f64.log2();
        assert!(close(dcg_at_k(&ranked, 3), 8.5));
        assert!(close(ndcg_at_k(&ranked, 3).unwrap(), 8.5 / idcg3));
        assert!(close(ndcg_at_k(&ranked, 1).unwrap(), 1.0));
        // @2: DCG = 7, IDCG = 7 + 3/log2 3.
        assert!(close(ndcg_at_k(&ranked, 2).unwrap(), 7.0 / idcg3));
        // K beyond the list length = the whole list.
        assert!(close(ndcg_at_k(&ranked, 20).unwrap(), 8.5 / idcg3));
        // Worst order [0, 2, 3]: DCG@1 = 0.
        assert!(close(ndcg_at_k(&[0.0, 2.0, 3.0], 1).unwrap(), 0.0));
    }

    #[test]
    fn ranking_by_indices_matches_ranked_relevances() {
        let rel = [0.0, 2.0, 3.0];
        assert!(close(
            ndcg_of_ranking(&rel, &[2, 0, 1], 3).unwrap(),
            ndcg_at_k(&[3.0, 0.0, 2.0], 3).unwrap()
        ));
    }

    #[test]
    fn a_list_with_no_positive_is_skipped_and_counted() {
        assert_eq!(ndcg_at_k(&[0.0, 0.0], 5), None);
        assert_eq!(ndcg_of_scores(&[0.0, 0.0], &[1.0, 2.0], 5), None);
        let mut acc = NdcgAccumulator::new(&[1, 5]);
        acc.add_ranking(&[0.0, 0.0], &[0, 1]);
        acc.add_ranking(&[1.0, 0.0], &[0, 1]);
        assert_eq!((acc.lists, acc.skipped), (1, 1));
        assert_eq!(acc.means(), vec![(1, 1.0), (5, 1.0)]);
    }

    /// Tied relevance: swapping two equally relevant items changes nothing.
    #[test]
    fn ties_in_relevance_do_not_change_ndcg() {
        let a = ndcg_of_ranking(&[2.0, 2.0, 0.0], &[0, 1, 2], 3).unwrap();
        let b = ndcg_of_ranking(&[2.0, 2.0, 0.0], &[1, 0, 2], 3).unwrap();
        assert!(close(a, 1.0) && close(b, 1.0));
    }

    /// Tied scores: relevances [1, 0], both scored 0.5 -> each position gets mean gain 1/2:
    /// DCG@2 = 0.5/1 + 0.5/log2 3, IDCG@2 = 1; NDCG@1 = 0.5.
    #[test]
    fn tied_scores_give_the_expected_ndcg() {
        let rel = [1.0, 0.0];
        let got = ndcg_of_scores(&rel, &[0.5, 0.5], 2).unwrap();
        assert!(close(got, 0.5 + 0.5 / 3f64.log2()));
        assert!(close(ndcg_of_scores(&rel, &[0.5, 0.5], 1).unwrap(), 0.5));
        // Average of the two orders computed directly.
        let direct = (ndcg_of_ranking(&rel, &[0, 1], 2).unwrap()
            + ndcg_of_ranking(&rel, &[1, 0], 2).unwrap())
            / 2.0;
        assert!(close(got, direct));
        // Partial tie: rel [3, 1, 0], scores [9, 1, 1]: first item alone, then a tie of gains
        // 1 and 0 at ranks 2-3. @2: (7 + 0.5/log2 3) / (7 + 1/log2 3).
        let got = ndcg_of_scores(&[3.0, 1.0, 0.0], &[9.0, 1.0, 1.0], 2).unwrap();
        assert!(close(
            got,
            (7.0 + 0.5 / 3f64.log2()) / (7.0 + 1.0 / 3f64.log2())
        ));
    }

    /// All tied = the random ranker: expected DCG@K = mean gain × Σ_{k≤K} 1/D_k. Compare with the
    /// average over all 3! permutations.
    #[test]
    fn all_tied_equals_the_average_over_all_permutations() {
        let rel = [2.0, 1.0, 0.0];
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for k in 1..=3 {
            let avg = perms
                .iter()
                .map(|p| ndcg_of_ranking(&rel, p, k).unwrap())
                .sum::<f64>()
                / 6.0;
            assert!(close(ndcg_of_scores(&rel, &[0.0; 3], k).unwrap(), avg));
        }
    }

    #[test]
    fn distinct_scores_equal_the_induced_ranking() {
        let rel = [0.0, 3.0, 1.0, 2.0];
        let scores = [0.1, 0.3, 0.9, 0.5];
        for k in [1, 2, 4] {
            assert!(close(
                ndcg_of_scores(&rel, &scores, k).unwrap(),
                ndcg_of_ranking(&rel, &[2, 3, 1, 0], k).unwrap()
            ));
        }
    }

    #[test]
    fn kendall_tau_hand_computed() {
        assert_eq!(kendall_tau(&[0, 1, 2], &[0, 1, 2]), Some(1.0));
        assert_eq!(kendall_tau(&[0, 1, 2], &[2, 1, 0]), Some(-1.0));
        // One discordant pair (0,1) out of 3: (2 − 1) / 3.
        assert!(close(
            kendall_tau(&[0, 1, 2], &[1, 0, 2]).unwrap(),
            1.0 / 3.0
        ));
        assert_eq!(kendall_tau(&[0], &[0]), None);
    }

    #[test]
    fn paired_bootstrap_brackets_the_mean_and_pairs_the_lists() {
        // a beats b by exactly 0.01 on every list while the lists themselves vary a lot: paired,
        // the interval is the point 0.01 (every resample has mean 0.01).
        let b: Vec<f64> = (0..200).map(|i| (i % 10) as f64 / 10.0).collect();
        let a: Vec<f64> = b.iter().map(|x| x + 0.01).collect();
        let d = paired_bootstrap(&a, &b, 500, 1).unwrap();
        assert!(
            (d.mean - 0.01).abs() < 1e-12
                && (d.lo - 0.01).abs() < 1e-9
                && (d.hi - 0.01).abs() < 1e-9
        );
        assert_eq!(d.verdict(), "above");
        // Differences +1/−1 alternating: mean 0, interval around 0 of width ~ 4·σ/√n = 4/√200.
        let a: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let zero = vec![0.0; 200];
        let d = paired_bootstrap(&a, &zero, 2000, 7).unwrap();
        assert_eq!(d.mean, 0.0);
        assert!(d.lo < 0.0 && d.hi > 0.0, "{d:?}");
        assert!((d.hi - d.lo - 4.0 / 200f64.sqrt()).abs() < 0.05, "{d:?}");
        assert_eq!(d.verdict(), "level");
        assert_eq!(paired_bootstrap(&a, &zero, 2000, 7), Some(d), "seeded");
        let d = paired_bootstrap(
            &zero,
            &a.iter().map(|x| x + 1.0).collect::<Vec<_>>(),
            100,
            1,
        );
        assert_eq!(d.unwrap().verdict(), "below");
        assert!(paired_bootstrap(&[], &[], 10, 1).is_none());
        assert!(paired_bootstrap(&[1.0], &[1.0, 2.0], 10, 1).is_none());
    }
}
