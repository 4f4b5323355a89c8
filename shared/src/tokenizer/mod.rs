//! The backbone's tokenizer: built from a GGUF file's own metadata (so a single file is a
//! complete model) or read from a Hugging Face `tokenizer.json`. Token ids must equal
//! llama.cpp's for the same file; `tests/tokenizer_llamacpp.rs` checks that on a fixture set.

mod from_gguf;

pub use from_gguf::tokenizer_json_from_gguf;

use crate::{Error, Result};

/// `tokenizers::Tokenizer` from a parsed document. Natively a panic inside `tokenizers` (it
/// has a few `expect`s on hostile field values) becomes an error; wasm builds abort on panic, and
/// the browser only builds tokenizers from GGUF metadata, whose JSON we write ourselves.
fn build_guarded(value: serde_json::Value) -> std::result::Result<tokenizers::Tokenizer, String> {
    let build = move || serde_json::from_value::<tokenizers::Tokenizer>(value).map_err(|e| e.to_string());
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(build))
            .unwrap_or_else(|_| Err("the tokenizers crate rejected it (it panicked)".into()))
    }
    #[cfg(target_arch = "wasm32")]
    {
        build()
    }
}

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
        // Syntax first: `tokenizers` panics (an `expect` in its decoder deserializer) on some
        // malformed JSON instead of returning an error (found by fuzz/hf_checkpoint). From a
        // parsed `Value` its deserializers only see well-formed JSON.
        let value: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| Error::Tokenizer(format!("cannot read tokenizer.json: {e}")))?;
        let inner = build_guarded(value)
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

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":DECODER,
        "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,
        "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"vocab":{"a":0},"merges":[]}}"#;

    #[test]
    fn a_well_formed_tokenizer_json_loads() {
        let json = MINIMAL.replace("DECODER", "null");
        let t = Tokenizer::from_json_bytes(json.as_bytes(), false, None, None).unwrap();
        assert_eq!(t.encode("a").unwrap(), vec![0]);
    }

    /// Regression (fuzz/regressions/hf_checkpoint): a syntax error inside `decoder` made the
    /// tokenizers crate panic; it is an error naming tokenizer.json.
    #[test]
    fn malformed_json_inside_the_decoder_is_an_error_not_a_panic() {
        let json = MINIMAL.replace("DECODER", r#"{"type":"ByteLevel","trim_offsets":tru}"#);
        let err = Tokenizer::from_json_bytes(json.as_bytes(), false, None, None)
            .err()
            .expect("malformed JSON must be refused");
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
    }
}
