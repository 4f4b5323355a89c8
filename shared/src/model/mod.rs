//! Llama-family backbones: configuration, weights (GGUF or Hugging Face safetensors) and the
//! forward pass, bundled with their tokenizer as a [`Backbone`].

// The training kernels (one-pass CPU ops with hand-written backwards, the frozen-weight GEMMs):
// only with the `train` feature, so the browser's build compiles none of them.
mod block_dot;
#[cfg(feature = "train")]
mod causal_attention;
mod config;
mod decode_attention;
mod embedding;
#[cfg(feature = "train")]
mod cpu_gemm;
mod frozen;
#[cfg(feature = "train")]
mod frozen_mlp;
#[cfg(feature = "train")]
mod grad_ops;
#[cfg(feature = "train")]
mod vector_exp;
mod linear;
mod llama;
mod matvec;
mod projection;
mod stacked;
mod load;
pub mod ops;
pub mod tiny;

pub use embedding::Embedding;
pub use config::{Llama3RopeScaling, LlamaConfig, RopeLayout};
pub use frozen::frozen_matmul;
pub use linear::{Linear, Lora, LoraDropout};
pub use stacked::Stacked;
pub use llama::{Attention, Block, KvCache, Llama, Mlp};
pub use load::{GgufSource, MatrixPrecision, SafetensorsSource, TensorSource, WeightName};
pub use ops::Kernels;
pub use projection::Projection;

use crate::gguf::GgufFile;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};
use candle_core::Device;
use serde::Serialize;

/// Facts about a loaded model that users and the browser UI show.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// `general.name` or the directory name.
    pub name: String,
    /// "gguf" or "safetensors".
    pub format: String,
    /// Dominant tensor type of the matrices, e.g. "Q4_1", "F32".
    pub quantization: String,
    pub parameters: usize,
    pub context_length: usize,
    /// How an exported ranker was trained (its `alro.*` keys); `None` for a plain backbone.
    pub card: Option<crate::model_card::ModelCard>,
    /// The GGUF metadata, for the `alro.*` keys export writes (empty for safetensors).
    #[serde(skip)]
    pub gguf_metadata: std::collections::BTreeMap<String, crate::gguf::GgufValue>,
}

impl ModelInfo {
    /// The prompt this model expects: its card's (an exported ranker) or the defaults.
    pub fn prompt_config(&self) -> crate::prompt::PromptConfig {
        self.card
            .as_ref()
            .map_or_else(Default::default, |c| c.prompt_config())
    }

    /// The facts of a GGUF file: its name (`general.name`, else `source_name`), parameter count
    /// and dominant matrix type; shared by every backend that loads one.
    pub fn of_gguf(
        file: &GgufFile,
        source_name: &str,
        context_length: usize,
        card: Option<crate::model_card::ModelCard>,
    ) -> ModelInfo {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        let mut parameters = 0usize;
        for t in &file.tensors {
            let n: usize = t.shape.iter().product();
            parameters += n;
            if t.shape.len() == 2 {
                *counts.entry(format!("{:?}", t.dtype)).or_default() += n;
            }
        }
        let quantization = counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(k, _)| k)
            .unwrap_or_default();
        ModelInfo {
            name: file
                .get_str("general.name")
                .unwrap_or(source_name)
                .to_string(),
            format: "gguf".into(),
            quantization,
            parameters,
            context_length,
            card,
            gguf_metadata: file.metadata.clone(),
        }
    }
}

/// A model and its tokenizer: everything ranking needs.
pub struct Backbone {
    pub model: Llama,
    pub tokenizer: Tokenizer,
    pub info: ModelInfo,
}

impl Backbone {
    /// The prompt this model expects: its card's (an exported ranker) or the defaults.
    pub fn prompt_config(&self) -> crate::prompt::PromptConfig {
        self.info.prompt_config()
    }

    /// From the bytes of a GGUF file. `source_name` is what errors call it (its path).
    pub fn from_gguf_bytes(
        bytes: &[u8],
        source_name: &str,
        precision: MatrixPrecision,
        device: &Device,
    ) -> Result<Self> {
        Self::from_gguf_source(bytes, source_name, precision, device, None)
    }

    /// [`Backbone::from_gguf_bytes`], telling `copied` each tensor's byte range once it is read.
    fn from_gguf_source(
        bytes: &[u8],
        source_name: &str,
        precision: MatrixPrecision,
        device: &Device,
        copied: Option<&dyn Fn(std::ops::Range<usize>)>,
    ) -> Result<Self> {
        let file = GgufFile::parse(bytes, source_name)?;
        let card = crate::model_card::ModelCard::from_gguf(&file)?;
        let config = LlamaConfig::from_gguf(&file)?;
        let tokenizer = Tokenizer::from_gguf(&file)?;
        check_vocab(&config, &tokenizer, source_name)?;
        let src = GgufSource {
            file: &file,
            bytes,
            device: device.clone(),
            copied,
        };
        let model = Llama::load(config, &src, precision, device)?;
        let context = model.config.max_position_embeddings;
        let info = ModelInfo::of_gguf(&file, source_name, context, card);
        Ok(Backbone {
            model,
            tokenizer,
            info,
        })
    }

