//! The WGSL kernels, their pipelines, and [`Batch`]: records a sequence of dispatches and copies
//! into one command buffer.

use crate::context::GpuContext;
use crate::error::{GpuError, Result};
use crate::weights::{GpuWeight, WeightType};
use std::collections::HashMap;
use std::sync::Mutex;

const BYTES: &str = include_str!("shaders/bytes.wgsl");
const WEIGHT_F32: &str = include_str!("shaders/weight_f32.wgsl");
const WEIGHT_Q8_0: &str = include_str!("shaders/weight_q8_0.wgsl");
const WEIGHT_Q4_0: &str = include_str!("shaders/weight_q4_0.wgsl");
const WEIGHT_Q4_1: &str = include_str!("shaders/weight_q4_1.wgsl");
const WEIGHT_Q4_K: &str = include_str!("shaders/weight_q4_k.wgsl");
const MATMUL: &str = include_str!("shaders/matmul.wgsl");
const MATVEC: &str = include_str!("shaders/matvec.wgsl");
const EMBEDDING: &str = include_str!("shaders/embedding.wgsl");
const RMS_NORM: &str = include_str!("shaders/rms_norm.wgsl");
const ROPE: &str = include_str!("shaders/rope.wgsl");
const ATTENTION: &str = include_str!("shaders/attention.wgsl");
const SILU_MUL: &str = include_str!("shaders/silu_mul.wgsl");
const ADD: &str = include_str!("shaders/add.wgsl");

/// Largest input-row count that takes the matrix-vector kernel; more rows take the tiled GEMM.
pub const MATVEC_MAX_ROWS: usize = 8;
/// Largest head dimension the attention kernel supports (4 output dims per thread × 64).
pub const MAX_HEAD_DIM: usize = 256;

/// One compiled kernel. The weight-reading kernels exist once per weight format: the format's
/// `load_w8` is prepended to the driver's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    Matmul(WeightType),
    Matvec(WeightType),
    Embedding(WeightType),
    RmsNorm,
    Rope,
    Attention,
    SiluMul,
    Add,
}

impl Kernel {
    fn source(self) -> String {
        let weight = |t: WeightType| -> String {
            match t {
                WeightType::F32 => WEIGHT_F32.to_string(),
                WeightType::Q8_0 => format!("{BYTES}\n{WEIGHT_Q8_0}"),
                WeightType::Q4_0 => format!("{BYTES}\n{WEIGHT_Q4_0}"),
                WeightType::Q4_1 => WEIGHT_Q4_1.to_string(),
                WeightType::Q4K => WEIGHT_Q4_K.to_string(),
            }
        };
        match self {
            Kernel::Matmul(t) => format!("{MATMUL}\n{}", weight(t)),
            Kernel::Matvec(t) => format!("{MATVEC}\n{}", weight(t)),
            Kernel::Embedding(t) => format!("{EMBEDDING}\n{}", weight(t)),
            Kernel::RmsNorm => RMS_NORM.into(),
            Kernel::Rope => ROPE.into(),
            Kernel::Attention => ATTENTION.into(),
            Kernel::SiluMul => SILU_MUL.into(),
            Kernel::Add => ADD.into(),
        }
    }
}

/// Pipelines compiled on first use (a model uses two or three weight formats of five).
#[derive(Default)]
pub(crate) struct Pipelines(Mutex<HashMap<Kernel, wgpu::ComputePipeline>>);

impl Pipelines {
    pub fn get(&self, device: &wgpu::Device, kernel: Kernel) -> wgpu::ComputePipeline {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.entry(kernel)
            .or_insert_with(|| {
                let label = format!("{kernel:?}");
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
                });
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .clone()
    }
}

/// Rotary pairing, as in `alro_core::model::RopeLayout`.
pub use alro_core::model::RopeLayout;

enum Op {
    Dispatch {
        kernel: Kernel,
        /// Bindings 1.. (binding 0 is the parameter block).
        buffers: Vec<wgpu::Buffer>,
        params: [u32; 8],
        groups: (u32, u32),
    },
    Copy {
        src: wgpu::Buffer,
        src_offset: u64,
        dst: wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    },
}

