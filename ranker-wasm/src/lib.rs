//! The browser boundary of alro: a thin wasm-bindgen layer over `alro-core` (and `alro-gpu` for
//! WebGPU). It converts JavaScript values to typed Rust values and errors to JS `Error`s, times
//! calls and picks a backend; every ranking rule (validation, prompt, decoding, scores) is in
//! `alro-core` and tested natively.
//!
//! JavaScript API (types in `pkg/alro_ranker.d.ts`):
//! ```js
//! const ranker = await Ranker.load(bytes, { backend: 'auto', onProgress: (p) => ..., items });
//! const { ranking, scores, backend, millis } = await ranker.rank({ history, candidates }, { mode: 'greedy' });
//! ranker.info();  // model, quantization, backend in use, max candidates, alro.* metadata, ...
//! ranker.setItems(tableBytes);  // item table: notes computed for candidates without one
//! ```

mod backend;
mod input;
mod js;
mod notes;

use alro_core::gguf::GgufValue;
use alro_core::notes::ItemTable;
use alro_core::rank::RankMode;
use alro_core::request::RankRequest;
use backend::Engine;
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Largest model file accepted. WebAssembly memory is at most 4 GiB and the CPU backend holds the
/// file bytes and the loaded weights at once (about twice the file), plus activations; refusing
/// up front gives a clear error instead of an out-of-memory trap half-way through loading.
pub const MAX_MODEL_BYTES: f64 = 1536.0 * 1024.0 * 1024.0;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** One item the user rated (oldest first). `rating` is on the model's scale (MovieLens: 0–5). */
export interface HistoryEntry { title: string; rating: number }
/** One item to rank. `id` is yours and is returned in `ranking`; the model never sees it. */
/** `note`: optional side information shown after the title, e.g. 'popularity 5/7'; give it
 *  only to a model trained with notes (`alro data prepare --popularity-tiers`). With an item
 *  table loaded (`LoadOptions.items`, `Ranker.setItems`), a model trained with notes gets them
 *  computed for every candidate that has none. */
export interface Candidate { id: string; title: string; note?: string }
export interface RankRequest { history: HistoryEntry[]; candidates: Candidate[] }
export interface RankOptions {
  /** 'single' (default): order by the first-position distribution (one forward pass, what the
   *  default ranker is trained for); 'greedy': decode the whole list; 'bootstrap': Borda count over greedy lists under `orders`
   *  presentation orders (the request's own, then seeded shuffles; `orders` times the cost). */
  mode?: 'greedy' | 'single' | 'bootstrap';
  /** 'bootstrap' only: presentation orders, 1 to 20 (default 5). */
  orders?: number;
  /** 'bootstrap' only: seed of the shuffles (default 0). */
  seed?: number;
}
export type Backend = 'webgpu' | 'cpu';
export interface RankResult {
  /** Candidate ids, most preferred first: always a permutation of the request's ids. */
  ranking: string[];
  /** Per-candidate score, higher = preferred (greedy: Borda points m-1-position; single: log-probability; bootstrap: mean Borda points). */
  scores: Record<string, number>;
  backend: Backend;
  /** Wall-clock time of this call in milliseconds. */
  millis: number;
  /** Titles (history, then candidates) the item table does not know, when notes were computed
   *  from it: left out of the similarity mean; as candidates they got the lowest tier. */
  unknownTitles: string[];
}
/** The loaded item table (`Ranker.itemsInfo()`). */
export interface ItemsInfo {
  /** The dataset it was built from, e.g. "ml-latest-small: ratings.csv.xz sha256:...". */
  source: string;
  items: number;
  users: number;
}
export interface LoadProgress {
  /** 'read' | 'adapter' | 'upload' (WebGPU) | 'weights' (CPU) | 'ready' */
  stage: string;
  /** 0..1 over the whole load. */
  fraction: number;
}
export interface LoadOptions {
  /** 'auto' (default): WebGPU when an adapter is available and the model fits, else CPU. */
  backend?: 'auto' | 'webgpu' | 'cpu';
  onProgress?: (progress: LoadProgress) => void;
  /** An item table file (models/items-ml-latest-small.json, built by `alro items build`): with
   *  it, a ranker trained with popularity/similarity notes gets them computed from the titles
   *  for every candidate without a `note`. Same as calling `setItems` after loading. */
  items?: Uint8Array | ArrayBuffer;
}
export interface RankerInfo {
  /** The GGUF `general.name` (often a conversion tool's, e.g. "Smollm2 135M 8k Lc100K Mix1 Ep2"); show `displayName` instead. */
  name: string;
  /** What a person calls the model: the ranker's `alro.display_name`; else a readable backbone
   *  name, e.g. "SmolLM2-135M (untrained backbone)" for a plain backbone. Never empty. */
  displayName: string;
  /** One line on how well it ranks (`alro.quality`), e.g. "NDCG@10 0.71 on 943 held-out
   *  MovieLens lists (popularity: 0.65)"; "untrained: ranks at chance" for a plain backbone;
   *  null when an exported ranker does not say. */
  quality: string | null;
  /** Link to the model card (`alro.card_url`), relative to the page, e.g. "models/README.md"; null when absent. */
  cardUrl: string | null;
  format: string;
  quantization: string;
  parameters: number;
  contextLength: number;
  backend: Backend;
  /** The WebGPU adapter's name or "unnamed adapter" (browsers may hide it), followed by
   *  " (software)" for a software adapter, e.g. "SwiftShader Device (Subzero) (software)"; null on the CPU. */
  adapter: string | null;
  /** Why 'auto' did not use WebGPU, when it did not: no WebGPU, no adapter, or only a software
   *  (fallback) adapter, which is slower than the CPU backend ('webgpu' uses it anyway). */
  fallbackReason: string | null;
  maxCandidates: number;
  identifiers: string[];
  maxHistory: number;
  ratingMax: number;
  templateVersion: string;
  /** The file's `alro.*` metadata keys (an exported ranker); empty for a plain backbone. */
  metadata: Record<string, unknown>;
}
"#;

