//! Attention of one new position over the cached keys and values (a decode step), as plain loops.
//!
//! Why not candle's matmuls: for one query the products are tiny ((rep, hd)·(hd, t) per key/value
//! head), and the GEMM's packing and thread hand-offs cost more than the arithmetic. The loops
//! read the cache where it lies, as the chunks the passes appended (the prompt, then one position
//! per step), so a step never copies the cache. They also fix the order of every sum (the dot
//! products of [`super::matvec::dot`], value rows added in position order), whereas a GEMM's order
//! depends on its SIMD kernel: the same inputs give the same bits on x86 and wasm, except through
//! `exp`, which comes from the platform's libm.

use super::matvec::dot;
use candle_core::{CpuStorage, Result, Storage, Tensor, D};

/// `q` (1, heads, 1, hd) against keys and values given as chunks along the position axis, each
/// (1, kv_heads, positions, hd) and contiguous → (1, 1, heads·hd). Query head `h` reads key/value
/// head `h / (heads / kv_heads)` (grouped-query attention).
pub fn decode_attention(q: &Tensor, k: &[Tensor], v: &[Tensor], scale: f32) -> Result<Tensor> {
    let (_, heads, _, hd) = q.dims4()?;
    let q = q.flatten_all()?.to_vec1::<f32>()?;
    let kv_heads = match k.first() {
        Some(chunk) => chunk.dim(1)?,
        None => candle_core::bail!("decode attention: the cache is empty"),
    };
    // Hold every chunk's storage for the loops: (values, positions) per chunk.
    let guards: Vec<_> = k.iter().chain(v).map(|t| t.storage_and_layout()).collect();
    let mut chunks = Vec::with_capacity(guards.len());
    for (storage, layout) in &guards {
        match (&**storage, layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) => {
                chunks.push((&values[start..end], layout.dims()[2]));
            }
            _ => candle_core::bail!("decode attention: expected contiguous f32 CPU chunks"),
        }
    }
    let (keys, values) = chunks.split_at(k.len());
    let out = attend(&q, keys, values, (heads / kv_heads, hd), scale);
    Tensor::from_vec(out, (1, 1, heads * hd), &candle_core::Device::Cpu)
}

/// The rows of key/value head `kv` in a chunk of `positions` positions.
fn head_rows(chunk: &[f32], positions: usize, kv: usize, hd: usize) -> &[f32] {
    &chunk[kv * positions * hd..(kv + 1) * positions * hd]
}

/// The loops of [`decode_attention`]: `keys`/`values` are (flat values, positions) per chunk.
fn attend(
    q: &[f32],
    keys: &[(&[f32], usize)],
    values: &[(&[f32], usize)],
    (rep, hd): (usize, usize),
    scale: f32,
) -> Vec<f32> {
    let total: usize = keys.iter().map(|(_, n)| n).sum();
    let mut out = vec![0f32; q.len()];
    let mut weights = Vec::with_capacity(total);
    for (h, out_h) in out.chunks_exact_mut(hd).enumerate() {
        let kv = h / rep;
        let q_h = &q[h * hd..(h + 1) * hd];
        weights.clear();
        for &(chunk, n) in keys {
            for key in head_rows(chunk, n, kv, hd).chunks_exact(hd) {
                weights.push(dot(q_h, key) * scale);
            }
        }
        let max = weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for w in weights.iter_mut() {
            *w = (*w - max).exp();
            sum += *w;
        }
        let rows = values
            .iter()
            .flat_map(|&(chunk, n)| head_rows(chunk, n, kv, hd).chunks_exact(hd));
        for (w, value) in weights.iter().zip(rows) {
            let p = w / sum;
            for (o, x) in out_h.iter_mut().zip(value) {
                *o += p * x;
            }
        }
    }
    out
}

/// Whether [`decode_attention`] applies: one query, CPU, f32, no gradient to keep.
pub fn applies(q: &Tensor) -> bool {
    q.device().is_cpu()
        && q.dtype() == candle_core::DType::F32
        && q.dim(D::Minus2).ok() == Some(1)
        && !q.track_op()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Against softmax(q·kᵀ·scale)·v written with candle's ops, grouped-query heads included, with
    /// the cache split into chunks of 30, 1 and 6 positions.
    #[test]
    fn matches_the_matmul_softmax_formula() {
        let dev = Device::Cpu;
        let (heads, kv_heads, t, hd) = (6, 2, 37, 16);
        let q = Tensor::randn(0f32, 1.0, (1, heads, 1, hd), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (1, kv_heads, t, hd), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (1, kv_heads, t, hd), &dev).unwrap();
        let split = |x: &Tensor| -> Vec<Tensor> {
            [(0, 30), (30, 1), (31, 6)]
                .iter()
                .map(|&(at, n)| x.narrow(2, at, n).unwrap().contiguous().unwrap())
                .collect()
        };
        let scale = 0.25f32;
        let got = decode_attention(&q, &split(&k), &split(&v), scale).unwrap();
        let rep = heads / kv_heads;
        let mut want = Vec::new();
        for h in 0..heads {
            let qh = q.narrow(1, h, 1).unwrap().squeeze(0).unwrap(); // (1, 1, hd)
            let kh = k.narrow(1, h / rep, 1).unwrap().squeeze(0).unwrap(); // (1, t, hd)
            let vh = v.narrow(1, h / rep, 1).unwrap().squeeze(0).unwrap();
            let scores = (qh.matmul(&kh.t().unwrap()).unwrap() * scale as f64).unwrap();
            let probs = candle_nn::ops::softmax(&scores, D::Minus1).unwrap();
            want.extend(
                probs
                    .matmul(&vh)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            );
        }
        let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-5, "value {i}: {g} vs {w}");
        }
    }
}
