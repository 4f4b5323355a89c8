//! One row times a block-quantized weight, `y = W·x`, with the activation kept in f32.
//!
//! Why not candle's `QMatMul` for decode steps: it quantizes the activation to 8 bits before the
//! integer dot product (as llama.cpp does), so a decode step rounds differently from the prompt
//! pass (which multiplies with the dequantized weight in f32), from the WebGPU kernels (f32
//! activations) and between x86 and wasm (the rounding lands differently after tiny float
//! differences upstream). Greedy ranking decides on logit gaps that are sometimes ~0.01, and
//! those 8-bit roundings moved a browser ranking away from the native one.
//!
//! Here each weight row is decoded block by block — Q4_0, Q4_1 and Q8_0 (the default backbone's
//! and our exports' types) by the fused kernels of [`super::block_dot`] (AVX2, SIMD128 or
//! portable, one fixed order of operations), every other type with candle's own
//! `GgmlType::to_float` then [`dot`] — and multiplied with `x` in a fixed summation order (eight
//! partial sums, combined pairwise; Rust never reassociates or fuses float operations), so the
//! same weight and `x` give the same bits on every platform and thread count. Rows are independent, so native builds split them over
//! rayon's threads; wasm runs them on its one thread.

use candle_core::quantized::k_quants::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8K, BlockQ8_0, BlockQ8_1,
};
use candle_core::quantized::{GgmlDType, GgmlType, QTensor};
use candle_core::{bail, Result};
use half::{bf16, f16};
#[cfg(not(target_arch = "wasm32"))]
use std::sync::Mutex;

use super::block_dot::{self, RowsDot, BLOCK, Q4_0_BYTES, Q4_1_BYTES, Q8_0_BYTES};

/// `$typed!(T)` for the block type `T` that stores `$dtype` (every type candle decodes), or an
/// error `$missing` naming the type.
macro_rules! by_block_type {
    ($dtype:expr, $typed:ident, $missing:literal) => {
        match $dtype {
            GgmlDType::F32 => $typed!(f32),
            GgmlDType::F16 => $typed!(f16),
            GgmlDType::BF16 => $typed!(bf16),
            GgmlDType::Q4_0 => $typed!(BlockQ4_0),
            GgmlDType::Q4_1 => $typed!(BlockQ4_1),
            GgmlDType::Q5_0 => $typed!(BlockQ5_0),
            GgmlDType::Q5_1 => $typed!(BlockQ5_1),
            GgmlDType::Q8_0 => $typed!(BlockQ8_0),
            GgmlDType::Q8_1 => $typed!(BlockQ8_1),
            GgmlDType::Q2K => $typed!(BlockQ2K),
            GgmlDType::Q3K => $typed!(BlockQ3K),
            GgmlDType::Q4K => $typed!(BlockQ4K),
            GgmlDType::Q5K => $typed!(BlockQ5K),
            GgmlDType::Q6K => $typed!(BlockQ6K),
            GgmlDType::Q8K => $typed!(BlockQ8K),
            #[allow(unreachable_patterns)]
            other => bail!($missing, other),
        }
    };
}

/// `weight` (out, in) · `x` (in) → (out): one weight of [`quantized_matvecs`] (the tests' form).
#[cfg(test)]
pub fn quantized_matvec(weight: &QTensor, x: &[f32]) -> Result<Vec<f32>> {
    Ok(quantized_matvecs(&[weight], x)?
        .pop()
        .expect("one output per weight"))
}