/// A recorded sequence of kernel launches and buffer copies, submitted as one command buffer.
/// Every launch checks its sizes against the buffers and the device limits here, on the CPU,
/// so a mistake is an error rather than an out-of-bounds GPU access.
pub struct Batch {
    ctx: GpuContext,
    ops: Vec<Op>,
}

fn len_f32(b: &wgpu::Buffer) -> u64 {
    b.size() / 4
}

impl Batch {
    pub fn new(ctx: &GpuContext) -> Batch {
        Batch {
            ctx: ctx.clone(),
            ops: Vec::new(),
        }
    }

    /// A 1D count of workgroups folded into a 2D grid within the per-dimension limit; the
    /// kernels rebuild the flat index as `x + y * groups_x`.
    fn grid(&self, total: u64) -> Result<(u32, u32)> {
        let max = u64::from(self.ctx.info().max_compute_workgroups_per_dimension).max(1);
        let x = total.clamp(1, max);
        let y = total.div_ceil(x).max(1);
        if y > max {
            return Err(GpuError::TooLarge {
                what: format!("a dispatch of {total} workgroups"),
                bytes: total,
                limit: max * max,
            });
        }
        Ok((x as u32, y as u32))
    }

    fn need(&self, what: &str, buf: &wgpu::Buffer, elems: u64) -> Result<()> {
        if len_f32(buf) < elems {
            return Err(GpuError::Input(format!(
                "{what}: buffer holds {} elements, the launch needs {elems}",
                len_f32(buf)
            )));
        }
        Ok(())
    }

    fn push(&mut self, kernel: Kernel, buffers: Vec<wgpu::Buffer>, params: [u32; 8], groups: (u32, u32)) {
        self.ops.push(Op::Dispatch {
            kernel,
            buffers,
            params,
            groups,
        });
    }

    /// y (n, y_stride)[:, col0 .. col0 + weight.rows] = x (n, k) · Wᵀ, one dispatch per row chunk
    /// of the weight. `y_stride` is usually `weight.rows`.
    pub fn matmul(
        &mut self,
        weight: &GpuWeight,
        x: &wgpu::Buffer,
        n: usize,
        y: &wgpu::Buffer,
    ) -> Result<()> {
        let (k, rows) = (weight.k as u64, weight.rows as u64);
        let n64 = n as u64;
        self.need("matmul input", x, n64 * k)?;
        self.need("matmul output", y, n64 * rows)?;
        if n == 0 {
            return Ok(());
        }
        for c in &weight.chunks {
            let r = c.rows as u64;
            let (kernel, total) = if n <= MATVEC_MAX_ROWS {
                (Kernel::Matvec(weight.wtype), r.div_ceil(8))
            } else {
                (Kernel::Matmul(weight.wtype), n64.div_ceil(32) * r.div_ceil(32))
            };
            let g = self.grid(total)?;
            let params = [n as u32, k as u32, c.rows as u32, rows as u32, c.row0 as u32, g.0, 0, 0];
            self.push(kernel, vec![c.buffer.clone(), x.clone(), y.clone()], params, g);
        }
        Ok(())
    }

    /// out (n, k) = rows `ids` of the embedding matrix. Ids must be < weight.rows (checked by the
    /// caller, which knows them on the CPU).
    pub fn embedding(
        &mut self,
        weight: &GpuWeight,
        ids: &wgpu::Buffer,
        n: usize,
        out: &wgpu::Buffer,
    ) -> Result<()> {
        if (ids.size() / 4) < n as u64 {
            return Err(GpuError::Input("embedding: fewer ids than tokens".into()));
        }
        self.need("embedding output", out, (n * weight.k) as u64)?;
        if n == 0 {
            return Ok(());
        }
        let g = self.grid(n as u64)?;
        for c in &weight.chunks {
            let params = [n as u32, weight.k as u32, c.row0 as u32, c.rows as u32, g.0, 0, 0, 0];
            self.push(
                Kernel::Embedding(weight.wtype),
                vec![c.buffer.clone(), ids.clone(), out.clone()],
                params,
                g,
            );
        }
        Ok(())
    }

