//! The loss of one example (METHOD.md §6): one teacher-forced pass per view gives the SFT loss and
//! the position matrix `Y`; SLL reads `Y`; with PSL on, a second, permuted view is compared with
//! the first.

use super::config::{AnswerOrder, ObjectiveConfig};
use super::losses::{
    continuation_loss, continuation_target, cross_entropy, first_position_loss,
    first_position_target, log_softmax_rows, permutation_sensitive_loss, sll_pair_weights,
    soft_lambda_loss,
};
use super::view::{self, View};
use alro_core::data::RankingExample;
use alro_core::model::{Kernels, KvCache, Projection};
use alro_core::rank::Ranker;
use anyhow::Result;
use candle_core::{DType, Tensor};

/// What one forward pass of a view yields.
pub struct ViewOutput {
    /// Mean cross-entropy of the target identifiers (scalar).
    pub sft: Tensor,
    /// The identifier logits (positions × candidates), columns in the example's candidate order.
    pub id_logits: Tensor,
    /// `log Y`: their row-wise log-softmax.
    pub log_y: Tensor,
}

/// Teacher-forced forward pass of one view.
pub fn forward_view(ranker: &Ranker, v: &View) -> Result<ViewOutput> {
    let model = &ranker.backbone.model;
    let input = Tensor::new(v.tokens.as_slice(), &model.device)?.unsqueeze(0)?;
    let hidden = model.forward_hidden(&input, None, Kernels::Differentiable)?;
    view_output(ranker, v, &hidden.squeeze(0)?, 0)
}

/// A view's output from its hidden states `hidden` (positions `offset..`, hidden).
fn view_output(ranker: &Ranker, v: &View, hidden: &Tensor, offset: usize) -> Result<ViewOutput> {
    let model = &ranker.backbone.model;
    let m = v.targets.len();
    // Row p of the hidden states predicts token p + 1: the m answer slots start at the last
    // prompt token.
    let rows = hidden.narrow(0, v.prompt_len - 1 - offset, m)?;
    let logits = model.logits(&rows)?; // (m, vocab)
    let sft = cross_entropy(&logits, &v.targets)?;
    let ids = Tensor::new(v.identifier_ids.as_slice(), &model.device)?;
    let item_cols: Vec<u32> = v.shown_of_item.iter().map(|&j| j as u32).collect();
    let item_cols = Tensor::new(item_cols.as_slice(), &model.device)?;
    let id_logits = logits.index_select(&ids, 1)?.index_select(&item_cols, 1)?;
    Ok(ViewOutput {
        sft,
        log_y: log_softmax_rows(&id_logits)?,
        id_logits,
    })
}

/// Shorter common prefixes are not worth a pass of their own.
const MIN_SHARED_PREFIX: usize = 16;

/// The tokens every view begins with, up to the first answer row's input (the last prompt
/// token of the shortest prompt); 0 when that is under [`MIN_SHARED_PREFIX`].
pub fn shared_prefix_len(views: &[View]) -> usize {
    let Some(first) = views.first() else {
        return 0;
    };
    let cap = views.iter().map(|v| v.prompt_len - 1).min().unwrap_or(0);
    let len = (0..cap)
        .take_while(|&i| views.iter().all(|v| v.tokens[i] == first.tokens[i]))
        .count();
    if len >= MIN_SHARED_PREFIX {
        len
    } else {
        0
    }
}

/// Whether some adapter draws dropout masks: each view then keeps a pass of its own (with its
/// own masks, as the trainer seeds them per view).
fn draws_dropout(ranker: &Ranker) -> bool {
    ranker.backbone.model.layers.iter().any(|b| {
        Projection::ALL.iter().any(|&p| {
            b.projection(p)
                .lora
                .as_ref()
                .and_then(|l| l.dropout.as_ref())
                .is_some_and(|d| d.p > 0.0)
        })
    })
}

