//! Projections that read the same input — q/k/v of an attention, gate/up of an MLP — multiplied
//! as one stacked dense matrix when the frozen base is dense (training precision).
//!
//! Why: one (rows × in)·(in × Σout) product instead of two or three packs the input once and keeps
//! the GEMM's cores busier; in the backward the input gradient is one product too, instead of
//! one per projection plus the additions that merge them. The projections' own weights become
//! row views of the stack, so it costs no memory. A projection replaced afterwards (say, by a
//! merged LoRA weight) is detected and the model falls back to separate products.

use super::frozen::frozen_matmul;
use super::linear::Linear;
use candle_core::quantized::QMatMul;
use candle_core::{Result, Tensor, TensorId, D};

#[derive(Debug, Clone)]
pub struct Stacked {
    /// (Σ out, in), the parts' rows one after another.
    weight: Tensor,
    /// Each part's weight view (by id, to detect replacement) and its output width.
    parts: Vec<(TensorId, usize)>,
}

impl Stacked {
    /// Stacks the dense weights of `parts` and makes each part's weight a view of its rows.
    /// None (nothing changed) unless every part is a dense 2-D matrix of the same input width.
    pub fn stack(parts: &mut [&mut Linear]) -> Result<Option<Stacked>> {
        let mut weights = Vec::with_capacity(parts.len());
        for p in parts.iter() {
            match &p.weight {
                QMatMul::Tensor(w) if w.rank() == 2 => weights.push(w.clone()),
                _ => return Ok(None),
            }
        }
        let Some(first) = weights.first() else {
            return Ok(None);
        };
        let (in_dim, dtype) = (first.dim(1)?, first.dtype());
        if weights
            .iter()
            .any(|w| w.dim(1).ok() != Some(in_dim) || w.dtype() != dtype)
        {
            return Ok(None);
        }
        let weight = Tensor::cat(&weights, 0)?;
        let mut stacked = Stacked {
            weight,
            parts: Vec::with_capacity(parts.len()),
        };
        let mut row = 0;
        for (p, w) in parts.iter_mut().zip(&weights) {
            let n = w.dim(0)?;
            let view = stacked.weight.narrow(0, row, n)?;
            stacked.parts.push((view.id(), n));
            p.weight = QMatMul::Tensor(view);
            row += n;
        }
        Ok(Some(stacked))
    }

    /// The stacked weight (parts' rows in order), if `parts` (the same projections, in the same
    /// order, as stacked) still hold their stacked views.
    pub fn weight_of(&self, parts: &[&Linear]) -> Option<&Tensor> {
        let intact = parts.len() == self.parts.len()
            && parts
                .iter()
                .zip(&self.parts)
                .all(|(p, (id, _))| matches!(&p.weight, QMatMul::Tensor(w) if w.id() == *id));
        intact.then_some(&self.weight)
    }

    /// The outputs of `parts` (the same projections, in the same order, as stacked) for `x`,
    /// through one product; None when a part's weight is no longer its stacked view.
    pub fn forward(&self, x: &Tensor, parts: &[&Linear]) -> Result<Option<Vec<Tensor>>> {
        let Some(weight) = self.weight_of(parts) else {
            return Ok(None);
        };
        let y = frozen_matmul(x, weight)?;
        let mut out = Vec::with_capacity(parts.len());
        let mut col = 0;
        for (p, (_, n)) in parts.iter().zip(&self.parts) {
            out.push(p.add_lora(x, y.narrow(D::Minus1, col, *n)?)?);
            col += n;
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn linear(out: usize, inp: usize, seed: f64) -> Linear {
        let w = Tensor::arange(0f32, (out * inp) as f32, &Device::Cpu)
            .unwrap()
            .affine(0.01 * seed, -0.3)
            .unwrap()
            .sin()
            .unwrap()
            .reshape((out, inp))
            .unwrap();
        Linear::new(QMatMul::Tensor(w))
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
    fn stacked_outputs_and_input_gradient_equal_separate_products() {
        let (mut a, mut b) = (linear(5, 4, 1.0), linear(3, 4, 2.0));
        let (a0, b0) = (a.clone(), b.clone());
        let stacked = Stacked::stack(&mut [&mut a, &mut b]).unwrap().unwrap();
        let x0 = Tensor::randn(0f32, 1.0, (2, 6, 4), &Device::Cpu).unwrap();

        let x = Var::from_tensor(&x0).unwrap();
        let ys = stacked
            .forward(x.as_tensor(), &[&a, &b])
            .unwrap()
            .expect("intact");
        let loss = (ys[0].sum_all().unwrap() + ys[1].sqr().unwrap().sum_all().unwrap()).unwrap();
        let g = loss.backward().unwrap();
        let gx = g.get(x.as_tensor()).unwrap().clone();

        let x2 = Var::from_tensor(&x0).unwrap();
        let (y0, y1) = (
            a0.forward(x2.as_tensor()).unwrap(),
            b0.forward(x2.as_tensor()).unwrap(),
        );
        let loss2 = (y0.sum_all().unwrap() + y1.sqr().unwrap().sum_all().unwrap()).unwrap();
        let g2 = loss2.backward().unwrap();
        assert!(max_diff(&ys[0], &y0) < 1e-5);
        assert!(max_diff(&ys[1], &y1) < 1e-5);
        assert!(max_diff(&gx, g2.get(x2.as_tensor()).unwrap()) < 1e-4);
    }

    #[test]
    fn a_replaced_part_turns_the_stack_off() {
        let (mut a, mut b) = (linear(5, 4, 1.0), linear(3, 4, 2.0));
        let stacked = Stacked::stack(&mut [&mut a, &mut b]).unwrap().unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, 3, 4), &Device::Cpu).unwrap();
        assert!(stacked.forward(&x, &[&a, &b]).unwrap().is_some());
        b = linear(3, 4, 3.0);
        assert!(stacked.forward(&x, &[&a, &b]).unwrap().is_none());
    }
}
