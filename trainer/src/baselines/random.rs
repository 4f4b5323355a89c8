//! The random ranker. Every candidate gets the same score, and the evaluator scores ties by
//! their expectation over uniformly random orders, so this reports the *analytic* expected NDCG
//! of a random permutation (mean gain × Σ 1/D_k over the cut-off, divided by IDCG) — exact, not an
//! average of sampled permutations.

use super::Scorer;

pub struct Random;

impl Scorer for Random {
    fn score(&self, _user: u32, _item: u32) -> f64 {
        0.0
    }
}
