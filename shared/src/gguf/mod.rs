//! GGUF, the single-file model format of llama.cpp: a header of typed key/value metadata, a table
//! of tensor descriptors, then aligned tensor data.
//!
//! The reader never trusts the header: every count, length, shape and offset is checked against
//! the bytes actually present (and against [`ReadLimits`]) before anything is allocated, so a
//! truncated or hostile file yields an [`crate::Error::Model`] naming the problem, never a panic or
//! an out-of-memory. The writer produces files llama.cpp loads unchanged.

mod reader;
mod value;
mod writer;

pub use reader::{GgufFile, ReadLimits, TensorInfo};
pub use value::{GgufValue, ValueType};
pub use writer::GgufWriter;

/// "GGUF" in little-endian byte order.
pub const MAGIC: u32 = 0x4655_4747;
/// Tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Tensor element types we can load, with their GGML type ids. A subset of ggml's list: the ones
/// candle can compute with.
pub fn ggml_dtype_from_id(id: u32) -> Option<candle_core::quantized::GgmlDType> {
    use candle_core::quantized::GgmlDType as T;
    Some(match id {
        0 => T::F32,
        1 => T::F16,
        2 => T::Q4_0,
        3 => T::Q4_1,
        6 => T::Q5_0,
        7 => T::Q5_1,
        8 => T::Q8_0,
        9 => T::Q8_1,
        10 => T::Q2K,
        11 => T::Q3K,
        12 => T::Q4K,
        13 => T::Q5K,
        14 => T::Q6K,
        15 => T::Q8K,
        30 => T::BF16,
        _ => return None,
    })
}

/// The inverse of [`ggml_dtype_from_id`].
pub fn ggml_dtype_id(dtype: candle_core::quantized::GgmlDType) -> u32 {
    use candle_core::quantized::GgmlDType as T;
    match dtype {
        T::F32 => 0,
        T::F16 => 1,
        T::Q4_0 => 2,
        T::Q4_1 => 3,
        T::Q5_0 => 6,
        T::Q5_1 => 7,
        T::Q8_0 => 8,
        T::Q8_1 => 9,
        T::Q2K => 10,
        T::Q3K => 11,
        T::Q4K => 12,
        T::Q5K => 13,
        T::Q6K => 14,
        T::Q8K => 15,
        T::BF16 => 30,
    }
}
