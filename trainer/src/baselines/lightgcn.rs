//! LightGCN (He et al., SIGIR 2020), on CPU in plain Rust.
//!
//! Users and items are the nodes of one bipartite graph with the symmetric normalised adjacency
//! `Â = D^{-1/2} A D^{-1/2}`. Only the layer-0 embeddings `E⁽⁰⁾` are parameters; layers are
//! `E⁽ᵏ⁺¹⁾ = Â E⁽ᵏ⁾` (no weights, no non-linearity) and the final embedding is their mean
//! `F = (1/(K+1)) Σ_k E⁽ᵏ⁾`. Score = `F_u · F_i`. Loss: BPR over (u, i, j) triples (one uniformly
//! drawn negative per interaction, each epoch) plus L2 on the layer-0 rows used in the batch,
//! divided by the batch size, as in the paper.
//!
//! Gradient: `F = S E⁽⁰⁾` with `S = (1/(K+1)) Σ_k Âᵏ` symmetric, so `∂L/∂E⁽⁰⁾ = S · ∂L/∂F`,
//! computed with the same K sparse products as the forward pass. Optimiser: Adam. To keep an
//! epoch to a few full-graph propagations, batches are large (default 16384 triples); the
//! learning rate is raised to match. `propagated_reference` is the slow, obviously correct
//! version of the forward pass that a test compares against.

use super::linalg::{dot, normal_vec, sigmoid, Csr};
use super::mf::shuffle;
use super::{Hyper, Scorer, TrainData};
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
pub struct LightGcnConfig {
    pub dim: usize,
    pub layers: usize,
    pub epochs: usize,
    pub lr: f32,
    pub reg: f32,
    pub batch: usize,
    pub seed: u64,
}

impl LightGcnConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        LightGcnConfig {
            dim: h.dim.unwrap_or(64),
            layers: h.layers.unwrap_or(3),
            epochs: h.epochs.unwrap_or(40),
            lr: h.lr.unwrap_or(0.01),
            reg: h.reg.unwrap_or(1e-4),
            batch: 16384,
            seed: h.seed,
        }
    }
}

pub struct LightGcn {
    dim: usize,
    n_users: usize,
    /// Final (propagated, averaged) embeddings: users first, then items.
    f: Vec<f32>,
}

/// The normalised adjacency of the user–item graph (users `0..U`, items `U..U+I`).
pub fn adjacency(data: &TrainData) -> Csr {
    let n = data.n_users + data.n_items;
    let mut deg = vec![0u32; n];
    for &(u, i, _) in &data.interactions {
        deg[u as usize] += 1;
        deg[data.n_users + i as usize] += 1;
    }
    let mut triples = Vec::with_capacity(2 * data.interactions.len());
    for &(u, i, _) in &data.interactions {
        let (a, b) = (u as usize, data.n_users + i as usize);
        let w = 1.0 / ((deg[a] as f32).sqrt() * (deg[b] as f32).sqrt());
        triples.push((a as u32, b as u32, w));
        triples.push((b as u32, a as u32, w));
    }
    Csr::from_triples(n, triples)
}

/// `S x = (1/(K+1)) Σ_{k=0..K} Âᵏ x`.
fn smooth(adj: &Csr, x: &[f32], d: usize, layers: usize) -> Vec<f32> {
    let mut acc = x.to_vec();
    let mut cur = x.to_vec();
    let mut next = vec![0.0f32; x.len()];
    for _ in 0..layers {
        adj.matmul(&cur, d, &mut next);
        acc.iter_mut().zip(&next).for_each(|(a, n)| *a += n);
        std::mem::swap(&mut cur, &mut next);
    }
    let s = 1.0 / (layers + 1) as f32;
    acc.iter_mut().for_each(|a| *a *= s);
    acc
}

/// Dense, slow reference of [`smooth`]: build Â as a dense matrix and multiply naively.
#[cfg(test)]
pub fn propagated_reference(data: &TrainData, e0: &[f32], d: usize, layers: usize) -> Vec<f32> {
    let adj = adjacency(data);
    let n = adj.n;
    let mut dense = vec![0.0f64; n * n];
    for r in 0..n {
        for e in adj.indptr[r]..adj.indptr[r + 1] {
            dense[r * n + adj.indices[e] as usize] += adj.values[e] as f64;
        }
    }
    let mut cur: Vec<f64> = e0.iter().map(|&x| x as f64).collect();
    let mut acc = cur.clone();
    for _ in 0..layers {
        let mut next = vec![0.0f64; n * d];
        for r in 0..n {
            for c in 0..n {
                let a = dense[r * n + c];
                if a != 0.0 {
                    for f in 0..d {
                        next[r * d + f] += a * cur[c * d + f];
                    }
                }
            }
        }
        acc.iter_mut().zip(&next).for_each(|(a, x)| *a += x);
        cur = next;
    }
    acc.iter()
        .map(|&a| (a / (layers + 1) as f64) as f32)
        .collect()
}

