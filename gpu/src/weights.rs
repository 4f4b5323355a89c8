//! Weights on the GPU: the storage formats the kernels read natively, conversion of the others,
//! and the row-chunk split that keeps every buffer within the device's binding limit.

use crate::context::GpuContext;
use crate::error::{GpuError, Result};
use alro_core::gguf::GgufFile;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use std::borrow::Cow;

/// Weight formats with a WGSL decoder (`shaders/weight_*.wgsl`). Blocks are uploaded byte for
/// byte as ggml stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightType {
    F32,
    Q8_0,
    Q4_0,
    Q4_1,
    Q4K,
}

impl WeightType {
    /// The native format for a GGUF type, if any.
    pub fn from_ggml(dtype: GgmlDType) -> Option<WeightType> {
        Some(match dtype {
            GgmlDType::F32 => WeightType::F32,
            GgmlDType::Q8_0 => WeightType::Q8_0,
            GgmlDType::Q4_0 => WeightType::Q4_0,
            GgmlDType::Q4_1 => WeightType::Q4_1,
            GgmlDType::Q4K => WeightType::Q4K,
            _ => return None,
        })
    }

    pub fn ggml(self) -> GgmlDType {
        match self {
            WeightType::F32 => GgmlDType::F32,
            WeightType::Q8_0 => GgmlDType::Q8_0,
            WeightType::Q4_0 => GgmlDType::Q4_0,
            WeightType::Q4_1 => GgmlDType::Q4_1,
            WeightType::Q4K => GgmlDType::Q4K,
        }
    }

    /// Weights per block.
    pub fn block_size(self) -> usize {
        match self {
            WeightType::F32 => 1,
            WeightType::Q8_0 | WeightType::Q4_0 | WeightType::Q4_1 => 32,
            WeightType::Q4K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            WeightType::F32 => 4,
            WeightType::Q8_0 => 34,
            WeightType::Q4_0 => 18,
            WeightType::Q4_1 => 20,
            WeightType::Q4K => 144,
        }
    }

    /// Bytes of one row of `k` weights (k a multiple of the block size).
    pub fn row_bytes(self, k: usize) -> usize {
        k / self.block_size() * self.block_bytes()
    }
}

/// Rows `row0 .. row0 + rows` of a weight, in one buffer.
#[derive(Debug, Clone)]
pub struct WeightChunk {
    pub buffer: wgpu::Buffer,
    pub row0: usize,
    pub rows: usize,
}

/// A (rows, k) matrix on the GPU, split into row chunks so that no buffer exceeds
/// `GpuInfo::buffer_limit`: chunk = ⌊limit / row_bytes⌋ rows, one buffer and one dispatch each.
#[derive(Debug, Clone)]
pub struct GpuWeight {
    pub wtype: WeightType,
    pub rows: usize,
    pub k: usize,
    pub chunks: Vec<WeightChunk>,
}

impl GpuWeight {
    /// Uploads `bytes`, the ggml blocks of a (rows, k) matrix in format `wtype`.
    pub fn upload(
        ctx: &GpuContext,
        name: &str,
        wtype: WeightType,
        rows: usize,
        k: usize,
        bytes: &[u8],
    ) -> Result<GpuWeight> {
        if rows == 0 || k == 0 || k % wtype.block_size() != 0 {
            return Err(GpuError::Tensor {
                name: name.into(),
                dtype: format!("{wtype:?}"),
                message: format!(
                    "shape ({rows}, {k}): rows must be positive and the row length a multiple \
                     of {}",
                    wtype.block_size()
                ),
            });
        }
        let row_bytes = wtype.row_bytes(k);
        if Some(bytes.len()) != row_bytes.checked_mul(rows) {
            return Err(GpuError::Tensor {
                name: name.into(),
                dtype: format!("{wtype:?}"),
                message: format!(
                    "{} bytes for shape ({rows}, {k}), expected {}",
                    bytes.len(),
                    row_bytes.saturating_mul(rows)
                ),
            });
        }
        let limit = ctx.info().buffer_limit;
        // A chunk's buffer is padded up to a whole word: leave room for it.
        let per_chunk = (limit.saturating_sub(3) / row_bytes as u64) as usize;
        if per_chunk == 0 {
            return Err(GpuError::TooLarge {
                what: format!("one row of tensor `{name}`"),
                bytes: row_bytes as u64,
                limit,
            });
        }
        let mut chunks = Vec::with_capacity(rows.div_ceil(per_chunk));
        let mut row0 = 0;
        while row0 < rows {
            let n = per_chunk.min(rows - row0);
            let data = &bytes[row0 * row_bytes..(row0 + n) * row_bytes];
            let label = format!("{name}[{row0}..{}]", row0 + n);
            chunks.push(WeightChunk {
                buffer: ctx.storage_bytes(&label, data)?,
                row0,
                rows: n,
            });
            row0 += n;
        }
        Ok(GpuWeight {
            wtype,
            rows,
            k,
            chunks,
        })
    }

