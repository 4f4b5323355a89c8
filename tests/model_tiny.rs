//! Model invariants on a tiny random Llama (fast, exact): the fused and differentiable kernels
//! agree, decoding with the KV cache equals one full forward pass, and the same weights loaded
//! from a Hugging Face directory (safetensors, half-split rotary layout) give the same logits as
//! from GGUF (interleaved layout).

use alro_core::gguf::{GgufFile, GgufValue};
use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
use alro_core::model::{Backbone, Kernels, KvCache, MatrixPrecision};
use alro_core::tokenizer::tokenizer_json_from_gguf;
use candle_core::{Device, Tensor};
use std::collections::HashMap;

fn spec() -> TinySpec {
    TinySpec {
        hidden: 64,
        intermediate: 96,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        ..TinySpec::default()
    }
}

fn load(bytes: &[u8]) -> Backbone {
    Backbone::from_gguf_bytes(bytes, "tiny.gguf", MatrixPrecision::AsStored, &Device::Cpu).unwrap()
}

fn all_logits(b: &Backbone, ids: &[u32], kernels: Kernels) -> Vec<Vec<f32>> {
    let input = Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let h = b.model.forward_hidden(&input, None, kernels).unwrap();
    b.model
        .logits(&h)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

const IDS: [u32; 12] = [40, 41, 42, 70, 80, 256, 257, 260, 33, 34, 100, 101];

#[test]
fn fused_and_differentiable_kernels_agree() {
    let b = load(&tiny_llama_gguf(&spec()).unwrap());
    let fused = all_logits(&b, &IDS, Kernels::Fused);
    let diff = all_logits(&b, &IDS, Kernels::Differentiable);
    let d = max_diff(&fused, &diff);
    assert!(d < 1e-4, "fused vs differentiable logits differ by {d}");
}

#[test]
fn kv_cache_decoding_equals_full_forward() {
    let b = load(&tiny_llama_gguf(&spec()).unwrap());
    let full = all_logits(&b, &IDS, Kernels::Fused);
    let mut cache = KvCache::new(b.model.config.num_layers);
    // A prefill of 5 tokens, then one token at a time.
    let mut stepwise = Vec::new();
    let pre = Tensor::new(&IDS[..5], &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let h = b
        .model
        .forward_hidden(&pre, Some(&mut cache), Kernels::Fused)
        .unwrap();
    stepwise.extend(
        b.model
            .logits(&h)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap(),
    );
    for &id in &IDS[5..] {
        let x = Tensor::new(&[id], &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let h = b
            .model
            .forward_hidden(&x, Some(&mut cache), Kernels::Fused)
            .unwrap();
        stepwise.extend(
            b.model
                .logits(&h)
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap(),
        );
    }
    assert_eq!(cache.len(), IDS.len());
    let d = max_diff(&full, &stepwise);
    assert!(
        d < 1e-4,
        "cached decoding differs from the full pass by {d}"
    );
}

/// Undo llama.cpp's Q/K row permutation (HF → GGUF: reshape(heads, 2, d/2, in).swap(1,2)).
fn unpermute(w: &Tensor, heads: usize) -> Tensor {
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

#[test]
fn hugging_face_directory_matches_gguf() {
    let s = spec();
    let bytes = tiny_llama_gguf(&s).unwrap();
    let gguf = GgufFile::parse(&bytes, "tiny.gguf").unwrap();
    let dir = std::env::temp_dir().join(format!("alro-hf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // Weights under HF names, Q/K un-permuted to the half-split layout, split over two shards.
    let dev = Device::Cpu;
    let mut shard_a: HashMap<String, Tensor> = HashMap::new();
    let mut shard_b: HashMap<String, Tensor> = HashMap::new();
    let rename = |n: &str| -> String {
        let n = n
            .replace("token_embd.weight", "model.embed_tokens.weight")
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
            .replace(".ffn_down.", ".mlp.down_proj.");
        n
    };
    for (i, t) in gguf.tensors.iter().enumerate() {
        let mut w = gguf
            .tensor(&bytes, &t.name, &dev)
            .unwrap()
            .dequantize(&dev)
            .unwrap();
        if t.name.ends_with("attn_q.weight") {
            w = unpermute(&w, s.heads);
        } else if t.name.ends_with("attn_k.weight") {
            w = unpermute(&w, s.kv_heads);
        }
        let target = if i % 2 == 0 {
            &mut shard_a
        } else {
            &mut shard_b
        };
        target.insert(rename(&t.name), w);
    }
    candle_core::safetensors::save(&shard_a, dir.join("model-00001-of-00002.safetensors")).unwrap();
    candle_core::safetensors::save(&shard_b, dir.join("model-00002-of-00002.safetensors")).unwrap();
    let u = |k: &str| gguf.get(k).and_then(GgufValue::as_u64).unwrap();
    let config = serde_json::json!({
        "model_type": "llama", "vocab_size": u("llama.vocab_size"), "hidden_size": s.hidden,
        "intermediate_size": s.intermediate, "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads, "num_key_value_heads": s.kv_heads, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-5, "max_position_embeddings": s.context, "tie_word_embeddings": true,
        "bos_token_id": u("tokenizer.ggml.bos_token_id"), "eos_token_id": u("tokenizer.ggml.eos_token_id"),
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        tokenizer_json_from_gguf(&gguf).unwrap().to_string(),
    )
    .unwrap();

    let from_gguf = load(&bytes);
    let from_hf = Backbone::from_path(&dir, MatrixPrecision::AsStored, &dev).unwrap();
    assert_eq!(from_hf.info.format, "safetensors");
    assert_eq!(
        from_hf.tokenizer.encode("Amélie [A] B").unwrap(),
        from_gguf.tokenizer.encode("Amélie [A] B").unwrap()
    );
    let d = max_diff(
        &all_logits(&from_gguf, &IDS, Kernels::Fused),
        &all_logits(&from_hf, &IDS, Kernels::Fused),
    );
    assert!(d < 1e-4, "HF directory and GGUF logits differ by {d}");
    let d = max_diff(
        &all_logits(&from_gguf, &IDS, Kernels::Fused),
        &all_logits(&from_hf, &IDS, Kernels::Differentiable),
    );
    assert!(
        d < 1e-4,
        "HF (differentiable rope) and GGUF logits differ by {d}"
    );
    std::fs::remove_dir_all(&dir).ok();

    // A directory without weights is a clear error.
    let empty = std::env::temp_dir().join(format!("alro-hf-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("config.json"), "{}").unwrap();
    std::fs::write(empty.join("tokenizer.json"), "{}").unwrap();
    let err = Backbone::from_path(&empty, MatrixPrecision::AsStored, &dev)
        .err()
        .expect("must fail")
        .to_string();
    assert!(
        err.contains("no *.safetensors file") && err.contains("alro-hf-empty"),
        "{err}"
    );
    std::fs::remove_dir_all(&empty).ok();
}

#[test]
fn quantized_matrices_stay_close_to_full_precision() {
    let f32_bytes = tiny_llama_gguf(&spec()).unwrap();
    let q8_bytes = tiny_llama_gguf(&TinySpec {
        matrix_dtype: candle_core::quantized::GgmlDType::Q8_0,
        ..spec()
    })
    .unwrap();
    let a = all_logits(&load(&f32_bytes), &IDS, Kernels::Fused);
    let b = all_logits(&load(&q8_bytes), &IDS, Kernels::Fused);
    let scale = a.iter().flatten().map(|x| x.abs()).fold(0.0, f32::max);
    let d = max_diff(&a, &b);
    assert!(
        d < 0.05 * scale,
        "Q8_0 logits differ from F32 by {d} (scale {scale})"
    );
}
