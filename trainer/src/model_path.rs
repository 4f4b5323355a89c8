//! Where the default backbone lives, and loading a model with a helpful error when it is absent.

use alro_core::model::{Backbone, MatrixPrecision};
use anyhow::Context;
use candle_core::Device;
use std::path::{Path, PathBuf};

/// Written by `scripts/setup.sh` (git-ignored).
pub const DEFAULT_MODEL: &str = ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// `--model` if given, else `$ALRO_MODEL`, else the default backbone fetched by the setup.
pub fn resolve(model: Option<PathBuf>) -> PathBuf {
    model
        .or_else(|| std::env::var_os("ALRO_MODEL").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL))
}

pub fn load(path: &Path, precision: MatrixPrecision, device: &Device) -> anyhow::Result<Backbone> {
    if !path.exists() {
        anyhow::bail!(
            "model {} not found: run `bash scripts/setup.sh` to fetch the default backbone, or pass \
             --model with a .gguf file or a Hugging Face directory",
            path.display()
        );
    }
    Backbone::from_path(path, precision, device)
        .with_context(|| format!("loading model {}", path.display()))
}
