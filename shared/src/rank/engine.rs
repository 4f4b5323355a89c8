//! The ranking engine: prompt → tokens → constrained decoding over identifier tokens.

use super::borda::{borda, order_by_score};
use super::driver::{self, run_ready, RankBackend};
use super::RankMode;
use crate::identifiers::Identifiers;
use crate::model::{Backbone, Embedding, Kernels, KvCache};
use crate::model_card::ModelCard;
use crate::prompt::{self, PromptConfig};
use crate::request::{RankRequest, RankResponse};
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};
use candle_core::Tensor;

/// A request turned into model input.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedPrompt {
    pub text: String,
    pub tokens: Vec<u32>,
    /// Number of candidates (`m`).
    pub candidates: usize,
}

pub struct Ranker {
    pub backbone: Backbone,
    pub identifiers: Identifiers,
    pub prompt: PromptConfig,
    /// LM-head rows of the identifier tokens (n_identifiers, hidden): at every decoding step only
    /// these logits matter, so the full vocabulary projection is never computed.
    identifier_head: Tensor,
}

impl Ranker {
    /// A ranker with the identifiers of the model's card (an exported ranker) or the default ones
    /// (A–Z) — fails if they are not single tokens.
    pub fn new(backbone: Backbone, prompt: PromptConfig) -> Result<Self> {
        let identifiers = identifiers_for(backbone.info.card.as_ref(), &backbone.tokenizer)?;
        Self::with_identifiers(backbone, prompt, identifiers)
    }

    pub fn with_identifiers(
        backbone: Backbone,
        prompt: PromptConfig,
        identifiers: Identifiers,
    ) -> Result<Self> {
        let ids = Tensor::new(identifiers.token_ids.as_slice(), &backbone.model.device)?;
        // Only the identifiers' rows, decoded as a table lookup: dequantizing the whole
        // vocabulary projection first (49k rows for SmolLM2) was the peak of a ranker's memory.
        let head = Embedding::of(&backbone.model.lm_head.weight)?.lookup(&ids)?;
        let identifier_head = head.t()?.contiguous()?; // (hidden, n_ids)
        Ok(Ranker {
            backbone,
            identifiers,
            prompt,
            identifier_head,
        })
    }

    /// Validates, renders and tokenizes a request (candidates in the request's order).
    pub fn prepare(&self, req: &RankRequest) -> Result<PreparedPrompt> {
        prepare(
            &self.backbone.tokenizer,
            self.backbone.model.config.max_position_embeddings,
            &self.identifiers,
            &self.prompt,
            req,
        )
    }

    /// Identifier logits after feeding `tokens` (through `cache` when given).
    fn logits_of(&self, tokens: &[u32], cache: Option<&mut KvCache>) -> Result<Vec<f32>> {
        let model = &self.backbone.model;
        let input = Tensor::new(tokens, &model.device)?.unsqueeze(0)?;
        let hidden = model.forward_hidden(&input, cache, Kernels::Fused)?;
        self.identifier_logits(&hidden)
    }

    /// Identifier logits (1, n_identifiers) after the last of `hidden` (1, s, h).
    fn identifier_logits(&self, hidden: &Tensor) -> Result<Vec<f32>> {
        let s = hidden.dim(1)?;
        let last = hidden.narrow(1, s - 1, 1)?.squeeze(1)?; // (1, h)
        Ok(last
            .matmul(&self.identifier_head)?
            .squeeze(0)?
            .to_vec1::<f32>()?)
    }

    /// log y₁: log-softmax of the first-position identifier logits over the `m` candidates.
    pub fn first_position_logprobs(&self, p: &PreparedPrompt) -> Result<Vec<f32>> {
        let logits = self.logits_of(&p.tokens, None)?;
        Ok(log_softmax(&logits[..p.candidates]))
    }

    /// The identifier tokens in presentation order: the rows of the LM head a ranking backend
    /// needs (candidate `i` of a prepared prompt is answered with `identifier_token_ids()[i]`).
    pub fn identifier_token_ids(&self) -> &[u32] {
        &self.identifiers.token_ids
    }

    /// Ranks one request (greedy, single pass or bootstrap: [`super::driver`]).
    pub fn rank(&self, req: &RankRequest, mode: RankMode) -> Result<RankResponse> {
        run_ready(driver::rank(self, req, mode))
    }

    /// Ranks `req` from its prompt prepared by [`Ranker::prepare`] (a caller that validated the
    /// request by preparing it does not prepare it twice).
    pub fn rank_prepared(
        &self,
        req: &RankRequest,
        prepared: &PreparedPrompt,
        mode: RankMode,
    ) -> Result<RankResponse> {
        run_ready(driver::rank_prepared(self, req, prepared, mode))
    }

    /// Ranks many users' lists in one call; one result per request, in order, so one bad request
    /// does not cost the others. (On CPU a ~500-token prefill already fills the matrix units, so
    /// requests run one after another rather than padded into a batch.)
    pub fn rank_batch(&self, reqs: &[RankRequest], mode: RankMode) -> Vec<Result<RankResponse>> {
        reqs.iter().map(|r| self.rank(r, mode)).collect()
    }
}

