//! One error type. Every message says what happened and what the caller (often a web page) can
//! do about it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum GpuError {
    /// No adapter at all: no WebGPU in this browser, or no Vulkan/Metal/DX12/GL driver natively.
    #[error(
        "no GPU adapter found ({0}). In a browser, WebGPU must be available (Chrome/Edge 113+, \
         or start Chromium with --enable-unsafe-webgpu); on Linux without a GPU, install a \
         software Vulkan driver: `apt-get install mesa-vulkan-drivers libvulkan1`"
    )]
    NoAdapter(String),

    /// The adapter exists but refused to give a device.
    #[error("the GPU adapter refused to create a device: {0}")]
    RequestDevice(String),

    /// The adapter lacks something every kernel needs (compute shaders, enough storage buffers).
    #[error("this GPU adapter cannot run alro's kernels: {0}")]
    Unsupported(String),

    /// A single weight row, a KV cache or an activation does not fit the device's buffer limits.
    #[error(
        "{what} needs {bytes} bytes in one GPU buffer, but this device allows at most {limit} \
         bytes per storage buffer binding; use a smaller model (or a shorter context), or run on \
         the CPU"
    )]
    TooLarge { what: String, bytes: u64, limit: u64 },

    /// The GPU ran out of memory while the model was uploaded or a KV cache grew.
    #[error("the GPU ran out of memory while {0}; close other GPU-heavy tabs or use a smaller model")]
    OutOfMemory(String),

    /// The model file is malformed or not a Llama-family model (from alro-core's checks).
    #[error(transparent)]
    Model(#[from] alro_core::Error),

    /// A tensor could not be brought into a type the kernels run natively.
    #[error("tensor `{name}` ({dtype}): {message}")]
    Tensor {
        name: String,
        dtype: String,
        message: String,
    },

    /// The caller's input is out of range (token ids, context length, output rows).
    #[error("invalid input: {0}")]
    Input(String),

    /// The device was lost (driver reset, tab in background too long, GPU process crash).
    /// Every buffer is gone: create a new `GpuContext` and reload the model.
    #[error("the GPU device was lost ({0}); create a new GpuContext and load the model again")]
    DeviceLost(String),

    /// wgpu reported a validation or internal error: a bug in alro-gpu, not in the caller's input.
    #[error("GPU error (a bug in alro-gpu, please report it): {0}")]
    Gpu(String),
}

pub type Result<T> = std::result::Result<T, GpuError>;

impl From<candle_core::Error> for GpuError {
    fn from(e: candle_core::Error) -> Self {
        GpuError::Model(alro_core::Error::Candle(e))
    }
}
