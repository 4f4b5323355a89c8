//! Co-rating similarity between items, for the protocol's similarity notes (module docs of
//! [`super::protocol`]): how strongly a candidate is co-rated with the films of the history.
//!
//! Similarity of two items = cosine of their rater sets (who rated them, whatever the rating):
//! `|R_a ∩ R_b| / sqrt(|R_a|·|R_b|)`, the classic item-kNN measure. The list's own user is left
//! out of every set, so that a training list — whose positive the user rated before the
//! validation cut, and so is in the counts — carries no trace of its own answer, exactly as a
//! test list (whose positive is after the test cut) does not.

/// Per item, the sorted users who rated it in one cut of the ratings.
pub struct CoRatingIndex {
    raters: Vec<Vec<u32>>,
}

impl CoRatingIndex {
    /// Index (user, item) pairs (any order, repeats ignored) for a catalog of `n_items` items.
    pub fn new(n_items: usize, pairs: impl IntoIterator<Item = (u32, u32)>) -> Self {
        let mut raters = vec![Vec::new(); n_items];
        for (user, item) in pairs {
            raters[item as usize].push(user);
        }
        for users in &mut raters {
            users.sort_unstable();
            users.dedup();
        }
        CoRatingIndex { raters }
    }

    /// An index over rater lists that are already sorted and free of repeats (an item table read
    /// from a file, [`crate::notes::ItemTable`], validates that before calling this).
    pub fn from_sorted_raters(raters: Vec<Vec<u32>>) -> Self {
        debug_assert!(raters.iter().all(|r| r.windows(2).all(|w| w[0] < w[1])));
        CoRatingIndex { raters }
    }

    /// Number of items in the catalog.
    pub fn len(&self) -> usize {
        self.raters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raters.is_empty()
    }

    /// The sorted users who rated `item`.
    pub fn raters(&self, item: u32) -> &[u32] {
        &self.raters[item as usize]
    }

    /// Cosine of the rater sets of `a` and `b`, both without `user`; 0 when either is empty.
    pub fn cosine(&self, a: u32, b: u32, user: u32) -> f64 {
        let (ra, rb) = (&self.raters[a as usize], &self.raters[b as usize]);
        let without = |rs: &[u32]| rs.len() - rs.binary_search(&user).is_ok() as usize;
        let (na, nb) = (without(ra), without(rb));
        if na == 0 || nb == 0 {
            return 0.0;
        }
        let (mut i, mut j, mut both) = (0, 0, 0usize);
        while i < ra.len() && j < rb.len() {
            match ra[i].cmp(&rb[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    both += (ra[i] != user) as usize;
                    i += 1;
                    j += 1;
                }
            }
        }
        both as f64 / ((na * nb) as f64).sqrt()
    }

    /// Mean cosine of `item` with each of `history` (0 for an empty history), without `user`.
    pub fn mean_cosine(&self, item: u32, history: &[u32], user: u32) -> f64 {
        if history.is_empty() {
            return 0.0;
        }
        let sum: f64 = history.iter().map(|&h| self.cosine(item, h, user)).sum();
        sum / history.len() as f64
    }
}

/// The default resolution of similarity notes: tenths of a cosine.
pub const TENTHS: usize = 10;

/// The tier (1..=`tiers`) of a mean cosine `s` on a scale of `steps` per unit cosine:
/// `1 + ⌊steps·s⌋`, capped at `tiers` (with tenths: `1` below 0.1, `2` below 0.2, ...). A fixed
/// linear scale, not halvings as for popularity: cosines spread evenly over 0–0.6, and a fixed
/// scale keeps a tier's meaning the same in every list. Finer steps (40ths with 20 tiers) tell
/// apart candidates that tenths tie: on the 943 ML-100K test lists (m = 20) the note ranked
/// alone rises from 0.7122 (tenths, 7 tiers) to 0.7376 (40ths, 20 tiers), docs/DATA.md.
pub fn similarity_tier(s: f64, tiers: usize, steps: usize) -> usize {
    let steps_below = (s.max(0.0) * steps as f64).floor() as usize;
    (1 + steps_below).min(tiers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Rating;

    fn r(user: u32, item: u32) -> Rating {
        Rating {
            user,
            item,
            rating: 3.0,
            timestamp: 0,
        }
    }

    #[test]
    fn cosine_of_rater_sets_by_hand() {
        // Item 0 rated by users {0,1,2,3}, item 1 by {2,3,4}, item 2 by nobody.
        let rs = [
            r(0, 0),
            r(1, 0),
            r(2, 0),
            r(3, 0),
            r(2, 1),
            r(3, 1),
            r(4, 1),
        ];
        let ix = CoRatingIndex::new(3, rs.iter().map(|r| (r.user, r.item)));
        let far = 99; // a user in neither set
        assert!((ix.cosine(0, 1, far) - 2.0 / 12f64.sqrt()).abs() < 1e-12);
        assert_eq!(ix.cosine(0, 1, far), ix.cosine(1, 0, far));
        assert!((ix.cosine(0, 0, far) - 1.0).abs() < 1e-12);
        assert_eq!(ix.cosine(0, 2, far), 0.0);
        // Leaving out user 2 (in both): 1 / sqrt(3·2).
        assert!((ix.cosine(0, 1, 2) - 1.0 / 6f64.sqrt()).abs() < 1e-12);
        // Leaving out user 0 (in item 0 only): 2 / sqrt(3·3).
        assert!((ix.cosine(0, 1, 0) - 2.0 / 3.0).abs() < 1e-12);
        let mean = ix.mean_cosine(0, &[1, 2], far);
        assert!((mean - (2.0 / 12f64.sqrt()) / 2.0).abs() < 1e-12);
        assert_eq!(ix.mean_cosine(0, &[], far), 0.0);
    }

    #[test]
    fn a_users_own_ratings_never_count() {
        // Only user 7 rated both items: without them the items share no rater.
        let rs = [r(7, 0), r(7, 1), r(1, 0), r(2, 1)];
        let ix = CoRatingIndex::new(2, rs.iter().map(|r| (r.user, r.item)));
        assert!(ix.cosine(0, 1, 5) > 0.0);
        assert_eq!(ix.cosine(0, 1, 7), 0.0);
    }

    #[test]
    fn tiers_are_tenths_capped() {
        let t = |s| similarity_tier(s, 7, TENTHS);
        assert_eq!(
            [0.0, 0.099, 0.1, 0.25, 0.5999, 0.6, 0.95, 1.0, -0.1].map(t),
            [1, 1, 2, 3, 6, 7, 7, 7, 1]
        );
        assert_eq!(similarity_tier(1.0, 11, TENTHS), 11);
    }

    #[test]
    fn finer_steps_split_what_tenths_tie() {
        let t = |s| similarity_tier(s, 20, 40);
        assert_eq!(
            [0.0, 0.024, 0.025, 0.05, 0.11, 0.12, 0.4749, 0.475, 0.9].map(t),
            [1, 1, 2, 3, 5, 5, 19, 20, 20]
        );
        // 0.11 and 0.19 share a tenth but not a 40th.
        assert_eq!(
            similarity_tier(0.11, 7, TENTHS),
            similarity_tier(0.19, 7, TENTHS)
        );
        assert_ne!(similarity_tier(0.11, 20, 40), similarity_tier(0.19, 20, 40));
    }
}
