//! Typed inputs from JavaScript values. Every failure is an error message that names the field
//! and says what shape was expected, because the caller is a page author reading the console.

use alro_core::rank::{RankMode, DEFAULT_BOOTSTRAP_ORDERS};
use alro_core::request::RankRequest;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

pub const REQUEST_SHAPE: &str = "{history: [{title: string, rating: number}, ...], \
                                 candidates: [{id: string, title: string}, ...]}";

/// Deserialises `value` as `T`; on failure the message starts with the path of the bad field
/// (`candidates[2].id: invalid type: ...`).
fn from_js<T: for<'de> Deserialize<'de>>(
    value: JsValue,
    what: &str,
    shape: &str,
) -> Result<T, String> {
    if value.is_undefined() || value.is_null() {
        return Err(format!("{what} is missing: pass {shape}"));
    }
    let de = serde_wasm_bindgen::Deserializer::from(value);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        // serde-wasm-bindgen's errors are JS `Error`s whose text starts with "Error: ".
        let inner = e.into_inner().to_string();
        let inner = inner.strip_prefix("Error: ").unwrap_or(&inner);
        if path == "." {
            format!("{what}: {inner}; expected {shape}")
        } else {
            format!("{what}.{path}: {inner}; expected {shape}")
        }
    })
}

pub fn request(value: JsValue) -> Result<RankRequest, String> {
    from_js(value, "request", REQUEST_SHAPE)
}

/// `rank`'s second argument.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RankOptions {
    #[serde(default)]
    mode: Mode,
    /// Bootstrap: presentation orders B (the list's own, then B − 1 seeded shuffles).
    orders: Option<usize>,
    /// Bootstrap: the seed of the shuffles.
    seed: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// Constrained greedy decoding of the whole list.
    Greedy,
    /// Order by the first-position distribution (one forward pass; the default, as the core's).
    #[default]
    Single,
    /// Borda count over greedy lists under several presentation orders.
    Bootstrap,
}

const OPTIONS_SHAPE: &str =
    "{mode: 'greedy' | 'single' | 'bootstrap', orders?: number, seed?: number}";

/// More orders than this would keep the page busy for minutes per list.
pub const MAX_ORDERS: usize = 20;

/// `rank`'s second argument, as the core's ranking mode.
pub fn rank_mode(value: JsValue) -> Result<RankMode, String> {
    if value.is_undefined() || value.is_null() {
        return Ok(RankMode::default());
    }
    let o: RankOptions = from_js(value, "options", OPTIONS_SHAPE)?;
    mode_of(&o)
}

fn mode_of(o: &RankOptions) -> Result<RankMode, String> {
    if o.mode != Mode::Bootstrap && (o.orders.is_some() || o.seed.is_some()) {
        return Err(
            "options.orders and options.seed set the presentation orders of mode \
                    'bootstrap': add mode: 'bootstrap' or leave them out"
                .into(),
        );
    }
    Ok(match o.mode {
        Mode::Greedy => RankMode::Greedy,
        Mode::Single => RankMode::Single,
        Mode::Bootstrap => {
            let orders = o.orders.unwrap_or(DEFAULT_BOOTSTRAP_ORDERS);
            if !(1..=MAX_ORDERS).contains(&orders) {
                return Err(format!(
                    "options.orders: {orders} presentation orders; give 1 to {MAX_ORDERS}"
                ));
            }
            RankMode::Bootstrap {
                orders,
                seed: o.seed.unwrap_or(0),
            }
        }
    })
}

/// Which backend `Ranker.load` uses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU when the browser has an adapter and the model fits it, else the CPU.
    #[default]
    Auto,
    Webgpu,
    Cpu,
}

/// `Ranker.load`'s options. `onProgress` is a function, which serde cannot carry, so the object
/// is read key by key; unknown keys are refused so a typo (`backed: 'cpu'`) is not ignored.
pub struct LoadOptions {
    pub backend: BackendChoice,
    pub on_progress: Option<js_sys::Function>,
    /// The bytes of an item table file (`alro items build`), to compute missing notes.
    pub items: Option<Vec<u8>>,
}

