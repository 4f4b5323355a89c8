//! The backbone's tokenizer: built from a GGUF file's own metadata (so a single file is a
//! complete model) or read from a Hugging Face `tokenizer.json`. Token ids must equal
//! llama.cpp's for the same file; `tests/tokenizer_llamacpp.rs` checks that on a fixture set.

mod from_gguf;

pub use from_gguf::tokenizer_json_from_gguf;

use crate::{Error, Result};

/// A tokenizer plus the special-token facts inference needs.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// Prepend `bos_id` to a fresh sequence (GGUF `tokenizer.ggml.add_bos_token`).
    pub add_bos: bool,
    pub bos_id: Option<u32>,
    pub eos_id: Option<u32>,
}

impl Tokenizer {
    /// From a `tokenizer.json` document. BOS handling is taken from the caller (a HF directory's
    /// `tokenizer_config.json`/`config.json` decide it, not tokenizer.json).
    pub fn from_json_bytes(
        json: &[u8],
        add_bos: bool,
        bos_id: Option<u32>,
        eos_id: Option<u32>,
    ) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_bytes(json)
            .map_err(|e| Error::Tokenizer(format!("cannot read tokenizer.json: {e}")))?;
        Ok(Tokenizer {
            inner,
            add_bos,
            bos_id,
            eos_id,
        })
    }

    /// Token ids of `text`, special-token strings (e.g. `<|im_start|>`) recognised as such.
    /// No BOS is added; see [`Tokenizer::encode_with_bos`].
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenize text: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Like [`Tokenizer::encode`], with BOS prepended when the model asks for it.
    pub fn encode_with_bos(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        if self.add_bos {
            ids.extend(self.bos_id);
        }
        ids.extend(self.encode(text)?);
        Ok(ids)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| Error::Tokenizer(format!("cannot decode ids: {e}")))
    }

    /// The raw vocabulary string of one id (byte-level form, e.g. `ĠA`).
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The text of every added/special token (`<|im_start|>`, …), which user data must never
    /// contain (see the title rule in [`crate::prompt`]).
    pub fn special_strings(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .inner
            .get_added_tokens_decoder()
            .values()
            .map(|t| t.content.clone())
            .collect();
        v.sort();
        v
    }

    /// True when `text` is one added special token of this vocabulary.
    pub fn is_special(&self, text: &str) -> bool {
        self.inner
            .get_added_tokens_decoder()
            .values()
            .any(|t| t.special && t.content == text)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of `text` if it encodes to exactly one token.
    pub fn single_token(&self, text: &str) -> Result<Option<u32>> {
        let ids = self.encode(text)?;
        Ok(if ids.len() == 1 { Some(ids[0]) } else { None })
    }
}
