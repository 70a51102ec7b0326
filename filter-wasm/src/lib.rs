//! meshtrace's proxy-wasm HTTP filter.
