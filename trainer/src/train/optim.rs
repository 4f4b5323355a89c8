//! AdamW (decoupled weight decay, Loshchilov & Hutter) with bias correction, the warm-up +
//! cosine learning-rate schedule and global-norm gradient clipping. Written out rather than
//! taken from candle-nn because checkpoints must hold the moment estimates.

use super::config::OptimConfig;
use anyhow::Result;
use candle_core::{Tensor, Var};

pub struct AdamW {
    pub cfg: OptimConfig,
    /// First and second moment estimates, aligned with the parameters.
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    /// Updates applied so far.
    pub t: u64,
}

impl AdamW {
    pub fn new(params: &[&Var], cfg: &OptimConfig) -> Result<Self> {
        let zeros = |p: &&Var| p.as_tensor().zeros_like();
        Ok(AdamW {
            cfg: cfg.clone(),
            m: params
                .iter()
                .map(zeros)
                .collect::<candle_core::Result<_>>()?,
            v: params
                .iter()
                .map(zeros)
                .collect::<candle_core::Result<_>>()?,
            t: 0,
        })
    }

    /// One update of every parameter with its gradient at learning rate `lr`.
    pub fn step(&mut self, params: &[&Var], grads: &[Tensor], lr: f64) -> Result<()> {
        let c = &self.cfg;
        self.t += 1;
        let bias1 = 1.0 - c.beta1.powi(self.t as i32);
        let bias2 = 1.0 - c.beta2.powi(self.t as i32);
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            self.m[i] = ((&self.m[i] * c.beta1)? + (g * (1.0 - c.beta1))?)?;
            self.v[i] = ((&self.v[i] * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let m_hat = (&self.m[i] / bias1)?;
            let v_hat = (&self.v[i] / bias2)?;
            let mut update = (m_hat / (v_hat.sqrt()? + c.eps)?)?;
            if c.weight_decay > 0.0 {
                update = (update + (p.as_tensor() * c.weight_decay)?)?;
            }
            p.set(&(p.as_tensor() - (update * lr)?)?)?;
        }
        Ok(())
    }
}

/// Learning rate of optimizer step `step` (0-based) out of `total`: linear warm-up over the
/// first `warmup_ratio` of the steps, then cosine decay from `lr` to `lr · min_lr_ratio`.
pub fn learning_rate(cfg: &OptimConfig, step: usize, total: usize) -> f64 {
    let warmup = (cfg.warmup_ratio * total as f64).ceil() as usize;
    if step < warmup {
        return cfg.lr * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).min(1.0);
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    cfg.lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine)
}

/// Global L2 norm of `grads`; when above `max_norm` (> 0) they are scaled down to it.
pub fn clip_global_norm(grads: &mut [Tensor], max_norm: f64) -> Result<f64> {
    let mut sq = 0.0f64;
    for g in grads.iter() {
        sq += g
            .sqr()?
            .sum_all()?
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?;
    }
    let norm = sq.sqrt();
    if max_norm > 0.0 && norm > max_norm && norm.is_finite() {
        let scale = max_norm / norm;
        for g in grads.iter_mut() {
            *g = (&*g * scale)?;
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        let cfg = OptimConfig {
            lr: 1.0,
            warmup_ratio: 0.1,
            min_lr_ratio: 0.1,
            ..Default::default()
        };
        assert!((learning_rate(&cfg, 0, 100) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&cfg, 9, 100) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 10, 100) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 55, 100) - 0.55).abs() < 1e-12);
        assert!((learning_rate(&cfg, 100, 100) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn adamw_first_step_moves_each_weight_by_lr() {
        // With bias correction the first update is lr · g/|g| (+ eps).
        let p = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &Device::Cpu).unwrap()).unwrap();
        let cfg = OptimConfig::default();
        let mut opt = AdamW::new(&[&p], &cfg).unwrap();
        let g = Tensor::new(&[0.5f32, -3.0], &Device::Cpu).unwrap();
        opt.step(&[&p], &[g], 0.1).unwrap();
        let v = p.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (v[0] - 0.9).abs() < 1e-6 && (v[1] + 1.9).abs() < 1e-6,
            "{v:?}"
        );
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let mut g = vec![Tensor::new(&[3.0f32, 4.0], &Device::Cpu).unwrap()];
        assert!((clip_global_norm(&mut g, 1.0).unwrap() - 5.0).abs() < 1e-9);
        let v = g[0].to_vec1::<f32>().unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }
}
