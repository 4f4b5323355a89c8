//! Library side of the `alro` binary: the LoRA + ALRO trainer (`train`), usable from tests and
//! benchmarks. The command-line front lives in `main.rs` and `commands/`.

pub mod train;
