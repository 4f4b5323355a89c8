//! Listwise ranking inference (METHOD.md §7): one prompt holds the user's history and all
//! candidates; the model writes the candidates' identifiers in preference order. [`driver`]
//! runs every mode over any [`RankBackend`]; [`Ranker`] is the CPU one.
//!
//! - [`RankMode::Single`] (default): rank by the first-position distribution `y₁` (one forward
//!   pass). Scores: log-probability of each candidate at position 1 (softmax over the
//!   identifiers). The default because the release rankers are trained for it: on the 943
//!   ML-100K test lists the previous release's greedy lists scored 0.065 (uniform negatives)
//!   and 0.045 (popular) NDCG@10 below its single pass (models/README.md), at 20 times the
//!   decode work.
//! - [`RankMode::Greedy`]: one prefill, then one decode step per position with a KV cache; only
//!   identifiers not yet written are allowed, so the output is always a permutation. Scores:
//!   `m − 1 − position` (Borda points of the single list).
//! - [`RankMode::Bootstrap`]: greedy lists under `B` seeded random presentation orders, combined
//!   by Borda count. Scores: mean Borda points.

mod borda;
pub mod driver;
mod engine;
mod greedy;

pub use borda::{borda, order_by_score};
pub use driver::RankBackend;
pub use engine::{
    greedy_scores, identifiers_for, log_softmax, prepare, response, single_scores, PreparedPrompt,
    Ranker,
};
pub use greedy::{GreedyDecoder, GreedyStep};

use serde::{Deserialize, Serialize};

/// Bootstrap's presentation orders `B` when the caller names none (CLI and browser alike).
pub const DEFAULT_BOOTSTRAP_ORDERS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum RankMode {
    Greedy,
    #[default]
    Single,
    Bootstrap {
        /// Number of presentation orders `B`.
        orders: usize,
        seed: u64,
    },
}
