//! LoRA fine-tuning with the ALRO objective (ALRO.md §3–6).
//!
//! Map:
//! - [`config`]: every knob, with ALRO.md's defaults, read from TOML; the ablation presets.
//! - [`lora`]: adapters attached to the frozen backbone (PEFT convention), merging.
//! - [`losses`]: SFT cross-entropy, position matrix `Y`, Soft Lambda Loss, Permutation-Sensitive
//!   Loss — pure tensor functions, checked against hand values and finite differences.
//! - [`view`]: one teacher-forced presentation of an example (tokens, identifier mapping).
//! - [`step`]: the loss of one example (one or two views).
//! - [`optim`]: AdamW and the warm-up + cosine schedule, with state that checkpoints can hold.
//! - [`checkpoint`]: atomic save/load of adapters, optimizer state and progress.
//! - [`run`]: the loop — order, accumulation, clipping, validation, metrics, resume.

pub mod checkpoint;
pub mod config;
pub mod lora;
pub mod losses;
pub mod optim;
pub mod run;
pub mod step;
pub mod view;

pub use config::{Preset, TrainConfig};
