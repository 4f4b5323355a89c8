//! Item mean rating, Bayesian-smoothed toward the global mean:
//! `score(i) = (Σ_u r_ui + C·μ) / (n_i + C)`, so an item rated 5 once does not outrank one rated
//! 4.5 by hundreds. `C` (the prior's weight, in pseudo-ratings) defaults to 10. Items never seen
//! in training score `μ`.

use super::{Scorer, TrainData};

pub const DEFAULT_SMOOTHING: f64 = 10.0;

pub struct ItemMean {
    scores: Vec<f64>,
}

impl ItemMean {
    pub fn fit(data: &TrainData, c: f64) -> Self {
        let mu = data.mean_rating();
        let mut sum = vec![0.0f64; data.n_items];
        let mut n = vec![0.0f64; data.n_items];
        for &(_, i, r) in &data.interactions {
            sum[i as usize] += r as f64;
            n[i as usize] += 1.0;
        }
        ItemMean {
            scores: sum
                .iter()
                .zip(&n)
                .map(|(s, n)| (s + c * mu) / (n + c))
                .collect(),
        }
    }
}

impl Scorer for ItemMean {
    fn score(&self, _user: u32, item: u32) -> f64 {
        self.scores[item as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// μ = (5 + 4 + 4 + 3) / 4 = 4. Item 0: (5 + 2·4)/(1 + 2) = 13/3; item 1: (4+4+3 + 8)/(3+2) = 19/5.
    #[test]
    fn hand_computed() {
        let d = TrainData::from_triples(
            3,
            3,
            vec![(0, 0, 5.0), (0, 1, 4.0), (1, 1, 4.0), (2, 1, 3.0)],
        );
        let m = ItemMean::fit(&d, 2.0);
        assert!((m.score(0, 0) - 13.0 / 3.0).abs() < 1e-12);
        assert!((m.score(0, 1) - 19.0 / 5.0).abs() < 1e-12);
        assert!((m.score(0, 2) - 4.0).abs() < 1e-12);
    }
}
