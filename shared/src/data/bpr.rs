//! BPR-MF (Rendle et al., UAI 2009): every training interaction, whatever its rating, is a
//! positive; every item the user has not interacted with is a negative. SGD on
//! `−ln σ(x_uij)`, `x_uij = b_i − b_j + p_u·(q_i − q_j)`, one uniformly drawn (u, i) and one
//! uniformly drawn negative `j` (among items seen in training) per step, `|interactions|` steps
//! per epoch. The item bias lets it express popularity, which matters on lists whose negatives
//! are unrated items. Defaults (64 factors, 30 epochs, learning rate 0.05, regularisation 0.01)
//! were chosen on the ML-100K validation lists.

use super::TrainData;
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

impl Default for BprConfig {
    fn default() -> Self {
        BprConfig {
            dim: 64,
            epochs: 30,
            lr: 0.05,
            reg: 0.01,
            seed: 0,
        }
    }
}

/// A fitted model: user factors `p` (users × dim), item factors `q` (items × dim) and item
/// biases `b`, row-major. Items never seen in training keep zero factors and bias.
pub struct Bpr {
    pub dim: usize,
    pub p: Vec<f32>,
    pub q: Vec<f32>,
    pub b: Vec<f32>,
}

impl Bpr {
    /// `b_i + p_u · q_i`: how much `user` is predicted to prefer `item`.
    pub fn score(&self, user: u32, item: u32) -> f32 {
        let (u, i, d) = (user as usize, item as usize, self.dim);
        self.b[i] + dot(&self.p[u * d..(u + 1) * d], &self.q[i * d..(i + 1) * d])
    }

    /// Item `i`'s factor row.
    pub fn item(&self, i: u32) -> &[f32] {
        let d = self.dim;
        &self.q[i as usize * d..(i as usize + 1) * d]
    }

    /// Fits on every interaction of `data`; `on_epoch` is called after each epoch (progress).
    pub fn fit(data: &TrainData, cfg: &BprConfig, mut on_epoch: impl FnMut()) -> Self {
        let d = cfg.dim;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut m = Bpr {
            dim: d,
            p: normal_vec(&mut rng, data.n_users * d, 0.1),
            q: normal_vec(&mut rng, data.n_items * d, 0.1),
            b: vec![0.0; data.n_items],
        };
        let n = data.interactions.len();
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
            on_epoch();
        }
        for (i, s) in data.seen().iter().enumerate() {
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

/// The scalar kit of every factor model here and in the trainer's baselines.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `n` draws from N(0, std²) (Box–Muller).
pub fn normal_vec(rng: &mut ChaCha8Rng, n: usize, std: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f32 = rng.random::<f32>().max(f32::MIN_POSITIVE);
        let u2: f32 = rng.random::<f32>();
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let t = std::f32::consts::TAU * u2;
        out.push(r * t.cos());
        out.push(r * t.sin());
    }
    out.truncate(n);
    out
}
