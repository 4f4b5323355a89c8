//! Backend selection and dispatch.
//!
//! - CPU: `alro_core::rank::Ranker` itself (candle; SIMD128 from `.cargo/config.toml`).
//! - WebGPU: `alro_gpu::GpuModel` runs the forward passes as an `alro_core::rank::RankBackend`;
//!   the core's driver prepares the request and decides greedy, single and bootstrap exactly as
//!   for the CPU ranker, so both backends rank by one rule and offer every mode.

use crate::input::BackendChoice;
use crate::{alro_metadata, js, Info, Progress};
use alro_core::gguf::{GgufFile, GgufValue};
use alro_core::identifiers::Identifiers;
use alro_core::model::{Backbone, LlamaConfig, MatrixPrecision};
use alro_core::model_card::{ModelCard, Presentation};
use alro_core::prompt::PromptConfig;
use alro_core::rank::{self, PreparedPrompt, RankBackend, RankMode, Ranker};
use alro_core::request::{RankRequest, RankResponse};
use alro_core::tokenizer::Tokenizer;
use alro_gpu::{GpuContext, GpuInfo, GpuModel, GpuOptions, GpuSession};
use std::collections::BTreeMap;
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

/// The WebGPU ranker: weights on the GPU, tokenizer and prompt settings here.
pub struct GpuRanker {
    ctx: GpuContext,
    model: GpuModel,
    tokenizer: Tokenizer,
    identifiers: Identifiers,
    prompt: PromptConfig,
    config: LlamaConfig,
    name: String,
    quantization: String,
    parameters: usize,
    metadata: BTreeMap<String, GgufValue>,
    /// The `alro.*` card (`None`: plain backbone), for `info()`'s display name.
    card: Option<ModelCard>,
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
    if !allow_software && is_software(ctx.info()) {
        let named = bare_adapter_name(ctx.info()).map_or(String::new(), |n| format!(" ({n})"));
        return Err(format!(
            "WebGPU offers only a software adapter here{named}, which ranks far slower than \
             WebAssembly on the CPU; load with backend 'webgpu' to use it anyway"
        ));
    }
    let file = GgufFile::parse(bytes, SOURCE_NAME).map_err(|e| e.to_string())?;
    // The same settings the CPU path takes from Backbone + Ranker::new.
    let card = ModelCard::from_gguf(&file).map_err(|e| e.to_string())?;
    let tokenizer = Tokenizer::from_gguf(&file).map_err(|e| e.to_string())?;
    let config = LlamaConfig::from_gguf(&file).map_err(|e| e.to_string())?;
    let identifiers =
        rank::identifiers_for(card.as_ref(), &tokenizer).map_err(|e| e.to_string())?;
    let prompt = card
        .as_ref()
        .map_or_else(PromptConfig::default, |c| c.prompt_config());
    progress.report("upload", 0.2);
    js::yield_to_event_loop().await;
    let model = GpuModel::from_gguf(&ctx, &file, bytes, &identifiers.token_ids)
        .await
        .map_err(|e| e.to_string())?;
    progress.report("upload", 0.9);
    let (quantization, parameters) = tensor_summary(&file);
    Ok(Engine::Gpu(Box::new(GpuRanker {
        name: file
            .get_str("general.name")
            .unwrap_or(SOURCE_NAME)
            .to_string(),
        quantization,
        parameters,
        metadata: file.metadata.clone(),
        card,
        ctx,
        model,
        tokenizer,
        identifiers,
        prompt,
        config,
    })))
}

/// A software (fallback) adapter: WebGPU's `isFallbackAdapter` (wgpu reports it as device type
/// `Cpu`), or a software rasterizer known by name, for browsers that do not set the flag.
fn is_software(info: &GpuInfo) -> bool {
    const SOFTWARE: [&str; 5] = [
        "swiftshader",
        "llvmpipe",
        "lavapipe",
        "softpipe",
        "basic render driver",
    ];
    let name = info.adapter_name.to_lowercase();
    info.is_fallback || SOFTWARE.iter().any(|s| name.contains(s))
}

/// The adapter's name, if the browser tells it (Chromium leaves it empty unless asked).
fn bare_adapter_name(info: &GpuInfo) -> Option<&str> {
    Some(info.adapter_name.trim()).filter(|n| !n.is_empty())
}