/// Several weights (out_i, in) times the same `x` (in), exactly as described in the module docs, with
/// the rows of every Q4_0/Q4_1/Q8_0 weight in one pass over the thread pool. A decode step's q/k/v
/// (or gate/up) then cost one hand-off to the other threads instead of one per projection.
pub fn quantized_matvecs(weights: &[&QTensor], x: &[f32]) -> Result<Vec<Vec<f32>>> {
    let datas = weights
        .iter()
        .map(|w| w.data())
        .collect::<Result<Vec<_>>>()?;
    let xsum: Vec<f32> = x
        .chunks_exact(BLOCK)
        .map(|c| dot(c, &[1f32; BLOCK]))
        .collect();
    let mut outs = Vec::with_capacity(weights.len());
    // Chunks of 64 rows of the fused weights, each with what its kernel needs.
    let mut tasks: Vec<(&[u8], usize, RowsDot, usize, &mut [f32])> = Vec::new();
    let mut fused = Vec::with_capacity(weights.len());
    for (weight, bytes) in weights.iter().zip(&datas) {
        let (rows, cols) = weight.shape().dims2()?;
        if x.len() != cols {
            bail!(
                "matvec: input has {} values, weight has {cols} columns",
                x.len()
            );
        }
        let kernel = match weight.dtype() {
            // The block types of the default backbone and of our exports: decoded in place,
            // fused with the dot product (no scratch row), in SIMD where the build has it.
            GgmlDType::Q4_0 => Some((Q4_0_BYTES, block_dot::q4_0())),
            GgmlDType::Q4_1 => Some((Q4_1_BYTES, block_dot::q4_1())),
            GgmlDType::Q8_0 => Some((Q8_0_BYTES, block_dot::q8_0())),
            _ => None,
        };
        match kernel {
            Some((block_bytes, _)) => {
                if cols % BLOCK != 0 || bytes.len() != rows * cols / BLOCK * block_bytes {
                    bail!(
                        "matvec: {rows}x{cols} weight does not match its {} bytes",
                        bytes.len()
                    );
                }
                outs.push(vec![0f32; rows]);
            }
            None => outs.push(other_type(weight, bytes, rows, cols, x)?),
        }
        fused.push(kernel.map(|(block_bytes, k)| (cols / BLOCK * block_bytes, k)));
    }
    for ((out, bytes), kernel) in outs.iter_mut().zip(&datas).zip(&fused) {
        if let Some((row_bytes, k)) = *kernel {
            for (c, y) in out.chunks_mut(64).enumerate() {
                tasks.push((bytes, row_bytes, k, c * 64 * row_bytes, y));
            }
        }
    }
    // Each row's result depends only on its bytes and `x`, not on the chunk or the thread.
    let run = |(bytes, row_bytes, k, at, y): (&[u8], usize, RowsDot, usize, &mut [f32])| {
        k(&bytes[at..at + y.len() * row_bytes], x, &xsum, y)
    };
    // candle's barrier pool, not rayon: its workers spin a while before they sleep, and a
    // decode step hands off ~120 of these in a row; rayon's sleep and wake-up between them was
    // a quarter of a step in scheduler calls.
    #[cfg(not(target_arch = "wasm32"))]
    {
        let tasks: Vec<_> = tasks.into_iter().map(|t| Mutex::new(Some(t))).collect();
        candle_core::utils::barrier_pool().execute_chunked(tasks.len(), |range| {
            for task in &tasks[range] {
                let task = task.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(task) = task {
                    run(task);
                }
            }
        });
    }
    #[cfg(target_arch = "wasm32")]
    tasks.into_iter().for_each(run);
    Ok(outs)
}

/// A weight of any other type: each row decoded by candle's `GgmlType::to_float`, then [`dot`].
fn other_type(
    weight: &QTensor,
    bytes: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
) -> Result<Vec<f32>> {
    macro_rules! typed {
        ($t:ty) => {
            rows_times::<$t>(blocks_of::<$t>(bytes)?, rows, cols, x)
        };
    }
    by_block_type!(weight.dtype(), typed, "matvec: no decoder for {:?} weights")
}

