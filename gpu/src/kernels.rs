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
const ATTENTION_COMBINE: &str = include_str!("shaders/attention_combine.wgsl");
const SILU_MUL: &str = include_str!("shaders/silu_mul.wgsl");
const ADD: &str = include_str!("shaders/add.wgsl");

/// Largest input-row count that takes the matrix-vector kernel; more rows take the tiled GEMM.
pub const MATVEC_MAX_ROWS: usize = 8;
/// Weight rows per matrix-vector workgroup (64 threads / `LANES` in matvec.wgsl).
const MATVEC_ROWS_PER_WORKGROUP: u64 = 2;
/// Largest head dimension the attention kernel supports (4 output dims per thread × 64).
pub const MAX_HEAD_DIM: usize = 256;
/// Most key ranges one (query, head) of attention is split into (see [`Batch::attention`]).
pub const MAX_ATTENTION_SPLITS: usize = 32;
/// Below this many (query, head) workgroups, attention splits the keys: a decode step has only
/// `heads` of them, too few to fill a GPU, each walking the whole cache alone.
const SPLIT_BELOW_WORKGROUPS: usize = 128;
/// Bytes of one dispatch's parameter block (16 u32; kernels read a prefix).
pub(crate) const PARAM_BYTES: u64 = 64;
type Params = [u32; 16];

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
    AttentionCombine,
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
            Kernel::AttentionCombine => ATTENTION_COMBINE.into(),
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
        params: Params,
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

/// How [`Batch::attention`] splits the keys of `rows` (query, head) pairs over a cache of
/// `visible` positions into at most `most` ranges: (ranges, keys per range). One range when
/// there are enough workgroups already.
fn attention_split(rows: usize, visible: usize, most: usize) -> (usize, usize) {
    let most = most.min(MAX_ATTENTION_SPLITS);
    if rows >= SPLIT_BELOW_WORKGROUPS || visible <= 64 || most < 2 {
        return (1, 0);
    }
    let splits = visible.div_ceil(64).min(most);
    let span = visible.div_ceil(splits).next_multiple_of(64);
    (visible.div_ceil(span), span)
}

