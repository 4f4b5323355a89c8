//! A *view* of an example: its candidates shown in one presentation order, rendered with the
//! same prompt as inference, followed by the target identifiers for teacher forcing.

use alro_core::data::RankingExample;
use alro_core::rank::Ranker;
use alro_core::request::RankRequest;
use anyhow::{Context, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Prompt tokens followed by all target identifier tokens but the last (the last is only
    /// ever predicted, never read).
    pub tokens: Vec<u32>,
    /// Prompt length: the position after which the first identifier is predicted.
    pub prompt_len: usize,
    /// The identifier token at each target position (m).
    pub targets: Vec<u32>,
    /// For each candidate in the example's order, the position it is shown at.
    pub shown_of_item: Vec<usize>,
}

/// Renders `ex` with its candidates shown in the order `perm` (`perm[j]` = the example's
/// candidate shown at position `j`; the identity for the example's own order).
pub fn build(ranker: &Ranker, ex: &RankingExample, perm: &[usize]) -> Result<View> {
    let m = ex.candidates.len();
    let request = RankRequest {
        history: ex.history.clone(),
        candidates: perm.iter().map(|&i| ex.candidates[i].clone()).collect(),
    };
    let prepared = ranker
        .prepare(&request)
        .with_context(|| format!("example of user {} (window {})", ex.user, ex.window_start))?;
    let mut shown_of_item = vec![0; m];
    for (j, &i) in perm.iter().enumerate() {
        shown_of_item[i] = j;
    }
    let ids = &ranker.identifiers.token_ids;
    let targets: Vec<u32> = ex.target.iter().map(|&i| ids[shown_of_item[i]]).collect();
    let prompt_len = prepared.tokens.len();
    let mut tokens = prepared.tokens;
    tokens.extend_from_slice(&targets[..m - 1]);
    Ok(View {
        tokens,
        prompt_len,
        targets,
        shown_of_item,
    })
}