/// Rows `ids` of `weight` (out, in) decoded to f32, row after row: exactly the values of
/// `weight.dequantize()` at those rows, without decoding the others.
pub fn dequantize_rows(weight: &QTensor, ids: &[u32]) -> Result<Vec<f32>> {
    let (rows, cols) = weight.shape().dims2()?;
    if let Some(bad) = ids.iter().find(|&&id| id as usize >= rows) {
        bail!("embedding: token id {bad} is outside the table of {rows} rows");
    }
    let bytes = weight.data()?;
    let mut out = vec![0f32; ids.len() * cols];
    macro_rules! typed {
        ($t:ty) => {{
            let blocks = blocks_of::<$t>(&bytes)?;
            let per_row = cols / <$t>::BLCK_SIZE;
            if cols % <$t>::BLCK_SIZE != 0 || blocks.len() != rows * per_row {
                bail!(
                    "embedding: {rows}x{cols} table does not match its {} blocks",
                    blocks.len()
                );
            }
            for (&id, row) in ids.iter().zip(out.chunks_exact_mut(cols)) {
                let id = id as usize;
                <$t>::to_float(&blocks[id * per_row..(id + 1) * per_row], row);
            }
        }};
    }
    by_block_type!(
        weight.dtype(),
        typed,
        "embedding: no decoder for {:?} tables"
    );
    Ok(out)
}