/// Elements of the `partials` buffer that lets [`Batch::attention`] split the keys of `n`
/// queries as far as it would (0: it would not split them). A smaller buffer means fewer
/// ranges.
pub fn attention_partials_len(n: usize, heads: usize, head_dim: usize) -> usize {
    if n * heads >= SPLIT_BELOW_WORKGROUPS {
        0
    } else {
        n * heads * MAX_ATTENTION_SPLITS * (head_dim + 2)
    }
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

    fn push(
        &mut self,
        kernel: Kernel,
        buffers: Vec<wgpu::Buffer>,
        params: &[u32],
        groups: (u32, u32),
    ) {
        let mut block = Params::default();
        block[..params.len()].copy_from_slice(params);
        self.ops.push(Op::Dispatch {
            kernel,
            buffers,
            params: block,
            groups,
        });
    }

    /// y (n, weight.rows) = x (n, k) · Wᵀ, one dispatch per row chunk of the weight.
    pub fn matmul(
        &mut self,
        weight: &GpuWeight,
        x: &wgpu::Buffer,
        n: usize,
        y: &wgpu::Buffer,
    ) -> Result<()> {
        self.linear(weight, x, n, y, false)
    }

    /// y (n, weight.rows) += x (n, k) · Wᵀ: a projection and its residual connection in one
    /// dispatch.
    pub fn matmul_add(
        &mut self,
        weight: &GpuWeight,
        x: &wgpu::Buffer,
        n: usize,
        y: &wgpu::Buffer,
    ) -> Result<()> {
        self.linear(weight, x, n, y, true)
    }

    fn linear(
        &mut self,
        weight: &GpuWeight,
        x: &wgpu::Buffer,
        n: usize,
        y: &wgpu::Buffer,
        accumulate: bool,
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
                (
                    Kernel::Matvec(weight.wtype),
                    r.div_ceil(MATVEC_ROWS_PER_WORKGROUP),
                )
            } else {
                (
                    Kernel::Matmul(weight.wtype),
                    n64.div_ceil(32) * r.div_ceil(32),
                )
            };
            let g = self.grid(total)?;
            let params = [
                n as u32,
                k as u32,
                c.rows as u32,
                rows as u32,
                c.row0 as u32,
                g.0,
                u32::from(accumulate),
            ];
            self.push(
                kernel,
                vec![c.buffer.clone(), x.clone(), y.clone()],
                &params,
                g,
            );
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
            let params = [n as u32, weight.k as u32, c.row0 as u32, c.rows as u32, g.0];
            self.push(
                Kernel::Embedding(weight.wtype),
                vec![c.buffer.clone(), ids.clone(), out.clone()],
                &params,
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
        let params = [rows as u32, dim as u32, eps.to_bits(), g.0];
        self.push(
            Kernel::RmsNorm,
            vec![x.clone(), weight.clone(), y.clone()],
            &params,
            g,
        );
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
            return Err(GpuError::Input(format!(
                "rope: odd head dimension {head_dim}"
            )));
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
        let params = [n as u32, heads as u32, head_dim as u32, interleaved, g.0];
        self.push(
            Kernel::Rope,
            vec![x.clone(), cos.clone(), sin.clone()],
            &params,
            g,
        );
        Ok(())
    }

    /// out (n, heads, head_dim) = causal softmax(q·Kᵀ/√d)·V for queries at absolute positions
    /// start .. start+n, against caches (≥ start+n, kv_heads, head_dim) already holding them.
    ///
    /// With `partials` (at least [`attention_partials_len`] elements) and few (query, head)
    /// pairs, as in a decode step, the keys are split into ranges walked by separate
    /// workgroups and merged by a second kernel; without it, one workgroup walks all keys.
    #[allow(clippy::too_many_arguments)]
    pub fn attention(
        &mut self,
        q: &wgpu::Buffer,
        k_cache: &wgpu::Buffer,
        v_cache: &wgpu::Buffer,
        out: &wgpu::Buffer,
        partials: Option<&wgpu::Buffer>,
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
        let rows = n * heads;
        // As many ranges as the partials buffer holds, at most.
        let (splits, span) = match partials {
            Some(p) => attention_split(
                rows,
                start + n,
                len_f32(p) as usize / (rows * (head_dim + 2)),
            ),
            None => (1, 0),
        };
        let scale = (1.0 / (head_dim as f64).sqrt()) as f32;
        let g = self.grid((rows * splits) as u64)?;
        let mut params = [
            n as u32,
            heads as u32,
            kv_heads as u32,
            head_dim as u32,
            start as u32,
            scale.to_bits(),
            g.0,
            splits as u32,
            span as u32,
        ];
        let (Some(part), true) = (partials, splits > 1) else {
            params[7] = 1;
            let buffers = vec![q.clone(), k_cache.clone(), v_cache.clone(), out.clone()];
            self.push(Kernel::Attention, buffers, &params, g);
            return Ok(());
        };
        let buffers = vec![q.clone(), k_cache.clone(), v_cache.clone(), part.clone()];
        self.push(Kernel::Attention, buffers, &params, g);
        let g = self.grid(rows as u64)?;
        let params = [rows as u32, head_dim as u32, splits as u32, g.0];
        self.push(
            Kernel::AttentionCombine,
            vec![part.clone(), out.clone()],
            &params,
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

    fn elementwise(
        &mut self,
        kernel: Kernel,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        len: usize,
    ) -> Result<()> {
        self.need("elementwise operand", a, len as u64)?;
        self.need("elementwise operand", b, len as u64)?;
        if len == 0 {
            return Ok(());
        }
        let g = self.grid((len as u64).div_ceil(64))?;
        self.push(kernel, vec![a.clone(), b.clone()], &[len as u32, g.0], g);
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

    /// Encodes everything and submits it.
    pub fn submit(self) -> Result<()> {
        self.submit_cached(&mut BindCache::default())
    }

    /// [`Batch::submit`], reusing `cache`'s bind groups when this batch launches the same kernels
    /// on the same buffers as the one before (a sequence's decode steps): then only the
    /// parameter blocks are rewritten, instead of one new bind group per dispatch.
    pub(crate) fn submit_cached(self, cache: &mut BindCache) -> Result<()> {
        let ctx = &self.ctx;
        ctx.check()?;
        let device = ctx.device();
        let align = ctx.inner.uniform_align;
        let dispatches: Vec<(&Kernel, &Vec<wgpu::Buffer>, &Params)> = self
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Dispatch {
                    kernel,
                    buffers,
                    params,
                    ..
                } => Some((kernel, buffers, params)),
                Op::Copy { .. } => None,
            })
            .collect();
        // All parameter blocks go into one uniform buffer, one aligned slot per dispatch.
        let mut param_bytes = vec![0u8; (dispatches.len().max(1) as u64 * align) as usize];
        for (slot, (_, _, params)) in dispatches.iter().enumerate() {
            let at = slot * align as usize;
            param_bytes[at..at + PARAM_BYTES as usize]
                .copy_from_slice(bytemuck::cast_slice(*params));
        }
        if param_bytes.len() as u64 > ctx.info().max_buffer_size {
            return Err(GpuError::TooLarge {
                what: "the parameter block of one batch".into(),
                bytes: param_bytes.len() as u64,
                limit: ctx.info().max_buffer_size,
            });
        }
        let same = cache.key.len() == dispatches.len()
            && cache
                .key
                .iter()
                .zip(&dispatches)
                .all(|((k, b), (k2, b2, _))| k == *k2 && b == *b2);
        match &cache.params {
            Some(params) if same && params.size() == param_bytes.len() as u64 => {
                ctx.queue().write_buffer(params, 0, &param_bytes);
            }
            _ => {
                let params = wgpu::util::DeviceExt::create_buffer_init(
                    device,
                    &wgpu::util::BufferInitDescriptor {
                        label: Some("params"),
                        contents: &param_bytes,
                        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    },
                );
                cache.groups = dispatches
                    .iter()
                    .enumerate()
                    .map(|(slot, (kernel, buffers, _))| {
                        bind_group(ctx, **kernel, &params, slot as u64 * align, buffers)
                    })
                    .collect();
                cache.key = dispatches
                    .iter()
                    .map(|(k, b, _)| (**k, (*b).clone()))
                    .collect();
                cache.params = Some(params);
            }
        }
        let profiling = ctx.inner.profiler.as_ref().map(|p| {
            let queries = (dispatches.len() * 2).min(MAX_TIMESTAMP_QUERIES) as u32;
            (
                p,
                device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("kernel timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: queries.max(2),
                }),
                queries,
            )
        });
        drop(dispatches);
        let mut enc = device.create_command_encoder(&Default::default());
        let mut slot = 0usize;
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
                    // Consecutive dispatches share one compute pass (wgpu orders them with the
                    // barriers their storage usages require); when profiling, each gets its own
                    // pass, timed by timestamps at its start and end.
                    let timestamps = profiling.as_ref().and_then(|(_, set, queries)| {
                        let at = slot as u32 * 2;
                        (at + 1 < *queries).then_some(wgpu::ComputePassTimestampWrites {
                            query_set: set,
                            beginning_of_pass_write_index: Some(at),
                            end_of_pass_write_index: Some(at + 1),
                        })
                    });
                    let profiled = timestamps.is_some();
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: timestamps,
                    });
                    while let Some(Op::Dispatch { kernel, groups, .. }) = self.ops.get(i) {
                        pass.set_pipeline(&ctx.pipeline(*kernel));
                        pass.set_bind_group(0, &cache.groups[slot], &[]);
                        pass.dispatch_workgroups(groups.0, groups.1, 1);
                        slot += 1;
                        i += 1;
                        if profiled || slot % SUBMIT_EVERY == 0 {
                            break;
                        }
                    }
                    drop(pass);
                    // Hand the GPU what is recorded so far, so it runs while the rest is
                    // recorded (not when profiling: the timestamps are read at the end).
                    if profiling.is_none() && slot % SUBMIT_EVERY == 0 && i < self.ops.len() {
                        let done = std::mem::replace(
                            &mut enc,
                            device.create_command_encoder(&Default::default()),
                        );
                        ctx.queue().submit([done.finish()]);
                    }
                }
            }
        }
        let Some((profiler, set, queries)) = profiling else {
            ctx.queue().submit([enc.finish()]);
            return ctx.check();
        };
        let kernels: Vec<Kernel> = self
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Dispatch { kernel, .. } => Some(*kernel),
                Op::Copy { .. } => None,
            })
            .collect();
        profiler.read_timestamps(ctx, enc, &set, queries, &kernels)?;
        ctx.check()
    }
}

