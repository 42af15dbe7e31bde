//! Values across the boundary: Rust structs to JS objects and back through serde-wasm-bindgen,
//! in its JSON-compatible mode (`None` is `null`, maps are plain objects), so the page sees the
//! same shapes the CLI writes as JSON.

use js_sys::Function;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

/// A rejected promise or thrown error carrying the message.
pub(super) fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

pub(super) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error(format!("could not hand the result to the page: {e}")))
}

/// `what` names the value in the error ("config", "stimulus design", …).
pub(super) fn from_js<T: DeserializeOwned>(what: &str, value: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| js_error(format!("{what}: {e}")))
}

/// Long work's progress for the page: `on_progress(done, total)` after each step, if the page
/// passed a function. What the function throws is ignored: a progress bar must not stop the work.
pub(super) fn report(on_progress: &Option<Function>, done: usize, total: usize) {
    if let Some(f) = on_progress {
        let _ = f.call2(
            &JsValue::NULL,
            &JsValue::from(done as u32),
            &JsValue::from(total as u32),
        );
    }
}
