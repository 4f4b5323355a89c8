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
                    note: None,
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

/// Undo llama.cpp's Q/K row permutation (HF → GGUF: reshape(heads, 2, d/2, in).swap(1,2)).
fn unpermute(w: &candle_core::Tensor, heads: usize) -> candle_core::Tensor {
    let (out, inp) = w.dims2().unwrap();
    let hd = out / heads;
    w.reshape((heads, hd / 2, 2, inp))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((out, inp))
        .unwrap()
}

/// Writes the tiny model of `spec` as a Hugging Face directory: HF tensor names, Q/K in the
/// half-split rotary layout, two safetensors shards, config.json and tokenizer.json.
pub fn write_tiny_hf_dir(spec: &alro_core::model::tiny::TinySpec, dir: &Path) {
    use alro_core::gguf::{GgufFile, GgufValue};
    use candle_core::Tensor;
    use std::collections::HashMap;
    let bytes = alro_core::model::tiny::tiny_llama_gguf(spec).unwrap();
    let gguf = GgufFile::parse(&bytes, "tiny.gguf").unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let dev = Device::Cpu;
    let mut shards: [HashMap<String, Tensor>; 2] = [HashMap::new(), HashMap::new()];
    let rename = |n: &str| -> String {
        n.replace("token_embd.weight", "model.embed_tokens.weight")
            .replace("output_norm.weight", "model.norm.weight")
            .replace("blk.", "model.layers.")
            .replace(".attn_norm.", ".input_layernorm.")
            .replace(".ffn_norm.", ".post_attention_layernorm.")
            .replace(".attn_q.", ".self_attn.q_proj.")
            .replace(".attn_k.", ".self_attn.k_proj.")
            .replace(".attn_v.", ".self_attn.v_proj.")
            .replace(".attn_output.", ".self_attn.o_proj.")
            .replace(".ffn_gate.", ".mlp.gate_proj.")
            .replace(".ffn_up.", ".mlp.up_proj.")
            .replace(".ffn_down.", ".mlp.down_proj.")
    };
    for (i, t) in gguf.tensors.iter().enumerate() {
        let mut w = gguf
            .tensor(&bytes, &t.name, &dev)
            .unwrap()
            .dequantize(&dev)
            .unwrap();
        if t.name.ends_with("attn_q.weight") {
            w = unpermute(&w, spec.heads);
        } else if t.name.ends_with("attn_k.weight") {
            w = unpermute(&w, spec.kv_heads);
        }
        shards[i % 2].insert(rename(&t.name), w);
    }
    candle_core::safetensors::save(&shards[0], dir.join("model-00001-of-00002.safetensors"))
        .unwrap();
    candle_core::safetensors::save(&shards[1], dir.join("model-00002-of-00002.safetensors"))
        .unwrap();
    let u = |k: &str| gguf.get(k).and_then(GgufValue::as_u64).unwrap();
    let config = serde_json::json!({
        "model_type": "llama", "vocab_size": u("llama.vocab_size"), "hidden_size": spec.hidden,
        "intermediate_size": spec.intermediate, "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads, "num_key_value_heads": spec.kv_heads, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-5, "max_position_embeddings": spec.context, "tie_word_embeddings": true,
        "bos_token_id": u("tokenizer.ggml.bos_token_id"), "eos_token_id": u("tokenizer.ggml.eos_token_id"),
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        alro_core::tokenizer::tokenizer_json_from_gguf(&gguf)
            .unwrap()
            .to_string(),
    )
    .unwrap();
}

/// MovieLens 100K from `../shared/data/ml-100k`, or `None` (with a notice) where it is absent.
pub fn ml100k() -> Option<alro_core::data::Dataset> {
    use alro_core::data::{movielens, Input, LoadOptions};
    let Some(dir) = shared_data()
        .map(|d| d.join("ml-100k"))
        .filter(|d| d.is_dir())
    else {
        eprintln!("notice: ../shared/data/ml-100k is absent; skipping");
        return None;
    };
    let data = std::fs::read(dir.join("u.data")).expect("u.data");
    let items = std::fs::read(dir.join("u.item")).expect("u.item");
    Some(
        movielens::load_ml100k(
            Input {
                name: "u.data",
                bytes: &data,
            },
            Input {
                name: "u.item",
                bytes: &items,
            },
            &LoadOptions::default(),
        )
        .expect("ML-100K loads"),
    )
}

/// The tiny random model (`alro_core::model::tiny`) with a model card — the `alro.*` keys
/// `alro export` writes — saying it was trained with `similarity T/7` notes, written to `dir`.
pub fn tiny_model_with_similarity_notes(dir: &Path) -> PathBuf {
    use alro_core::gguf::{GgufFile, GgufValue, GgufWriter, ValueType};
    use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
    let bytes = tiny_llama_gguf(&TinySpec::default()).unwrap();
    let file = GgufFile::parse(&bytes, "tiny.gguf").unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in &file.metadata {
        w.set(key.clone(), value.clone());
    }
    let s = |v: &str| GgufValue::String(v.into());
    let labels = alro_core::model_card::default_identifiers();
    w.set("alro.format", GgufValue::U32(alro_core::model_card::FORMAT))
        .set(
            "alro.template_version",
            s(alro_core::prompt::TEMPLATE_VERSION),
        )
        .set(
            "alro.identifiers",
            GgufValue::Array(ValueType::String, labels.iter().map(|l| s(l)).collect()),
        )
        .set("alro.m", GgufValue::U32(20))
        .set("alro.L", GgufValue::U32(10))
        .set("alro.rating_max", GgufValue::F32(5.0))
        .set("alro.item_noun", s("movies"))
        .set("alro.similarity_tiers", GgufValue::U32(7));
    for key in [
        "run_id",
        "dataset_sha256",
        "base_sha256",
        "lora",
        "quantization",
    ] {
        w.set(format!("alro.{key}"), s("test"));
    }
    for t in &file.tensors {
        let data = file.tensor_data(&bytes, t).unwrap().to_vec();
        w.add_raw(t.name.clone(), t.shape.clone(), t.dtype, data);
    }
    let p = dir.join("tiny-similarity.gguf");
    std::fs::write(&p, w.to_bytes()).unwrap();
    p
}
