//! Attention of one new position over the cached keys and values (a decode step), as plain loops.
//!
//! Why not candle's matmuls: for one query the products are tiny ((rep, hd)·(hd, t) per key/value
//! head), and the GEMM's packing and thread hand-offs cost more than the arithmetic. These loops
//! also fix the order of every sum (the dot products of [`super::matvec::dot`], value rows added
//! in position order), whereas a GEMM's order depends on its SIMD kernel, so the same inputs give
//! the same bits on x86 and wasm except through `exp`, which comes from the platform's libm.

use super::matvec::dot;
use candle_core::{CpuStorage, Result, Storage, Tensor, D};

/// `f` over the values of `t` (made contiguous first: no copy when it already is, as the cache
/// is), without copying them out of candle's storage.
fn with_values<T>(t: &Tensor, f: impl FnOnce(&[f32]) -> T) -> Result<T> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((start, end))) => Ok(f(&v[start..end])),
        _ => candle_core::bail!("decode attention: expected an f32 CPU tensor"),
    }
}

/// `q` (1, heads, 1, hd) against `k`, `v` (1, kv_heads, t, hd) → (1, 1, heads·hd); query head
/// `h` reads key/value head `h / (heads / kv_heads)` (grouped-query attention).
pub fn decode_attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: f32) -> Result<Tensor> {
    let (_, heads, _, hd) = q.dims4()?;
    let (_, kv_heads, t, _) = k.dims4()?;
    let rep = heads / kv_heads;
    let q = q.flatten_all()?.to_vec1::<f32>()?;
    let out = with_values(k, |k| {
        with_values(v, |v| attend(&q, k, v, (rep, t, hd), scale))
    })??;
    Tensor::from_vec(out, (1, 1, heads * hd), &candle_core::Device::Cpu)
}

/// The loops of [`decode_attention`] over flat values.
fn attend(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    (rep, t, hd): (usize, usize, usize),
    scale: f32,
) -> Vec<f32> {
    let mut out = vec![0f32; q.len()];
    let mut weights = vec![0f32; t];
    for (h, out_h) in out.chunks_exact_mut(hd).enumerate() {
        let kv = h / rep;
        let keys = &k[kv * t * hd..(kv + 1) * t * hd];
        let values = &v[kv * t * hd..(kv + 1) * t * hd];
        let q_h = &q[h * hd..(h + 1) * hd];
        let mut max = f32::NEG_INFINITY;
        for (w, key) in weights.iter_mut().zip(keys.chunks_exact(hd)) {
            *w = dot(q_h, key) * scale;
            max = max.max(*w);
        }
        let mut sum = 0f32;
        for w in weights.iter_mut() {
            *w = (*w - max).exp();
            sum += *w;
        }
        for (w, value) in weights.iter().zip(values.chunks_exact(hd)) {
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

    /// Against softmax(q·kᵀ·scale)·v written with candle's ops, grouped-query heads included.
    #[test]
    fn matches_the_matmul_softmax_formula() {
        let dev = Device::Cpu;
        let (heads, kv_heads, t, hd) = (6, 2, 37, 16);
        let q = Tensor::randn(0f32, 1.0, (1, heads, 1, hd), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (1, kv_heads, t, hd), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (1, kv_heads, t, hd), &dev).unwrap();
        let scale = 0.25f32;
        let got = decode_attention(&q, &k, &v, scale).unwrap();
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
