//! Shared helpers for the integration tests: where the repository, the shared data folder and the
//! default backbone are, and small builders.

use alro_core::data::{RankingExample, Split};
use alro_core::model::{Backbone, MatrixPrecision};
use alro_core::request::{Candidate, HistoryEntry};
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

/// `n` small, fixed ranking examples of `m` candidates for training tests on the tiny model:
/// short titles, two rated candidates (relevance 5 and 3) at seeded positions, the rest
/// unrated; targets in relevance order (ties in candidate order).
pub fn tiny_ranking_examples(n: usize, m: usize, seed: u64) -> Vec<RankingExample> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let titles = [
        "Heat", "Alien", "Fargo", "Brazil", "Casino", "Ronin", "Jaws", "Rocky", "Speed", "Twister",
        "Gattaca", "Memento", "Shrek", "Cars", "Up", "Big",
    ];
    (0..n)
        .map(|e| {
            let mut pool: Vec<usize> = (0..titles.len()).collect();
            pool.shuffle(&mut rng);
            let candidates: Vec<Candidate> = pool[..m]
                .iter()
                .map(|&t| Candidate {
                    id: format!("i{t}"),
                    title: titles[t].to_string(),
                })
                .collect();
            let mut relevance = vec![0.0f32; m];
            relevance[0] = 5.0;
            relevance[1] = 3.0;
            relevance.shuffle(&mut rng);
            let mut target: Vec<usize> = (0..m).collect();
            target.sort_by(|&a, &b| relevance[b].total_cmp(&relevance[a]));
            let history: Vec<HistoryEntry> = pool[m..m + 2]
                .iter()
                .map(|&t| HistoryEntry {
                    title: titles[t].to_string(),
                    rating: 4.0,
                })
                .collect();
            RankingExample {
                user: format!("u{e}"),
                split: Split::Train,
                window_start: 2,
                history_items: pool[m..m + 2].iter().map(|t| format!("i{t}")).collect(),
                history,
                candidates,
                relevance,
                target,
            }
        })
        .collect()
}
