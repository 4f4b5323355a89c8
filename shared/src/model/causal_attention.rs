//! Causal grouped-query attention for the training forward pass (CPU, f32), as one custom op
//! with a hand-written backward.
//!
//! Why: composed from candle ops, attention on a 500-token prompt is `matmul → ·scale → +mask →
//! softmax → matmul`, and autograd walks each step back, allocating a fresh (heads × s × s)
//! tensor per step and per gradient (plus candle's zeros-then-add accumulation). Here the
//! forward computes only the lower triangle (row blocks of [`BLOCK`] keys: half the GEMM work of
//! the full square), normalises in place, and keeps the probabilities for the backward, which
//! needs exactly four triangular GEMMs per head (FlashAttention's backward equations, with `P`
//! stored rather than recomputed). Heads run in parallel on rayon; each GEMM is single-threaded.
//!
//! Layouts: `q` (b, heads, s, d), `k`/`v` (b, kv_heads, t, d) with t ≥ s, query head `h` reads
//! key/value head `h / (heads / kv_heads)`. The queries are the last s of the t positions: query
//! `i` sees keys `0..=t − s + i` (t = s: a pass from position 0; t > s: a pass after a cached
//! prefix, as the views of one example that share their instructions and history).

use super::cpu_gemm::{gemm_into, Mat, Threads};
use super::grad_ops::F32Values;
use super::vector_exp;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

/// Query rows per GEMM: a row block reads keys up to its last row only.
const BLOCK: usize = 64;

struct CausalAttention {
    scale: f32,
    /// Keep the probabilities for the backward (training); inference keeps none.
    keep_probs: bool,
    /// Attention probabilities of the forward pass, (b·heads, s, t), zero where masked.
    probs: Mutex<Option<Vec<f32>>>,
}

/// Dimensions of one call.
#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    heads: usize,
    kv_heads: usize,
    /// Queries.
    s: usize,
    /// Keys (the queries are the last s of them).
    t: usize,
    d: usize,
}

impl Dims {
    fn of(q: &Layout, k: &Layout, v: &Layout) -> Result<Dims> {
        let (b, heads, s, d) = q.shape().dims4()?;
        let (kb, kv_heads, t, kd) = k.shape().dims4()?;
        if (kb, kd) != (b, d) || t < s || v.shape().dims() != k.shape().dims() {
            candle_core::bail!(
                "causal-attention: q {:?}, k {:?}, v {:?} do not fit",
                q.shape(),
                k.shape(),
                v.shape()
            );
        }
        if kv_heads == 0 || heads % kv_heads != 0 {
            candle_core::bail!("causal-attention: {heads} query heads over {kv_heads} kv heads");
        }
        Ok(Dims {
            b,
            heads,
            kv_heads,
            s,
            t,
            d,
        })
    }
    /// Keys before the first query's own position (the cached prefix).
    fn start(&self) -> usize {
        self.t - self.s
    }
    /// Offset of the (s, d) query matrix of head `h` of batch row `bi`, and of its kv head's
    /// (t, d) keys and values.
    fn offsets(&self, item: usize) -> (usize, usize) {
        let (bi, h) = (item / self.heads, item % self.heads);
        let g = h / (self.heads / self.kv_heads);
        (
            item * self.s * self.d,
            (bi * self.kv_heads + g) * self.t * self.d,
        )
    }
    /// Key blocks `(c0, c1)` of the t keys, each with the first query row that sees key c0
    /// (the rows before it are masked there).
    fn key_blocks(&self) -> impl Iterator<Item = (usize, usize, usize)> {
        let start = self.start();
        row_blocks(self.t).map(move |(c0, c1)| (c0, c1, c0.saturating_sub(start)))
    }
}

fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((start, end))) => Ok(&v[start..end]),
        (CpuStorage::F32(_), None) => {
            candle_core::bail!("causal-attention: inputs must be contiguous")
        }
        _ => candle_core::bail!("causal-attention: only f32 inputs"),
    }
}

/// Row blocks `(first_row, end_row)` of a sequence of `s` positions.
fn row_blocks(s: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..s.div_ceil(BLOCK)).map(move |r| (r * BLOCK, ((r + 1) * BLOCK).min(s)))
}

