//! Backend selection and dispatch.
//!
//! - CPU: `alro_core::rank::Ranker` itself (candle; SIMD128 from `.cargo/config.toml`).
//! - WebGPU: `alro_gpu::GpuRanker`, an `alro_core::rank::RankBackend`: the core's driver prepares
//!   the request and decides greedy, single and bootstrap exactly as for the CPU ranker, so both
//!   backends rank by one rule and offer every mode. This file only picks the backend and
//!   converts values for JavaScript.

use crate::input::BackendChoice;
use crate::{alro_metadata, js, Info, Progress};
use alro_core::model::{Backbone, MatrixPrecision};
use alro_core::model_card::Presentation;
use alro_core::prompt::PromptConfig;
use alro_core::rank::{RankMode, Ranker};
use alro_core::request::{RankRequest, RankResponse};
use alro_gpu::{GpuContext, GpuOptions, GpuRanker};
use wasm_bindgen::{JsError, JsValue};

/// What errors call the model (the page loads bytes, not a path).
pub const SOURCE_NAME: &str = "model.gguf";

pub enum Engine {
    Cpu(Box<Ranker>),
    Gpu(Box<GpuRanker>),
}

/// Loads the model on the chosen backend. `auto` tries WebGPU first and, if that fails for any
/// reason, loads on the CPU and returns the reason (shown by `info().fallbackReason`).
pub async fn load(
    bytes: &[u8],
    choice: BackendChoice,
    progress: &Progress,
) -> Result<(Engine, Option<String>), JsError> {
    match choice {
        BackendChoice::Cpu => Ok((load_cpu(bytes, progress).await?, None)),
        BackendChoice::Webgpu => match load_gpu(bytes, progress, true).await {
            Ok(engine) => Ok((engine, None)),
            Err(e) => Err(JsError::new(&format!(
                "WebGPU backend: {e}. Load with backend 'auto' to fall back to the CPU, or 'cpu'."
            ))),
        },
        // `auto` never takes a slower path: a software adapter goes to the CPU backend.
        BackendChoice::Auto => match load_gpu(bytes, progress, false).await {
            Ok(engine) => Ok((engine, None)),
            Err(reason) => Ok((load_cpu(bytes, progress).await?, Some(reason))),
        },
    }
}

async fn load_cpu(bytes: &[u8], progress: &Progress) -> Result<Engine, JsError> {
    progress.report("weights", 0.05);
    // Let the page paint the progress before the synchronous load blocks the thread.
    js::yield_to_event_loop().await;
    let device = candle_core::Device::Cpu;
    let backbone =
        Backbone::from_gguf_bytes(bytes, SOURCE_NAME, MatrixPrecision::AsStored, &device)
            .map_err(|e| JsError::new(&e.to_string()))?;
    progress.report("weights", 0.9);
    js::yield_to_event_loop().await;
    // The prompt the model was trained with (its alro.* card), exactly as `alro rank` builds it.
    let prompt = backbone.prompt_config();
    let ranker = Ranker::new(backbone, prompt).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(Engine::Cpu(Box::new(ranker)))
}

/// `Err` carries the reason in words (for `fallbackReason` or the error). A software adapter
/// is refused unless `allow_software` (an explicit `backend: 'webgpu'`).
async fn load_gpu(
    bytes: &[u8],
    progress: &Progress,
    allow_software: bool,
) -> Result<Engine, String> {
    if !has_navigator_gpu() {
        return Err("this browser has no WebGPU (navigator.gpu is missing)".into());
    }
    progress.report("adapter", 0.05);
    let ctx = GpuContext::new(GpuOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    if !allow_software && ctx.info().is_software() {
        let named = ctx
            .info()
            .bare_name()
            .map_or(String::new(), |n| format!(" ({n})"));
        return Err(format!(
            "WebGPU offers only a software adapter here{named}, which ranks far slower than \
             WebAssembly on the CPU; load with backend 'webgpu' to use it anyway"
        ));
    }
    progress.report("upload", 0.2);
    js::yield_to_event_loop().await;
    let ranker = GpuRanker::load(ctx, bytes, SOURCE_NAME)
        .await
        .map_err(|e| e.to_string())?;
    progress.report("upload", 0.9);
    Ok(Engine::Gpu(Box::new(ranker)))
}

fn has_navigator_gpu() -> bool {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("navigator"))
        .ok()
        .filter(|n| !n.is_undefined())
        .and_then(|n| js_sys::Reflect::get(&n, &JsValue::from_str("gpu")).ok())
        .is_some_and(|g| !g.is_undefined() && !g.is_null())
}

impl Engine {
    /// The prompt settings the model was trained with (its card): which notes it needs.
    pub fn prompt(&self) -> &PromptConfig {
        match self {
            Engine::Cpu(r) => &r.prompt,
            Engine::Gpu(g) => &g.prompt,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Engine::Cpu(_) => "cpu",
            Engine::Gpu(_) => "webgpu",
        }
    }

    pub fn info(&self, fallback_reason: Option<String>) -> Info {
        let (model, identifiers, prompt, adapter) = match self {
            Engine::Cpu(r) => (&r.backbone.info, &r.identifiers, &r.prompt, None),
            Engine::Gpu(g) => (
                &g.info,
                &g.identifiers,
                &g.prompt,
                Some(g.adapter().label()),
            ),
        };
        let shown = Presentation::of(model.card.as_ref(), &model.gguf_metadata);
        Info {
            name: model.name.clone(),
            display_name: shown.display_name,
            quality: shown.quality,
            card_url: shown.card_url,
            format: model.format.clone(),
            quantization: model.quantization.clone(),
            parameters: model.parameters,
            context_length: model.context_length,
            backend: self.name(),
            adapter,
            fallback_reason,
            max_candidates: identifiers.len(),
            identifiers: identifiers.labels.clone(),
            max_history: prompt.max_history,
            rating_max: prompt.rating_max,
            template_version: alro_core::prompt::TEMPLATE_VERSION,
            metadata: alro_metadata(&model.gguf_metadata),
        }
    }

    pub async fn rank(&self, req: &RankRequest, mode: RankMode) -> Result<RankResponse, String> {
        match self {
            Engine::Cpu(r) => r.rank(req, mode),
            Engine::Gpu(g) => g.rank(req, mode).await,
        }
        .map_err(|e| e.to_string())
    }
}
