//! The LLM ranker as a [`ListScorer`]: the backbone, zero-shot or with a trained adapter, ranking
//! each list by greedy decoding (a full permutation), by one pass (first-position scores) or by
//! Borda count over greedy lists under several presentation orders (bootstrap).

use crate::commands::progress::bar;
use crate::model_path;
use alro_core::data::RankingExample;
use alro_core::model::MatrixPrecision;
use alro_core::rank::{RankMode, Ranker};
use alro_trainer::eval::ListScorer;
use alro_trainer::train::checkpoint;
use anyhow::Result;
use candle_core::Device;
use std::path::Path;

pub struct LlmLists {
    pub name: String,
    pub ranker: Ranker,
    pub mode: RankMode,
    /// The notes the model's card says it was trained with; `None` for a plain backbone, which
    /// has no card and reads any note as free text.
    pub card_notes: Option<CardNotes>,
}

/// The notes a model card asks for (tiers 0 = none of that kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardNotes {
    pub popularity_tiers: usize,
    pub similarity_tiers: usize,
    /// Similarity tiers per unit cosine (10 = tenths).
    pub similarity_steps: usize,
    pub match_tiers: usize,
}

/// The backbone at `model`, with the adapter checkpoint `adapter` attached when given (refused
/// if it was trained on another backbone).
pub fn load(name: &str, model: &Path, adapter: Option<&Path>, mode: RankMode) -> Result<LlmLists> {
    // Adapters work on the stored (quantized) weights: each product dequantizes the block
    // exactly as training did, then adds the low-rank term.
    let mut backbone = model_path::load(model, MatrixPrecision::AsStored, &Device::Cpu)?;
    if let Some(path) = adapter {
        checkpoint::attach_trained(path, &mut backbone, model)?;
    }
    let prompt = backbone.prompt_config();
    let card_notes = backbone.info.card.is_some().then_some(CardNotes {
        popularity_tiers: prompt.popularity_tiers,
        similarity_tiers: prompt.similarity_tiers,
        similarity_steps: prompt.similarity_steps,
        match_tiers: prompt.match_tiers,
    });
    let ranker = Ranker::new(backbone, prompt)?;
    Ok(LlmLists {
        name: name.to_string(),
        ranker,
        mode,
        card_notes,
    })
}

impl LlmLists {
    /// The ranking of `ex` in this ranker's mode, as indices into its candidates, best first
    /// (the engine's own order: in `single` mode ties go to the earlier candidate, in
    /// `bootstrap` mode equal Borda points too).
    pub fn rank_order(&self, ex: &RankingExample) -> Result<Vec<usize>> {
        let resp = self.ranker.rank(&ex.request(), self.mode)?;
        resp.ranking
            .iter()
            .map(|id| {
                ex.candidates
                    .iter()
                    .position(|c| &c.id == id)
                    .ok_or_else(|| anyhow::anyhow!("ranked id {id:?} is not a candidate"))
            })
            .collect()
    }
}

impl ListScorer for LlmLists {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_lists(&mut self, examples: &[RankingExample]) -> Result<Vec<Vec<f64>>> {
        let pb = bar(examples.len() as u64, &self.name);
        let out = examples
            .iter()
            .map(|ex| {
                let req = ex.request();
                let scores = match self.mode {
                    RankMode::Single => {
                        let p = self.ranker.prepare(&req)?;
                        let lp = self.ranker.first_position_logprobs(&p)?;
                        lp.iter().map(|&v| v as f64).collect()
                    }
                    mode => {
                        // Greedy or bootstrap: the ranking `alro rank` returns, scored
                        // m − rank, so ties never occur.
                        let resp = self.ranker.rank(&req, mode)?;
                        let m = ex.candidates.len();
                        ex.candidates
                            .iter()
                            .map(|c| {
                                let r = resp.ranking.iter().position(|id| id == &c.id);
                                (m - r.expect("a permutation of the candidates")) as f64
                            })
                            .collect()
                    }
                };
                pb.inc(1);
                Ok(scores)
            })
            .collect();
        pb.finish_and_clear();
        out
    }
}
