//! A tiny, randomly initialised Llama written as a complete GGUF file (weights + byte-level BPE
//! vocabulary with single-token identifiers " A"…" Z" and ChatML specials). Tests and examples use
//! it where the real backbone would be slow; it goes through exactly the same loading code.

use crate::gguf::{GgufValue, GgufWriter, ValueType};
use crate::Result;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone)]
pub struct TinySpec {
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub context: usize,
    /// Storage type of the matrices (F32, Q8_0, Q4_1, …; hidden/intermediate must be multiples of
    /// the block size).
    pub matrix_dtype: GgmlDType,
    pub seed: u64,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            hidden: 64,
            intermediate: 128,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            context: 1024,
            matrix_dtype: GgmlDType::F32,
            seed: 0,
        }
    }
}

/// GPT-2's reversible byte → printable-character map used by byte-level BPE vocabularies.
pub fn byte_level_alphabet() -> Vec<char> {
    let mut printable: Vec<u32> = ('!' as u32..='~' as u32)
        .chain('¡' as u32..='¬' as u32)
        .chain('®' as u32..='ÿ' as u32)
        .collect();
    let mut map = vec!['\0'; 256];
    for &b in &printable {
        map[b as usize] = char::from_u32(b).expect("latin-1 range");
    }
    let mut n = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            map[b as usize] = char::from_u32(256 + n).expect("valid char");
            n += 1;
            printable.push(b);
        }
    }
    map
}

fn strings(v: impl IntoIterator<Item = String>) -> GgufValue {
    GgufValue::Array(
        ValueType::String,
        v.into_iter().map(GgufValue::String).collect(),
    )
}

/// The GGUF file's bytes.
pub fn tiny_llama_gguf(spec: &TinySpec) -> Result<Vec<u8>> {
    let alphabet = byte_level_alphabet();
    let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
    let space = alphabet[b' ' as usize];
    let mut merges = Vec::new();
    for l in 'A'..='Z' {
        tokens.push(format!("{space}{l}"));
        merges.push(format!("{space} {l}"));
    }
    let n_plain = tokens.len();
    tokens.push("<|im_start|>".into());
    tokens.push("<|im_end|>".into());
    let vocab = tokens.len();
    let types: Vec<GgufValue> = (0..vocab)
        .map(|i| GgufValue::I32(if i >= n_plain { 3 } else { 1 }))
        .collect();

    let mut w = GgufWriter::new();
    w.set("general.architecture", GgufValue::String("llama".into()))
        .set(
            "general.name",
            GgufValue::String("tiny-random-llama".into()),
        )
        .set("llama.block_count", GgufValue::U32(spec.layers as u32))
        .set("llama.context_length", GgufValue::U32(spec.context as u32))
        .set("llama.embedding_length", GgufValue::U32(spec.hidden as u32))
        .set(
            "llama.feed_forward_length",
            GgufValue::U32(spec.intermediate as u32),
        )
        .set(
            "llama.attention.head_count",
            GgufValue::U32(spec.heads as u32),
        )
        .set(
            "llama.attention.head_count_kv",
            GgufValue::U32(spec.kv_heads as u32),
        )
        .set("llama.rope.freq_base", GgufValue::F32(10_000.0))
        .set(
            "llama.attention.layer_norm_rms_epsilon",
            GgufValue::F32(1e-5),
        )
        .set("llama.vocab_size", GgufValue::U32(vocab as u32))
        .set("tokenizer.ggml.model", GgufValue::String("gpt2".into()))
        .set("tokenizer.ggml.pre", GgufValue::String("smollm".into()))
        .set("tokenizer.ggml.tokens", strings(tokens))
        .set(
            "tokenizer.ggml.token_type",
            GgufValue::Array(ValueType::I32, types),
        )
        .set("tokenizer.ggml.merges", strings(merges))
        .set(
            "tokenizer.ggml.bos_token_id",
            GgufValue::U32(n_plain as u32),
        )
        .set(
            "tokenizer.ggml.eos_token_id",
            GgufValue::U32(n_plain as u32 + 1),
        )
        .set("tokenizer.ggml.add_bos_token", GgufValue::Bool(false));

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
    let dev = Device::Cpu;
    let mut tensor = |w: &mut GgufWriter,
                      name: String,
                      shape: &[usize],
                      dtype: GgmlDType,
                      scale: f32,
                      offset: f32|
     -> Result<()> {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n)
            .map(|_| offset + scale * (rng.random::<f32>() * 2.0 - 1.0))
            .collect();
        let t = Tensor::from_vec(data, shape, &dev)?;
        let q = QTensor::quantize(&t, dtype)?;
        w.add_qtensor(name, &q)?;
        Ok(())
    };
    let (h, f, hd) = (spec.hidden, spec.intermediate, spec.hidden / spec.heads);
    let m = spec.matrix_dtype;
    let s = 1.0 / (h as f32).sqrt();
    tensor(
        &mut w,
        "token_embd.weight".into(),
        &[vocab, h],
        GgmlDType::F32,
        1.0,
        0.0,
    )?;
    for i in 0..spec.layers {
        tensor(
            &mut w,
            format!("blk.{i}.attn_norm.weight"),
            &[h],
            GgmlDType::F32,
            0.1,
            1.0,
        )?;
        tensor(
            &mut w,
            format!("blk.{i}.attn_q.weight"),
            &[spec.heads * hd, h],
            m,
            s,
            0.0,
        )?;
        tensor(
            &mut w,
            format!("blk.{i}.attn_k.weight"),
            &[spec.kv_heads * hd, h],
            m,
            s,
            0.0,
        )?;
        tensor(
            &mut w,
            format!("blk.{i}.attn_v.weight"),
            &[spec.kv_heads * hd, h],
            m,
            s,
            0.0,
        )?;
        tensor(
            &mut w,
            format!("blk.{i}.attn_output.weight"),
            &[h, spec.heads * hd],
            m,
            s,
            0.0,
        )?;
        tensor(
            &mut w,
            format!("blk.{i}.ffn_norm.weight"),
            &[h],
            GgmlDType::F32,
            0.1,
            1.0,
        )?;
        tensor(
            &mut w,
            format!("blk.{i}.ffn_gate.weight"),
            &[f, h],
            m,
            s,
            0.0,
        )?;
        tensor(&mut w, format!("blk.{i}.ffn_up.weight"), &[f, h], m, s, 0.0)?;
        tensor(
            &mut w,
            format!("blk.{i}.ffn_down.weight"),
            &[h, f],
            m,
            1.0 / (f as f32).sqrt(),
            0.0,
        )?;
    }
    tensor(
        &mut w,
        "output_norm.weight".into(),
        &[h],
        GgmlDType::F32,
        0.1,
        1.0,
    )?;
    Ok(w.to_bytes())
}
