//! One ranking procedure for every backend. A backend runs the model (candle on the CPU, wgpu in
//! the browser or natively) and answers with identifier logits; [`rank_prepared`] drives it
//! through greedy decoding, a single pass or bootstrap, so every backend ranks by one rule and
//! gets every mode.
//!
//! The methods are `async` because a GPU backend waits for its device; the CPU backend never
//! waits, and [`run_ready`] runs its futures to completion without an executor.

use super::borda::{borda, order_by_score};
use super::engine::{greedy_scores, response, single_scores, PreparedPrompt};
use super::greedy::{GreedyDecoder, GreedyStep};
use super::RankMode;
use crate::request::{RankRequest, RankResponse};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A model that ranks: it prepares requests (its tokenizer, identifiers and prompt) and returns
/// the logits of its identifier tokens after a prompt, and after each identifier fed back.
// `async fn` in a public trait gives futures without a `Send` bound: what the browser needs
// (its WebGPU futures are not `Send`), and nothing here moves them across threads.
#[allow(async_fn_in_trait)]
pub trait RankBackend {
    /// The state carried between decode steps of one list (the KV cache).
    type Sequence;

    /// Validates, renders and tokenizes a request (candidates in the request's order).
    fn prepare(&self, req: &RankRequest) -> Result<PreparedPrompt>;

    /// The identifier tokens in presentation order: candidate `i` is answered with the `i`-th.
    fn identifier_token_ids(&self) -> &[u32];

    /// Prefill: a sequence holding `prompt`, and the identifier logits after it.
    async fn start(&self, prompt: &[u32]) -> Result<(Self::Sequence, Vec<f32>)>;

    /// Feeds one token to `sequence`; the identifier logits after it.
    async fn next(&self, sequence: &mut Self::Sequence, token: u32) -> Result<Vec<f32>>;

    /// The identifier logits after `prompt` when no decoding follows (single mode). A backend
    /// may skip keeping the sequence.
    async fn logits_after(&self, prompt: &[u32]) -> Result<Vec<f32>> {
        Ok(self.start(prompt).await?.1)
    }
}

/// Ranks `req`, prepared once by the caller as `prepared` (its validation already done).
pub async fn rank_prepared<B: RankBackend>(
    backend: &B,
    req: &RankRequest,
    prepared: &PreparedPrompt,
    mode: RankMode,
) -> Result<RankResponse> {
    let m = req.candidates.len();
    if prepared.candidates != m {
        return Err(Error::Invalid(format!(
            "internal: a prompt prepared for {} candidates ranks a request of {m}",
            prepared.candidates
        )));
    }
    let (order, scores) = match mode {
        RankMode::Greedy => greedy_scores(greedy_order(backend, prepared).await?),
        RankMode::Single => single_scores(&backend.logits_after(&prepared.tokens).await?, m)?,
        RankMode::Bootstrap { orders, seed } => {
            if orders == 0 {
                return Err(Error::Request(
                    "bootstrap needs at least one presentation order".into(),
                ));
            }
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut lists = Vec::with_capacity(orders);
            // The first order is the request's own; the others are seeded shuffles.
            lists.push(greedy_order(backend, prepared).await?);
            for _ in 1..orders {
                let mut perm: Vec<usize> = (0..m).collect();
                perm.shuffle(&mut rng);
                let shown = RankRequest {
                    history: req.history.clone(),
                    candidates: perm.iter().map(|&i| req.candidates[i].clone()).collect(),
                };
                let local = greedy_order(backend, &backend.prepare(&shown)?).await?;
                lists.push(local.iter().map(|&j| perm[j]).collect());
            }
            let scores = borda(&lists, m);
            (order_by_score(&scores), scores)
        }
    };
    response(req, &order, &scores)
}

/// Prepares and ranks `req`.
pub async fn rank<B: RankBackend>(
    backend: &B,
    req: &RankRequest,
    mode: RankMode,
) -> Result<RankResponse> {
    let prepared = backend.prepare(req)?;
    rank_prepared(backend, req, &prepared, mode).await
}

