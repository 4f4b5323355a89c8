//! alro-core: everything the trainer and the browser ranker share.
//!
//! Map (see ARCHITECTURE.md for the invariants between modules):
//! - [`gguf`]: a bounds-checked GGUF reader (never trusts a header).
//! - [`tokenizer`]: the backbone's tokenizer, from GGUF metadata or `tokenizer.json`.
//! - [`model`]: Llama-family backbones (config, weights from GGUF or safetensors, forward).
//! - [`model_card`]: the `alro.*` GGUF keys of an exported ranker (how to prompt it).
//! - [`prompt`] and [`identifiers`]: the versioned ranking prompt and candidate identifiers.
//! - [`rank`]: listwise ranking inference (greedy, single pass, bootstrap), batched.
//! - [`request`]: the public request/response contract.
//! - [`metrics`] and [`data`]: NDCG and rating datasets, the ALRO evaluation protocol.
//! - [`notes`]: the item table and the candidate notes computed from it on the device.

// The training kernels call a native GEMM and rayon: the browser's core is built without them.
#[cfg(all(feature = "train", target_arch = "wasm32"))]
compile_error!("alro-core's `train` feature is for native targets; build wasm32 without it");

pub mod data;
pub mod error;
pub mod gguf;
pub mod identifiers;
pub mod metrics;
pub mod model;
pub mod model_card;
pub mod notes;
pub mod prompt;
pub mod rank;
pub mod request;
pub mod tokenizer;

pub use error::{Error, Result};