/// The bytes of a `Uint8Array` or an `ArrayBuffer`; `what` names the argument in the error.
pub fn bytes(value: &JsValue, what: &str) -> Result<Vec<u8>, String> {
    if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
        Ok(a.to_vec())
    } else if let Some(b) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        Ok(js_sys::Uint8Array::new(b).to_vec())
    } else {
        Err(format!(
            "{what} must be a Uint8Array or an ArrayBuffer of the item table file \
             (e.g. new Uint8Array(await (await fetch('models/items-ml-latest-small.json')).arrayBuffer()))"
        ))
    }
}

pub fn load_options(value: JsValue) -> Result<LoadOptions, String> {
    const SHAPE: &str =
        "{backend?: 'auto' | 'webgpu' | 'cpu', onProgress?: (p) => void, items?: Uint8Array}";
    let mut out = LoadOptions {
        backend: BackendChoice::Auto,
        on_progress: None,
        items: None,
    };
    if value.is_undefined() || value.is_null() {
        return Ok(out);
    }
    if !value.is_object() {
        return Err(format!("options must be an object {SHAPE}"));
    }
    let obj: js_sys::Object = value.unchecked_into();
    for key in js_sys::Object::keys(&obj).iter() {
        let name = key.as_string().unwrap_or_default();
        let v = js_sys::Reflect::get(&obj, &key).unwrap_or(JsValue::UNDEFINED);
        match name.as_str() {
            "backend" if v.is_undefined() => {}
            "backend" => {
                out.backend = serde_wasm_bindgen::from_value(v).map_err(|e| {
                    let e = e.to_string();
                    let e = e.strip_prefix("Error: ").unwrap_or(&e);
                    format!("options.backend: {e}; expected 'auto', 'webgpu' or 'cpu'")
                })?
            }
            "onProgress" if v.is_undefined() || v.is_null() => {}
            "onProgress" => {
                out.on_progress = Some(
                    v.dyn_into()
                        .map_err(|_| "options.onProgress must be a function".to_string())?,
                )
            }
            "items" if v.is_undefined() || v.is_null() => {}
            "items" => out.items = Some(bytes(&v, "options.items")?),
            other => {
                return Err(format!(
                    "options.{other} is not an option; expected {SHAPE}"
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(mode: Mode, orders: Option<usize>, seed: Option<u64>) -> RankOptions {
        RankOptions { mode, orders, seed }
    }

    #[test]
    fn options_without_a_mode_rank_in_single_pass_as_the_core_does() {
        assert_eq!(mode_of(&RankOptions::default()), Ok(RankMode::Single));
        assert_eq!(RankMode::default(), RankMode::Single);
    }

    #[test]
    fn bootstrap_takes_orders_and_seed_and_the_other_modes_refuse_them() {
        assert_eq!(
            mode_of(&options(Mode::Bootstrap, None, None)),
            Ok(RankMode::Bootstrap {
                orders: DEFAULT_BOOTSTRAP_ORDERS,
                seed: 0
            })
        );
        assert_eq!(
            mode_of(&options(Mode::Bootstrap, Some(3), Some(9))),
            Ok(RankMode::Bootstrap { orders: 3, seed: 9 })
        );
        assert_eq!(
            mode_of(&options(Mode::Single, None, None)),
            Ok(RankMode::Single)
        );
        for bad in [0, MAX_ORDERS + 1] {
            let e = mode_of(&options(Mode::Bootstrap, Some(bad), None)).unwrap_err();
            assert!(e.contains("options.orders"), "{e}");
        }
        let e = mode_of(&options(Mode::Greedy, Some(5), None)).unwrap_err();
        assert!(e.contains("'bootstrap'"), "{e}");
        assert!(mode_of(&options(Mode::Single, None, Some(1))).is_err());
    }
}
