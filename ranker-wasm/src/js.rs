//! The few JavaScript globals the boundary needs, looked up on `globalThis` so the package works
//! in a window and in a (module) worker alike.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(message: &str);

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;
}

/// Milliseconds from `performance.now()` (sub-millisecond where the browser allows), or
/// `Date.now()` where there is no `performance`.
pub fn now_ms() -> f64 {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("performance"))
        .ok()
        .filter(|p| !p.is_undefined())
        .and_then(|p| {
            let now = js_sys::Reflect::get(&p, &JsValue::from_str("now")).ok()?;
            let now: js_sys::Function = now.dyn_into().ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// Lets the event loop run (a `setTimeout(0)` turn), so a progress callback's DOM update is
/// painted before the next long synchronous step.
pub async fn yield_to_event_loop() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, 0);
    });
    // A timer promise never rejects; nothing to handle.
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