/// The CPU backend: candle's forward pass with a KV cache for decoding.
impl RankBackend for Ranker {
    type Sequence = KvCache;

    fn prepare(&self, req: &RankRequest) -> Result<PreparedPrompt> {
        Ranker::prepare(self, req)
    }

    fn identifier_token_ids(&self) -> &[u32] {
        Ranker::identifier_token_ids(self)
    }

    async fn start(&self, prompt: &[u32]) -> Result<(KvCache, Vec<f32>)> {
        let mut cache = KvCache::new(self.backbone.model.config.num_layers);
        let logits = self.logits_of(prompt, Some(&mut cache))?;
        Ok((cache, logits))
    }

    async fn next(&self, cache: &mut KvCache, token: u32) -> Result<Vec<f32>> {
        self.logits_of(&[token], Some(cache))
    }

    /// One forward pass without a cache.
    async fn logits_after(&self, prompt: &[u32]) -> Result<Vec<f32>> {
        self.logits_of(prompt, None)
    }
}

/// The identifiers a model is ranked with, as [`Ranker::new`] picks them: its card's labels (an
/// exported ranker) or A–Z for a plain backbone; each checked to be one token of `tokenizer`.
pub fn identifiers_for(card: Option<&ModelCard>, tokenizer: &Tokenizer) -> Result<Identifiers> {
    match card {
        Some(c) => Identifiers::new(&c.identifiers, tokenizer),
        None => Identifiers::default_for(tokenizer),
    }
}

/// Validates, renders and tokenizes `req` for a model with this tokenizer, context length and
/// identifiers. [`Ranker::prepare`] is this with the ranker's own parts; a backend that holds the
/// weights elsewhere (the browser's WebGPU driver) calls it directly.
pub fn prepare(
    tokenizer: &Tokenizer,
    context: usize,
    identifiers: &Identifiers,
    prompt_config: &PromptConfig,
    req: &RankRequest,
) -> Result<PreparedPrompt> {
    prompt::validate(req, prompt_config, identifiers.len())?;
    // The chat frame is used when the vocabulary has both turn markers as special tokens.
    let chat_frame = tokenizer.is_special("<|im_start|>") && tokenizer.is_special("<|im_end|>");
    let rendered = prompt::render(
        &req.history,
        &req.candidates,
        &identifiers.labels,
        prompt_config,
        &tokenizer.special_strings(),
        chat_frame,
    );
    let tokens = tokenizer.encode_with_bos(&rendered.text)?;
    let needed = tokens.len() + req.candidates.len();
    if needed > context {
        return Err(Error::Request(format!(
            "prompt of {} tokens plus {} answer tokens exceeds the model's context of {context}; \
             shorten the history or the titles",
            tokens.len(),
            req.candidates.len()
        )));
    }
    Ok(PreparedPrompt {
        text: rendered.text,
        tokens,
        candidates: req.candidates.len(),
    })
}

// The pure steps between "identifier logits" and a [`RankResponse`], public so that a backend
// which runs the model elsewhere (the browser's WebGPU driver) ranks exactly like [`Ranker`].

/// Greedy mode: the decoded order and its Borda points `m − 1 − position`.
pub fn greedy_scores(order: Vec<usize>) -> (Vec<usize>, Vec<f32>) {
    let scores = borda(std::slice::from_ref(&order), order.len());
    (order, scores)
}

/// Single mode: the order by first-position log-probability (ties: lower index first) and the
/// log-probabilities over the first `m` identifiers.
pub fn single_scores(identifier_logits: &[f32], m: usize) -> Result<(Vec<usize>, Vec<f32>)> {
    if identifier_logits.len() < m {
        return Err(Error::Invalid(format!(
            "{} identifier logits for {m} candidates",
            identifier_logits.len()
        )));
    }
    let lp = log_softmax(&identifier_logits[..m]);
    Ok((order_by_score(&lp), lp))
}

/// `x − max − ln Σ exp(x − max)`, in the same f32 steps as candle's `log_softmax` on CPU.
pub fn log_softmax(x: &[f32]) -> Vec<f32> {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = x.iter().map(|v| (v - max).exp()).sum();
    let log_sum = sum.ln();
    x.iter().map(|v| (v - max) - log_sum).collect()
}

/// The response for an order of presentation indices and per-candidate scores (both aligned
/// with `req.candidates`). Fails unless `order` is a permutation of the candidates.
pub fn response(req: &RankRequest, order: &[usize], scores: &[f32]) -> Result<RankResponse> {
    let m = req.candidates.len();
    let mut seen = vec![false; m];
    let is_permutation = order.len() == m
        && scores.len() == m
        && order
            .iter()
            .all(|&i| i < m && !std::mem::replace(&mut seen[i], true));
    if !is_permutation {
        return Err(Error::Invalid(format!(
            "internal: order {order:?} with {} scores is not a ranking of {m} candidates",
            scores.len()
        )));
    }
    Ok(RankResponse {
        ranking: order
            .iter()
            .map(|&i| req.candidates[i].id.clone())
            .collect(),
        scores: req
            .candidates
            .iter()
            .zip(scores)
            .map(|(c, &s)| (c.id.clone(), s))
            .collect(),
    })
}
