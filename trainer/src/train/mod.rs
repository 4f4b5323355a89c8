//! LoRA fine-tuning with the ALRO objective (METHOD.md §3–6).
//!
//! Map:
//! - [`config`]: every knob, with METHOD.md's defaults, read from TOML; the ablation presets.
//! - [`lora`]: adapters attached to the frozen backbone (PEFT convention), merging.
//! - [`losses`]: SFT cross-entropy, position matrix `Y`, Soft Lambda Loss, Permutation-Sensitive
//!   Loss — pure tensor functions, checked against hand values and finite differences.
//! - [`view`]: one teacher-forced presentation of an example (tokens, identifier mapping).
//! - [`step`]: the loss of one example (one or two views).
//! - [`optim`]: AdamW and the warm-up + cosine schedule, with state that checkpoints can hold.
//! - [`checkpoint`]: atomic save/load of adapters, optimizer state and progress.
//! - [`trainer`]: a run in progress — start or resume, one optimizer step (seeded order,
//!   accumulation, clipping, AdamW), validation, checkpoints.
//! - [`run`]: the loop over a [`trainer::Trainer`], stop options, metrics lines.

pub mod checkpoint;
pub mod config;
pub mod lora;
pub mod losses;
pub mod optim;
pub mod run;
pub mod step;
pub mod trainer;
pub mod view;

pub use config::{Preset, TrainConfig};

/// The training device: the first CUDA GPU in a `--features cuda` build, else the CPU.
pub fn device() -> anyhow::Result<candle_core::Device> {
    #[cfg(feature = "cuda")]
    {
        use anyhow::Context;
        return candle_core::Device::new_cuda(0)
            .context("opening CUDA device 0 (built with --features cuda)");
    }
    #[allow(unreachable_code)]
    Ok(candle_core::Device::Cpu)
}
