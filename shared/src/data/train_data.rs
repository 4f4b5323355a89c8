//! The interactions a model may learn from (the trainer's baselines, the factors of match notes),
//! cut by the protocol so that nothing at or after the evaluated window is visible.

use super::{Protocol, Split};
use rand::Rng;

pub struct TrainData {
    pub n_users: usize,
    pub n_items: usize,
    /// (user, item, rating), users and items as dataset indices.
    pub interactions: Vec<(u32, u32, f32)>,
    /// Per user, the items they interacted with, sorted (for negative sampling).
    pub user_items: Vec<Vec<u32>>,
    /// Items with at least one interaction, ascending: where BPR draws negatives.
    pub items_seen: Vec<u32>,
    /// Dense user × item membership bits (row stride `words`), when small enough: negative
    /// sampling checks membership millions of times, and a bit test beats a binary search.
    bits: Option<Vec<u64>>,
    words: usize,
}

/// Largest membership bitset built (bits): 2^31 bits = 256 MiB.
const MAX_BITS: usize = 1 << 31;

impl TrainData {
    /// Everything strictly before `split`'s window, for every user.
    pub fn from_protocol(p: &Protocol, split: Split) -> TrainData {
        p.fit_data(split, None)
    }

    pub fn new(
        n_users: usize,
        n_items: usize,
        interactions: Vec<(u32, u32, f32)>,
        user_items: Vec<Vec<u32>>,
    ) -> TrainData {
        let mut seen = vec![false; n_items];
        interactions
            .iter()
            .for_each(|&(_, i, _)| seen[i as usize] = true);
        let items_seen = (0..n_items as u32).filter(|&i| seen[i as usize]).collect();
        let words = n_items.div_ceil(64);
        let bits = (n_users.saturating_mul(words * 64) <= MAX_BITS).then(|| {
            let mut b = vec![0u64; n_users * words];
            for &(u, i, _) in &interactions {
                b[u as usize * words + i as usize / 64] |= 1 << (i % 64);
            }
            b
        });
        TrainData {
            n_users,
            n_items,
            interactions,
            user_items,
            items_seen,
            bits,
            words,
        }
    }

    /// Build from triples alone.
    pub fn from_triples(
        n_users: usize,
        n_items: usize,
        interactions: Vec<(u32, u32, f32)>,
    ) -> TrainData {
        let mut user_items = vec![Vec::new(); n_users];
        interactions
            .iter()
            .for_each(|&(u, i, _)| user_items[u as usize].push(i));
        user_items.iter_mut().for_each(|v| v.sort_unstable());
        TrainData::new(n_users, n_items, interactions, user_items)
    }

    /// Per item, whether any interaction has it (the mask of `items_seen`).
    pub fn seen(&self) -> Vec<bool> {
        let mut seen = vec![false; self.n_items];
        self.items_seen
            .iter()
            .for_each(|&i| seen[i as usize] = true);
        seen
    }

    pub fn mean_rating(&self) -> f64 {
        if self.interactions.is_empty() {
            return 0.0;
        }
        self.interactions
            .iter()
            .map(|&(_, _, r)| r as f64)
            .sum::<f64>()
            / self.interactions.len() as f64
    }

    /// A seen item `user` has not interacted with, uniformly; `None` if there is none.
    pub fn sample_negative(&self, user: u32, rng: &mut impl Rng) -> Option<u32> {
        let mine = &self.user_items[user as usize];
        if mine.len() >= self.items_seen.len() {
            return None;
        }
        loop {
            let j = self.items_seen[rng.random_range(0..self.items_seen.len())];
            let has = match &self.bits {
                Some(b) => b[user as usize * self.words + j as usize / 64] >> (j % 64) & 1 == 1,
                None => mine.binary_search(&j).is_ok(),
            };
            if !has {
                return Some(j);
            }
        }
    }
}