/// A last resort: a panic is a bug (every input error is a `Result`), but if one happens the page
/// gets a readable console message instead of a bare `unreachable` trap.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        js::console_error(&format!(
            "alro ranker: internal error (a bug, please report it): {info}. \
             This ranker instance is no longer usable; reload the page."
        ));
    }));
}

/// The prompt template version this build speaks; a model exported for another version is
/// refused rather than silently mis-prompted.
#[wasm_bindgen(js_name = templateVersion)]
pub fn template_version() -> String {
    alro_core::prompt::TEMPLATE_VERSION.to_string()
}

/// Renders the ranking prompt for a JSON request with the default settings (identifiers A–Z),
/// for debugging a page's inputs.
#[wasm_bindgen(js_name = renderPrompt)]
pub fn render_prompt(request_json: &str) -> Result<String, JsError> {
    let req: RankRequest = serde_json::from_str(request_json)
        .map_err(|e| JsError::new(&format!("bad request JSON: {e}")))?;
    let config = alro_core::prompt::PromptConfig::default();
    let labels = alro_core::model_card::default_identifiers();
    alro_core::prompt::validate(&req, &config, labels.len())
        .map_err(|e| JsError::new(&e.to_string()))?;
    Ok(alro_core::prompt::render(&req.history, &req.candidates, &labels, &config, &[], true).text)
}

/// What `info()` returns.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Info {
    name: String,
    /// From `alro_core::model_card::Presentation`: the card's, else a readable backbone name.
    display_name: String,
    quality: Option<String>,
    card_url: Option<String>,
    format: String,
    quantization: String,
    parameters: usize,
    context_length: usize,
    backend: &'static str,
    /// The WebGPU adapter in use (name, backend, whether it is a software fallback).
    adapter: Option<String>,
    fallback_reason: Option<String>,
    max_candidates: usize,
    identifiers: Vec<String>,
    max_history: usize,
    rating_max: f32,
    template_version: &'static str,
    metadata: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize)]
struct RankResult<'a> {
    ranking: &'a [String],
    scores: &'a BTreeMap<String, f32>,
    backend: &'static str,
    millis: f64,
    #[serde(rename = "unknownTitles")]
    unknown_titles: &'a [String],
}

