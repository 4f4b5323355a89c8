//! GGUF tokenizer metadata (`tokenizer.ggml.*`) → a `tokenizer.json` document for the
//! `tokenizers` crate. Only byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`) are
//! supported; the pre-tokenizer follows `tokenizer.ggml.pre` exactly as llama.cpp does.

use crate::gguf::GgufFile;
use crate::{Error, Result};
use serde_json::{json, Map, Value};

/// llama.cpp token types (`tokenizer.ggml.token_type`).
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// GPT-2's byte-level split, used by llama.cpp for the StarCoder/SmolLM family after digits.
const GPT2_REGEX: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn byte_level(use_regex: bool) -> Value {
    json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex})
}

fn split(regex: &str) -> Value {
    json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false})
}

/// The pre-tokenizer llama.cpp uses for a `tokenizer.ggml.pre` value, and whether merges may be
/// skipped for whole-vocabulary words (Llama 3's `ignore_merges`).
fn pre_tokenizer(pre: &str) -> Option<(Value, bool)> {
    Some(match pre {
        "smollm" | "starcoder" | "refact" | "codeshell" | "command-r" | "exaone" | "minerva-7b" => {
            (
                json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true}, byte_level(true)]}),
                false,
            )
        }
        "llama-bpe" | "llama3" | "smaug-bpe" => (
            json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level(false)]}),
            true,
        ),
        "qwen2" => (
            json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level(false)]}),
            false,
        ),
        "default" | "gpt-2" | "gpt2" => (
            json!({"type": "Sequence", "pretokenizers": [split(GPT2_REGEX), byte_level(false)]}),
            false,
        ),
        _ => return None,
    })
}

/// Builds the `tokenizer.json` document for a GGUF file's vocabulary.
pub fn tokenizer_json_from_gguf(gguf: &GgufFile) -> Result<Value> {
    let err = |m: String| Error::model(&gguf.source_name, m);
    let model = gguf.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(err(format!(
            "tokenizer.ggml.model = \"{model}\" is not supported (only byte-level BPE, \"gpt2\"); \
             load the model from a Hugging Face directory with tokenizer.json instead"
        )));
    }
    let pre = gguf.get_str("tokenizer.ggml.pre").unwrap_or("default");
    let (pre_tokenizer, ignore_merges) = pre_tokenizer(pre).ok_or_else(|| {
        err(format!(
            "tokenizer.ggml.pre = \"{pre}\" is not a pre-tokenizer we know; supported: smollm, \
             starcoder, llama-bpe, qwen2, gpt2. Load the model from a Hugging Face directory with \
             tokenizer.json instead"
        ))
    })?;

    let tokens = gguf.get_array("tokenizer.ggml.tokens")?;
    let types = match gguf.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .as_array()
            .ok_or_else(|| err("tokenizer.ggml.token_type is not an array".into()))?,
        None => &[],
    };
    if !types.is_empty() && types.len() != tokens.len() {
        return Err(err(format!(
            "tokenizer.ggml.token_type has {} entries for {} tokens",
            types.len(),
            tokens.len()
        )));
    }
    let mut vocab = Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, tok) in tokens.iter().enumerate() {
        let tok = tok
            .as_str()
            .ok_or_else(|| err(format!("tokenizer.ggml.tokens[{id}] is not a string")))?;
        if vocab.insert(tok.to_string(), json!(id)).is_some() {
            return Err(err(format!(
                "tokenizer.ggml.tokens has the token {tok:?} twice"
            )));
        }
        let ty = types.get(id).and_then(|t| t.as_i64()).unwrap_or(1);
        if ty == TOKEN_TYPE_CONTROL || ty == TOKEN_TYPE_USER_DEFINED {
            added.push(json!({
                "id": id, "content": tok, "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false, "special": ty == TOKEN_TYPE_CONTROL,
            }));
        }
    }
    let merges: Vec<Value> = gguf
        .get_array("tokenizer.ggml.merges")?
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let m = m
                .as_str()
                .ok_or_else(|| err(format!("tokenizer.ggml.merges[{i}] is not a string")))?;
            let (a, b) = m.split_once(' ').ok_or_else(|| {
                err(format!(
                    "tokenizer.ggml.merges[{i}] = {m:?} is not \"left right\""
                ))
            })?;
            Ok(json!([a, b]))
        })
        .collect::<Result<_>>()?;

    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges,
        },
    }))
}

impl super::Tokenizer {
    /// The tokenizer stored in a GGUF file's metadata.
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self> {
        let doc = tokenizer_json_from_gguf(gguf)?;
        let bytes = serde_json::to_vec(&doc).map_err(|e| Error::Tokenizer(e.to_string()))?;
        let vocab = gguf.get_array("tokenizer.ggml.tokens")?.len() as u64;
        let id = |key: &str| -> Result<Option<u32>> {
            match gguf.get(key) {
                None => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(i) if i < vocab => Ok(Some(i as u32)),
                    _ => Err(Error::model(
                        &gguf.source_name,
                        format!("{key} = {v:?} is not a token id"),
                    )),
                },
            }
        };
        let add_bos = gguf
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        Self::from_json_bytes(
            &bytes,
            add_bos,
            id("tokenizer.ggml.bos_token_id")?,
            id("tokenizer.ggml.eos_token_id")?,
        )
        .map_err(|e| Error::model(&gguf.source_name, e.to_string()))
    }
}
