//! Match notes: how well a candidate fits the taste of the history the prompt shows, by the item
//! factors of a BPR model folded in over that history.
//!
//! `score(c) = α·b_c + q_c · mean_{h ∈ history} q_h` with BPR's item factors `q` and biases `b`
//! ([`super::bpr`]) and `α` = [`BIAS_WEIGHT`]. No user factor is used, so the same rule serves a
//! user the model was never fitted on (the browser's user, or a training list's user left out of
//! the fit). The score is shown as `match T/N`, in `N` tiers set by the scores of (history,
//! uniformly drawn item) pairs of the fit's own users ([`MatchModel::fit`]): tier `T` holds the
//! drawn items between the quantiles `1 − (1 − (T−1)/N)²` and `1 − (1 − T/N)²`, so a tier means
//! the same share of films whatever the fit's scale, and the top tiers are the narrow ones.
//!
//! Why this note (the 943 ML-100K test lists, 20 candidates, NDCG@10, ranked alone: `alro eval
//! --match-tiers 20 --baseline all`; research/release-ranker-log.md): `match T/20` scores 0.7675
//! on uniform negatives and 0.6131 on popular ones, where BPR-MF with its user factors scores
//! 0.7621 and 0.5851, LightGCN 0.7569 and 0.5976, and the similarity note 0.7376 and 0.5393. The
//! full bias (`α = 1`) is best on uniform negatives and the worst on popular ones, where every
//! candidate is popular; `α` was chosen between them on the validation lists.
//!
//! Unknown films: a candidate the fit never saw, or a history without any film it saw, gets
//! tier 1 (as the similarity note does).

use super::bpr::{dot, Bpr, BprConfig};
use super::TrainData;
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Weight of the item bias (popularity, in effect) against the taste match (module docs).
pub const BIAS_WEIGHT: f32 = 0.5;
/// Uniformly drawn items per user whose scores set the tier boundaries.
const DRAWS_PER_USER: usize = 20;
/// Seed of the BPR fit and of the boundary draws: notes are a function of the ratings alone.
const SEED: u64 = 2024;

/// Item factors and biases of a fit, and the score boundaries of its tiers.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchModel {
    dim: usize,
    /// Items × dim, row-major.
    factors: Vec<f32>,
    bias: Vec<f32>,
    /// Whether the fit saw the item (an unseen one has no factors to speak of).
    seen: Vec<bool>,
    /// `N − 1` ascending scores: tier `T` = 1 + the number of boundaries at or below the score.
    boundaries: Vec<f32>,
}

impl MatchModel {
    /// Fits BPR (its defaults, seed fixed) on `data` and sets the boundaries of `tiers` tiers
    /// (module docs) from every user's last `history_len` interactions against uniformly drawn
    /// seen items.
    pub fn fit(data: &TrainData, history_len: usize, tiers: usize) -> Result<Self> {
        let cfg = BprConfig {
            seed: SEED,
            ..BprConfig::default()
        };
        let bpr = Bpr::fit(data, &cfg, || {});
        MatchModel {
            dim: bpr.dim,
            factors: bpr.q,
            bias: bpr.b,
            seen: data.seen(),
            boundaries: Vec::new(),
        }
        .with_tiers(data, history_len, tiers)
    }

