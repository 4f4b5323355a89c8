//! `x · Wᵀ` for a frozen weight `W`, as a custom op whose backward computes only the gradient
//! with respect to `x`.
//!
//! Why: candle's matmul backward always computes both operand gradients. For LoRA training the
//! base weights are frozen, so the `Wᵀ`-gradient GEMM of every projection (as expensive as the
//! forward product) would be computed and thrown away: a third of the linear-layer work of a
//! training step. PyTorch skips it (`requires_grad = False`); this op does the same.
//!
//! Only the CPU forward is implemented: other devices take the plain matmul (correct, slower).

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Result, Shape, Storage, Tensor};

struct FrozenMatmul {
    /// (out, in), dense.
    weight: Tensor,
}

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        // Re-wrap the input as an untracked tensor (a copy of its rows: cheap next to the GEMM).
        let x = match layout.contiguous_offsets() {
            Some((start, end)) => match storage {
                CpuStorage::F32(v) => {
                    Tensor::from_slice(&v[start..end], layout.shape(), &Device::Cpu)?
                }
                _ => candle_core::bail!("frozen-matmul: only f32 inputs on CPU"),
            },
            None => candle_core::bail!("frozen-matmul: input must be contiguous"),
        };
        let y = x.broadcast_matmul(&self.weight.t()?)?;
        let shape = y.shape().clone();
        let (out, out_layout) = y.storage_and_layout();
        match (&*out, out_layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F32(v)), Some((s, e))) => {
                Ok((CpuStorage::F32(v[s..e].to_vec()), shape))
            }
            _ => candle_core::bail!("frozen-matmul: unexpected output storage"),
        }
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.broadcast_matmul(&self.weight)?))
    }
}

/// `x` (…, in) · `weight`ᵀ → (…, out), never differentiating with respect to `weight`.
pub fn frozen_matmul(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let cpu_f32 = x.device().is_cpu()
        && x.dtype() == candle_core::DType::F32
        && weight.dtype() == candle_core::DType::F32;
    if x.track_op() && cpu_f32 {
        x.contiguous()?.apply_op1(FrozenMatmul {
            weight: weight.clone(),
        })
    } else {
        x.broadcast_matmul(&weight.t()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn forward_and_input_gradient_match_plain_matmul() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (5, 3), &dev).unwrap();
        let x0 = Tensor::randn(0f32, 1.0, (2, 4, 3), &dev).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (2, 4, 5), &dev).unwrap();

        let x = Var::from_tensor(&x0).unwrap();
        let y = frozen_matmul(x.as_tensor(), &w).unwrap();
        let g = (y.clone() * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gx = g.get(x.as_tensor()).unwrap().clone();

        let x2 = Var::from_tensor(&x0).unwrap();
        let y2 = x2.as_tensor().broadcast_matmul(&w.t().unwrap()).unwrap();
        let g2 = (y2.clone() * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gx2 = g2.get(x2.as_tensor()).unwrap();

        let d = |a: &Tensor, b: &Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert!(d(&y, &y2) < 1e-5);
        assert!(d(&gx, gx2) < 1e-5);
        // The frozen weight never appears in the gradient store.
        assert!(g.get(&w).is_none());
    }
}
