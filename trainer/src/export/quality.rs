//! What a quantization costs: the exported ranker's scores on the same lists as the unmerged
//! adapter model, compared by NDCG@10 and by agreement with the reference.

use alro_core::data::RankingExample;
use alro_core::metrics::NdcgAccumulator;
use alro_core::rank::Ranker;
use anyhow::Result;
use std::time::Instant;

/// First-position log-probabilities of every list (one forward pass each, METHOD.md §5's single
/// pass), and how fast they came.
#[derive(Debug, Clone)]
pub struct ListScores {
    pub scores: Vec<Vec<f32>>,
    pub prompt_tokens: usize,
    pub seconds: f64,
}

impl ListScores {
    pub fn tokens_per_s(&self) -> f64 {
        self.prompt_tokens as f64 / self.seconds.max(1e-9)
    }

    /// Mean NDCG@10 of the scores against the lists' relevance.
    pub fn ndcg10(&self, examples: &[RankingExample]) -> f64 {
        let mut acc = NdcgAccumulator::new(&[10]);
        for (ex, s) in examples.iter().zip(&self.scores) {
            let s: Vec<f64> = s.iter().map(|&v| v as f64).collect();
            acc.add_scores(&ex.relevance, &s);
        }
        acc.mean(10).unwrap_or(0.0)
    }

    /// Fraction of lists whose top candidate equals `reference`'s.
    pub fn top1_agreement(&self, reference: &ListScores) -> f64 {
        let argmax = |s: &[f32]| {
            (0..s.len())
                .max_by(|&a, &b| s[a].total_cmp(&s[b]).then(b.cmp(&a)))
                .unwrap_or(0)
        };
        let same = self
            .scores
            .iter()
            .zip(&reference.scores)
            .filter(|(a, b)| argmax(a) == argmax(b))
            .count();
        same as f64 / self.scores.len().max(1) as f64
    }

    /// Largest absolute difference of any score from `reference`'s.
    pub fn max_abs_diff(&self, reference: &ListScores) -> f32 {
        self.scores
            .iter()
            .zip(&reference.scores)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
            .fold(0.0, f32::max)
    }
}

/// Scores `examples` with `ranker`; `on_list` is called after each (progress bars).
pub fn score_lists(
    ranker: &Ranker,
    examples: &[RankingExample],
    mut on_list: impl FnMut(),
) -> Result<ListScores> {
    let start = Instant::now();
    let mut scores = Vec::with_capacity(examples.len());
    let mut prompt_tokens = 0;
    for ex in examples {
        let p = ranker.prepare(&ex.request())?;
        prompt_tokens += p.tokens.len();
        scores.push(ranker.first_position_logprobs(&p)?);
        on_list();
    }
    Ok(ListScores {
        scores,
        prompt_tokens,
        seconds: start.elapsed().as_secs_f64(),
    })
}