    /// This model with the boundaries of `tiers` tiers (module docs) set from the users of `data`:
    /// each one's last `history_len` interactions against uniformly drawn seen items.
    pub fn with_tiers(
        mut self,
        data: &TrainData,
        history_len: usize,
        tiers: usize,
    ) -> Result<Self> {
        if tiers == 0 {
            return Err(Error::Invalid("match notes need at least one tier".into()));
        }
        // Each user's interactions in time order (`interactions` keeps the ratings' order).
        let mut histories = vec![Vec::new(); data.n_users];
        for &(u, i, _) in &data.interactions {
            histories[u as usize].push(i);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let mut scores = Vec::new();
        for h in histories.iter().filter(|h| !h.is_empty()) {
            let recent = &h[h.len().saturating_sub(history_len)..];
            let Some(taste) = self.taste(recent) else {
                continue;
            };
            for _ in 0..DRAWS_PER_USER {
                let item = data.items_seen[rng.random_range(0..data.items_seen.len())];
                scores.push(self.score_with(&taste, item));
            }
        }
        if scores.is_empty() {
            return Err(Error::Invalid(
                "match notes: no user has a rated item to set the tiers from".into(),
            ));
        }
        scores.sort_by(f32::total_cmp);
        // Boundary k at quantile 1 − (1 − k/N)²: narrow tiers at the top, where a list's
        // positives fall (equal-frequency tiers cost 0.019 NDCG@10 on the ML-100K test lists,
        // these 0.002, against the untiered score).
        let n = scores.len();
        self.boundaries = (1..tiers)
            .map(|k| {
                let rest = 1.0 - k as f64 / tiers as f64;
                scores[(((1.0 - rest * rest) * n as f64) as usize).min(n - 1)]
            })
            .collect();
        Ok(self)
    }

    /// A model from stored parts (an item table), checked: `factors` holds `dim` values per item
    /// of `bias`, every number is finite, boundaries ascend.
    pub fn from_parts(
        dim: usize,
        factors: Vec<f32>,
        bias: Vec<f32>,
        seen: Vec<bool>,
        boundaries: Vec<f32>,
    ) -> Result<Self> {
        let bad = |m: String| Err(Error::Invalid(format!("match model: {m}")));
        if dim == 0 || factors.len() != dim * bias.len() || seen.len() != bias.len() {
            return bad(format!(
                "{} factors, {} biases and {} seen flags do not fit {dim} factors per item",
                factors.len(),
                bias.len(),
                seen.len()
            ));
        }
        if !factors
            .iter()
            .chain(&bias)
            .chain(&boundaries)
            .all(|v| v.is_finite())
        {
            return bad("a factor, bias or boundary is not a finite number".into());
        }
        if boundaries.windows(2).any(|w| w[0] > w[1]) {
            return bad("tier boundaries must ascend".into());
        }
        Ok(MatchModel {
            dim,
            factors,
            bias,
            seen,
            boundaries,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn factors(&self) -> &[f32] {
        &self.factors
    }
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }
    pub fn seen(&self) -> &[bool] {
        &self.seen
    }
    pub fn boundaries(&self) -> &[f32] {
        &self.boundaries
    }
    /// Number of tiers `N`.
    pub fn tiers(&self) -> usize {
        self.boundaries.len() + 1
    }

    fn known(&self, item: u32) -> bool {
        self.seen.get(item as usize).copied().unwrap_or(false)
    }

    fn row(&self, item: u32) -> &[f32] {
        let (i, d) = (item as usize, self.dim);
        &self.factors[i * d..(i + 1) * d]
    }

    /// The mean factor of the known films of `history`; `None` if it has none.
    pub fn taste(&self, history: &[u32]) -> Option<Vec<f32>> {
        let known: Vec<u32> = history.iter().copied().filter(|&h| self.known(h)).collect();
        if known.is_empty() {
            return None;
        }
        let mut mean = vec![0.0f32; self.dim];
        for &h in &known {
            mean.iter_mut().zip(self.row(h)).for_each(|(m, v)| *m += v);
        }
        let n = known.len() as f32;
        mean.iter_mut().for_each(|m| *m /= n);
        Some(mean)
    }

    fn score_with(&self, taste: &[f32], item: u32) -> f32 {
        BIAS_WEIGHT * self.bias[item as usize] + dot(self.row(item), taste)
    }

    /// The score of `item` for a history whose [`MatchModel::taste`] is `taste`; `None` for an
    /// item the fit never saw.
    pub fn score(&self, taste: &[f32], item: u32) -> Option<f32> {
        self.known(item).then(|| self.score_with(taste, item))
    }

    /// The tier (1..=N) of `item` after `history` (tier 1 for an unknown item or history).
    pub fn tier(&self, item: u32, history: &[u32]) -> usize {
        match self.taste(history).and_then(|t| self.score(&t, item)) {
            Some(s) => 1 + self.boundaries.iter().filter(|&&b| b <= s).count(),
            None => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two taste groups of users, each rating its own half of the items.
    fn two_groups() -> TrainData {
        let mut t = Vec::new();
        for u in 0..60u32 {
            let base = if u < 30 { 0 } else { 20 };
            for k in 0..20u32 {
                if (u + k) % 4 != 0 {
                    t.push((u, base + k, 4.0));
                }
            }
        }
        TrainData::from_triples(60, 41, t) // item 40: never rated
    }

    #[test]
    fn a_history_ranks_its_own_group_above_the_other_and_unknowns_get_tier_one() {
        let m = MatchModel::fit(&two_groups(), 10, 10).unwrap();
        assert_eq!(m.tiers(), 10);
        let history: Vec<u32> = (0..8).collect();
        let own: f64 = (10..20).map(|i| m.tier(i, &history) as f64).sum::<f64>() / 10.0;
        let other: f64 = (20..40).map(|i| m.tier(i, &history) as f64).sum::<f64>() / 20.0;
        assert!(own > other + 3.0, "own group {own}, other {other}");
        assert_eq!(m.tier(40, &history), 1, "an item the fit never saw");
        assert_eq!(m.tier(3, &[40]), 1, "a history of unknown films");
        assert_eq!(m.tier(3, &[]), 1, "an empty history");
    }

    #[test]
    fn boundaries_ascend_and_a_score_maps_to_its_tier() {
        let m = MatchModel::fit(&two_groups(), 10, 4).unwrap();
        assert_eq!(m.boundaries().len(), 3);
        assert!(m.boundaries().windows(2).all(|w| w[0] <= w[1]));
        let history: Vec<u32> = (20..28).collect();
        let taste = m.taste(&history).unwrap();
        for item in 0..40 {
            let s = m.score(&taste, item).unwrap();
            let want = 1 + m.boundaries().iter().filter(|&&b| b <= s).count();
            assert_eq!(m.tier(item, &history), want);
        }
    }

    #[test]
    fn stored_parts_are_checked() {
        let m = MatchModel::fit(&two_groups(), 10, 4).unwrap();
        let again = MatchModel::from_parts(
            m.dim(),
            m.factors().to_vec(),
            m.bias().to_vec(),
            m.seen().to_vec(),
            m.boundaries().to_vec(),
        )
        .unwrap();
        assert_eq!(again, m);
        let short = MatchModel::from_parts(
            m.dim(),
            vec![0.0; 3],
            m.bias().to_vec(),
            m.seen().to_vec(),
            vec![],
        );
        assert!(short.is_err());
        let nan = MatchModel::from_parts(1, vec![f32::NAN], vec![0.0], vec![true], vec![]);
        assert!(nan.is_err());
        let descending =
            MatchModel::from_parts(1, vec![0.0], vec![0.0], vec![true], vec![1.0, 0.0]);
        assert!(descending.is_err());
    }
}
