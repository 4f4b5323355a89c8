//! Export: a trained checkpoint merged into its backbone and written as one quantized GGUF file
//! that our ranker (CLI and browser) and llama.cpp both load.
//!
//! Map:
//! - [`card`]: the `alro.*` model card of an export, from the checkpoint and its lists.
//! - [`quality`]: scores of the exported file against the unmerged adapter model.
//! - [`report`]: the size/quality table, one row per file and the adapter as reference.
//! - [`scheme`]: the tensor type rule of each `--quant` scheme (llama.cpp's choices).
//! - this module: merge (`W + (α/r)·B·A` in f32, [`crate::train::lora::merged_weight`]),
//!   quantize, and assemble the file: the backbone's own metadata and tokenizer unchanged (so
//!   llama.cpp sees a standard Llama), `general.file_type` set to the scheme, plus the `alro.*`
//!   keys of [`alro_core::model_card`].
//!
//! Only GGUF backbones are exported: the file's tokenizer and Llama metadata are carried over
//! verbatim. (A Hugging Face directory would need its tokenizer converted to GGUF's form, which
//! llama.cpp's `convert_hf_to_gguf.py` does; convert the backbone first, then train on the GGUF.)

pub mod card;
pub mod quality;
pub mod report;
pub mod scheme;

pub use card::{lora_summary, model_card, CardText};
pub use scheme::{Role, Scheme};

use crate::train::lora::merged_weight;
use alro_core::gguf::{GgufFile, GgufValue, GgufWriter};
use alro_core::model::{Llama, Projection};
use alro_core::model_card::ModelCard;
use anyhow::{bail, Context, Result};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Tensor};

/// Whether tensor `name` is changed by the merge (a projection carrying an adapter).
fn is_adapted(model: &Llama, name: &str) -> bool {
    Projection::of_gguf_tensor(name).is_some_and(|(layer, p)| {
        model
            .layers
            .get(layer)
            .is_some_and(|block| block.projection(p).lora.is_some())
    })
}

/// The f32 value of tensor `name` in the exported model: a projection comes from `model` with
/// its adapter merged in; everything else (embedding, norms, …) is the backbone's own tensor.
fn exported_value(file: &GgufFile, bytes: &[u8], model: &Llama, name: &str) -> Result<Tensor> {
    if let Some((layer, p)) = Projection::of_gguf_tensor(name) {
        let block = model
            .layers
            .get(layer)
            .with_context(|| format!("{name}: the model has no layer {layer}"))?;
        return merged_weight(block.projection(p));
    }
    let q = file.tensor(bytes, name, &model.device)?;
    Ok(q.dequantize(&model.device)?.to_dtype(DType::F32)?)
}

/// `t` in a buffer of its own. Why: candle 0.11's `QTensor::quantize` reads a tensor's storage
/// from its start, ignoring a view's offset, and the projections of a training-precision model
/// are row views of one stacked matrix (`alro_core::model::Stacked`).
fn owned(t: &Tensor) -> Result<Tensor> {
    let values = t.flatten_all()?.to_vec1::<f32>()?;
    Ok(Tensor::from_vec(values, t.shape(), t.device())?)
}

/// Stored bits per weight of a GGUF type (Q4_1: 5, Q8_0: 8.5, F16: 16).
fn bits_per_weight(t: GgmlDType) -> f64 {
    (t.type_size() * 8) as f64 / t.block_size() as f64
}

fn role_of(name: &str, dims: &[usize]) -> Role {
    if dims.len() < 2 {
        Role::Vector
    } else if name == "token_embd.weight" || name == "output.weight" {
        Role::Embedding
    } else {
        Role::Projection
    }
}

/// One exported tensor, for reports.
#[derive(Debug, Clone)]
pub struct TensorChoice {
    pub name: String,
    pub dims: Vec<usize>,
    pub dtype: candle_core::quantized::GgmlDType,
}

/// The exported file's bytes and what each tensor became.
pub struct Exported {
    pub bytes: Vec<u8>,
    pub tensors: Vec<TensorChoice>,
}

/// Builds the GGUF of `model` (the backbone of `file`/`bytes`, with trained adapters attached)
/// under `scheme`. Deterministic: the same inputs give the same bytes.
pub fn export_gguf(
    file: &GgufFile,
    bytes: &[u8],
    model: &mut Llama,
    card: &ModelCard,
    scheme: Scheme,
) -> Result<Exported> {
    if file.get_str("general.architecture").ok() != Some("llama") {
        bail!(
            "{}: export writes Llama GGUF files; this backbone's general.architecture is {:?}",
            file.source_name,
            file.get_str("general.architecture").unwrap_or("(missing)")
        );
    }
    let mut w = GgufWriter::new();
    // The backbone's metadata (architecture, hyper-parameters, tokenizer) unchanged, except
    // what describes the tensor data we rewrite. The writer aligns to 32 bytes, so a custom
    // alignment key would lie.
    for (key, value) in &file.metadata {
        let rewritten = key.starts_with("alro.")
            || key == "general.alignment"
            || key == "general.file_type"
            || key == "general.quantization_version";
        if !rewritten {
            w.set(key.clone(), value.clone());
        }
    }
    w.set("general.file_type", GgufValue::U32(scheme.file_type()));
    w.set("general.quantization_version", GgufValue::U32(2));
    let card = ModelCard {
        quantization: scheme.to_string(),
        ..card.clone()
    };
    for (key, value) in card.to_gguf_entries() {
        w.set(key, value);
    }
    let mut tensors = Vec::with_capacity(file.tensors.len());
    for info in &file.tensors {
        let dims: Vec<usize> = info.shape.clone();
        let cols = *dims.last().unwrap_or(&1);
        let wanted = scheme.tensor_type(role_of(&info.name, &dims), cols);
        // A tensor the merge leaves unchanged, stored in no more bits than the scheme would give
        // it, is copied block for block: re-quantizing it could only add rounding (a Q4_1
        // backbone's untouched projections stay Q4_1 under Q8_0, exactly the trained model's).
        let copy = !is_adapted(model, &info.name)
            && info.dtype != wanted
            && bits_per_weight(info.dtype) <= bits_per_weight(wanted);
        let dtype = if copy {
            w.add_raw(
                info.name.clone(),
                dims.clone(),
                info.dtype,
                file.tensor_data(bytes, info)?.to_vec(),
            );
            info.dtype
        } else {
            let value = owned(&exported_value(file, bytes, model, &info.name)?)?;
            let q = QTensor::quantize(&value, wanted)
                .with_context(|| format!("quantizing {} ({dims:?}) to {wanted:?}", info.name))?;
            w.add_qtensor(info.name.clone(), &q)?;
            wanted
        };
        tensors.push(TensorChoice {
            name: info.name.clone(),
            dims,
            dtype,
        });
    }
    Ok(Exported {
        bytes: w.to_bytes(),
        tensors,
    })
}
