//! BPR-MF (Rendle et al., UAI 2009): every training interaction, whatever its rating, is a
//! positive; every item the user has not interacted with is a negative. SGD on
//! `−ln σ(x_uij)`, `x_uij = b_i − b_j + p_u·(q_i − q_j)`, one uniformly drawn (u, i) and one
//! uniformly drawn negative `j` (among items seen in training) per step, `|interactions|` steps
//! per epoch. The item bias lets it express popularity, which matters on lists whose negatives
//! are unrated items. Defaults (64 factors, 30 epochs, learning rate 0.05, regularisation 0.01)
//! were chosen on the ML-100K validation lists.

use super::{Hyper, Scorer};
pub use alro_core::data::bpr::{Bpr, BprConfig};
use indicatif::ProgressBar;

/// The baseline's configuration: `alro eval`'s hyper-parameters over the defaults.
pub fn config(h: &Hyper) -> BprConfig {
    let d = BprConfig::default();
    BprConfig {
        dim: h.dim.unwrap_or(d.dim),
        epochs: h.epochs.unwrap_or(d.epochs),
        lr: h.lr.unwrap_or(d.lr),
        reg: h.reg.unwrap_or(d.reg),
        seed: h.seed,
    }
}

/// Fits with `pb` counting epochs.
pub fn fit(data: &super::TrainData, cfg: &BprConfig, pb: &ProgressBar) -> Bpr {
    pb.set_length(cfg.epochs as u64);
    Bpr::fit(data, cfg, || pb.inc(1))
}

impl Scorer for Bpr {
    fn score(&self, user: u32, item: u32) -> f64 {
        Bpr::score(self, user, item) as f64
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two taste groups: users `u < 40` interact with items 0..30, the others with 30..60, each
    /// missing a few. Returns the data and the held-out (user, in-group item) pairs.
    pub fn two_groups() -> (super::super::TrainData, Vec<(u32, u32)>) {
        let mut t = Vec::new();
        let mut held = Vec::new();
        for u in 0..80u32 {
            let base = if u < 40 { 0 } else { 30 };
            for k in 0..30u32 {
                let i = base + k;
                if (u + k) % 6 == 0 {
                    held.push((u, i));
                } else {
                    t.push((u, i, 4.0));
                }
            }
        }
        (super::super::TrainData::from_triples(80, 60, t), held)
    }

    /// Fraction of (held-out in-group item, other-group item) pairs ordered correctly.
    pub fn auc(s: &dyn Scorer, held: &[(u32, u32)]) -> f64 {
        let mut good = 0;
        let mut all = 0;
        for &(u, i) in held {
            let other = if u < 40 { 30..60 } else { 0..30 };
            for j in other {
                all += 1;
                good += (s.score(u, i) > s.score(u, j)) as usize;
            }
        }
        good as f64 / all as f64
    }

    #[test]
    fn ranks_held_out_in_group_items_first() {
        let (d, held) = two_groups();
        let cfg = BprConfig {
            dim: 8,
            epochs: 30,
            lr: 0.05,
            reg: 0.002,
            seed: 1,
        };
        let m = fit(&d, &cfg, &ProgressBar::hidden());
        let a = auc(&m, &held);
        assert!(a > 0.95, "auc {a}");
    }
}
