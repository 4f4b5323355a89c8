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
