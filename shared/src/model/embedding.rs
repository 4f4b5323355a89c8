//! The token-embedding table: dense, or block-quantized as the GGUF stores it.
//!
//! Why keep it quantized: the default backbone's table is 49,152 × 576. As f32 it is 113 MB, more
//! than the rest of the model in Q4_1; kept as stored (Q8_0, 30 MB) and shared with the tied LM
//! head, only the rows a pass looks up are decoded. The decoded rows are candle's own
//! dequantization of those blocks, so they are the values a dense table would hold.

use super::matvec::dequantize_rows;
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Result, Tensor};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum Embedding {
    /// (vocab, hidden) f32.
    Dense(Tensor),
    /// (vocab, hidden) in a GGML block type.
    Quantized(Arc<QTensor>),
}

impl Embedding {
    /// The table held by a matrix (an LM head tied to the embedding, or the table itself), sharing
    /// its storage.
    pub fn of(matrix: &QMatMul) -> Result<Self> {
        Ok(match matrix {
            QMatMul::QTensor(q) => Embedding::Quantized(q.clone()),
            QMatMul::Tensor(t) => Embedding::Dense(t.to_dtype(DType::F32)?),
            QMatMul::TensorF16(t) => Embedding::Dense(t.to_dtype(DType::F32)?),
        })
    }

    /// (vocab, hidden).
    pub fn dims(&self) -> &[usize] {
        match self {
            Embedding::Dense(t) => t.dims(),
            Embedding::Quantized(q) => q.shape().dims(),
        }
    }

    /// The rows of `ids` (any shape of u32) as an (n, hidden) f32 tensor.
    pub fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        let ids = ids.flatten_all()?;
        match self {
            Embedding::Dense(t) => t.index_select(&ids, 0),
            Embedding::Quantized(q) => {
                let ids = ids.to_vec1::<u32>()?;
                let hidden = q.shape().dims2()?.1;
                let rows = dequantize_rows(q, &ids)?;
                Tensor::from_vec(rows, (ids.len(), hidden), &q.device())
            }
        }
    }
}
