//! Adapter, device, limits, buffers and readback: everything the kernels share.

use crate::error::{GpuError, Result};
use crate::kernels::{Kernel, Pipelines, PARAM_BYTES};
use crate::profile::{KernelTime, Profiler};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use wgpu::util::DeviceExt;

/// How to pick the adapter, and limits to impose on top of the device's own.
#[derive(Debug, Clone)]
pub struct GpuOptions {
    /// Which backends to try; `None`: all compiled in (WebGPU in a browser; Vulkan, Metal,
    /// DX12 or GL natively).
    pub backends: Option<wgpu::Backends>,
    pub power_preference: wgpu::PowerPreference,
    /// Ask for a software (fallback) adapter.
    pub force_fallback_adapter: bool,
    /// Treat buffers as limited to this many bytes even if the device allows more. Tests use it
    /// to exercise the row-chunk split path that big models take on small devices.
    pub max_buffer_bytes: Option<u64>,
    /// Likewise for `max_compute_workgroups_per_dimension`, to exercise the 2D dispatch grids.
    pub max_workgroups_per_dimension: Option<u32>,
    /// Time every kernel with timestamp queries (see [`GpuContext::take_profile`]), where the
    /// adapter has them; native only. Each batch then waits for its timestamps: for
    /// benchmarks, not for serving.
    pub profile: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            backends: None,
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            max_buffer_bytes: None,
            max_workgroups_per_dimension: None,
            profile: false,
        }
    }
}

/// What the device is and the limits the kernels obey.
#[derive(Debug, Clone)]
pub struct GpuInfo {
    pub adapter_name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// A software adapter (lavapipe, SwiftShader, WARP): correct but slow.
    pub is_fallback: bool,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    /// The limit weights and activations are split against: the smaller of the two above and
    /// `GpuOptions::max_buffer_bytes`.
    pub buffer_limit: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_storage_buffers_per_shader_stage: u32,
    pub has_shader_f16: bool,
}

impl GpuInfo {
    /// A software (fallback) adapter: WebGPU's `isFallbackAdapter` (wgpu reports it as device
    /// type `Cpu`), or a software rasterizer known by name, for browsers that do not set the flag.
    /// Correct but far slower than alro-core's CPU kernels.
    pub fn is_software(&self) -> bool {
        const SOFTWARE: [&str; 5] = [
            "swiftshader",
            "llvmpipe",
            "lavapipe",
            "softpipe",
            "basic render driver",
        ];
        let name = self.adapter_name.to_lowercase();
        self.is_fallback || SOFTWARE.iter().any(|s| name.contains(s))
    }

    /// The adapter's name, if the platform tells it (Chromium leaves it empty unless asked).
    pub fn bare_name(&self) -> Option<&str> {
        Some(self.adapter_name.trim()).filter(|n| !n.is_empty())
    }

    /// The adapter as a person reads it: its name or "unnamed adapter", followed by
    /// " (software)" for a software adapter.
    pub fn label(&self) -> String {
        let name = self.bare_name().unwrap_or("unnamed adapter");
        if self.is_software() {
            format!("{name} (software)")
        } else {
            name.to_string()
        }
    }
}

pub(crate) struct Inner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: GpuInfo,
    pub uniform_align: u64,
    pub pipelines: Pipelines,
    /// Set by the device-lost callback.
    pub lost: Arc<Mutex<Option<String>>>,
    /// The first error wgpu reported outside an error scope.
    pub uncaptured: Arc<Mutex<Option<String>>>,
    /// Set when `GpuOptions::profile` was asked for and the adapter has timestamp queries.
    pub profiler: Option<Profiler>,
}

/// A device and queue with alro's compute pipelines. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct GpuContext {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("info", &self.inner.info)
            .finish()
    }
}

/// Storage-buffer bindings the widest kernel (attention) uses.
const STORAGE_BUFFERS_NEEDED: u32 = 4;

