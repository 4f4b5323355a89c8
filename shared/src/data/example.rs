//! One prepared ALRO example: what the ranker sees (history, candidates) and the ground truth
//! (relevance, target order). It converts straight into a [`RankRequest`], so the LLM ranker and
//! every baseline are scored on exactly the same lists.

use crate::request::{Candidate, HistoryEntry, RankRequest};
use serde::{Deserialize, Serialize};

/// Which window of a user's timeline an example comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(Split::Train),
            "validation" | "val" => Ok(Split::Validation),
            "test" => Ok(Split::Test),
            _ => Err(format!(
                "unknown split {s:?} (expected train, validation or test)"
            )),
        }
    }
}

/// One user's candidate window with its history and ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingExample {
    /// The dataset's user id.
    pub user: String,
    pub split: Split,
    /// Index, in the user's time-ordered ratings, of the first rating in the candidate window.
    pub window_start: usize,
    /// The `L` ratings just before the window, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Item ids of `history`, aligned with it.
    pub history_items: Vec<String>,
    /// Candidates in presentation order; `id` is the dataset's item id.
    pub candidates: Vec<Candidate>,
    /// Relevance of each candidate, aligned with `candidates`: the user's rating for the `P`
    /// rated ones, 0 for the never-rated ones.
    pub relevance: Vec<f32>,
    /// Ground-truth order as indices into `candidates`: relevance descending, ties broken by a
    /// seeded random order (fixed per example, the same everywhere it is used).
    pub target: Vec<usize>,
}

impl RankingExample {
    /// The request the ranker gets: history and candidates, nothing of the ground truth.
    pub fn request(&self) -> RankRequest {
        RankRequest {
            history: self.history.clone(),
            candidates: self.candidates.clone(),
        }
    }

    /// Candidate ids in ground-truth order.
    pub fn target_ids(&self) -> Vec<&str> {
        self.target
            .iter()
            .map(|&i| self.candidates[i].id.as_str())
            .collect()
    }
}

impl RankingExample {
    /// Check the invariants a reader of prepared files relies on: `relevance` aligned with
    /// `candidates`, `target` a permutation of the candidate indices in non-increasing
    /// relevance, `history_items` aligned with `history`, candidate ids unique.
    pub fn validate(&self) -> Result<(), String> {
        let m = self.candidates.len();
        if self.relevance.len() != m {
            return Err(format!(
                "{} relevances for {m} candidates",
                self.relevance.len()
            ));
        }
        if self.history_items.len() != self.history.len() {
            return Err(format!(
                "{} history item ids for {} history entries",
                self.history_items.len(),
                self.history.len()
            ));
        }
        let mut seen = vec![false; m];
        for &i in &self.target {
            if i >= m || std::mem::replace(&mut seen[i], true) {
                return Err("target is not a permutation of the candidates".into());
            }
        }
        if self.target.len() != m {
            return Err("target is not a permutation of the candidates".into());
        }
        if self
            .target
            .windows(2)
            .any(|w| self.relevance[w[0]] < self.relevance[w[1]])
        {
            return Err("target is not in non-increasing relevance".into());
        }
        let mut ids: Vec<&str> = self.candidates.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err("duplicate candidate id".into());
        }
        Ok(())
    }
}

/// Parse prepared examples (`alro data prepare`'s JSONL). Each line must be a valid
/// [`RankingExample`]; errors name `file` and the 1-based line.
pub fn parse_jsonl(file: &str, text: &str) -> crate::Result<Vec<RankingExample>> {
    let mut out = Vec::new();
    for (n, line) in super::encoding::lines(text) {
        let ex: RankingExample = serde_json::from_str(line)
            .map_err(|e| crate::Error::data(file, n, format!("not a ranking example: {e}")))?;
        ex.validate().map_err(|e| crate::Error::data(file, n, e))?;
        out.push(ex);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> RankingExample {
        RankingExample {
            user: "1".into(),
            split: Split::Test,
            window_start: 10,
            history: vec![HistoryEntry {
                title: "A".into(),
                rating: 4.0,
            }],
            history_items: vec!["9".into()],
            candidates: vec![
                Candidate {
                    id: "1".into(),
                    title: "X".into(),
                    note: None,
                },
                Candidate {
                    id: "2".into(),
                    title: "Y".into(),
                    note: None,
                },
            ],
            relevance: vec![0.0, 5.0],
            target: vec![1, 0],
        }
    }

    #[test]
    fn jsonl_round_trip_and_request() {
        let ex = example();
        let text = format!(
            "{}\n\n{}\n",
            serde_json::to_string(&ex).unwrap(),
            serde_json::to_string(&ex).unwrap()
        );
        let back = parse_jsonl("test.jsonl", &text).unwrap();
        assert_eq!(back, vec![ex.clone(), ex.clone()]);
        assert_eq!(ex.request().candidates[1].id, "2");
        assert_eq!(ex.target_ids(), vec!["2", "1"]);
    }

    #[test]
    fn invalid_examples_name_the_line() {
        let mut bad = example();
        bad.target = vec![0, 1]; // relevance 0 before 5
        let text = format!(
            "{}\n{}\n",
            serde_json::to_string(&example()).unwrap(),
            serde_json::to_string(&bad).unwrap()
        );
        let err = parse_jsonl("x.jsonl", &text).unwrap_err().to_string();
        assert!(
            err.starts_with("x.jsonl:2: target is not in non-increasing relevance"),
            "{err}"
        );
        let err = parse_jsonl("x.jsonl", "{\"user\": 1}\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.jsonl:1: not a ranking example"), "{err}");
        let mut dup = example();
        dup.candidates[1].id = "1".into();
        assert!(dup.validate().is_err());
    }
}