/// The storage bytes of a CPU `QTensor` as its blocks. candle keeps them in a `Vec<T>`, so the
/// alignment holds; it is checked anyway rather than assumed.
fn blocks_of<T: GgmlType>(bytes: &[u8]) -> Result<&[T]> {
    let size = std::mem::size_of::<T>();
    if bytes.len() % size != 0 || bytes.as_ptr().align_offset(std::mem::align_of::<T>()) != 0 {
        bail!(
            "matvec: {:?} storage is not a whole number of aligned blocks",
            T::DTYPE
        );
    }
    // SAFETY: length and alignment checked above; every block type is plain data (f16 scales and
    // byte arrays) for which any bit pattern is a valid value.
    Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

fn rows_times<T: GgmlType>(blocks: &[T], rows: usize, cols: usize, x: &[f32]) -> Result<Vec<f32>> {
    if cols % T::BLCK_SIZE != 0 || blocks.len() != rows * cols / T::BLCK_SIZE {
        bail!(
            "matvec: {:?} weight of {rows}x{cols} does not match its {} blocks",
            T::DTYPE,
            blocks.len()
        );
    }
    let per_row = cols / T::BLCK_SIZE;
    let mut out = vec![0f32; rows];
    let row_dot = |r: usize, scratch: &mut Vec<f32>| {
        T::to_float(&blocks[r * per_row..(r + 1) * per_row], scratch);
        dot(scratch, x)
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        // Chunks of rows big enough that scheduling is negligible next to decoding them.
        out.par_chunks_mut(64).enumerate().for_each_init(
            || vec![0f32; cols],
            |scratch, (c, chunk)| {
                for (i, y) in chunk.iter_mut().enumerate() {
                    *y = row_dot(c * 64 + i, scratch);
                }
            },
        );
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut scratch = vec![0f32; cols];
        for (r, y) in out.iter_mut().enumerate() {
            *y = row_dot(r, &mut scratch);
        }
    }
    Ok(out)
}

/// Σ aᵢ·bᵢ in a fixed order: eight running sums (lanes the compiler maps onto SIMD registers),
/// combined pairwise, then the tail. The result depends only on the inputs.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let split = a.len() - a.len() % 8;
    for (ca, cb) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in a[split..].iter().zip(&b[split..]) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn reference(w: &Tensor, x: &[f32]) -> Vec<f32> {
        let xt = Tensor::new(x, &Device::Cpu).unwrap().unsqueeze(1).unwrap();
        w.matmul(&xt)
            .unwrap()
            .squeeze(1)
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    /// Against candle's dequantize + f32 matmul, for every block type a GGUF backbone uses.
    #[test]
    fn matches_dequantized_matmul_for_each_type() {
        let dev = Device::Cpu;
        let (rows, cols) = (70, 512); // 70 rows: one full rayon chunk and a partial one
        let w = Tensor::randn(0f32, 0.5, (rows, cols), &dev).unwrap();
        let x: Vec<f32> = Tensor::randn(0f32, 1.0, cols, &dev)
            .unwrap()
            .to_vec1()
            .unwrap();
        for dtype in [
            GgmlDType::F32,
            GgmlDType::F16,
            GgmlDType::Q4_0,
            GgmlDType::Q4_1,
            GgmlDType::Q5_0,
            GgmlDType::Q5_1,
            GgmlDType::Q8_0,
            GgmlDType::Q2K,
            GgmlDType::Q3K,
            GgmlDType::Q4K,
            GgmlDType::Q5K,
            GgmlDType::Q6K,
        ] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let want = reference(&q.dequantize(&dev).unwrap(), &x);
            let got = quantized_matvec(&q, &x).unwrap();
            assert_eq!(got.len(), rows);
            for (r, (g, e)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                    "{dtype:?} row {r}: {g} vs {e}"
                );
            }
        }
    }

    /// The looked-up rows are the dequantized table's rows, bit for bit, for every block type.
    #[test]
    fn dequantized_rows_are_the_tables_rows() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 0.5, (40, 256), &dev).unwrap();
        let ids = [3u32, 0, 39, 3];
        for dtype in [
            GgmlDType::F32,
            GgmlDType::F16,
            GgmlDType::Q4_0,
            GgmlDType::Q4_1,
            GgmlDType::Q8_0,
            GgmlDType::Q6K,
        ] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let table: Vec<Vec<f32>> = q.dequantize(&dev).unwrap().to_vec2().unwrap();
            let got = dequantize_rows(&q, &ids).unwrap();
            for (i, &id) in ids.iter().enumerate() {
                let want: Vec<u32> = table[id as usize].iter().map(|v| v.to_bits()).collect();
                let row: Vec<u32> = got[i * 256..(i + 1) * 256]
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                assert_eq!(row, want, "{dtype:?} row {id}");
            }
        }
        let q = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
        assert!(dequantize_rows(&q, &[40]).is_err());
    }

    /// Several weights in one pass give each weight's own product, bit for bit (one weight of a
    /// type without a fused kernel among them).
    #[test]
    fn several_weights_at_once_give_each_ones_bits() {
        let dev = Device::Cpu;
        let x: Vec<f32> = (0..256)
            .map(|i| ((i * 29 % 97) as f32 - 48.0) / 13.0)
            .collect();
        let weights: Vec<QTensor> = [
            (70, GgmlDType::Q4_1),
            (64, GgmlDType::Q8_0),
            (33, GgmlDType::Q6K),
            (5, GgmlDType::Q4_0),
        ]
        .iter()
        .map(|&(rows, dtype)| {
            let w = Tensor::randn(0f32, 0.5, (rows, 256), &dev).unwrap();
            QTensor::quantize(&w, dtype).unwrap()
        })
        .collect();
        let refs: Vec<&QTensor> = weights.iter().collect();
        let together = quantized_matvecs(&refs, &x).unwrap();
        for (w, got) in weights.iter().zip(&together) {
            let alone = quantized_matvec(w, &x).unwrap();
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                alone.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn is_bit_identical_across_thread_counts() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 0.5, (300, 256), &dev).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        let x: Vec<f32> = (0..256)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
            .collect();
        let many = quantized_matvec(&q, &x).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| quantized_matvec(&q, &x).unwrap());
        assert_eq!(
            many.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            one.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn dot_handles_tails_and_rejects_nothing() {
        let a: Vec<f32> = (1..=11).map(|v| v as f32).collect();
        let b = vec![1f32; 11];
        assert_eq!(dot(&a, &b), 66.0);
        assert_eq!(dot(&[], &[]), 0.0);
    }

    #[test]
    fn wrong_input_length_is_an_error() {
        let w = Tensor::zeros((4, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
        assert!(quantized_matvec(&q, &[0.0; 31]).is_err());
    }
}
