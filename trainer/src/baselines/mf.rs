//! Biased matrix factorisation of explicit ratings (Koren, Bell & Volinsky 2009), trained by
//! SGD on squared error: `r̂_ui = μ + b_u + b_i + p_u·q_i`. Defaults are those of the Surprise
//! library's `SVD` (100 factors, 20 epochs, learning rate 0.005, regularisation 0.02, init
//! N(0, 0.1²)). It predicts ratings, not whether an item will be rated at all, so on lists whose
//! negatives are unrated items it can rank an unseen, well-liked item above a rated one: that is
//! a known weakness of rating predictors for top-N ranking, reported as is.

use super::linalg::{dot, normal_vec};
use super::{Hyper, Scorer, TrainData};
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
pub struct MfConfig {
    pub dim: usize,
    pub epochs: usize,
    pub lr: f32,
    pub reg: f32,
    pub init_std: f32,
    pub seed: u64,
}

impl MfConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        MfConfig {
            dim: h.dim.unwrap_or(100),
            epochs: h.epochs.unwrap_or(20),
            lr: h.lr.unwrap_or(0.005),
            reg: h.reg.unwrap_or(0.02),
            init_std: 0.1,
            seed: h.seed,
        }
    }
}

pub struct BiasedMf {
    dim: usize,
    mu: f32,
    bu: Vec<f32>,
    bi: Vec<f32>,
    p: Vec<f32>,
    q: Vec<f32>,
}

impl BiasedMf {
    pub fn fit(data: &TrainData, cfg: &MfConfig, pb: &ProgressBar) -> Self {
        let d = cfg.dim;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut m = BiasedMf {
            dim: d,
            mu: data.mean_rating() as f32,
            bu: vec![0.0; data.n_users],
            bi: vec![0.0; data.n_items],
            p: normal_vec(&mut rng, data.n_users * d, cfg.init_std),
            q: normal_vec(&mut rng, data.n_items * d, cfg.init_std),
        };
        let mut order: Vec<usize> = (0..data.interactions.len()).collect();
        pb.set_length(cfg.epochs as u64);
        for _ in 0..cfg.epochs {
            shuffle(&mut order, &mut rng);
            for &k in &order {
                let (u, i, r) = data.interactions[k];
                let (u, i) = (u as usize, i as usize);
                let pu = &mut m.p[u * d..(u + 1) * d];
                let qi = &mut m.q[i * d..(i + 1) * d];
                let e = r - (m.mu + m.bu[u] + m.bi[i] + dot(pu, qi));
                m.bu[u] += cfg.lr * (e - cfg.reg * m.bu[u]);
                m.bi[i] += cfg.lr * (e - cfg.reg * m.bi[i]);
                for (pf, qf) in pu.iter_mut().zip(qi.iter_mut()) {
                    let (p0, q0) = (*pf, *qf);
                    *pf += cfg.lr * (e * q0 - cfg.reg * p0);
                    *qf += cfg.lr * (e * p0 - cfg.reg * q0);
                }
            }
            pb.inc(1);
        }
        // Items never seen in training keep their random initial factors; zero them so they
        // score the neutral μ + b_u instead of noise.
        for (i, s) in data.seen().iter().enumerate() {
            if !s {
                m.q[i * d..(i + 1) * d].fill(0.0);
            }
        }
        m
    }

    /// Root mean squared error on some (user, item, rating) triples.
    #[cfg(test)]
    pub fn rmse(&self, triples: &[(u32, u32, f32)]) -> f64 {
        let se: f64 = triples
            .iter()
            .map(|&(u, i, r)| (self.score(u, i) - r as f64).powi(2))
            .sum();
        (se / triples.len().max(1) as f64).sqrt()
    }
}

impl Scorer for BiasedMf {
    fn score(&self, user: u32, item: u32) -> f64 {
        let (u, i, d) = (user as usize, item as usize, self.dim);
        (self.mu
            + self.bu[u]
            + self.bi[i]
            + dot(&self.p[u * d..(u + 1) * d], &self.q[i * d..(i + 1) * d])) as f64
    }
}

/// Fisher–Yates with the training RNG.
pub fn shuffle<T>(xs: &mut [T], rng: &mut ChaCha8Rng) {
    use rand::Rng;
    for i in (1..xs.len()).rev() {
        xs.swap(i, rng.random_range(0..=i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ratings from a rank-1 structure: training error must fall well below the spread of the
    /// ratings, and the fit must be reproducible for a seed.
    #[test]
    fn learns_a_low_rank_rating_matrix() {
        let (nu, ni) = (30, 20);
        let mut t = Vec::new();
        for u in 0..nu {
            for i in 0..ni {
                if (u * 7 + i * 3) % 4 != 0 {
                    let r = 1.0 + 4.0 * ((u as f32 / nu as f32) * (i as f32 / ni as f32));
                    t.push((u as u32, i as u32, r));
                }
            }
        }
        let d = TrainData::from_triples(nu, ni, t.clone());
        let cfg = MfConfig {
            dim: 4,
            epochs: 200,
            lr: 0.02,
            reg: 0.001,
            init_std: 0.1,
            seed: 3,
        };
        let m = BiasedMf::fit(&d, &cfg, &ProgressBar::hidden());
        assert!(m.rmse(&t) < 0.15, "rmse {}", m.rmse(&t));
        let m2 = BiasedMf::fit(&d, &cfg, &ProgressBar::hidden());
        assert_eq!(m.score(3, 4), m2.score(3, 4));
    }
}