struct Inner {
    engine: Engine,
    info: Info,
    /// Set while a ranking runs: the GPU backend awaits between decode steps, and one KV cache
    /// cannot serve two interleaved calls.
    busy: Cell<bool>,
    /// The item table notes are computed from (`options.items`, `setItems`).
    items: RefCell<Option<Rc<ItemTable>>>,
}

/// A loaded ranking model. Create with `await Ranker.load(bytes, options)`.
#[wasm_bindgen]
pub struct Ranker {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl Ranker {
    /// Loads a GGUF model from its bytes (`Uint8Array` or `ArrayBuffer`). Rejects with an `Error`
    /// saying what is wrong with the file or the options.
    #[wasm_bindgen(unchecked_return_type = "Ranker")]
    pub async fn load(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] bytes: JsValue,
        #[wasm_bindgen(unchecked_param_type = "LoadOptions | undefined")] options: JsValue,
    ) -> Result<Ranker, JsError> {
        let options = input::load_options(options).map_err(|e| JsError::new(&e))?;
        // A bad table fails before the model's long load.
        let items = options
            .items
            .as_deref()
            .map(|b| notes::parse(b, "options.items").map(Rc::new))
            .transpose()
            .map_err(|e| JsError::new(&e))?;
        let progress = Progress(options.on_progress.clone());
        let array = if let Some(a) = bytes.dyn_ref::<js_sys::Uint8Array>() {
            a.clone()
        } else if let Some(b) = bytes.dyn_ref::<js_sys::ArrayBuffer>() {
            js_sys::Uint8Array::new(b)
        } else {
            return Err(JsError::new(
                "Ranker.load: the model must be a Uint8Array or an ArrayBuffer of a .gguf file \
                 (e.g. new Uint8Array(await (await fetch(url)).arrayBuffer()))",
            ));
        };
        let len = array.byte_length() as f64;
        if len > MAX_MODEL_BYTES {
            return Err(JsError::new(&format!(
                "model is too large for the browser: {:.0} MiB, at most {:.0} MiB fit in \
                 WebAssembly memory next to its loaded weights; use a smaller or more quantized \
                 model (e.g. a 135M-360M model in Q4 or Q8)",
                len / 1048576.0,
                MAX_MODEL_BYTES / 1048576.0
            )));
        }
        progress.report("read", 0.02);
        let bytes = array.to_vec();
        let (engine, fallback_reason) = backend::load(&bytes, options.backend, &progress).await?;
        let info = engine.info(fallback_reason);
        progress.report("ready", 1.0);
        Ok(Ranker {
            inner: Rc::new(Inner {
                engine,
                info,
                busy: Cell::new(false),
                items: RefCell::new(items),
            }),
        })
    }

