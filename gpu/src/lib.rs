//! alro-gpu: WebGPU compute kernels (WGSL) for ranking inference (skeleton; see issue 6).