/// Attention of one query head (`item` = batch row · heads + head) into `o` (s, d), row block
/// by row block. `p` holds the probabilities: the whole (s, t) matrix when `whole` (kept for the
/// backward), else one block of `BLOCK` rows of t, reused by the next block.
#[allow(clippy::too_many_arguments)]
fn attend_item(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dims: Dims,
    item: usize,
    scale: f32,
    p: &mut [f32],
    whole: bool,
    o: &mut [f32],
) {
    let Dims { s, t, d, .. } = dims;
    let start = dims.start();
    let (qo, ko) = dims.offsets(item);
    for (r0, r1) in row_blocks(s) {
        // Row i of the block lives at p[(i - r0 + first) · t..].
        let first = if whole { r0 } else { 0 };
        // Scores of rows r0..r1 against keys 0..start + r1 (the rest is masked anyway).
        gemm_into(
            &mut p[first * t..],
            t,
            (r1 - r0, start + r1, d),
            Mat::rows(q, qo + r0 * d, d),
            Mat::transposed(k, ko, d),
            scale,
            false,
            Threads::One,
        );
        for i in r0..r1 {
            let at = (i - r0 + first) * t;
            let row = &mut p[at..at + t];
            let (seen, masked) = row.split_at_mut(start + i + 1);
            masked.iter_mut().for_each(|x| *x = 0.0);
            let max = seen.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let inv = 1.0 / vector_exp::exp_shifted_sum(seen, max);
            seen.iter_mut().for_each(|x| *x *= inv);
        }
        gemm_into(
            &mut o[r0 * d..],
            d,
            (r1 - r0, d, start + r1),
            Mat::rows(p, first * t, t),
            Mat::rows(v, ko, d),
            1.0,
            false,
            Threads::One,
        );
    }
}

