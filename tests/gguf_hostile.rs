//! The GGUF reader against truncated, corrupted and lying files: every case must end in an
//! `Error::Model` naming the file, never a panic and never a huge allocation.

use alro_core::gguf::{GgufFile, GgufValue, GgufWriter, ReadLimits, ValueType};
use alro_core::model::tiny::{tiny_llama_gguf, TinySpec};
use alro_core::model::{Backbone, MatrixPrecision};
use alro_core::Error;
use candle_core::Device;

fn tiny() -> Vec<u8> {
    tiny_llama_gguf(&TinySpec {
        layers: 1,
        hidden: 32,
        intermediate: 64,
        heads: 2,
        kv_heads: 1,
        ..TinySpec::default()
    })
    .unwrap()
}

fn expect_model_error(bytes: &[u8], needle: &str) {
    match Backbone::from_gguf_bytes(
        bytes,
        "hostile.gguf",
        MatrixPrecision::AsStored,
        &Device::Cpu,
    ) {
        Ok(_) => panic!("hostile file was accepted (expected an error containing {needle:?})"),
        Err(e @ Error::Model { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("hostile.gguf"),
                "error does not name the file: {msg}"
            );
            assert!(
                msg.contains(needle),
                "error {msg:?} does not mention {needle:?}"
            );
        }
        Err(e) => panic!("wrong error kind: {e}"),
    }
}

