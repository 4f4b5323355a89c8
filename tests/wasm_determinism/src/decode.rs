//! The decode-step matrix-vector products (`Linear::forward` on one row of a block-quantized
//! weight: alro-core's fixed-order row kernels) on pseudo-random weights and inputs, as one
//! SHA-256 over the output bits. The same source runs in wasm32 (`run.js`) and natively
//! (`src/bin/native.rs`); `check.sh` compares the two.

use alro_core::data::manifest::sha256_hex;
use alro_core::model::Linear;
use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{Device, Tensor};
use half::f16;

/// xorshift64: the same stream on every platform.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A float in [-range, range) with 1/1000 steps.
    fn float(&mut self, range: f32) -> f32 {
        (self.next() % (2000 * range as u64)) as f32 / 1000.0 - range
    }
}

/// A weight of `rows` × `cols` in `dtype` (Q4_0, Q4_1 or Q8_0): random quants, finite scales.
fn weight(s: &mut Stream, dtype: GgmlDType, rows: usize, cols: usize) -> QTensor {
    let (block, with_m) = match dtype {
        GgmlDType::Q4_0 => (18, false),
        GgmlDType::Q4_1 => (20, true),
        _ => (34, false),
    };
    let mut bytes: Vec<u8> = (0..rows * cols / 32 * block)
        .map(|_| s.next() as u8)
        .collect();
    for blk in bytes.chunks_exact_mut(block) {
        blk[..2].copy_from_slice(&f16::from_f32(s.float(1.0) / 8.0).to_le_bytes());
        if with_m {
            blk[2..4].copy_from_slice(&f16::from_f32(s.float(1.0)).to_le_bytes());
        }
    }
    let storage = QStorage::from_data(bytes.into(), &Device::Cpu, dtype).unwrap();
    QTensor::new(storage, (rows, cols)).unwrap()
}

/// SHA-256 (hex) of the bits of `W·x` for each type and the backbone's row widths.
pub fn decode_digest() -> String {
    let mut s = Stream(0x9E37_79B9_7F4A_7C15);
    let mut bits = Vec::new();
    for dtype in [GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q8_0] {
        for (rows, cols) in [(67, 576), (45, 1536)] {
            let linear =
                Linear::new(QMatMul::from_qtensor(weight(&mut s, dtype, rows, cols)).unwrap());
            let x: Vec<f32> = (0..cols).map(|_| s.float(4.0)).collect();
            let x = Tensor::from_vec(x, (1, cols), &Device::Cpu).unwrap();
            let y = linear
                .forward(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            bits.extend(y.iter().flat_map(|v| v.to_bits().to_le_bytes()));
        }
    }
    sha256_hex(&bits)
}