impl CustomOp3 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
    }

    fn cpu_fwd(
        &self,
        qs: &CpuStorage,
        ql: &Layout,
        ks: &CpuStorage,
        kl: &Layout,
        vs: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = Dims::of(ql, kl, vl)?;
        let (q, k, v) = (
            contiguous(qs, ql)?,
            contiguous(ks, kl)?,
            contiguous(vs, vl)?,
        );
        let Dims { s, t, d, .. } = dims;
        let items = dims.b * dims.heads;
        let mut out = vec![0f32; items * s * d];
        let scale = self.scale;
        if !self.keep_probs {
            // Inference: one row block of probabilities at a time, nothing kept.
            out.par_chunks_mut(s * d).enumerate().for_each_init(
                || vec![0f32; BLOCK * t],
                |scratch, (item, o)| attend_item(q, k, v, dims, item, scale, scratch, false, o),
            );
            return Ok((CpuStorage::F32(out), ql.shape().clone()));
        }
        let mut probs = vec![0f32; items * s * t];
        probs
            .par_chunks_mut(s * t)
            .zip(out.par_chunks_mut(s * d))
            .enumerate()
            .for_each(|(item, (p, o))| attend_item(q, k, v, dims, item, scale, p, true, o));
        *self.probs.lock().unwrap_or_else(|e| e.into_inner()) = Some(probs);
        Ok((CpuStorage::F32(out), ql.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        out: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let probs = self.probs.lock().unwrap_or_else(|e| e.into_inner());
        let Some(p_all) = probs.as_ref() else {
            candle_core::bail!(
                "causal-attention: no probabilities kept (a backward before the forward, or of the inference kernel)"
            );
        };
        let (qb, kb) = (q.dims4()?, k.dims4()?);
        let dims = Dims {
            b: qb.0,
            heads: qb.1,
            kv_heads: kb.1,
            s: qb.2,
            t: kb.2,
            d: qb.3,
        };
        let Dims { s, t, d, .. } = dims;
        let start = dims.start();
        let (q, k, v, out, grad) = (
            q.contiguous()?,
            k.contiguous()?,
            v.contiguous()?,
            out.contiguous()?,
            grad.contiguous()?,
        );
        let (qv, kv, vv, ov, gv) = (
            F32Values::of(&q)?,
            F32Values::of(&k)?,
            F32Values::of(&v)?,
            F32Values::of(&out)?,
            F32Values::of(&grad)?,
        );
        let items = dims.b * dims.heads;
        let mut dq = vec![0f32; items * s * d];
        // Per query head; summed over each kv head's group below.
        let mut dk_heads = vec![0f32; items * t * d];
        let mut dv_heads = vec![0f32; items * t * d];
        dq.par_chunks_mut(s * d)
            .zip(dk_heads.par_chunks_mut(t * d))
            .zip(dv_heads.par_chunks_mut(t * d))
            .enumerate()
            .for_each(|(item, ((dq, dk), dv))| {
                let (qo, ko) = dims.offsets(item);
                let p = &p_all[item * s * t..(item + 1) * s * t];
                // dV = Pᵀ·dO: key block c0..c1 receives from query rows i0..s.
                for (c0, c1, i0) in dims.key_blocks() {
                    gemm_into(
                        &mut dv[c0 * d..],
                        d,
                        (c1 - c0, d, s - i0),
                        Mat::transposed(p, i0 * t + c0, t),
                        Mat::rows(&gv, qo + i0 * d, d),
                        1.0,
                        false,
                        Threads::One,
                    );
                }
                // dS = P ⊙ (dO·Vᵀ − rowsum(dO ⊙ O)) · scale, lower triangle.
                let mut ds = vec![0f32; s * t];
                for (r0, r1) in row_blocks(s) {
                    gemm_into(
                        &mut ds[r0 * t..],
                        t,
                        (r1 - r0, start + r1, d),
                        Mat::rows(&gv, qo + r0 * d, d),
                        Mat::transposed(&vv, ko, d),
                        1.0,
                        false,
                        Threads::One,
                    );
                    for i in r0..r1 {
                        let go = &gv[qo + i * d..qo + (i + 1) * d];
                        let oo = &ov[qo + i * d..qo + (i + 1) * d];
                        let delta: f32 = go.iter().zip(oo).map(|(a, b)| a * b).sum();
                        let row = &mut ds[i * t..(i + 1) * t];
                        let prow = &p[i * t..(i + 1) * t];
                        for (j, x) in row.iter_mut().enumerate() {
                            *x = if j <= start + i {
                                prow[j] * (*x - delta) * self.scale
                            } else {
                                0.0
                            };
                        }
                    }
                    // dQ = dS·K over keys 0..start + r1.
                    gemm_into(
                        &mut dq[r0 * d..],
                        d,
                        (r1 - r0, d, start + r1),
                        Mat::rows(&ds, r0 * t, t),
                        Mat::rows(&kv, ko, d),
                        1.0,
                        false,
                        Threads::One,
                    );
                }
                // dK = dSᵀ·Q.
                for (c0, c1, i0) in dims.key_blocks() {
                    gemm_into(
                        &mut dk[c0 * d..],
                        d,
                        (c1 - c0, d, s - i0),
                        Mat::transposed(&ds, i0 * t + c0, t),
                        Mat::rows(&qv, qo + i0 * d, d),
                        1.0,
                        false,
                        Threads::One,
                    );
                }
            });
        let group_sum = |per_head: &[f32]| -> Vec<f32> {
            let mut sum = vec![0f32; dims.b * dims.kv_heads * t * d];
            for (item, m) in per_head.chunks(t * d).enumerate() {
                let (_, ko) = dims.offsets(item);
                sum[ko..ko + t * d]
                    .iter_mut()
                    .zip(m)
                    .for_each(|(a, b)| *a += b);
            }
            sum
        };
        let (dk, dv) = (group_sum(&dk_heads), group_sum(&dv_heads));
        let dev = q.device();
        Ok((
            Some(Tensor::from_vec(dq, q.shape(), dev)?),
            Some(Tensor::from_vec(dk, k.shape(), dev)?),
            Some(Tensor::from_vec(dv, v.shape(), dev)?),
        ))
    }
}

/// Whether [`causal_attention`] can run on these tensors.
pub fn supported(q: &Tensor) -> bool {
    q.device().is_cpu() && q.dtype() == candle_core::DType::F32
}

/// `softmax(q·kᵀ·scale + causal mask)·v`: q (b, heads, s, d), k/v (b, kv_heads, t, d), t ≥ s,
/// the queries at the last s positions → (b, heads, s, d), differentiable with respect to all
/// three.
pub fn causal_attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Result<Tensor> {
    apply(q, k, v, scale, true)
}

/// [`causal_attention`] without its backward: the forward of a prompt's prefill, holding one
/// block of `BLOCK` probability rows per thread instead of every head's (s, s) matrix, and half
/// the multiply-adds of the masked full square.
pub fn causal_attention_inference(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
) -> Result<Tensor> {
    apply(q, k, v, scale, false)
}

fn apply(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64, keep_probs: bool) -> Result<Tensor> {
    q.contiguous()?.apply_op3(
        &k.contiguous()?,
        &v.contiguous()?,
        CausalAttention {
            scale: scale as f32,
            keep_probs,
            probs: Mutex::new(None),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::composed;
    use candle_core::{Device, Var};

    /// The composed reference: full scores, additive mask, softmax, grouped heads by repetition.
    fn reference(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Tensor {
        let (b, h, s, d) = q.dims4().unwrap();
        let (g, t) = (k.dim(1).unwrap(), k.dim(2).unwrap());
        let rep = h / g;
        let expand = |x: &Tensor| {
            x.unsqueeze(2)
                .unwrap()
                .repeat((1, 1, rep, 1, 1))
                .unwrap()
                .reshape((b, h, t, d))
                .unwrap()
        };
        let (k, v) = (expand(k), expand(v));
        // The mask the model's composed attention adds (s > 1 here, so there is one).
        let mask = crate::model::llama::causal_mask(s, t - s, q.device())
            .unwrap()
            .unwrap();
        let scores = (q.matmul(&k.t().unwrap()).unwrap() * scale)
            .unwrap()
            .broadcast_add(&mask)
            .unwrap();
        composed::softmax_last(&scores).unwrap().matmul(&v).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Random q, k, v and the scale of one call: s = 150 spans three row blocks of keys (the last
    /// partial, so a scratch block is reused); 6 query heads over 2 kv heads, batch 2.
    fn inputs() -> (Tensor, Tensor, Tensor, f64) {
        inputs_after(0)
    }

    /// [`inputs`] with `start` cached keys before the 150 queries.
    fn inputs_after(start: usize) -> (Tensor, Tensor, Tensor, f64) {
        let dev = Device::Cpu;
        let (b, h, g, s, d) = (2, 6, 2, 150, 8);
        let q = Tensor::randn(0f32, 1.0, (b, h, s, d), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (b, g, start + s, d), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (b, g, start + s, d), &dev).unwrap();
        (q, k, v, 1.0 / (d as f64).sqrt())
    }

    #[test]
    fn the_inference_forward_gives_the_training_forward_bits_and_refuses_a_backward() {
        let (q, k, v, scale) = inputs();
        let bits = |t: Tensor| -> Vec<u32> {
            let values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            values.iter().map(|x| x.to_bits()).collect()
        };
        let kept = causal_attention(&q, &k, &v, scale).unwrap();
        let scratch = causal_attention_inference(&q, &k, &v, scale).unwrap();
        assert!(max_diff(&scratch, &reference(&q, &k, &v, scale)) < 1e-5);
        assert_eq!(bits(kept), bits(scratch));

        let qv = Var::from_tensor(&q).unwrap();
        let out = causal_attention_inference(qv.as_tensor(), &k, &v, scale).unwrap();
        let err = out.sum_all().unwrap().backward().unwrap_err().to_string();
        assert!(err.contains("no probabilities kept"), "{err}");
    }

    #[test]
    fn forward_and_gradients_match_the_composed_attention() {
        matches_the_composed_attention(inputs());
    }

    /// Queries after a cached prefix: 70 keys before them (a block and a part), so key blocks
    /// straddle the first query's position.
    #[test]
    fn after_a_cached_prefix_forward_and_gradients_match_the_composed_attention() {
        let (q, k, v, scale) = inputs_after(70);
        let bits = |t: Tensor| -> Vec<u32> {
            let values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            values.iter().map(|x| x.to_bits()).collect()
        };
        let kept = causal_attention(&q, &k, &v, scale).unwrap();
        let scratch = causal_attention_inference(&q, &k, &v, scale).unwrap();
        assert_eq!(bits(kept), bits(scratch));
        matches_the_composed_attention((q, k, v, scale));
    }

    fn matches_the_composed_attention((q0, k0, v0, scale): (Tensor, Tensor, Tensor, f64)) {
        let probe = q0.randn_like(0.0, 1.0).unwrap();

        let run = |fused: bool| {
            let (q, k, v) = (
                Var::from_tensor(&q0).unwrap(),
                Var::from_tensor(&k0).unwrap(),
                Var::from_tensor(&v0).unwrap(),
            );
            let out = if fused {
                causal_attention(q.as_tensor(), k.as_tensor(), v.as_tensor(), scale).unwrap()
            } else {
                reference(q.as_tensor(), k.as_tensor(), v.as_tensor(), scale)
            };
            let grads = (out.clone() * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let get = |x: &Var| grads.get(x.as_tensor()).unwrap().clone();
            (out, get(&q), get(&k), get(&v))
        };
        let (o1, dq1, dk1, dv1) = run(true);
        let (o2, dq2, dk2, dv2) = run(false);
        assert!(max_diff(&o1, &o2) < 1e-5, "output {}", max_diff(&o1, &o2));
        for (name, a, b) in [("dq", &dq1, &dq2), ("dk", &dk1, &dk2), ("dv", &dv1, &dv2)] {
            let (diff, norm) = (max_diff(a, b), b.abs().unwrap().max_all().unwrap());
            let norm = norm.to_scalar::<f32>().unwrap();
            assert!(
                diff < 1e-4 * norm.max(1.0),
                "{name}: {diff} (max |g| {norm})"
            );
        }
    }

    #[test]
    fn the_first_query_sees_only_the_first_key() {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (1, 1, 5, 4), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (1, 1, 5, 4), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (1, 1, 5, 4), &dev).unwrap();
        let out = causal_attention(&q, &k, &v, 0.5).unwrap();
        let first = out.narrow(2, 0, 1).unwrap();
        assert!(max_diff(&first, &v.narrow(2, 0, 1).unwrap()) < 1e-6);
    }
}
