//! Constrained greedy decoding as a state machine, free of any model.
//!
//! The decoder only decides; the caller runs the model. That split lets the synchronous CPU
//! engine ([`super::Ranker`]) and an asynchronous driver (the browser's WebGPU backend, which
//! awaits every forward pass) share one implementation of the ranking rule:
//!
//! ```text
//! logits = forward(prompt)                      // prefill
//! loop {
//!     match decoder.choose(&logits)? {
//!         GreedyStep::Feed(i) => logits = forward([identifier_token[i]]),   // one decode step
//!         GreedyStep::Done => break,
//!     }
//! }
//! decoder.order()                               // presentation indices, best first
//! ```
//!
//! Rules (the invariants ARCHITECTURE.md promises):
//! - only identifiers not yet written are allowed, so the result is a permutation of `0..m`;
//! - among equal logits the lower presentation index wins;
//! - when one candidate remains it is appended without asking the model (no forward pass), so an
//!   `m`-candidate list costs one prefill and `max(m, 2) − 2` decode steps.

use crate::{Error, Result};

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GreedyStep {
    /// Run one decode step with the identifier token of this presentation index, then call
    /// [`GreedyDecoder::choose`] with the identifier logits after it.
    Feed(usize),
    /// The order is complete.
    Done,
}

/// The decoding state of one list of `m` candidates.
#[derive(Debug, Clone)]
pub struct GreedyDecoder {
    remaining: Vec<bool>,
    order: Vec<usize>,
}

impl GreedyDecoder {
    /// A decoder for `m ≥ 1` candidates (the request validation guarantees at least one).
    pub fn new(m: usize) -> Result<Self> {
        if m == 0 {
            return Err(Error::Invalid(
                "greedy decoding needs at least one candidate".into(),
            ));
        }
        Ok(GreedyDecoder {
            remaining: vec![true; m],
            order: Vec::with_capacity(m),
        })
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.remaining.len()
    }

    pub fn is_empty(&self) -> bool {
        self.remaining.is_empty()
    }

    /// True once the order is complete.
    pub fn is_done(&self) -> bool {
        self.order.len() == self.len()
    }

    /// Picks the next candidate from the identifier logits after the last token (at least `m`
    /// values, in presentation order; extra identifiers beyond `m` are ignored).
    pub fn choose(&mut self, identifier_logits: &[f32]) -> Result<GreedyStep> {
        let m = self.len();
        if self.is_done() {
            return Err(Error::Invalid(
                "greedy decoding is already complete; no more logits are needed".into(),
            ));
        }
        if identifier_logits.len() < m {
            return Err(Error::Invalid(format!(
                "greedy decoding got {} identifier logits for {m} candidates",
                identifier_logits.len()
            )));
        }
        let remaining = &self.remaining;
        // `max_by` keeps the last of equal maxima; reversing the index order on ties makes the
        // lower index compare greater, so it wins.
        let best = (0..m)
            .filter(|&i| remaining[i])
            .max_by(|&a, &b| {
                identifier_logits[a]
                    .total_cmp(&identifier_logits[b])
                    .then(b.cmp(&a))
            })
            .ok_or_else(|| Error::Invalid("greedy decoding has no candidate left".into()))?;
        self.take(best);
        match self.len() - self.order.len() {
            0 => Ok(GreedyStep::Done),
            1 => {
                // One candidate left: it is last whatever the model says.
                let last = (0..m).find(|&i| self.remaining[i]).unwrap_or(best);
                self.take(last);
                Ok(GreedyStep::Done)
            }
            _ => Ok(GreedyStep::Feed(best)),
        }
    }

    fn take(&mut self, i: usize) {
        self.remaining[i] = false;
        self.order.push(i);
    }

    /// Presentation indices chosen so far, best first (a permutation of `0..m` once done).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    pub fn into_order(self) -> Vec<usize> {
        self.order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the decoder against a fixed table of logits per step.
    fn run(m: usize, steps: &[Vec<f32>]) -> (Vec<usize>, Vec<Option<usize>>) {
        let mut d = GreedyDecoder::new(m).unwrap();
        let mut fed = Vec::new();
        for logits in steps {
            match d.choose(logits).unwrap() {
                GreedyStep::Feed(i) => fed.push(Some(i)),
                GreedyStep::Done => {
                    fed.push(None);
                    break;
                }
            }
        }
        assert!(d.is_done(), "decoder not done after {} steps", steps.len());
        (d.into_order(), fed)
    }

    #[test]
    fn picks_best_remaining_and_finishes_without_a_last_forward() {
        // m = 3: prefill logits pick 1; one decode step picks 2 among {0, 2}; 0 follows for free.
        let (order, fed) = run(3, &[vec![0.0, 5.0, 1.0], vec![0.0, 9.0, 3.0]]);
        assert_eq!(order, vec![1, 2, 0]);
        assert_eq!(fed, vec![Some(1), None]);
    }

    #[test]
    fn ties_go_to_the_lower_index_and_extra_identifiers_are_ignored() {
        // Step 1: 1 and 2 tie → 1 (index 4 is not a candidate). Step 2: 0, 2, 3 tie → 0.
        // Step 3: 2 and 3 tie → 2, and 3 follows without a forward pass.
        let mut d = GreedyDecoder::new(4).unwrap();
        assert_eq!(
            d.choose(&[1.0, 2.0, 2.0, 0.0, 99.0]).unwrap(),
            GreedyStep::Feed(1)
        );
        assert_eq!(
            d.choose(&[2.0, 0.0, 2.0, 2.0]).unwrap(),
            GreedyStep::Feed(0)
        );
        assert_eq!(d.choose(&[0.0, 0.0, 1.0, 1.0]).unwrap(), GreedyStep::Done);
        assert_eq!(d.order(), &[1, 0, 2, 3]);
    }

    #[test]
    fn one_and_two_candidates() {
        let mut d = GreedyDecoder::new(1).unwrap();
        assert_eq!(d.choose(&[0.3]).unwrap(), GreedyStep::Done);
        assert_eq!(d.order(), &[0]);
        let mut d = GreedyDecoder::new(2).unwrap();
        assert_eq!(d.choose(&[0.0, 1.0]).unwrap(), GreedyStep::Done);
        assert_eq!(d.order(), &[1, 0]);
    }

    #[test]
    fn nan_logits_still_give_a_permutation() {
        let mut d = GreedyDecoder::new(5).unwrap();
        let nan = [f32::NAN; 5];
        while d.choose(&nan).unwrap() != GreedyStep::Done {}
        let mut o = d.order().to_vec();
        o.sort();
        assert_eq!(o, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        assert!(GreedyDecoder::new(0).is_err());
        let mut d = GreedyDecoder::new(3).unwrap();
        assert!(d.choose(&[1.0, 2.0]).is_err(), "too few logits");
        let mut d = GreedyDecoder::new(1).unwrap();
        d.choose(&[0.0]).unwrap();
        assert!(d.choose(&[0.0]).is_err(), "choose after done");
    }
}
