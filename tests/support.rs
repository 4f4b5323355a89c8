//! Shared helpers for the integration tests: where the repository, the shared data folder and the
//! default backbone are, and small builders.

use alro_core::model::{Backbone, MatrixPrecision};
use candle_core::Device;
use std::path::{Path, PathBuf};

/// The workspace root (this crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `../shared/data` beside the checkout (read-only real datasets), if present.
pub fn shared_data() -> Option<PathBuf> {
    let p = repo_root().parent()?.join("shared/data");
    p.is_dir().then_some(p)
}

/// The default backbone fetched by `scripts/setup.sh`. Panics with the fix if it is missing:
/// these tests are part of the suite and must not pass by skipping.
pub fn default_model_path() -> PathBuf {
    let p = std::env::var_os("ALRO_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(
        p.exists(),
        "default backbone {} missing: run `bash scripts/setup.sh` first",
        p.display()
    );
    p
}

pub fn load_default(precision: MatrixPrecision) -> Backbone {
    Backbone::from_path(&default_model_path(), precision, &Device::Cpu)
        .expect("default backbone loads")
}

pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

pub fn read_json(rel: &str) -> serde_json::Value {
    let p = fixture(rel);
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .expect("fixture is JSON")
}
