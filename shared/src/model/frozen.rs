//! `x · Wᵀ` for a frozen weight `W`, as a custom op whose backward computes only the gradient
//! with respect to `x`.
//!
//! Why: candle's matmul backward always computes both operand gradients. For LoRA training the
//! base weights are frozen, so the `Wᵀ`-gradient GEMM of every projection (as expensive as the
//! forward product) would be computed and thrown away: a third of the linear-layer work of a
//! training step. PyTorch skips it (`requires_grad = False`); this op does the same.
//!
//! Only CPU f32 with the `train` feature takes the op, which calls the GEMM directly on the
//! tensors' buffers (no copies of `x` or `y`); other devices and builds take the plain matmul
//! (correct, slower).

use candle_core::{Result, Tensor};

/// `x` (…, in) · `weight`ᵀ → (…, out), never differentiating with respect to `weight`.
pub fn frozen_matmul(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "train")]
    if native::supports(x, weight) {
        return native::frozen_matmul(x, weight);
    }
    x.broadcast_matmul(&weight.t()?)
}

#[cfg(feature = "train")]
mod native {
    use super::super::cpu_gemm::{gemm_into, Mat, Threads};
    use super::super::grad_ops::F32Values;
    use candle_core::{CpuStorage, CustomOp1, Device, Layout, Result, Shape, Storage, Tensor};

    struct FrozenMatmul {
        /// (out, in), dense.
        weight: Tensor,
    }

    /// `x` (rows × k, row-major) times `w` viewed as (k × n): `transpose_w` reads the (n, k)
    /// weight as its transpose (forward), otherwise the (k, n) weight as is (backward).
    fn product(x: &[f32], rows: usize, weight: &Tensor, transpose_w: bool) -> Result<Vec<f32>> {
        let (w_rows, w_cols) = weight.dims2()?;
        let (k, n) = if transpose_w {
            (w_cols, w_rows)
        } else {
            (w_rows, w_cols)
        };
        let (storage, layout) = weight.storage_and_layout();
        let w = match (&*storage, layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F32(v)), Some((s, e))) => &v[s..e],
            _ => {
                candle_core::bail!("frozen-matmul: the weight must be a contiguous f32 CPU tensor")
            }
        };
        if x.len() != rows * k {
            candle_core::bail!(
                "frozen-matmul: input of {} values is not {rows}×{k}",
                x.len()
            );
        }
        let rhs = if transpose_w {
            Mat::transposed(w, 0, w_cols)
        } else {
            Mat::rows(w, 0, w_cols)
        };
        let mut out = vec![0f32; rows * n];
        gemm_into(
            &mut out,
            n,
            (rows, n, k),
            Mat::rows(x, 0, k),
            rhs,
            1.0,
            false,
            Threads::All,
        );
        Ok(out)
    }

    impl CustomOp1 for FrozenMatmul {
        fn name(&self) -> &'static str {
            "frozen-matmul"
        }

        fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
            let x = match (storage, layout.contiguous_offsets()) {
                (CpuStorage::F32(v), Some((start, end))) => &v[start..end],
                (CpuStorage::F32(_), None) => {
                    candle_core::bail!("frozen-matmul: input must be contiguous")
                }
                _ => candle_core::bail!("frozen-matmul: only f32 inputs on CPU"),
            };
            let in_dim = layout.dims().last().copied().unwrap_or(1);
            let out_dim = self.weight.dim(0)?;
            let y = product(x, x.len() / in_dim.max(1), &self.weight, true)?;
            let mut shape = layout.dims().to_vec();
            *shape.last_mut().expect("x has a last dimension") = out_dim;
            Ok((CpuStorage::F32(y), Shape::from(shape)))
        }

        fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
            let grad = grad_res.contiguous()?;
            let g = F32Values::of(&grad)?;
            let out_dim = self.weight.dim(0)?;
            let dx = product(&g, g.len() / out_dim.max(1), &self.weight, false)?;
            Ok(Some(Tensor::from_vec(dx, arg.shape(), &Device::Cpu)?))
        }
    }

    pub fn supports(x: &Tensor, weight: &Tensor) -> bool {
        x.device().is_cpu()
            && x.dtype() == candle_core::DType::F32
            && weight.dtype() == candle_core::DType::F32
            && weight.rank() == 2
            && weight.is_contiguous()
    }

    pub fn frozen_matmul(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(FrozenMatmul {
            weight: weight.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

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
