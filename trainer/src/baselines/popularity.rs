//! Most-popular: an item's number of training interactions (any rating). The classic floor
//! that personalised models must clear; items never seen in training score 0 (tied).

use super::{Scorer, TrainData};

pub struct Popularity {
    counts: Vec<u32>,
}

impl Popularity {
    pub fn fit(data: &TrainData) -> Self {
        let mut counts = vec![0u32; data.n_items];
        data.interactions
            .iter()
            .for_each(|&(_, i, _)| counts[i as usize] += 1);
        Popularity { counts }
    }
}

impl Scorer for Popularity {
    fn score(&self, _user: u32, item: u32) -> f64 {
        self.counts[item as usize] as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_interactions() {
        let d = TrainData::from_triples(2, 3, vec![(0, 1, 5.0), (1, 1, 1.0), (1, 2, 3.0)]);
        let p = Popularity::fit(&d);
        assert_eq!(
            (p.score(0, 0), p.score(0, 1), p.score(0, 2)),
            (0.0, 2.0, 1.0)
        );
    }
}