/// Greedy constrained decoding: presentation indices, best first. The rule lives in
/// [`GreedyDecoder`]; this loop only runs the model it asks for.
async fn greedy_order<B: RankBackend>(backend: &B, p: &PreparedPrompt) -> Result<Vec<usize>> {
    let (mut sequence, mut logits) = backend.start(&p.tokens).await?;
    let mut decoder = GreedyDecoder::new(p.candidates)?;
    while let GreedyStep::Feed(i) = decoder.choose(&logits)? {
        let token = backend.identifier_token_ids()[i];
        logits = backend.next(&mut sequence, token).await?;
    }
    Ok(decoder.into_order())
}

/// The output of a future that never waits (a CPU backend's): polled once. One that does wait
/// is an error, not a hang.
pub fn run_ready<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => Err(Error::Invalid(
            "internal: a synchronous ranking backend waited; run it on an async executor".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Candidate, HistoryEntry};
    use std::cell::Cell;

    /// A backend whose logits favour low candidate indices, shown in any order: the logit of
    /// identifier `i` is minus the id number of the candidate shown at `i`. It records how many
    /// model calls each mode makes.
    struct ById {
        shown: std::cell::RefCell<Vec<u32>>,
        calls: Cell<usize>,
    }

    impl RankBackend for ById {
        type Sequence = ();
        fn prepare(&self, req: &RankRequest) -> Result<PreparedPrompt> {
            let ids: Vec<u32> = req
                .candidates
                .iter()
                .map(|c| c.id.trim_start_matches('c').parse().unwrap())
                .collect();
            *self.shown.borrow_mut() = ids.clone();
            Ok(PreparedPrompt {
                text: String::new(),
                tokens: ids,
                candidates: req.candidates.len(),
            })
        }
        fn identifier_token_ids(&self) -> &[u32] {
            &[100, 101, 102, 103, 104]
        }
        async fn start(&self, prompt: &[u32]) -> Result<((), Vec<f32>)> {
            self.calls.set(self.calls.get() + 1);
            Ok(((), prompt.iter().map(|&id| -(id as f32)).collect()))
        }
        async fn next(&self, _: &mut (), _: u32) -> Result<Vec<f32>> {
            self.calls.set(self.calls.get() + 1);
            Ok(self.shown.borrow().iter().map(|&id| -(id as f32)).collect())
        }
    }

    fn request(ids: &[u32]) -> RankRequest {
        RankRequest {
            history: vec![HistoryEntry {
                title: "Heat (1995)".into(),
                rating: 4.0,
            }],
            candidates: ids
                .iter()
                .map(|i| Candidate {
                    id: format!("c{i}"),
                    title: format!("Film {i}"),
                    note: None,
                })
                .collect(),
        }
    }

    #[test]
    fn every_mode_ranks_by_the_backends_logits_in_any_presentation_order() {
        let req = request(&[3, 1, 4, 2]);
        for mode in [
            RankMode::Greedy,
            RankMode::Single,
            RankMode::Bootstrap { orders: 3, seed: 7 },
        ] {
            let b = ById {
                shown: Default::default(),
                calls: Cell::new(0),
            };
            let out = run_ready(rank(&b, &req, mode)).unwrap();
            assert_eq!(out.ranking, ["c1", "c2", "c3", "c4"], "{mode:?}");
            let calls = match mode {
                RankMode::Greedy => 3, // prefill + 2 steps; the last candidate is implied
                RankMode::Single => 1,
                RankMode::Bootstrap { orders, .. } => 3 * orders,
            };
            assert_eq!(b.calls.get(), calls, "{mode:?}");
        }
    }

    #[test]
    fn zero_bootstrap_orders_and_a_mismatched_prompt_are_errors() {
        let b = ById {
            shown: Default::default(),
            calls: Cell::new(0),
        };
        let req = request(&[2, 1]);
        let zero = RankMode::Bootstrap { orders: 0, seed: 0 };
        assert!(run_ready(rank(&b, &req, zero)).is_err());
        let other = b.prepare(&request(&[1, 2, 3])).unwrap();
        assert!(run_ready(rank_prepared(&b, &req, &other, RankMode::Single)).is_err());
    }

    #[test]
    fn a_future_that_waits_is_an_error_not_a_hang() {
        let pending = std::future::pending::<Result<()>>();
        assert!(run_ready(pending).is_err());
    }
}