/// Teacher-forced passes of all views. With `share_prefix`, the tokens all views begin with
/// (the instructions and the history: two presentation orders differ from the candidate list
/// on) take one pass whose keys and values every view's remaining tokens attend to; backward
/// sums what each view sends back through them. The same loss and gradients as one pass per
/// view, up to rounding, for about a third less work on the default prompt (a 20-candidate
/// list's views share ~170 of their ~510 tokens). `before_forward(i)` runs before view i's pass.
pub fn forward_views(
    ranker: &Ranker,
    views: &[View],
    share_prefix: bool,
    mut before_forward: impl FnMut(usize),
) -> Result<Vec<ViewOutput>> {
    let p = if share_prefix && views.len() > 1 && !draws_dropout(ranker) {
        shared_prefix_len(views)
    } else {
        0
    };
    if p == 0 {
        let mut outputs = Vec::with_capacity(views.len());
        for (i, v) in views.iter().enumerate() {
            before_forward(i);
            outputs.push(forward_view(ranker, v)?);
        }
        return Ok(outputs);
    }
    let model = &ranker.backbone.model;
    let mut prefix_cache = KvCache::new(model.layers.len());
    let prefix = Tensor::new(&views[0].tokens[..p], &model.device)?.unsqueeze(0)?;
    model.forward_hidden(&prefix, Some(&mut prefix_cache), Kernels::Differentiable)?;
    let mut outputs = Vec::with_capacity(views.len());
    for (i, v) in views.iter().enumerate() {
        before_forward(i);
        let mut cache = prefix_cache.clone();
        let rest = Tensor::new(&v.tokens[p..], &model.device)?.unsqueeze(0)?;
        let hidden = model.forward_hidden(&rest, Some(&mut cache), Kernels::Differentiable)?;
        outputs.push(view_output(ranker, v, &hidden.squeeze(0)?, p)?);
    }
    Ok(outputs)
}

/// Loss parts of one example, as numbers (for logs and the progress bar).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossValues {
    pub total: f64,
    pub sft: f64,
    pub sll: f64,
    /// First-position loss, mean over views (0 when a list has no relevant candidate).
    pub first: f64,
    /// 0 when PSL is off.
    pub psl: f64,
    /// Continuation loss, mean over views (0 when its weight is 0 or no later row has a target).
    pub continuation: f64,
    /// Sequence tokens processed (all views).
    pub tokens: usize,
    /// Target tokens supervised (all views).
    pub target_tokens: usize,
}

impl LossValues {
    /// Adds `other`'s parts and token counts to these (a step's sum over its examples).
    pub fn add(&mut self, other: &LossValues) {
        for (s, v) in [
            (&mut self.total, other.total),
            (&mut self.sft, other.sft),
            (&mut self.sll, other.sll),
            (&mut self.first, other.first),
            (&mut self.psl, other.psl),
            (&mut self.continuation, other.continuation),
        ] {
            *s += v;
        }
        self.tokens += other.tokens;
        self.target_tokens += other.target_tokens;
    }

    /// The loss parts divided by `n` (a sum's mean); token counts stay sums.
    pub fn mean_over(self, n: usize) -> LossValues {
        let n = n as f64;
        LossValues {
            total: self.total / n,
            sft: self.sft / n,
            sll: self.sll / n,
            first: self.first / n,
            psl: self.psl / n,
            continuation: self.continuation / n,
            ..self
        }
    }

    /// The first part that is not a finite number, by name.
    pub fn non_finite_part(&self) -> Option<&'static str> {
        [
            ("SFT", self.sft),
            ("SLL", self.sll),
            ("first-position", self.first),
            ("PSL", self.psl),
            ("continuation", self.continuation),
            ("total", self.total),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(n, _)| n)
    }
}

/// The mean of one loss term over the views, summed in view order.
fn view_mean(
    outputs: &[ViewOutput],
    term: impl Fn(&ViewOutput) -> candle_core::Result<Tensor>,
) -> Result<Tensor> {
    let mut sum = term(&outputs[0])?;
    for o in &outputs[1..] {
        sum = (sum + term(o)?)?;
    }
    Ok((sum / outputs.len() as f64)?)
}

