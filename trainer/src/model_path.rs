//! Which model a command uses when `--model` is not given, and loading it with a helpful error
//! when it is absent.
//!
//! Two defaults, both written by `scripts/setup.sh` into `.cache/models/` (git-ignored):
//! - the **ranker** (`alro-ranker.q8_0.gguf`): the backbone with the committed release adapter
//!   (`models/`) merged in — what `rank`, `eval --llm` and `inspect` use, so a user ranks with a
//!   trained model unless they ask otherwise;
//! - the **backbone** (SmolLM2-135M-Instruct Q4_1) — what `train` starts from and what `export`
//!   merges adapters into. Ranking commands fall back to it when the ranker has not been built.
//!
//! `--model` always wins, then `$ALRO_MODEL`.

use alro_core::model::{Backbone, MatrixPrecision};
use anyhow::Context;
use candle_core::Device;
use std::path::{Path, PathBuf};

/// The untrained backbone fetched by the setup.
pub const DEFAULT_BACKBONE: &str = ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The release ranker the setup exports from `models/` (backbone + adapter, Q8_0).
pub const DEFAULT_RANKER: &str = ".cache/models/alro-ranker.q8_0.gguf";
/// The committed adapter the setup builds [`DEFAULT_RANKER`] from.
pub const RELEASE_ADAPTER: &str = "models/ranker/adapter.safetensors";

/// The model to fine-tune or to merge adapters into: `--model`, else `$ALRO_MODEL`, else the
/// setup's backbone.
pub fn backbone(model: Option<PathBuf>) -> PathBuf {
    model
        .or_else(|| std::env::var_os("ALRO_MODEL").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BACKBONE))
}

/// The model to rank with: `--model`, else `$ALRO_MODEL`, else the release ranker when the setup
/// has built it, else the backbone (with a note on stderr: it ranks at chance).
pub fn ranker(model: Option<PathBuf>) -> PathBuf {
    if let Some(explicit) = model.or_else(|| std::env::var_os("ALRO_MODEL").map(PathBuf::from)) {
        return explicit;
    }
    if Path::new(DEFAULT_RANKER).exists() {
        return PathBuf::from(DEFAULT_RANKER);
    }
    if Path::new(RELEASE_ADAPTER).exists() {
        eprintln!(
            "note: {DEFAULT_RANKER} not found, ranking with the untrained backbone \
             {DEFAULT_BACKBONE} (it ranks at chance); run `bash scripts/setup.sh` to build the \
             trained ranker from {RELEASE_ADAPTER}"
        );
    } else {
        eprintln!(
            "note: ranking with the untrained backbone {DEFAULT_BACKBONE}: it ranks at chance, \
             and this checkout has no release adapter ({RELEASE_ADAPTER}); pass --model for a \
             trained ranker (`alro export`)"
        );
    }
    PathBuf::from(DEFAULT_BACKBONE)
}

pub fn load(path: &Path, precision: MatrixPrecision, device: &Device) -> anyhow::Result<Backbone> {
    if !path.exists() {
        anyhow::bail!(
            "model {} not found: run `bash scripts/setup.sh` to fetch the default backbone and \
             build the default ranker, or pass --model with a .gguf file or a Hugging Face \
             directory",
            path.display()
        );
    }
    Backbone::from_path(path, precision, device)
        .with_context(|| format!("loading model {}", path.display()))
}
