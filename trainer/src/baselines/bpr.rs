//! BPR-MF (Rendle et al., UAI 2009): every training interaction, whatever its rating, is a
//! positive; every item the user has not interacted with is a negative. SGD on
//! `−ln σ(x_uij)`, `x_uij = b_i − b_j + p_u·(q_i − q_j)`, one uniformly drawn (u, i) and one
//! uniformly drawn negative `j` (among items seen in training) per step, `|interactions|` steps
//! per epoch. The item bias lets it express popularity, which matters on lists whose negatives
//! are unrated items. Defaults (64 factors, 30 epochs, learning rate 0.05, regularisation 0.01)
//! were chosen on the ML-100K validation lists.

use super::linalg::{dot, normal_vec, sigmoid};
use super::{Hyper, Scorer, TrainData};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
pub struct BprConfig {
    pub dim: usize,
    pub epochs: usize,
    pub lr: f32,
    pub reg: f32,
    pub seed: u64,
}

impl BprConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        BprConfig {
            dim: h.dim.unwrap_or(64),
            epochs: h.epochs.unwrap_or(30),
            lr: h.lr.unwrap_or(0.05),
            reg: h.reg.unwrap_or(0.01),
            seed: h.seed,
        }
    }
}

pub struct Bpr {
    dim: usize,
    p: Vec<f32>,
    q: Vec<f32>,
    b: Vec<f32>,
}

impl Bpr {
    pub fn fit(data: &TrainData, cfg: &BprConfig, pb: &ProgressBar) -> Self {
        let d = cfg.dim;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut m = Bpr {
            dim: d,
            p: normal_vec(&mut rng, data.n_users * d, 0.1),
            q: normal_vec(&mut rng, data.n_items * d, 0.1),
            b: vec![0.0; data.n_items],
        };
        let n = data.interactions.len();
        pb.set_length(cfg.epochs as u64);
        let mut diff = vec![0.0f32; d];
        for _ in 0..cfg.epochs {
            for _ in 0..n {
                let (u, i, _) = data.interactions[rng.random_range(0..n)];
                let Some(j) = data.sample_negative(u, &mut rng) else {
                    continue;
                };
                let (u, i, j) = (u as usize, i as usize, j as usize);
                let pu = &mut m.p[u * d..(u + 1) * d];
                let (qi, qj) = two_rows(&mut m.q, i, j, d);
                for ((df, a), b) in diff.iter_mut().zip(qi.iter()).zip(qj.iter()) {
                    *df = a - b;
                }
                let x = m.b[i] - m.b[j] + dot(pu, &diff);
                let g = sigmoid(-x); // d(ln σ(x))/dx
                m.b[i] += cfg.lr * (g - cfg.reg * m.b[i]);
                m.b[j] += cfg.lr * (-g - cfg.reg * m.b[j]);
                for (((p, qi), qj), df) in pu
                    .iter_mut()
                    .zip(qi.iter_mut())
                    .zip(qj.iter_mut())
                    .zip(&diff)
                {
                    let p0 = *p;
                    *p += cfg.lr * (g * df - cfg.reg * p0);
                    *qi += cfg.lr * (g * p0 - cfg.reg * *qi);
                    *qj += cfg.lr * (-g * p0 - cfg.reg * *qj);
                }
            }
            pb.inc(1);
        }
        let mut seen = vec![false; data.n_items];
        data.items_seen
            .iter()
            .for_each(|&i| seen[i as usize] = true);
        for (i, s) in seen.iter().enumerate() {
            if !s {
                m.q[i * d..(i + 1) * d].fill(0.0); // untrained items: neutral, not noise
            }
        }
        m
    }
}

/// Rows `i` and `j` (`i != j`) of a row-major matrix with `d` columns, both mutable.
fn two_rows(m: &mut [f32], i: usize, j: usize, d: usize) -> (&mut [f32], &mut [f32]) {
    assert_ne!(i, j);
    if i < j {
        let (lo, hi) = m.split_at_mut(j * d);
        (&mut lo[i * d..(i + 1) * d], &mut hi[..d])
    } else {
        let (lo, hi) = m.split_at_mut(i * d);
        (&mut hi[..d], &mut lo[j * d..(j + 1) * d])
    }
}

impl Scorer for Bpr {
    fn score(&self, user: u32, item: u32) -> f64 {
        let (u, i, d) = (user as usize, item as usize, self.dim);
        (self.b[i] + dot(&self.p[u * d..(u + 1) * d], &self.q[i * d..(i + 1) * d])) as f64
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two taste groups: users `u < 40` interact with items 0..30, the others with 30..60, each
    /// missing a few. Returns the data and the held-out (user, in-group item) pairs.
    pub fn two_groups() -> (TrainData, Vec<(u32, u32)>) {
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
        (TrainData::from_triples(80, 60, t), held)
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
        let m = Bpr::fit(&d, &cfg, &ProgressBar::hidden());
        let a = auc(&m, &held);
        assert!(a > 0.95, "auc {a}");
    }
}
