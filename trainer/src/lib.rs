//! Library side of the `alro` binary: the LoRA + ALRO trainer (`train`) and the GGUF exporter
//! (`export`), usable from tests and benchmarks. The command-line front lives in `main.rs` and `commands/`.

pub mod baselines;
pub mod eval;
pub mod export;
pub mod train;
