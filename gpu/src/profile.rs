//! Per-kernel GPU time from timestamp queries, for benchmarks (`GpuOptions::profile`): where a
//! forward pass spends its GPU time, as opposed to the wall time a caller sees (which adds
//! recording, submission and read-back). Native only: reading the timestamps blocks.

use crate::context::GpuContext;
use crate::error::Result;
use crate::kernels::Kernel;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// GPU time of one kernel over the batches since the last [`GpuContext::take_profile`].
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    /// The kernel and, for weight kernels, the weight format, e.g. `Matvec(Q4_1)`.
    pub kernel: String,
    pub dispatches: u64,
    /// Sum over dispatches of end-of-pass minus start-of-pass timestamps.
    pub gpu_ms: f64,
}

pub(crate) struct Profiler {
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
    totals: Mutex<BTreeMap<String, (u64, f64)>>,
}

impl Profiler {
    pub fn new(period_ns: f32) -> Profiler {
        Profiler {
            period_ns: f64::from(period_ns),
            totals: Mutex::new(BTreeMap::new()),
        }
    }

    /// Resolves the `queries` timestamps (a start and an end per dispatch, in the order of
    /// `kernels`) into a readable buffer, submits `enc` with it, waits, and adds them up.
    pub fn read_timestamps(
        &self,
        ctx: &GpuContext,
        mut enc: wgpu::CommandEncoder,
        set: &wgpu::QuerySet,
        queries: u32,
        kernels: &[Kernel],
    ) -> Result<()> {
        let device = ctx.device();
        let bytes = u64::from(queries.max(2)) * 8;
        let resolved = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readable = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if queries > 0 {
            enc.resolve_query_set(set, 0..queries, &resolved, 0);
        }
        enc.copy_buffer_to_buffer(&resolved, 0, &readable, 0, bytes);
        ctx.queue().submit([enc.finish()]);
        let ticks: Vec<u64> =
            ctx.map_read_blocking(&readable, |view| bytemuck::cast_slice(view).to_vec())?;
        let mut totals = match self.totals.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        for (kernel, pair) in kernels
            .iter()
            .zip(ticks[..queries as usize].chunks_exact(2))
        {
            let ns = pair[1].saturating_sub(pair[0]) as f64 * self.period_ns;
            let e = totals.entry(format!("{kernel:?}")).or_insert((0, 0.0));
            e.0 += 1;
            e.1 += ns / 1e6;
        }
        Ok(())
    }

    /// The totals so far, slowest kernel first, and resets them.
    pub fn take(&self) -> Vec<KernelTime> {
        let mut totals = match self.totals.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        let mut v: Vec<KernelTime> = std::mem::take(&mut *totals)
            .into_iter()
            .map(|(kernel, (dispatches, gpu_ms))| KernelTime {
                kernel,
                dispatches,
                gpu_ms,
            })
            .collect();
        v.sort_by(|a, b| b.gpu_ms.total_cmp(&a.gpu_ms));
        v
    }
}