    /// y (rows, dim) = rms_norm(x) · weight.
    pub fn rms_norm(
        &mut self,
        x: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        y: &wgpu::Buffer,
        rows: usize,
        dim: usize,
        eps: f32,
    ) -> Result<()> {
        let e = (rows * dim) as u64;
        self.need("rms_norm input", x, e)?;
        self.need("rms_norm weight", weight, dim as u64)?;
        self.need("rms_norm output", y, e)?;
        if rows == 0 {
            return Ok(());
        }
        let g = self.grid(rows as u64)?;
        let params = [rows as u32, dim as u32, eps.to_bits(), g.0, 0, 0, 0, 0];
        self.push(Kernel::RmsNorm, vec![x.clone(), weight.clone(), y.clone()], params, g);
        Ok(())
    }

    /// Rotates x (n, heads, head_dim) in place by the angles whose cos/sin (n, head_dim/2) are
    /// given (see [`crate::rope_tables`]).
    #[allow(clippy::too_many_arguments)]
    pub fn rope(
        &mut self,
        x: &wgpu::Buffer,
        cos: &wgpu::Buffer,
        sin: &wgpu::Buffer,
        n: usize,
        heads: usize,
        head_dim: usize,
        layout: RopeLayout,
    ) -> Result<()> {
        if head_dim % 2 != 0 {
            return Err(GpuError::Input(format!("rope: odd head dimension {head_dim}")));
        }
        self.need("rope input", x, (n * heads * head_dim) as u64)?;
        self.need("rope cos", cos, (n * head_dim / 2) as u64)?;
        self.need("rope sin", sin, (n * head_dim / 2) as u64)?;
        let pairs = (n * heads * head_dim / 2) as u64;
        if pairs == 0 {
            return Ok(());
        }
        let g = self.grid(pairs.div_ceil(64))?;
        let interleaved = u32::from(layout == RopeLayout::Interleaved);
        let params = [n as u32, heads as u32, head_dim as u32, interleaved, g.0, 0, 0, 0];
        self.push(Kernel::Rope, vec![x.clone(), cos.clone(), sin.clone()], params, g);
        Ok(())
    }

    /// out (n, heads, head_dim) = causal softmax(q·Kᵀ/√d)·V for queries at absolute positions
    /// start .. start+n, against caches (≥ start+n, kv_heads, head_dim) already holding them.
    #[allow(clippy::too_many_arguments)]
    pub fn attention(
        &mut self,
        q: &wgpu::Buffer,
        k_cache: &wgpu::Buffer,
        v_cache: &wgpu::Buffer,
        out: &wgpu::Buffer,
        n: usize,
        start: usize,
        heads: usize,
        kv_heads: usize,
        head_dim: usize,
    ) -> Result<()> {
        if kv_heads == 0 || heads % kv_heads != 0 || head_dim > MAX_HEAD_DIM || head_dim == 0 {
            return Err(GpuError::Input(format!(
                "attention: {heads} heads over {kv_heads} kv heads of dimension {head_dim} \
                 (heads must be a multiple of kv heads, dimension 1..={MAX_HEAD_DIM})"
            )));
        }
        let qe = (n * heads * head_dim) as u64;
        let kve = ((start + n) * kv_heads * head_dim) as u64;
        self.need("attention queries", q, qe)?;
        self.need("attention key cache", k_cache, kve)?;
        self.need("attention value cache", v_cache, kve)?;
        self.need("attention output", out, qe)?;
        if n == 0 {
            return Ok(());
        }
        let g = self.grid((n * heads) as u64)?;
        let scale = (1.0 / (head_dim as f64).sqrt()) as f32;
        let params = [
            n as u32,
            heads as u32,
            kv_heads as u32,
            head_dim as u32,
            start as u32,
            scale.to_bits(),
            g.0,
            0,
        ];
        self.push(
            Kernel::Attention,
            vec![q.clone(), k_cache.clone(), v_cache.clone(), out.clone()],
            params,
            g,
        );
        Ok(())
    }

    /// gate[..len] = silu(gate) · up.
    pub fn silu_mul(&mut self, gate: &wgpu::Buffer, up: &wgpu::Buffer, len: usize) -> Result<()> {
        self.elementwise(Kernel::SiluMul, gate, up, len)
    }

    /// x[..len] += y.
    pub fn add(&mut self, x: &wgpu::Buffer, y: &wgpu::Buffer, len: usize) -> Result<()> {
        self.elementwise(Kernel::Add, x, y, len)
    }