impl GpuContext {
    /// Finds an adapter and opens a device with the adapter's own limits (never assuming
    /// desktop limits: phones and software adapters have far smaller ones).
    pub async fn new(options: GpuOptions) -> Result<GpuContext> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        if let Some(b) = options.backends {
            desc.backends = b;
        }
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: options.power_preference,
                force_fallback_adapter: options.force_fallback_adapter,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let downlevel = adapter.get_downlevel_capabilities();
        if !downlevel
            .flags
            .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        {
            return Err(GpuError::Unsupported(
                "no compute shaders (WebGL-only adapter); WebGPU is required".into(),
            ));
        }
        let limits = adapter.limits();
        if limits.max_storage_buffers_per_shader_stage < STORAGE_BUFFERS_NEEDED
            || limits.max_compute_invocations_per_workgroup < 64
            || limits.max_compute_workgroup_size_x < 64
            || limits.max_compute_workgroup_storage_size < 8192
        {
            return Err(GpuError::Unsupported(format!(
                "limits too small: {} storage buffers per stage (need {STORAGE_BUFFERS_NEEDED}), \
                 {} invocations per workgroup (need 64), {} bytes of workgroup memory (need 8192)",
                limits.max_storage_buffers_per_shader_stage,
                limits.max_compute_invocations_per_workgroup,
                limits.max_compute_workgroup_storage_size
            )));
        }
        // Only ask for shader-f16 where it exists; the kernels are all f32 today.
        let mut wanted = wgpu::Features::SHADER_F16;
        if options.profile && cfg!(not(target_arch = "wasm32")) {
            wanted |= wgpu::Features::TIMESTAMP_QUERY;
        }
        let features = adapter.features() & wanted;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("alro-gpu"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::RequestDevice(e.to_string()))?;
        let lost = Arc::new(Mutex::new(None));
        {
            let lost = lost.clone();
            device.set_device_lost_callback(move |reason, message| {
                if let Ok(mut l) = lost.lock() {
                    *l = Some(format!("{reason:?}: {message}"));
                }
            });
        }
        // wgpu's default handler panics; keep the first message and report it as an error.
        let uncaptured = Arc::new(Mutex::new(None));
        {
            let slot = uncaptured.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                if let Ok(mut s) = slot.lock() {
                    s.get_or_insert_with(|| e.to_string());
                }
            }));
        }
        let ai = adapter.get_info();
        let mut buffer_limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if let Some(m) = options.max_buffer_bytes {
            buffer_limit = buffer_limit.min(m.max(256));
        }
        let info = GpuInfo {
            adapter_name: ai.name.clone(),
            backend: format!("{:?}", ai.backend),
            device_type: format!("{:?}", ai.device_type),
            driver: format!("{} {}", ai.driver, ai.driver_info),
            is_fallback: ai.device_type == wgpu::DeviceType::Cpu,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            buffer_limit,
            max_compute_workgroups_per_dimension: options
                .max_workgroups_per_dimension
                .map_or(limits.max_compute_workgroups_per_dimension, |m| {
                    m.clamp(1, limits.max_compute_workgroups_per_dimension)
                }),
            max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
            has_shader_f16: features.contains(wgpu::Features::SHADER_F16),
        };
        Ok(GpuContext {
            inner: Arc::new(Inner {
                device,
                info,
                uniform_align: u64::from(limits.min_uniform_buffer_offset_alignment)
                    .max(PARAM_BYTES),
                pipelines: Pipelines::default(),
                lost,
                uncaptured,
                profiler: features
                    .contains(wgpu::Features::TIMESTAMP_QUERY)
                    .then(|| Profiler::new(queue.get_timestamp_period())),
                queue,
            }),
        })
    }

    /// Per-kernel GPU time since the last call, slowest first; `None` unless the context was
    /// opened with `GpuOptions::profile` on an adapter with timestamp queries.
    pub fn take_profile(&self) -> Option<Vec<KernelTime>> {
        self.inner.profiler.as_ref().map(Profiler::take)
    }

    pub fn info(&self) -> &GpuInfo {
        &self.inner.info
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    pub(crate) fn pipeline(&self, kernel: Kernel) -> wgpu::ComputePipeline {
        self.inner.pipelines.get(&self.inner.device, kernel)
    }

    /// Fails if the device was lost or wgpu reported an error since the last check.
    pub fn check(&self) -> Result<()> {
        if let Some(m) = self.inner.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(GpuError::DeviceLost(m));
        }
        if let Some(m) = self.inner.uncaptured.lock().ok().and_then(|mut s| s.take()) {
            if m.contains("Out of Memory") || m.contains("OutOfMemory") {
                return Err(GpuError::OutOfMemory(m));
            }
            return Err(GpuError::Gpu(m));
        }
        Ok(())
    }

    fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self.inner.info.buffer_limit;
        if bytes > limit {
            return Err(GpuError::TooLarge {
                what: what.to_string(),
                bytes,
                limit,
            });
        }
        Ok(())
    }

    /// A storage buffer holding `data` (also a copy source/destination).
    pub fn storage_f32(&self, what: &str, data: &[f32]) -> Result<wgpu::Buffer> {
        self.storage_bytes(what, bytemuck::cast_slice(data))
    }

    pub fn storage_u32(&self, what: &str, data: &[u32]) -> Result<wgpu::Buffer> {
        self.storage_bytes(what, bytemuck::cast_slice(data))
    }

    /// A storage buffer holding `bytes`, zero-padded to a whole number of words (and at least
    /// one word: bindings cannot be empty).
    pub fn storage_bytes(&self, what: &str, bytes: &[u8]) -> Result<wgpu::Buffer> {
        let len = bytes.len().div_ceil(4).max(1) * 4;
        self.check_size(what, len as u64)?;
        let contents: std::borrow::Cow<[u8]> = if len == bytes.len() {
            bytes.into()
        } else {
            let mut v = bytes.to_vec();
            v.resize(len, 0);
            v.into()
        };
        Ok(self
            .inner
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(what),
                contents: &contents,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            }))
    }

    /// A zeroed f32 storage buffer of `len` elements (at least one).
    pub fn storage_zeros(&self, what: &str, len: usize) -> Result<wgpu::Buffer> {
        let bytes = (len.max(1) * 4) as u64;
        self.check_size(what, bytes)?;
        Ok(self.inner.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    /// Reads `len` f32 from the start of `buffer` (copy to a mappable buffer, then map). Async
    /// because a browser maps buffers only between tasks; natively it polls the device.
    pub async fn read_f32(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let bytes = (len * 4) as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.readback_buffer(len);
        let mut enc = self
            .inner
            .device
            .create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        self.inner.queue.submit([enc.finish()]);
        self.map_read_f32(&staging, len).await
    }

    /// A buffer the caller reads back after every batch (MAP_READ, copy destination).
    pub(crate) fn readback_buffer(&self, len: usize) -> wgpu::Buffer {
        self.inner.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: (len.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// The first `len` f32 of `staging`, a [`GpuContext::readback_buffer`] that submitted work
    /// has copied into; unmapped again afterwards, so it can be reused.
    pub(crate) async fn map_read_f32(
        &self,
        staging: &wgpu::Buffer,
        len: usize,
    ) -> Result<Vec<f32>> {
        let (sender, receiver) = oneshot();
        staging.map_async(wgpu::MapMode::Read, .., move |r| sender.send(r));
        // Natively nothing drives the device but us; in a browser this is a no-op and the
        // callback fires from the event loop.
        #[cfg(not(target_arch = "wasm32"))]
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Gpu(e.to_string()))?;
        let mapped = receiver.await;
        self.check()?;
        mapped.map_err(|e| GpuError::DeviceLost(format!("buffer mapping failed: {e}")))?;
        let out = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| GpuError::Gpu(e.to_string()))?;
            bytemuck::cast_slice::<u8, f32>(&view)[..len].to_vec()
        };
        staging.unmap();
        Ok(out)
    }

    /// Natively only: maps a MAP_READ buffer that submitted work has written, blocking until
    /// the device is done, and hands its bytes to `read`.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn map_read_blocking<T>(
        &self,
        buffer: &wgpu::Buffer,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        let (sender, receiver) = oneshot();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| sender.send(r));
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Gpu(e.to_string()))?;
        let mapped = receiver
            .try_take()
            .ok_or_else(|| GpuError::Gpu("a waited-for buffer mapping did not complete".into()))?;
        mapped.map_err(|e| GpuError::DeviceLost(format!("buffer mapping failed: {e}")))?;
        let out = {
            let view = buffer
                .get_mapped_range(..)
                .map_err(|e| GpuError::Gpu(e.to_string()))?;
            read(&view)
        };
        buffer.unmap();
        Ok(out)
    }

    /// In a browser a buffer maps only between tasks: nothing can block on it.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn map_read_blocking<T>(
        &self,
        _: &wgpu::Buffer,
        _: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        Err(GpuError::Unsupported(
            "blocking read-back (profiling) in a browser".into(),
        ))
    }
}