fn value(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

/// The objective `w·L_SFT + f·L_first + α·L_SLL + β·L_PSL + c·L_cont` of one example (METHOD.md
/// §6; the paper's is w = 1, f = c = 0), every view reading the answer `cfg.answer_order` names.
/// `psl_perm` is the presentation order of the second view (required when `β > 0`). `labels`:
/// the identifiers both views show (indices into the ranker's, see [`view::build`]); None = the
/// first m. SLL is always computed (it is cheap and worth logging) but only enters the objective
/// when `α > 0`.
pub fn example_loss(
    ranker: &Ranker,
    ex: &RankingExample,
    cfg: &ObjectiveConfig,
    psl_perm: Option<&[usize]>,
    labels: Option<&[usize]>,
    before_forward: impl FnMut(usize),
) -> Result<(Tensor, LossValues)> {
    let m = ex.candidates.len();
    let identity: Vec<usize> = (0..m).collect();
    let answer = match cfg.answer_order {
        AnswerOrder::Target => ex.target.clone(),
        AnswerOrder::Notes => view::note_order(ex),
    };
    let mut views = vec![view::build(ranker, ex, &identity, labels, &answer)?];
    if cfg.psl_weight > 0.0 {
        let perm = psl_perm.expect("a PSL permutation when psl_weight > 0");
        views.push(view::build(ranker, ex, perm, labels, &answer)?);
    }
    let outputs = forward_views(ranker, &views, true, before_forward)?;
    let weights = sll_pair_weights(&ex.relevance, &ex.target, cfg.idcg_normalize);
    let device = &ranker.backbone.model.device;
    let weights = Tensor::from_vec(weights, (m, m), device)?.to_dtype(outputs[0].log_y.dtype())?;

    let sft = view_mean(&outputs, |o| Ok(o.sft.clone()))?;
    let sll = view_mean(&outputs, |o| {
        soft_lambda_loss(
            &o.log_y.exp()?,
            &weights,
            cfg.gamma,
            cfg.sigma,
            cfg.pair_loss,
        )
    })?;
    // Weight 1 adds nothing, so METHOD.md's objective keeps its exact value.
    let mut total = match cfg.sft_weight {
        w if w == 1.0 => sft.clone(),
        w => (&sft * w)?,
    };
    let mut first_value = 0.0;
    if let Some(t) = first_position_target(&ex.relevance) {
        let t = Tensor::from_vec(t, m, device)?.to_dtype(outputs[0].log_y.dtype())?;
        let first = view_mean(&outputs, |o| first_position_loss(&o.log_y, &t))?;
        first_value = value(&first)?;
        if cfg.first_position_weight > 0.0 {
            total = (total + (first * cfg.first_position_weight)?)?;
        }
    }
    if cfg.sll_weight > 0.0 {
        total = (total + (&sll * cfg.sll_weight)?)?;
    }
    let mut continuation_value = 0.0;
    if cfg.continuation_weight > 0.0 {
        if let Some(c) = continuation_target(&ex.relevance, &answer) {
            let dtype = outputs[0].id_logits.dtype();
            let target = Tensor::from_vec(c.target, (m, m), device)?.to_dtype(dtype)?;
            let mask = Tensor::from_vec(c.mask, (m, m), device)?.to_dtype(dtype)?;
            let cont = view_mean(&outputs, |o| {
                continuation_loss(&o.id_logits, &target, &mask, c.rows)
            })?;
            continuation_value = value(&cont)?;
            total = (total + (cont * cfg.continuation_weight)?)?;
        }
    }
    let mut psl_value = 0.0;
    if outputs.len() == 2 {
        let psl =
            permutation_sensitive_loss(&outputs[0].log_y, &outputs[1].log_y, cfg.psl_divergence)?;
        psl_value = value(&psl)?;
        total = (total + (psl * cfg.psl_weight)?)?;
    }
    let values = LossValues {
        total: value(&total)?,
        sft: value(&sft)?,
        sll: value(&sll)?,
        first: first_value,
        psl: psl_value,
        continuation: continuation_value,
        tokens: views.iter().map(|v| v.tokens.len()).sum(),
        target_tokens: views.iter().map(|v| v.targets.len()).sum(),
    };
    Ok((total, values))
}