/// Dispatches per command buffer: a long batch (a forward pass has hundreds) is submitted in
/// parts, so the GPU starts on the first while the CPU records the next.
const SUBMIT_EVERY: usize = 96;

/// Most timestamps one batch records when profiling (wgpu's query-set limit): the first 2048
/// dispatches of a batch are timed.
const MAX_TIMESTAMP_QUERIES: usize = 4096;

fn bind_group(
    ctx: &GpuContext,
    kernel: Kernel,
    params: &wgpu::Buffer,
    offset: u64,
    buffers: &[wgpu::Buffer],
) -> wgpu::BindGroup {
    let layout = ctx.pipeline(kernel).get_bind_group_layout(0);
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: params,
            offset,
            size: wgpu::BufferSize::new(PARAM_BYTES),
        }),
    }];
    for (b, buf) in buffers.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry {
            binding: b as u32 + 1,
            resource: buf.as_entire_binding(),
        });
    }
    ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &layout,
        entries: &entries,
    })
}

/// The bind groups and parameter buffer of the last batch submitted through it (see
/// [`Batch::submit_cached`]). Holds its buffers alive until the next batch replaces them.
#[derive(Default)]
pub(crate) struct BindCache {
    key: Vec<(Kernel, Vec<wgpu::Buffer>)>,
    params: Option<wgpu::Buffer>,
    groups: Vec<wgpu::BindGroup>,
}
