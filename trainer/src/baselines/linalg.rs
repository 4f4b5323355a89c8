//! The little numeric kit the embedding baselines need: dense rows in flat `Vec<f32>`s, seeded
//! normal initialisation, and a symmetric sparse matrix (CSR) times dense product, split over
//! the machine's cores by rows (deterministic: each output row is summed in the same order
//! whatever the thread count).

// The scalar helpers and seeded normal draws live with BPR in the core (the protocol fits BPR
// for match notes); the other factor models share them.
pub use alro_core::data::bpr::{dot, normal_vec, sigmoid};

/// A square sparse matrix in CSR form.
pub struct Csr {
    pub n: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    /// Build from (row, col, value) triples (duplicates are kept and summed in use).
    pub fn from_triples(n: usize, mut triples: Vec<(u32, u32, f32)>) -> Csr {
        triples.sort_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0usize; n + 1];
        for &(r, _, _) in &triples {
            indptr[r as usize + 1] += 1;
        }
        for i in 0..n {
            indptr[i + 1] += indptr[i];
        }
        Csr {
            n,
            indptr,
            indices: triples.iter().map(|t| t.1).collect(),
            values: triples.iter().map(|t| t.2).collect(),
        }
    }

    /// `out = self · x`, with `x` and `out` row-major `n × d`.
    pub fn matmul(&self, x: &[f32], d: usize, out: &mut [f32]) {
        assert_eq!(x.len(), self.n * d);
        assert_eq!(out.len(), self.n * d);
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        let rows_per = self.n.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for (t, chunk) in out.chunks_mut(rows_per * d).enumerate() {
                let first = t * rows_per;
                s.spawn(move || {
                    for (k, row) in chunk.chunks_mut(d).enumerate() {
                        let r = first + k;
                        row.fill(0.0);
                        for e in self.indptr[r]..self.indptr[r + 1] {
                            let c = self.indices[e] as usize;
                            let v = self.values[e];
                            for (o, xv) in row.iter_mut().zip(&x[c * d..(c + 1) * d]) {
                                *o += v * xv;
                            }
                        }
                    }
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn csr_matmul_matches_dense() {
        // [[0, 2], [1, 3]] · [[1, 10], [2, 20]] = [[4, 40], [7, 70]]
        let m = Csr::from_triples(2, vec![(1, 1, 3.0), (0, 1, 2.0), (1, 0, 1.0)]);
        let mut out = vec![0.0; 4];
        m.matmul(&[1.0, 10.0, 2.0, 20.0], 2, &mut out);
        assert_eq!(out, vec![4.0, 40.0, 7.0, 70.0]);
    }

    #[test]
    fn normal_has_roughly_the_right_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let v = normal_vec(&mut rng, 20_001, 0.5);
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32;
        assert!(
            mean.abs() < 0.02 && (var - 0.25).abs() < 0.02,
            "{mean} {var}"
        );
    }
}