/// The adapter as a person reads it (`info().adapter`): its name or "unnamed adapter", followed
/// by " (software)" for a software adapter.
fn adapter_name(info: &GpuInfo) -> String {
    let name = bare_adapter_name(info).unwrap_or("unnamed adapter");
    if is_software(info) {
        format!("{name} (software)")
    } else {
        name.to_string()
    }
}

fn has_navigator_gpu() -> bool {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("navigator"))
        .ok()
        .filter(|n| !n.is_undefined())
        .and_then(|n| js_sys::Reflect::get(&n, &JsValue::from_str("gpu")).ok())
        .is_some_and(|g| !g.is_undefined() && !g.is_null())
}

/// Parameter count and the dominant matrix type, as `alro_core::model::ModelInfo` reports them.
fn tensor_summary(file: &GgufFile) -> (String, usize) {
    let mut counts = BTreeMap::<String, usize>::new();
    let mut parameters = 0usize;
    for t in &file.tensors {
        let n: usize = t.shape.iter().product();
        parameters += n;
        if t.shape.len() == 2 {
            *counts.entry(format!("{:?}", t.dtype)).or_default() += n;
        }
    }
    let quantization = counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(k, _)| k)
        .unwrap_or_default();
    (quantization, parameters)
}

/// The WebGPU backend: `GpuModel`'s forward passes, driven by the core's ranking procedure.
impl RankBackend for GpuRanker {
    type Session = GpuSession;

    fn prepare(&self, req: &RankRequest) -> alro_core::Result<PreparedPrompt> {
        rank::prepare(
            &self.tokenizer,
            self.config.max_position_embeddings,
            &self.identifiers,
            &self.prompt,
            req,
        )
    }

    fn identifier_token_ids(&self) -> &[u32] {
        &self.identifiers.token_ids
    }

    async fn start(&self, prompt: &[u32]) -> alro_core::Result<(GpuSession, Vec<f32>)> {
        let mut session = self.model.new_session();
        let logits = self
            .model
            .forward(&mut session, prompt)
            .await
            .map_err(gpu)?;
        Ok((session, logits))
    }

    async fn next(&self, session: &mut GpuSession, token: u32) -> alro_core::Result<Vec<f32>> {
        self.model.forward(session, &[token]).await.map_err(gpu)
    }
}

fn gpu(e: alro_gpu::GpuError) -> alro_core::Error {
    alro_core::Error::Backend(e.to_string())
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
        match self {
            Engine::Cpu(r) => {
                let i = &r.backbone.info;
                let shown = Presentation::of(i.card.as_ref(), &i.gguf_metadata);
                Info {
                    name: i.name.clone(),
                    display_name: shown.display_name,
                    quality: shown.quality,
                    card_url: shown.card_url,
                    format: i.format.clone(),
                    quantization: i.quantization.clone(),
                    parameters: i.parameters,
                    context_length: i.context_length,
                    backend: self.name(),
                    adapter: None,
                    fallback_reason,
                    max_candidates: r.identifiers.len(),
                    identifiers: r.identifiers.labels.clone(),
                    max_history: r.prompt.max_history,
                    rating_max: r.prompt.rating_max,
                    template_version: alro_core::prompt::TEMPLATE_VERSION,
                    metadata: alro_metadata(&i.gguf_metadata),
                }
            }
            Engine::Gpu(g) => {
                let shown = Presentation::of(g.card.as_ref(), &g.metadata);
                Info {
                    name: g.name.clone(),
                    display_name: shown.display_name,
                    quality: shown.quality,
                    card_url: shown.card_url,
                    format: "gguf".into(),
                    quantization: g.quantization.clone(),
                    parameters: g.parameters,
                    context_length: g.config.max_position_embeddings,
                    backend: self.name(),
                    adapter: Some(adapter_name(g.ctx.info())),
                    fallback_reason,
                    max_candidates: g.identifiers.len(),
                    identifiers: g.identifiers.labels.clone(),
                    max_history: g.prompt.max_history,
                    rating_max: g.prompt.rating_max,
                    template_version: alro_core::prompt::TEMPLATE_VERSION,
                    metadata: alro_metadata(&g.metadata),
                }
            }
        }
    }

    pub async fn rank(&self, req: &RankRequest, mode: RankMode) -> Result<RankResponse, String> {
        match self {
            Engine::Cpu(r) => r.rank(req, mode),
            Engine::Gpu(g) => rank::driver::rank(g.as_ref(), req, mode).await,
        }
        .map_err(|e| e.to_string())
    }
}