    fn elementwise(&mut self, kernel: Kernel, a: &wgpu::Buffer, b: &wgpu::Buffer, len: usize) -> Result<()> {
        self.need("elementwise operand", a, len as u64)?;
        self.need("elementwise operand", b, len as u64)?;
        if len == 0 {
            return Ok(());
        }
        let g = self.grid((len as u64).div_ceil(64))?;
        self.push(kernel, vec![a.clone(), b.clone()], [len as u32, g.0, 0, 0, 0, 0, 0, 0], g);
        Ok(())
    }

    /// Copies `elems` f32 from src[src_at..] to dst[dst_at..].
    pub fn copy(
        &mut self,
        src: &wgpu::Buffer,
        src_at: usize,
        dst: &wgpu::Buffer,
        dst_at: usize,
        elems: usize,
    ) -> Result<()> {
        self.need("copy source", src, (src_at + elems) as u64)?;
        self.need("copy destination", dst, (dst_at + elems) as u64)?;
        if elems > 0 {
            self.ops.push(Op::Copy {
                src: src.clone(),
                src_offset: src_at as u64 * 4,
                dst: dst.clone(),
                dst_offset: dst_at as u64 * 4,
                bytes: elems as u64 * 4,
            });
        }
        Ok(())
    }

    /// Encodes everything and submits it. All parameter blocks go into one uniform buffer, one
    /// aligned slot per dispatch, so a forward pass creates one small buffer instead of hundreds.
    pub fn submit(self) -> Result<()> {
        let ctx = &self.ctx;
        ctx.check()?;
        let device = ctx.device();
        let align = ctx.inner.uniform_align;
        let dispatches = self
            .ops
            .iter()
            .filter(|o| matches!(o, Op::Dispatch { .. }))
            .count() as u64;
        let mut param_bytes = vec![0u8; (dispatches.max(1) * align) as usize];
        let mut slot = 0u64;
        for op in &self.ops {
            if let Op::Dispatch { params, .. } = op {
                let at = (slot * align) as usize;
                param_bytes[at..at + 32].copy_from_slice(bytemuck::cast_slice(params));
                slot += 1;
            }
        }
        if param_bytes.len() as u64 > ctx.info().max_buffer_size {
            return Err(GpuError::TooLarge {
                what: "the parameter block of one batch".into(),
                bytes: param_bytes.len() as u64,
                limit: ctx.info().max_buffer_size,
            });
        }
        let params = wgpu::util::DeviceExt::create_buffer_init(
            device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: &param_bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            },
        );
        let mut enc = device.create_command_encoder(&Default::default());
        let mut slot = 0u64;
        let mut i = 0;
        while i < self.ops.len() {
            match &self.ops[i] {
                Op::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    bytes,
                } => {
                    enc.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *bytes);
                    i += 1;
                }
                Op::Dispatch { .. } => {
                    // Consecutive dispatches share one compute pass; wgpu orders them with the
                    // barriers their storage usages require.
                    let mut pass = enc.begin_compute_pass(&Default::default());
                    while let Some(Op::Dispatch {
                        kernel,
                        buffers,
                        groups,
                        ..
                    }) = self.ops.get(i)
                    {
                        let pipeline = ctx.pipeline(*kernel);
                        let layout = pipeline.get_bind_group_layout(0);
                        let mut entries = vec![wgpu::BindGroupEntry {
                            binding: 0,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &params,
                                offset: slot * align,
                                size: wgpu::BufferSize::new(32),
                            }),
                        }];
                        for (b, buf) in buffers.iter().enumerate() {
                            entries.push(wgpu::BindGroupEntry {
                                binding: b as u32 + 1,
                                resource: buf.as_entire_binding(),
                            });
                        }
                        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: None,
                            layout: &layout,
                            entries: &entries,
                        });
                        pass.set_pipeline(&pipeline);
                        pass.set_bind_group(0, &bind, &[]);
                        pass.dispatch_workgroups(groups.0, groups.1, 1);
                        slot += 1;
                        i += 1;
                    }
                }
            }
        }
        ctx.queue().submit([enc.finish()]);
        ctx.check()
    }
}
