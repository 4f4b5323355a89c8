//! Candidate identifiers (METHOD.md §1): candidate `i` in presentation order is shown as label `i`
//! (`A`, `B`, …) and the model answers with the token `" A"` (leading space). Every identifier must
//! be exactly one token of the backbone's vocabulary — checked once, at start, so a model that
//! cannot represent them fails loudly instead of ranking garbage.

use crate::tokenizer::Tokenizer;
use crate::{Error, Result};

/// A–Z. The default list length `m = 20` uses A–T; up to 26 candidates fit.
pub const DEFAULT_LABELS: [&str; 26] = [
    "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S",
    "T", "U", "V", "W", "X", "Y", "Z",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifiers {
    /// What the prompt shows, in presentation order.
    pub labels: Vec<String>,
    /// The single token of `" " + label`, aligned with `labels`.
    pub token_ids: Vec<u32>,
}

impl Identifiers {
    /// Resolves `labels` against the tokenizer; errors name every label that is not one token.
    pub fn new(labels: &[impl AsRef<str>], tokenizer: &Tokenizer) -> Result<Self> {
        let mut token_ids = Vec::with_capacity(labels.len());
        let mut bad = Vec::new();
        for l in labels {
            match tokenizer.single_token(&format!(" {}", l.as_ref()))? {
                Some(id) => token_ids.push(id),
                None => bad.push(format!(
                    "\" {}\" -> {:?}",
                    l.as_ref(),
                    tokenizer.encode(&format!(" {}", l.as_ref()))?
                )),
            }
        }
        if !bad.is_empty() {
            return Err(Error::Invalid(format!(
                "identifiers must each be one token of this model's vocabulary, but these are not: {}; \
                 choose other identifier labels (e.g. letters) for this backbone",
                bad.join(", ")
            )));
        }
        let mut sorted = token_ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != token_ids.len() {
            return Err(Error::Invalid(
                "identifier labels map to duplicate tokens".into(),
            ));
        }
        Ok(Identifiers {
            labels: labels.iter().map(|l| l.as_ref().to_string()).collect(),
            token_ids,
        })
    }

    pub fn default_for(tokenizer: &Tokenizer) -> Result<Self> {
        Self::new(&DEFAULT_LABELS, tokenizer)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Position of `token` among the identifiers.
    pub fn position_of(&self, token: u32) -> Option<usize> {
        self.token_ids.iter().position(|&t| t == token)
    }
}