#[test]
fn the_valid_tiny_file_loads() {
    let b = Backbone::from_gguf_bytes(
        &tiny(),
        "tiny.gguf",
        MatrixPrecision::AsStored,
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(b.model.config.num_layers, 1);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = tiny();
    // Every prefix up to the end of the header, then a stride through the tensor data.
    let header_end = GgufFile::parse(&bytes, "x").unwrap().data_start as usize;
    let cuts = (0..header_end).chain((header_end..bytes.len()).step_by(97));
    for cut in cuts {
        let r = Backbone::from_gguf_bytes(
            &bytes[..cut],
            "cut.gguf",
            MatrixPrecision::AsStored,
            &Device::Cpu,
        );
        assert!(
            r.is_err(),
            "a file cut at {cut} of {} bytes was accepted",
            bytes.len()
        );
    }
}

/// `Backbone::from_path` maps the file and drops each tensor's pages once copied: the weights
/// must be the bytes a buffered load gives, and an empty or cut file on disk a named error.
#[test]
fn a_mapped_file_loads_the_same_weights_and_a_cut_one_is_named() {
    let bytes = tiny();
    let dir = std::env::temp_dir().join(format!("alro-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let whole = dir.join("whole.gguf");
    std::fs::write(&whole, &bytes).unwrap();
    let load =
        |path: &std::path::Path| Backbone::from_path(path, MatrixPrecision::AsStored, &Device::Cpu);
    let logits = |b: &Backbone| {
        let ids = candle_core::Tensor::new(&[[1u32, 2, 3]], &Device::Cpu).unwrap();
        let hidden = b
            .model
            .forward_hidden(&ids, None, alro_core::model::Kernels::Fused)
            .unwrap();
        let out = b.model.logits(&hidden).unwrap();
        out.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    let mapped = load(&whole).unwrap();
    let buffered =
        Backbone::from_gguf_bytes(&bytes, "tiny.gguf", MatrixPrecision::AsStored, &Device::Cpu)
            .unwrap();
    assert_eq!(logits(&mapped), logits(&buffered));

    for (name, cut) in [("empty.gguf", 0), ("cut.gguf", bytes.len() - 7)] {
        let path = dir.join(name);
        std::fs::write(&path, &bytes[..cut]).unwrap();
        match load(&path) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => assert!(e.to_string().contains(name), "{name}: {e}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_magic_and_version() {
    let mut b = tiny();
    b[0] = b'X';
    expect_model_error(&b, "not a GGUF file");
    let mut b = tiny();
    b[4..8].copy_from_slice(&99u32.to_le_bytes());
    expect_model_error(&b, "unsupported GGUF version 99");
    expect_model_error(b"GG", "not a GGUF file");
}

#[test]
fn lying_counts_are_refused_before_allocating() {
    // tensor count = u64::MAX
    let mut b = tiny();
    b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    expect_model_error(&b, "tensors");
    // metadata count = 2^40
    let mut b = tiny();
    b[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    expect_model_error(&b, "metadata entries");
    // the first key's string length = 2^62
    let mut b = tiny();
    b[24..32].copy_from_slice(&(1u64 << 62).to_le_bytes());
    expect_model_error(&b, "exceeds the limit");
}

#[test]
fn lying_array_length_is_refused() {
    let mut w = GgufWriter::new();
    w.set("general.architecture", GgufValue::String("llama".into()));
    w.set(
        "big",
        GgufValue::Array(ValueType::U32, vec![GgufValue::U32(1); 4]),
    );
    let mut bytes = w.to_bytes();
    // Patch the array length (u64 after the element type) to a huge value.
    let pos = bytes.windows(3).position(|x| x == b"big").unwrap() + 3 + 4 + 4;
    bytes[pos..pos + 8].copy_from_slice(&(1u64 << 50).to_le_bytes());
    let err = GgufFile::parse(&bytes, "arr.gguf").unwrap_err().to_string();
    assert!(
        err.contains("array of") && err.contains("arr.gguf"),
        "{err}"
    );
}

#[test]
fn tensor_offsets_beyond_the_file_are_refused() {
    let mut w = GgufWriter::new();
    w.set("general.architecture", GgufValue::String("llama".into()));
    w.add_raw(
        "t",
        vec![4, 8],
        candle_core::quantized::GgmlDType::F32,
        vec![0u8; 128],
    );
    let bytes = w.to_bytes();
    let f = GgufFile::parse(&bytes, "ok.gguf").unwrap();
    assert_eq!(f.tensors[0].shape, vec![4, 8]);
    // Claim a larger shape than the data holds.
    let mut b = bytes.clone();
    let pos = b.windows(1).rposition(|x| x == b"t").unwrap() + 1 + 4;
    b[pos..pos + 8].copy_from_slice(&(1u64 << 30).to_le_bytes());
    let err = GgufFile::parse(&b, "big.gguf").unwrap_err().to_string();
    assert!(err.contains("truncated or corrupt"), "{err}");
    // Misaligned offset.
    let mut b = bytes.clone();
    let off_pos = pos + 16 + 4;
    b[off_pos..off_pos + 8].copy_from_slice(&3u64.to_le_bytes());
    let err = GgufFile::parse(&b, "mis.gguf").unwrap_err().to_string();
    assert!(err.contains("not aligned"), "{err}");
}

#[test]
fn configured_size_limit_is_enforced() {
    let bytes = tiny();
    let limits = ReadLimits {
        max_tensor_bytes: 1000,
        ..ReadLimits::default()
    };
    let err = GgufFile::parse_with_limits(&bytes, "lim.gguf", &limits)
        .unwrap_err()
        .to_string();
    assert!(err.contains("above the configured limit"), "{err}");
}

#[test]
fn wrong_architecture_and_missing_tensors_are_named() {
    let bytes = tiny();
    let mut f = GgufFile::parse(&bytes, "x").unwrap();
    f.metadata.insert(
        "general.architecture".into(),
        GgufValue::String("mamba".into()),
    );
    let err = alro_core::model::LlamaConfig::from_gguf(&f)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"mamba\" is not supported"), "{err}");

    // Rebuild the file without one weight.
    let full = GgufFile::parse(&bytes, "x").unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in &full.metadata {
        w.set(k.clone(), v.clone());
    }
    for t in full
        .tensors
        .iter()
        .filter(|t| t.name != "blk.0.ffn_up.weight")
    {
        w.add_raw(
            t.name.clone(),
            t.shape.clone(),
            t.dtype,
            full.tensor_data(&bytes, t).unwrap().to_vec(),
        );
    }
    expect_model_error(&w.to_bytes(), "missing tensor `blk.0.ffn_up.weight`");
}

#[test]
fn random_byte_flips_never_panic() {
    use rand::{Rng, SeedableRng};
    let bytes = tiny();
    let header_end = GgufFile::parse(&bytes, "x").unwrap().data_start as usize;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..header_end);
            b[i] = rng.random();
        }
        // Either loads (a harmless flip) or errors: what matters is no panic / abort.
        let _ = Backbone::from_gguf_bytes(&b, "flip.gguf", MatrixPrecision::AsStored, &Device::Cpu);
    }
}