// A minimal one-shot channel, so readback needs no executor-specific crate: the map callback
// sends, the async reader awaits.
struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

struct Sender<T>(Arc<Mutex<Slot<T>>>);
struct Receiver<T>(Arc<Mutex<Slot<T>>>);

fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let s = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
    }));
    (Sender(s.clone()), Receiver(s))
}

impl<T> Sender<T> {
    fn send(self, v: T) {
        let waker = match self.0.lock() {
            Ok(mut slot) => {
                slot.value = Some(v);
                slot.waker.take()
            }
            Err(_) => None,
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The value, if it was sent already (natively, after a blocking poll).
    #[cfg(not(target_arch = "wasm32"))]
    fn try_take(&self) -> Option<T> {
        match self.0.lock() {
            Ok(mut s) => s.value.take(),
            Err(p) => p.into_inner().value.take(),
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = match self.0.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        match slot.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GpuInfo;

    fn info(name: &str, is_fallback: bool) -> GpuInfo {
        GpuInfo {
            adapter_name: name.into(),
            backend: "Vulkan".into(),
            device_type: "Cpu".into(),
            driver: String::new(),
            is_fallback,
            max_storage_buffer_binding_size: 0,
            max_buffer_size: 0,
            buffer_limit: 0,
            max_compute_workgroups_per_dimension: 0,
            max_storage_buffers_per_shader_stage: 0,
            has_shader_f16: false,
        }
    }

    #[test]
    fn software_adapters_are_named_as_such() {
        assert!(info("llvmpipe (LLVM 15.0.6, 256 bits)", false).is_software());
        assert!(info("Google SwiftShader", false).is_software());
        assert!(info("", true).is_software());
        assert!(!info("NVIDIA H100 80GB HBM3", false).is_software());
        assert_eq!(info("NVIDIA H100", false).label(), "NVIDIA H100");
        assert_eq!(info("  ", true).label(), "unnamed adapter (software)");
        assert_eq!(info(" ", false).bare_name(), None);
    }
}