    /// From the parts of a Hugging Face checkpoint directory, given as bytes.
    pub fn from_hf_parts(
        source_name: &str,
        config_json: &[u8],
        tokenizer_json: &[u8],
        tokenizer_config_json: Option<&[u8]>,
        shards: &[(&str, &[u8])],
        device: &Device,
    ) -> Result<Self> {
        let config = LlamaConfig::from_hf_json(config_json, &format!("{source_name}/config.json"))?;
        let (add_bos, bos, eos) = hf_special_tokens(config_json, tokenizer_config_json);
        let tokenizer = Tokenizer::from_json_bytes(tokenizer_json, add_bos, bos, eos)
            .map_err(|e| Error::model(format!("{source_name}/tokenizer.json"), e.to_string()))?;
        check_vocab(&config, &tokenizer, source_name)?;
        let src = SafetensorsSource::from_shards(source_name, shards, device)?;
        let parameters = src.tensors.values().map(|t| t.elem_count()).sum();
        let model = Llama::load(config, &src, MatrixPrecision::AsStored, device)?;
        let info = ModelInfo {
            name: source_name
                .rsplit('/')
                .find(|s| !s.is_empty())
                .unwrap_or(source_name)
                .to_string(),
            format: "safetensors".into(),
            quantization: "F32".into(),
            parameters,
            context_length: model.config.max_position_embeddings,
            card: None,
            gguf_metadata: Default::default(),
        };
        Ok(Backbone {
            model,
            tokenizer,
            info,
        })
    }

    /// From a path: a `.gguf` file or a Hugging Face directory (`config.json`,
    /// `*.safetensors`, `tokenizer.json`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_path(
        path: &std::path::Path,
        precision: MatrixPrecision,
        device: &Device,
    ) -> Result<Self> {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let read =
                |f: &str| std::fs::read(path.join(f)).map_err(|e| Error::io(path.join(f), e));
            let config = read("config.json")?;
            let tokenizer = read("tokenizer.json")?;
            let tokenizer_config = read("tokenizer_config.json").ok();
            let mut shard_paths: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
                .collect();
            shard_paths.sort();
            if shard_paths.is_empty() {
                return Err(Error::model(&name, "directory has no *.safetensors file"));
            }
            let shards: Vec<(String, Vec<u8>)> = shard_paths
                .iter()
                .map(|p| {
                    Ok((
                        p.file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned(),
                        std::fs::read(p).map_err(|e| Error::io(p, e))?,
                    ))
                })
                .collect::<Result<_>>()?;
            let shard_refs: Vec<(&str, &[u8])> = shards
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect();
            Self::from_hf_parts(
                &name,
                &config,
                &tokenizer,
                tokenizer_config.as_deref(),
                &shard_refs,
                device,
            )
        } else {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            // SAFETY: the map is only read, and dropped before this returns; as with any
            // mapped model file (llama.cpp maps them too), another process truncating the file
            // during these few hundred milliseconds would fault the load.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
            // Each tensor is copied into its own buffer as it is read; dropping its mapped pages
            // then keeps the load at one copy of the weights (a read into a Vec held two: a
            // peak of twice the file).
            let drop_pages = |range: std::ops::Range<usize>| {
                // SAFETY: DONTNEED on a private, read-only file mapping only discards resident
                // pages; a later read of them faults the same bytes back in from the file.
                #[cfg(unix)]
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        range.start,
                        range.len(),
                    )
                };
                #[cfg(not(unix))]
                let _ = range;
            };
            Self::from_gguf_source(&map, &name, precision, device, Some(&drop_pages))
        }
    }
}

/// Refuses a tokenizer with more tokens than the embedding has rows (`source` names the file):
/// every backend checks it before it embeds a token id.
pub fn check_vocab(config: &LlamaConfig, tokenizer: &Tokenizer, source: &str) -> Result<()> {
    let n = tokenizer.vocab_size();
    if n > config.vocab_size {
        return Err(Error::model(
            source,
            format!(
                "tokenizer has {n} tokens but the model's vocabulary is {}",
                config.vocab_size
            ),
        ));
    }
    Ok(())
}

/// BOS/EOS facts of a HF checkpoint: ids from config.json, `add_bos_token` from
/// tokenizer_config.json (default false, as for SmolLM2; Llama 3 checkpoints set it).
fn hf_special_tokens(
    config_json: &[u8],
    tokenizer_config_json: Option<&[u8]>,
) -> (bool, Option<u32>, Option<u32>) {
    let cfg: serde_json::Value = serde_json::from_slice(config_json).unwrap_or_default();
    let id = |k: &str| {
        cfg.get(k)
            .and_then(|v| v.as_u64().or_else(|| v.get(0).and_then(|x| x.as_u64())))
            .map(|v| v as u32)
    };
    let add_bos = tokenizer_config_json
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|t| t.get("add_bos_token").and_then(|v| v.as_bool()))
        .unwrap_or(false);
    (add_bos, id("bos_token_id"), id("eos_token_id"))
}
