//! Model invariants on a tiny random Llama (fast, exact): the fused and differentiable kernels
//! agree, decoding with the KV cache equals one full forward pass, and the same weights loaded
//! from a Hugging Face directory (safetensors, half-split rotary layout) give the same logits as
//! from GGUF (interleaved layout).

use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
use alro_core::model::{Backbone, Kernels, KvCache, MatrixPrecision};
use candle_core::{Device, Tensor};

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

#[test]
fn hugging_face_directory_matches_gguf() {
    let s = spec();
    let bytes = tiny_llama_gguf(&s).unwrap();
    let dir = std::env::temp_dir().join(format!("alro-hf-{}", std::process::id()));
    alro_tests::write_tiny_hf_dir(&s, &dir);
    let dev = Device::Cpu;

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
