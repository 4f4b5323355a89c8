//! Item-kNN (Sarwar et al. 2001; Deshpande & Karypis 2004): an item's score for a user is the
//! sum of its cosine similarities to every item in the user's training profile, similarity =
//! cosine of the two items' rater sets (who rated them, whatever the rating). The classic
//! neighbourhood recommender, and the comparator for the prompt's similarity notes
//! (`alro_core::data::similarity`), which show the same cosine averaged over the L history
//! items only.

use super::{Scorer, TrainData};
use alro_core::data::similarity::CoRatingIndex;

pub struct ItemKnn {
    index: CoRatingIndex,
    user_items: Vec<Vec<u32>>,
}

impl ItemKnn {
    pub fn fit(data: &TrainData) -> Self {
        let pairs = data.interactions.iter().map(|&(u, i, _)| (u, i));
        ItemKnn {
            index: CoRatingIndex::new(data.n_items, pairs),
            user_items: data.user_items.clone(),
        }
    }
}

impl Scorer for ItemKnn {
    fn score(&self, user: u32, item: u32) -> f64 {
        // `u32::MAX` is no user: the profile's own rater counts include `user`, as the classic
        // definition does (the candidate's set cannot hold them: they never rated it here).
        self.user_items[user as usize]
            .iter()
            .map(|&j| self.index.cosine(item, j, u32::MAX))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_by_co_rating_with_the_profile() {
        // User 0 rated item 0. Users 1 and 2 rated item 0 and item 1; user 3 rated item 2 only.
        let d = TrainData::from_triples(
            4,
            3,
            vec![
                (0, 0, 4.0),
                (1, 0, 3.0),
                (1, 1, 5.0),
                (2, 0, 2.0),
                (2, 1, 4.0),
                (3, 2, 5.0),
            ],
        );
        let knn = ItemKnn::fit(&d);
        // Item 1 vs item 0: raters {1,2} and {0,1,2}: 2 / sqrt(2·3).
        assert!((knn.score(0, 1) - 2.0 / 6f64.sqrt()).abs() < 1e-12);
        assert_eq!(knn.score(0, 2), 0.0);
        assert!(knn.score(0, 1) > knn.score(0, 2));
        // User 3's profile is item 2 alone, co-rated with nothing.
        assert_eq!((knn.score(3, 0), knn.score(3, 1)), (0.0, 0.0));
    }
}
