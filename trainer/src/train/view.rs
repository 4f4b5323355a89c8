//! A *view* of an example: its candidates shown in one presentation order, rendered with the
//! same prompt as inference, followed by the target identifiers for teacher forcing.

use crate::baselines::notes;
use alro_core::data::RankingExample;
use alro_core::identifiers::Identifiers;
use alro_core::rank::Ranker;
use alro_core::request::RankRequest;
use anyhow::{Context, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Prompt tokens followed by all answer identifier tokens but the last (the last is only
    /// ever predicted, never read).
    pub tokens: Vec<u32>,
    /// Prompt length: the position after which the first identifier is predicted.
    pub prompt_len: usize,
    /// The identifier token at each answer position (m): the ground truth's, or the order
    /// `build` was given.
    pub targets: Vec<u32>,
    /// For each candidate in the example's order, the position it is shown at.
    pub shown_of_item: Vec<usize>,
    /// The identifier token shown at each position (m): the first m of the ranker's labels, or
    /// the subset `labels` chose.
    pub identifier_ids: Vec<u32>,
}

/// Renders `ex` with its candidates shown in the order `perm` (`perm[j]` = the example's
/// candidate shown at position `j`; the identity for the example's own order). `labels`, when
/// given, are the indices (increasing, one per candidate) of the ranker's identifiers to show
/// instead of its first m: a short training list labelled `B F K …` so that every letter a long
/// list uses at inference is seen as an answer ([`identifier_subset`]). `answer`: the candidates
/// (example indices) in the order the answer reads them, `ex.target` for teacher forcing.
pub fn build(
    ranker: &Ranker,
    ex: &RankingExample,
    perm: &[usize],
    labels: Option<&[usize]>,
    answer: &[usize],
) -> Result<View> {
    let m = ex.candidates.len();
    let request = RankRequest {
        history: ex.history.clone(),
        candidates: perm.iter().map(|&i| ex.candidates[i].clone()).collect(),
    };
    let subset = labels.map(|idx| Identifiers {
        labels: idx
            .iter()
            .map(|&i| ranker.identifiers.labels[i].clone())
            .collect(),
        token_ids: idx
            .iter()
            .map(|&i| ranker.identifiers.token_ids[i])
            .collect(),
    });
    let identifiers = subset.as_ref().unwrap_or(&ranker.identifiers);
    let model = &ranker.backbone;
    let prepared = alro_core::rank::prepare(
        &model.tokenizer,
        model.model.config.max_position_embeddings,
        identifiers,
        &ranker.prompt,
        &request,
    )
    .with_context(|| format!("example of user {} (window {})", ex.user, ex.window_start))?;
    let mut shown_of_item = vec![0; m];
    for (j, &i) in perm.iter().enumerate() {
        shown_of_item[i] = j;
    }
    let ids = &identifiers.token_ids;
    let targets: Vec<u32> = answer.iter().map(|&i| ids[shown_of_item[i]]).collect();
    let prompt_len = prepared.tokens.len();
    let mut tokens = prepared.tokens;
    tokens.extend_from_slice(&targets[..m - 1]);
    Ok(View {
        tokens,
        prompt_len,
        targets,
        shown_of_item,
        identifier_ids: ids[..m].to_vec(),
    })
}

/// `m` of the first `pool` identifier indices, drawn uniformly by `seed` and kept in increasing
/// order (labels read A, C, H, … down the list as at inference, only with gaps).
pub fn identifier_subset(m: usize, pool: usize, seed: u64) -> Vec<usize> {
    use rand::seq::index::sample;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut idx = sample(&mut rng, pool, m.min(pool)).into_vec();
    idx.sort_unstable();
    idx
}

/// The example's candidates by the tiers of their notes, highest first (the tier of every note
/// kind a note has, compared in the order notes list them), ties in presentation order: roughly
/// the answer a ranker that follows its notes decodes
/// ([`crate::train::config::AnswerOrder::Notes`]). Candidates without notes all tie.
pub fn note_order(ex: &RankingExample) -> Vec<usize> {
    let tiers: Vec<Vec<usize>> = ex
        .candidates
        .iter()
        .map(|c| note_tiers(c.note.as_deref().unwrap_or("")))
        .collect();
    let mut order: Vec<usize> = (0..ex.candidates.len()).collect();
    // A stable sort: equal tiers keep their presentation order.
    order.sort_by(|&a, &b| tiers[b].cmp(&tiers[a]));
    order
}

/// The tier `T` of each `KIND T/N` part a note has, kinds in the order notes list them.
fn note_tiers(note: &str) -> Vec<usize> {
    notes::KINDS
        .iter()
        .filter_map(|kind| notes::tier(note, kind))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_order_sorts_by_tier_and_keeps_presentation_order_on_ties() {
        let with_notes = |notes: &[&str]| {
            let mut ex = crate::eval::test_list(vec![0.0; notes.len()]);
            for (c, n) in ex.candidates.iter_mut().zip(notes) {
                c.note = Some(n.to_string());
            }
            ex
        };
        let ex = with_notes(&[
            "match 3/20",
            "match 17/20",
            "match 3/20",
            "free text",
            "match 20/20",
        ]);
        assert_eq!(note_order(&ex), vec![4, 1, 0, 2, 3]);
        let ex = with_notes(&[
            "popularity 2/10, similarity 9/20",
            "popularity 5/10, similarity 1/20",
            "popularity 5/10, similarity 4/20",
        ]);
        assert_eq!(note_order(&ex), vec![2, 1, 0]);
        assert_eq!(
            note_order(&crate::eval::test_list(vec![0.0; 3])),
            vec![0, 1, 2]
        );
    }
}
