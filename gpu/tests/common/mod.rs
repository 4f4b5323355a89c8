//! Shared by the GPU tests: getting a device (or failing with the fix), seeded random data.
#![allow(dead_code)]

use alro_gpu::{GpuContext, GpuOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A device, or `None` when `ALRO_SKIP_GPU_TESTS=1`. Without an adapter the test fails, saying
/// how to get one: a silently skipped GPU test is a test that never runs.
pub fn ctx_with(options: GpuOptions) -> Option<GpuContext> {
    if std::env::var("ALRO_SKIP_GPU_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipping GPU test: ALRO_SKIP_GPU_TESTS=1");
        return None;
    }
    match pollster::block_on(GpuContext::new(options)) {
        Ok(c) => Some(c),
        Err(e) => panic!(
            "no GPU adapter for alro-gpu's tests: {e}\n\
             Install a software Vulkan driver (`apt-get install mesa-vulkan-drivers libvulkan1`, \
             or run scripts/setup.sh), or set ALRO_SKIP_GPU_TESTS=1 to skip these tests."
        ),
    }
}

pub fn ctx() -> Option<GpuContext> {
    ctx_with(GpuOptions::default())
}

/// A device that pretends buffers may hold at most `bytes` and dispatch grids at most `groups`
/// workgroups per dimension, so the split and 2D-grid paths run on any machine.
pub fn small_ctx(bytes: u64, groups: u32) -> Option<GpuContext> {
    ctx_with(GpuOptions {
        max_buffer_bytes: Some(bytes),
        max_workgroups_per_dimension: Some(groups),
        ..Default::default()
    })
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Uniform in [-scale, scale).
pub fn random(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| scale * (rng.random::<f32>() * 2.0 - 1.0))
        .collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
