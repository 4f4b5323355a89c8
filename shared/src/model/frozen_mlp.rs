//! A SwiGLU MLP without adapters (`down(silu(gate·x) ⊙ up·x)`) for the training forward pass
//! (CPU, f32), as one custom op whose backward computes only the input gradient.
//!
//! Why: with adapters on the attention projections only (PEFT's and our default `q_proj`,
//! `v_proj`), the MLP — three quarters of a block's GEMM work — is frozen, yet every block needs
//! its input gradient. Composed from candle ops, the MLP is seven graph nodes (stacked product,
//! two narrows, SiLU, product, down product), and autograd walks each one back with a fresh
//! tensor per gradient: the narrows' backward pads each half to the full stacked width, and every
//! gradient is accumulated as zeros-then-add. Here the forward keeps the stacked gate/up
//! activations (the only thing the backward needs) and the backward is two GEMMs and one pass
//! over the activations, as PyTorch runs a frozen MLP.
//!
//! Weights: `gate_up` (2·I, H) with the gate rows first, `down` (H, I), dense f32, contiguous.

use super::cpu_gemm::{gemm_into, Mat, Threads};
use super::grad_ops::F32Values;
use super::vector_exp::sigmoid;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

struct FrozenMlp {
    gate_up: Tensor,
    down: Tensor,
    /// The stacked gate/up activations of the forward pass, (rows, 2·I).
    gate_up_out: Mutex<Option<Vec<f32>>>,
}

impl FrozenMlp {
    /// (H, I): hidden and intermediate sizes.
    fn dims(&self) -> Result<(usize, usize)> {
        let (h, i) = self.down.dims2()?;
        let (gu_rows, gu_cols) = self.gate_up.dims2()?;
        if gu_rows != 2 * i || gu_cols != h {
            candle_core::bail!(
                "frozen-mlp: gate/up {:?} and down {:?} do not fit",
                self.gate_up.shape(),
                self.down.shape()
            );
        }
        Ok((h, i))
    }
}

impl CustomOp1 for FrozenMlp {
    fn name(&self) -> &'static str {
        "frozen-mlp"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = match (storage, layout.contiguous_offsets()) {
            (CpuStorage::F32(v), Some((start, end))) => &v[start..end],
            _ => candle_core::bail!("frozen-mlp: the input must be contiguous f32"),
        };
        let (h, i) = self.dims()?;
        if layout.dims().last() != Some(&h) {
            candle_core::bail!("frozen-mlp: input {:?}, hidden size {h}", layout.shape());
        }
        let rows = x.len() / h;
        let (w_gate_up, w_down) = (F32Values::of(&self.gate_up)?, F32Values::of(&self.down)?);
        let mut gu = vec![0f32; rows * 2 * i];
        gemm_into(
            &mut gu,
            2 * i,
            (rows, 2 * i, h),
            Mat::rows(x, 0, h),
            Mat::transposed(&w_gate_up, 0, h),
            1.0,
            false,
            Threads::All,
        );
        let mut act = vec![0f32; rows * i];
        act.par_chunks_mut(i)
            .zip(gu.par_chunks(2 * i))
            .for_each(|(a, gu)| {
                let (g, u) = gu.split_at(i);
                for ((a, &g), &u) in a.iter_mut().zip(g).zip(u) {
                    *a = g * sigmoid(g) * u;
                }
            });
        let mut y = vec![0f32; rows * h];
        gemm_into(
            &mut y,
            h,
            (rows, h, i),
            Mat::rows(&act, 0, i),
            Mat::transposed(&w_down, 0, i),
            1.0,
            false,
            Threads::All,
        );
        *self.gate_up_out.lock().unwrap_or_else(|e| e.into_inner()) = Some(gu);
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let stored = self.gate_up_out.lock().unwrap_or_else(|e| e.into_inner());
        let Some(gu) = stored.as_ref() else {
            candle_core::bail!("frozen-mlp: backward before forward");
        };
        let (h, i) = self.dims()?;
        let rows = gu.len() / (2 * i);
        let grad = grad.contiguous()?;
        let g = F32Values::of(&grad)?;
        let (w_gate_up, w_down) = (F32Values::of(&self.gate_up)?, F32Values::of(&self.down)?);
        // d act = dy · down (rows × I)
        let mut d_act = vec![0f32; rows * i];
        gemm_into(
            &mut d_act,
            i,
            (rows, i, h),
            Mat::rows(&g, 0, h),
            Mat::rows(&w_down, 0, i),
            1.0,
            false,
            Threads::All,
        );
        // act = silu(g)·u: d g = d act · u · silu'(g), d u = d act · silu(g), with
        // silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
        let mut d_gu = vec![0f32; rows * 2 * i];
        d_gu.par_chunks_mut(2 * i)
            .zip(gu.par_chunks(2 * i))
            .zip(d_act.par_chunks(i))
            .for_each(|((d_gu, gu), d_act)| {
                let (dg, du) = d_gu.split_at_mut(i);
                let (g, u) = gu.split_at(i);
                for j in 0..i {
                    let s = sigmoid(g[j]);
                    dg[j] = d_act[j] * u[j] * s * (1.0 + g[j] * (1.0 - s));
                    du[j] = d_act[j] * g[j] * s;
                }
            });
        drop(d_act);
        // d x = d gu · gate_up (rows × H)
        let mut dx = vec![0f32; rows * h];
        gemm_into(
            &mut dx,
            h,
            (rows, h, 2 * i),
            Mat::rows(&d_gu, 0, 2 * i),
            Mat::rows(&w_gate_up, 0, h),
            1.0,
            false,
            Threads::All,
        );
        Ok(Some(Tensor::from_vec(dx, arg.shape(), arg.device())?))
    }
}

