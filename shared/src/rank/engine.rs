//! The ranking engine: prompt → tokens → constrained decoding over identifier tokens.

use super::borda::{borda, order_by_score};
use super::RankMode;
use crate::identifiers::Identifiers;
use crate::model::{Backbone, Kernels, KvCache};
use crate::prompt::{self, PromptConfig};
use crate::request::{RankRequest, RankResponse};
use crate::{Error, Result};
use candle_core::quantized::QMatMul;
use candle_core::{Tensor, D};
use rand::seq::SliceRandom;
use rand::SeedableRng;

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
    specials: Vec<String>,
    chat_frame: bool,
    /// LM-head rows of the identifier tokens (n_identifiers, hidden): at every decoding step only
    /// these logits matter, so the full vocabulary projection is never computed.
    identifier_head: Tensor,
}

impl Ranker {
    /// A ranker with the default identifiers (A–Z) — fails if they are not single tokens.
    pub fn new(backbone: Backbone, prompt: PromptConfig) -> Result<Self> {
        let identifiers = Identifiers::default_for(&backbone.tokenizer)?;
        Self::with_identifiers(backbone, prompt, identifiers)
    }

    pub fn with_identifiers(
        backbone: Backbone,
        prompt: PromptConfig,
        identifiers: Identifiers,
    ) -> Result<Self> {
        let ids = Tensor::new(identifiers.token_ids.as_slice(), &backbone.model.device)?;
        let head = match &backbone.model.lm_head.weight {
            QMatMul::QTensor(q) => q.dequantize(&backbone.model.device)?,
            QMatMul::Tensor(t) | QMatMul::TensorF16(t) => t.to_dtype(candle_core::DType::F32)?,
        };
        let identifier_head = head.index_select(&ids, 0)?.t()?.contiguous()?; // (hidden, n_ids)
        let specials = backbone.tokenizer.special_strings();
        let chat_frame = backbone.tokenizer.is_special("<|im_start|>")
            && backbone.tokenizer.is_special("<|im_end|>");
        Ok(Ranker {
            backbone,
            identifiers,
            prompt,
            specials,
            chat_frame,
            identifier_head,
        })
    }

    /// Validates, renders and tokenizes a request (candidates in the request's order).
    pub fn prepare(&self, req: &RankRequest) -> Result<PreparedPrompt> {
        prompt::validate(req, &self.prompt, self.identifiers.len())?;
        let rendered = prompt::render(
            &req.history,
            &req.candidates,
            &self.identifiers.labels,
            &self.prompt,
            &self.specials,
            self.chat_frame,
        );
        let tokens = self.backbone.tokenizer.encode_with_bos(&rendered.text)?;
        let needed = tokens.len() + req.candidates.len();
        let context = self.backbone.model.config.max_position_embeddings;
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

    /// Identifier logits (1, n_identifiers) after the last of `hidden` (1, s, h).
    fn identifier_logits(&self, hidden: &Tensor) -> Result<Vec<f32>> {
        let s = hidden.dim(1)?;
        let last = hidden.narrow(1, s - 1, 1)?.squeeze(1)?; // (1, h)
        Ok(last
            .matmul(&self.identifier_head)?
            .squeeze(0)?
            .to_vec1::<f32>()?)
    }

    /// Greedy constrained decoding: presentation indices, best first.
    fn greedy_order(&self, p: &PreparedPrompt) -> Result<Vec<usize>> {
        let model = &self.backbone.model;
        let mut cache = KvCache::new(model.config.num_layers);
        let input = Tensor::new(p.tokens.as_slice(), &model.device)?.unsqueeze(0)?;
        let mut hidden = model.forward_hidden(&input, Some(&mut cache), Kernels::Fused)?;
        let m = p.candidates;
        let mut remaining: Vec<bool> = vec![true; m];
        let mut order = Vec::with_capacity(m);
        for step in 0..m {
            let logits = self.identifier_logits(&hidden)?;
            let best = (0..m)
                .filter(|&i| remaining[i])
                .max_by(|&a, &b| logits[a].total_cmp(&logits[b]).then(b.cmp(&a)))
                .expect("a candidate remains at every step");
            remaining[best] = false;
            order.push(best);
            if step + 1 < m - 1 {
                let next = Tensor::new(&[self.identifiers.token_ids[best]], &model.device)?
                    .unsqueeze(0)?;
                hidden = model.forward_hidden(&next, Some(&mut cache), Kernels::Fused)?;
            } else if step + 1 == m - 1 {
                // One candidate left: it is last, no forward pass needed.
                let last = (0..m).find(|&i| remaining[i]).expect("one remains");
                order.push(last);
                break;
            }
        }
        Ok(order)
    }

    /// log y₁: log-softmax of the first-position identifier logits over the `m` candidates.
    pub fn first_position_logprobs(&self, p: &PreparedPrompt) -> Result<Vec<f32>> {
        let model = &self.backbone.model;
        let input = Tensor::new(p.tokens.as_slice(), &model.device)?.unsqueeze(0)?;
        let hidden = model.forward_hidden(&input, None, Kernels::Fused)?;
        let logits = self.identifier_logits(&hidden)?;
        let l = Tensor::new(&logits[..p.candidates], &model.device)?;
        Ok(candle_nn::ops::log_softmax(&l, D::Minus1)?.to_vec1::<f32>()?)
    }

    /// Ranks one request.
    pub fn rank(&self, req: &RankRequest, mode: RankMode) -> Result<RankResponse> {
        let m = req.candidates.len();
        let (order, scores): (Vec<usize>, Vec<f32>) = match mode {
            RankMode::Greedy => {
                let order = self.greedy_order(&self.prepare(req)?)?;
                let scores = borda(std::slice::from_ref(&order), m);
                (order, scores)
            }
            RankMode::Single => {
                let lp = self.first_position_logprobs(&self.prepare(req)?)?;
                (order_by_score(&lp), lp)
            }
            RankMode::Bootstrap { orders, seed } => {
                if orders == 0 {
                    return Err(Error::Request(
                        "bootstrap needs at least one presentation order".into(),
                    ));
                }
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                let mut lists = Vec::with_capacity(orders);
                for b in 0..orders {
                    // The first order is the request's own; the others are seeded shuffles.
                    let mut perm: Vec<usize> = (0..m).collect();
                    if b > 0 {
                        perm.shuffle(&mut rng);
                    }
                    let shown = RankRequest {
                        history: req.history.clone(),
                        candidates: perm.iter().map(|&i| req.candidates[i].clone()).collect(),
                    };
                    let local = self.greedy_order(&self.prepare(&shown)?)?;
                    lists.push(local.iter().map(|&j| perm[j]).collect());
                }
                let scores = borda(&lists, m);
                (order_by_score(&scores), scores)
            }
        };
        Ok(RankResponse {
            ranking: order
                .iter()
                .map(|&i| req.candidates[i].id.clone())
                .collect(),
            scores: req
                .candidates
                .iter()
                .zip(&scores)
                .map(|(c, &s)| (c.id.clone(), s))
                .collect(),
        })
    }

    /// Ranks many users' lists in one call; one result per request, in order, so one bad request
    /// does not cost the others. (On CPU a ~500-token prefill already fills the matrix units, so
    /// requests run one after another rather than padded into a batch.)
    pub fn rank_batch(&self, reqs: &[RankRequest], mode: RankMode) -> Vec<Result<RankResponse>> {
        reqs.iter().map(|r| self.rank(r, mode)).collect()
    }
}
