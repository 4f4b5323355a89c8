//! The browser boundary of alro (skeleton): a thin wasm-bindgen layer over `alro-core`. Ranking
//! logic never lives here; the full `Ranker` API (load, rank, info) arrives with the browser issue.

use wasm_bindgen::prelude::*;

/// The prompt template version this build speaks; a model exported for another version is
/// refused rather than silently mis-prompted.
#[wasm_bindgen(js_name = templateVersion)]
pub fn template_version() -> String {
    alro_core::prompt::TEMPLATE_VERSION.to_string()
}

/// Renders the ranking prompt for a JSON request, for debugging a page's inputs. Errors are JS
/// `Error`s with the reason; nothing panics across the boundary.
#[wasm_bindgen(js_name = renderPrompt)]
pub fn render_prompt(request_json: &str) -> Result<String, JsError> {
    let req: alro_core::request::RankRequest = serde_json::from_str(request_json)
        .map_err(|e| JsError::new(&format!("bad request JSON: {e}")))?;
    let config = alro_core::prompt::PromptConfig::default();
    let labels: Vec<String> = alro_core::identifiers::DEFAULT_LABELS
        .iter()
        .map(|s| s.to_string())
        .collect();
    alro_core::prompt::validate(&req, &config, labels.len())
        .map_err(|e| JsError::new(&e.to_string()))?;
    Ok(alro_core::prompt::render(&req.history, &req.candidates, &labels, &config, &[], true).text)
}