/// Whether [`frozen_mlp`] can run with these tensors.
pub fn supported(x: &Tensor, gate_up: &Tensor, down: &Tensor) -> bool {
    let dense = |w: &Tensor| {
        w.device().is_cpu()
            && w.dtype() == candle_core::DType::F32
            && w.rank() == 2
            && w.is_contiguous()
    };
    x.device().is_cpu() && x.dtype() == candle_core::DType::F32 && dense(gate_up) && dense(down)
}

/// `down · (silu(gate · x) ⊙ up · x)` for `x` (…, H), `gate_up` (2·I, H) = gate rows then up
/// rows, `down` (H, I); differentiable with respect to `x` only.
pub fn frozen_mlp(x: &Tensor, gate_up: &Tensor, down: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenMlp {
        gate_up: gate_up.clone(),
        down: down.clone(),
        gate_up_out: Mutex::new(None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::composed;
    use candle_core::{Device, Var, D};

    fn reference(x: &Tensor, gate_up: &Tensor, down: &Tensor) -> Tensor {
        let gu = x.broadcast_matmul(&gate_up.t().unwrap()).unwrap();
        let i = down.dim(1).unwrap();
        let g = gu.narrow(D::Minus1, 0, i).unwrap();
        let u = gu.narrow(D::Minus1, i, i).unwrap();
        let act = (composed::silu(&g).unwrap() * u).unwrap();
        act.broadcast_matmul(&down.t().unwrap()).unwrap()
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
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn forward_and_input_gradient_match_the_composed_mlp() {
        let dev = Device::Cpu;
        let (h, i) = (6, 10);
        let gate_up = Tensor::randn(0f32, 1.0, (2 * i, h), &dev).unwrap();
        let down = Tensor::randn(0f32, 1.0, (h, i), &dev).unwrap();
        let x0 = Tensor::randn(0f32, 1.0, (2, 5, h), &dev).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (2, 5, h), &dev).unwrap();

        let run = |fused: bool| {
            let x = Var::from_tensor(&x0).unwrap();
            let y = if fused {
                frozen_mlp(x.as_tensor(), &gate_up, &down).unwrap()
            } else {
                reference(x.as_tensor(), &gate_up, &down)
            };
            let grads = (y.clone() * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            assert!(grads.get(&gate_up).is_none() && grads.get(&down).is_none());
            (y, grads.get(x.as_tensor()).unwrap().clone())
        };
        let ((y, gx), (y_ref, gx_ref)) = (run(true), run(false));
        assert!(
            max_diff(&y, &y_ref) < 1e-4,
            "forward {}",
            max_diff(&y, &y_ref)
        );
        assert!(
            max_diff(&gx, &gx_ref) < 1e-4,
            "gradient {}",
            max_diff(&gx, &gx_ref)
        );
    }

    #[test]
    fn mismatched_weights_are_an_error() {
        let dev = Device::Cpu;
        let gate_up = Tensor::zeros((8, 3), candle_core::DType::F32, &dev).unwrap();
        let down = Tensor::zeros((3, 5), candle_core::DType::F32, &dev).unwrap();
        let x = Tensor::zeros((2, 3), candle_core::DType::F32, &dev).unwrap();
        assert!(frozen_mlp(&x, &gate_up, &down).is_err());
    }
}
