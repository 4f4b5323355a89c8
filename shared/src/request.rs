//! The public request/response contract of ranking, shared by the CLI (`alro rank`), the
//! prepared-data files and the browser package. Field names are part of the API: add fields,
//! never rename them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One item the user has already rated, oldest first in a request's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub title: String,
    /// Explicit rating on the dataset's scale (1–5 for MovieLens; half stars allowed).
    pub rating: f32,
}

/// One item to be ranked. `id` is the caller's own identifier (returned in the ranking);
/// it is never shown to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: String,
    pub title: String,
    /// Optional side information shown after the title, in parentheses (e.g. `popularity 5/7`,
    /// written by `alro data prepare --popularity-tiers`). A model trained with notes must be
    /// asked with the same notes; a model trained without them never saw one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One user's ranking request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankRequest {
    pub history: Vec<HistoryEntry>,
    pub candidates: Vec<Candidate>,
}

/// The answer to a [`RankRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankResponse {
    /// Candidate ids, most preferred first; always a permutation of the request's ids.
    pub ranking: Vec<String>,
    /// Per-candidate score, higher = preferred. Its meaning depends on the mode (see
    /// [`crate::rank::RankMode`]); only the order it induces is comparable across modes.
    pub scores: BTreeMap<String, f32>,
}