impl LightGcn {
    pub fn fit(data: &TrainData, cfg: &LightGcnConfig, pb: &ProgressBar) -> Self {
        let d = cfg.dim;
        let nu = data.n_users;
        let adj = adjacency(data);
        let n = adj.n;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut e0 = normal_vec(&mut rng, n * d, 0.1);
        let mut adam = Adam::new(n * d, cfg.lr);
        let mut order: Vec<usize> = (0..data.interactions.len()).collect();
        pb.set_length(cfg.epochs as u64);
        for _ in 0..cfg.epochs {
            shuffle(&mut order, &mut rng);
            for batch in order.chunks(cfg.batch) {
                let f = smooth(&adj, &e0, d, cfg.layers);
                let mut g = vec![0.0f32; n * d];
                let mut reg_rows: Vec<usize> = Vec::with_capacity(3 * batch.len());
                let scale = 1.0 / batch.len() as f32;
                for &k in batch {
                    let (u, i, _) = data.interactions[k];
                    let Some(j) = data.sample_negative(u, &mut rng) else {
                        continue;
                    };
                    let (a, b, c) = (u as usize, nu + i as usize, nu + j as usize);
                    let x = dot(&f[a * d..(a + 1) * d], &f[b * d..(b + 1) * d])
                        - dot(&f[a * d..(a + 1) * d], &f[c * d..(c + 1) * d]);
                    let coef = -sigmoid(-x) * scale; // ∂(−ln σ(x))/∂x, averaged over the batch
                    for t in 0..d {
                        let (fu, fi, fj) = (f[a * d + t], f[b * d + t], f[c * d + t]);
                        g[a * d + t] += coef * (fi - fj);
                        g[b * d + t] += coef * fu;
                        g[c * d + t] -= coef * fu;
                    }
                    reg_rows.extend([a, b, c]);
                }
                let mut grad = smooth(&adj, &g, d, cfg.layers);
                for r in reg_rows {
                    for t in 0..d {
                        grad[r * d + t] += cfg.reg * scale * e0[r * d + t];
                    }
                }
                adam.step(&mut e0, &grad);
            }
            pb.inc(1);
        }
        LightGcn {
            dim: d,
            n_users: nu,
            f: smooth(&adj, &e0, d, cfg.layers),
        }
    }
}

impl Scorer for LightGcn {
    fn score(&self, user: u32, item: u32) -> f64 {
        let d = self.dim;
        let (a, b) = (user as usize, self.n_users + item as usize);
        dot(&self.f[a * d..(a + 1) * d], &self.f[b * d..(b + 1) * d]) as f64
    }
}

/// Adam (Kingma & Ba) with the usual β = (0.9, 0.999), ε = 1e-8.
struct Adam {
    lr: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(n: usize, lr: f32) -> Self {
        Adam {
            lr,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }
    fn step(&mut self, w: &mut [f32], g: &[f32]) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        self.t += 1;
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        for k in 0..w.len() {
            self.m[k] = b1 * self.m[k] + (1.0 - b1) * g[k];
            self.v[k] = b2 * self.v[k] + (1.0 - b2) * g[k] * g[k];
            w[k] -= self.lr * (self.m[k] / c1) / ((self.v[k] / c2).sqrt() + eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::bpr::tests::{auc, two_groups};

    #[test]
    fn fast_propagation_matches_the_dense_reference() {
        let (d, _) = two_groups();
        let n = d.n_users + d.n_items;
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let e0 = normal_vec(&mut rng, n * 4, 1.0);
        let fast = smooth(&adjacency(&d), &e0, 4, 3);
        let slow = propagated_reference(&d, &e0, 4, 3);
        let max_err = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_err < 1e-5, "max error {max_err}");
    }

    #[test]
    fn adjacency_is_symmetric_normalised() {
        // One user with 2 items, one item with 1 user: weight 1/sqrt(2·1).
        let d = TrainData::from_triples(1, 2, vec![(0, 0, 5.0), (0, 1, 5.0)]);
        let a = adjacency(&d);
        assert_eq!(a.indices.len(), 4);
        assert!(a
            .values
            .iter()
            .all(|&w| (w - 1.0 / 2f32.sqrt()).abs() < 1e-7));
    }

    #[test]
    fn ranks_held_out_in_group_items_first() {
        let (d, held) = two_groups();
        let cfg = LightGcnConfig {
            dim: 8,
            layers: 2,
            epochs: 60,
            lr: 0.05,
            reg: 1e-4,
            batch: 256,
            seed: 1,
        };
        let m = LightGcn::fit(&d, &cfg, &ProgressBar::hidden());
        let a = auc(&m, &held);
        assert!(a > 0.95, "auc {a}");
    }
}