    /// Ranks one request: `{history: [{title, rating}], candidates: [{id, title}]}`. Resolves to
    /// `{ranking, scores, backend, millis}`; rejects with an `Error` naming what is wrong.
    #[wasm_bindgen(unchecked_return_type = "Promise<RankResult>")]
    pub fn rank(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RankRequest")] request: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RankOptions | undefined")] options: JsValue,
    ) -> js_sys::Promise {
        // Inputs are read now, before the caller can mutate them; missing notes are filled from
        // the item table now too.
        let parsed =
            input::request(request).and_then(|r| input::rank_mode(options).map(|mode| (r, mode)));
        let inner = self.inner.clone();
        let table = inner.items.borrow().clone();
        let prompt = inner.engine.prompt();
        let parsed = parsed.and_then(|(mut req, mode)| {
            let unknown = notes::fill(&mut req, prompt, table.as_deref())?;
            Ok((req, mode, unknown))
        });
        let hint = table.is_none() && prompt.needs_notes();
        wasm_bindgen_futures::future_to_promise(async move {
            let (req, mode, unknown) = parsed.map_err(to_js_error)?;
            if inner.busy.replace(true) {
                return Err(to_js_error(
                    "a ranking is already running on this Ranker; await the previous rank() \
                     before starting another"
                        .into(),
                ));
            }
            let result = rank_timed(&inner, &req, mode, &unknown).await;
            inner.busy.set(false);
            result.map_err(|e| {
                if hint && e.contains(" notes: give every candidate") {
                    to_js_error(format!("{e}{}", notes::NO_TABLE_HINT))
                } else {
                    to_js_error(e)
                }
            })
        })
    }

    /// Facts about the loaded model and backend (see `RankerInfo`).
    #[wasm_bindgen(unchecked_return_type = "RankerInfo")]
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.info)
    }

    /// Loads (a `Uint8Array` or `ArrayBuffer` of an item table file) or, with `null`, removes the
    /// item table missing notes are computed from. Throws an `Error` naming what is wrong with the
    /// file, keeping the table loaded before.
    #[wasm_bindgen(js_name = setItems)]
    pub fn set_items(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer | null")] bytes: JsValue,
    ) -> Result<(), JsError> {
        let table = if bytes.is_undefined() || bytes.is_null() {
            None
        } else {
            let b = input::bytes(&bytes, "setItems").map_err(|e| JsError::new(&e))?;
            Some(Rc::new(
                notes::parse(&b, "setItems").map_err(|e| JsError::new(&e))?,
            ))
        };
        *self.inner.items.borrow_mut() = table;
        Ok(())
    }

    /// The loaded item table's source and size, or `null`.
    #[wasm_bindgen(js_name = itemsInfo, unchecked_return_type = "ItemsInfo | null")]
    pub fn items_info(&self) -> Result<JsValue, JsError> {
        match self.inner.items.borrow().as_deref() {
            Some(t) => to_js(&notes::ItemsInfo::of(t)),
            None => Ok(JsValue::NULL),
        }
    }

    /// The backend in use: `'webgpu'` or `'cpu'`.
    #[wasm_bindgen(getter, unchecked_return_type = "Backend")]
    pub fn backend(&self) -> String {
        self.inner.engine.name().to_string()
    }
}

async fn rank_timed(
    inner: &Inner,
    req: &RankRequest,
    mode: RankMode,
    unknown_titles: &[String],
) -> Result<JsValue, String> {
    let start = js::now_ms();
    let resp = inner.engine.rank(req, mode).await?;
    let millis = js::now_ms() - start;
    to_js(&RankResult {
        ranking: &resp.ranking,
        scores: &resp.scores,
        backend: inner.engine.name(),
        millis,
        unknown_titles,
    })
    .map_err(|_| "could not convert the result to JavaScript".to_string())
}

fn to_js_error(message: String) -> JsValue {
    JsError::new(&message).into()
}

/// Plain JS objects for maps (not `Map`), as JSON would give.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("could not convert to JavaScript: {e}")))
}

/// The `onProgress` callback, if any. A callback that throws is reported on the console and
/// otherwise ignored: a page's display bug must not abort loading the model.
pub(crate) struct Progress(Option<js_sys::Function>);

impl Progress {
    pub(crate) fn report(&self, stage: &str, fraction: f64) {
        let Some(f) = &self.0 else { return };
        let obj = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&obj, &"stage".into(), &stage.into());
        let _ = js_sys::Reflect::set(&obj, &"fraction".into(), &fraction.into());
        if let Err(e) = f.call1(&JsValue::NULL, &obj) {
            js::console_error(&format!("alro ranker: onProgress threw {e:?}; ignored"));
        }
    }
}

/// The `alro.*` keys of a GGUF header as JSON values (what `info().metadata` shows).
pub(crate) fn alro_metadata(
    metadata: &BTreeMap<String, GgufValue>,
) -> BTreeMap<String, serde_json::Value> {
    fn json(v: &GgufValue) -> serde_json::Value {
        match v {
            GgufValue::String(s) => s.clone().into(),
            GgufValue::Bool(b) => (*b).into(),
            GgufValue::F32(x) => (*x as f64).into(),
            GgufValue::F64(x) => (*x).into(),
            GgufValue::Array(_, items) => items.iter().map(json).collect(),
            other => other
                .as_i64()
                .map(Into::into)
                .or_else(|| other.as_u64().map(Into::into))
                .unwrap_or(serde_json::Value::Null),
        }
    }
    metadata
        .iter()
        // alro.state is a training checkpoint's resume state, not model metadata.
        .filter(|(k, _)| k.starts_with("alro.") && k.as_str() != "alro.state")
        .map(|(k, v)| (k.clone(), json(v)))
        .collect()
}
