//! The `notes` baseline: the candidates ranked by their notes alone. A list built with
//! `--popularity-tiers N` / `--similarity-tiers N` shows every candidate with a note such as
//! `popularity 5/7, similarity 3/7` (parts `, `-separated, the format `alro_core::prompt`
//! checks); `note:popularity` scores a candidate by the popularity tier T, `note:similarity` by
//! the similarity tier. Equal tiers are ties, scored by their expected NDCG like every other
//! scorer. It is the floor a ranker that reads notes must clear: what the notes say without any
//! reading of titles or history.

use crate::eval::ListScorer;
use alro_core::data::{ProtocolConfig, RankingExample};
use anyhow::{Context, Result};

/// The note kinds, in the order a note lists them.
pub const KINDS: [&str; 3] = ["popularity", "similarity", "match"];

/// The kinds of note the lists built with `cfg` carry (empty: no notes).
pub fn kinds_on(cfg: &ProtocolConfig) -> Vec<&'static str> {
    KINDS
        .into_iter()
        .zip([cfg.popularity_tiers, cfg.similarity_tiers, cfg.match_tiers])
        .filter(|&(_, n)| n > 0)
        .map(|(k, _)| k)
        .collect()
}

/// The tier T of the `KIND T/N` part of `note` (1 ≤ T ≤ N), if it has one.
pub fn tier(note: &str, kind: &str) -> Option<usize> {
    note.split(", ")
        .find_map(|part| alro_core::prompt::note_part_tier(part, kind).map(|(t, _)| t))
}

/// One score per candidate of `ex`: the tier of its `kind` note. An error names the first
/// candidate without one.
pub fn scores(ex: &RankingExample, kind: &str) -> Result<Vec<f64>> {
    ex.candidates
        .iter()
        .map(|c| {
            c.note
                .as_deref()
                .and_then(|n| tier(n, kind))
                .map(|t| t as f64)
                .with_context(|| {
                    format!(
                        "note:{kind}: candidate {:?} of user {:?} has note {:?}, without a `{kind} T/N` part",
                        c.id, ex.user, c.note
                    )
                })
        })
        .collect()
}

/// `note:KIND` as a list scorer.
pub struct NoteLists {
    pub kind: &'static str,
    name: String,
}

impl NoteLists {
    pub fn new(kind: &'static str) -> Self {
        NoteLists {
            kind,
            name: format!("note:{kind}"),
        }
    }
}

impl ListScorer for NoteLists {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_lists(&mut self, examples: &[RankingExample]) -> Result<Vec<Vec<f64>>> {
        examples.iter().map(|ex| scores(ex, self.kind)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alro_core::metrics::{ndcg_of_ranking, ndcg_of_scores};
    use alro_core::request::Candidate;

    fn list() -> RankingExample {
        let c = |id: &str, note: &str| Candidate {
            id: id.into(),
            title: format!("Film {id}"),
            note: Some(note.into()),
        };
        RankingExample {
            candidates: vec![
                c("a", "popularity 2/7, similarity 3/7"),
                c("b", "popularity 5/7, similarity 3/7"),
                c("c", "popularity 1/7, similarity 1/7"),
            ],
            target: vec![2, 1, 0],
            ..crate::eval::test_list(vec![0.0, 2.0, 5.0])
        }
    }

    #[test]
    fn tiers_are_read_from_either_part() {
        assert_eq!(
            tier("popularity 2/7, similarity 3/7", "popularity"),
            Some(2)
        );
        assert_eq!(
            tier("popularity 2/7, similarity 3/7", "similarity"),
            Some(3)
        );
        assert_eq!(tier("similarity 11/11", "similarity"), Some(11));
        assert_eq!(tier("similarity 3/7", "popularity"), None);
        assert_eq!(tier("similarity 8/7", "similarity"), None);
        assert_eq!(tier("similarity 0/7", "similarity"), None);
        assert_eq!(tier("similarityx 3/7", "similarity"), None);
    }

    /// By hand: relevance [0, 2, 5] (gains 0, 3, 31), IDCG@10 = 31 + 3/log2 3.
    /// note:popularity, tiers [2, 5, 1]: order b, a, c → DCG = 3 + 0 + 31/2.
    /// note:similarity, tiers [3, 3, 1]: a and b tied on top (mean gain 1.5 at ranks 1 and 2),
    /// then c → DCG = 1.5 + 1.5/log2 3 + 31/2.
    #[test]
    fn scored_by_hand_on_three_candidates() {
        let ex = list();
        let idcg = 31.0 + 3.0 / 3f64.log2();
        let pop = scores(&ex, "popularity").unwrap();
        assert_eq!(pop, [2.0, 5.0, 1.0]);
        let got = ndcg_of_scores(&ex.relevance, &pop, 10).unwrap();
        assert!((got - (3.0 + 15.5) / idcg).abs() < 1e-12, "{got}");
        let sim = scores(&ex, "similarity").unwrap();
        assert_eq!(sim, [3.0, 3.0, 1.0]);
        let got = ndcg_of_scores(&ex.relevance, &sim, 10).unwrap();
        let want = (1.5 + 1.5 / 3f64.log2() + 15.5) / idcg;
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // The tie in expectation = the mean of its two orders.
        let both = (ndcg_of_ranking(&ex.relevance, &[0, 1, 2], 10).unwrap()
            + ndcg_of_ranking(&ex.relevance, &[1, 0, 2], 10).unwrap())
            / 2.0;
        assert!((got - both).abs() < 1e-12);
        let mut s = NoteLists::new("similarity");
        assert_eq!(s.name(), "note:similarity");
        assert_eq!(s.score_lists(&[ex]).unwrap(), vec![sim]);
    }

    #[test]
    fn a_candidate_without_the_note_is_an_error_naming_it() {
        let mut ex = list();
        ex.candidates[1].note = Some("popularity 5/7".into());
        let err = scores(&ex, "similarity").unwrap_err().to_string();
        assert!(
            err.contains("\"b\"") && err.contains("similarity T/N"),
            "{err}"
        );
        ex.candidates[1].note = None;
        assert!(scores(&ex, "popularity").is_err());
    }

    #[test]
    fn kinds_follow_the_config() {
        let mut cfg = ProtocolConfig::default();
        assert!(kinds_on(&cfg).is_empty());
        cfg.similarity_tiers = 7;
        assert_eq!(kinds_on(&cfg), ["similarity"]);
        cfg.popularity_tiers = 3;
        assert_eq!(kinds_on(&cfg), ["popularity", "similarity"]);
    }
}