    /// Bytes held on the GPU.
    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.buffer.size()).sum()
    }
}

/// A GGUF matrix in a format the kernels read: native types as stored (borrowed from the file),
/// any other type dequantized by candle and re-quantized to Q8_0 (8.5 bits per weight: no
/// accuracy lost for F16/BF16/Q5/Q6 sources beyond Q8_0's own rounding), or kept F32 when the row
/// length is not a multiple of 32.
pub struct HostMatrix<'a> {
    pub wtype: WeightType,
    pub rows: usize,
    pub k: usize,
    pub bytes: Cow<'a, [u8]>,
}

impl<'a> HostMatrix<'a> {
    pub fn from_gguf(file: &GgufFile, bytes: &'a [u8], name: &str) -> Result<HostMatrix<'a>> {
        let info = file.tensor_info(name).ok_or_else(|| {
            alro_core::Error::model(&file.source_name, format!("missing tensor `{name}`"))
        })?;
        let (rows, k) = match info.shape.as_slice() {
            [r, k] => (*r, *k),
            s => {
                return Err(GpuError::Tensor {
                    name: name.into(),
                    dtype: format!("{:?}", info.dtype),
                    message: format!("expected a matrix, found shape {s:?}"),
                })
            }
        };
        if let Some(wtype) = WeightType::from_ggml(info.dtype) {
            if k % wtype.block_size() == 0 {
                let raw = file.tensor_data(bytes, info)?;
                return Ok(HostMatrix {
                    wtype,
                    rows,
                    k,
                    bytes: Cow::Borrowed(raw),
                });
            }
        }
        let dense = file.tensor(bytes, name, &Device::Cpu)?.dequantize(&Device::Cpu)?;
        let (wtype, data) = if k % 32 == 0 {
            let q = QTensor::quantize(&dense, GgmlDType::Q8_0)?;
            (WeightType::Q8_0, q.data()?.into_owned())
        } else {
            let v: Vec<f32> = dense.flatten_all()?.to_vec1()?;
            (WeightType::F32, bytemuck::cast_slice(&v).to_vec())
        };
        Ok(HostMatrix {
            wtype,
            rows,
            k,
            bytes: Cow::Owned(data),
        })
    }

    /// Only the given rows, in that order (same format).
    pub fn select_rows(&self, rows: &[u32]) -> Result<HostMatrix<'static>> {
        let rb = self.wtype.row_bytes(self.k);
        let mut out = Vec::with_capacity(rb * rows.len());
        for &r in rows {
            let r = r as usize;
            if r >= self.rows {
                return Err(GpuError::Input(format!(
                    "output row {r} is outside the vocabulary of {} tokens",
                    self.rows
                )));
            }
            out.extend_from_slice(&self.bytes[r * rb..(r + 1) * rb]);
        }
        Ok(HostMatrix {
            wtype: self.wtype,
            rows: rows.len(),
            k: self.k,
            bytes: Cow::Owned(out),
        })
    }

    pub fn upload(&self, ctx: &GpuContext, name: &str) -> Result<GpuWeight> {
        GpuWeight::upload(ctx, name, self.wtype, self.rows, self.k, &self.bytes)
    }
}
