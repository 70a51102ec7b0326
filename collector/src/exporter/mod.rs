//! Exporters: where data leaves. The network exporters send the batch bytes as they are
//! and run behind the [`helper`] (timeout, retry, queue).

mod connector;
pub mod debug;
pub mod file;
pub mod helper;
pub mod otlp_grpc;
pub mod otlp_http;
mod tls;

pub use tls::ClientTlsConfig;

use crate::config::ConfigError;
use std::collections::BTreeMap;

/// Compression for network exporters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip (the default, as in the Collector).
    #[default]
    Gzip,
    /// No compression.
    None,
}

/// Parses the `compression` field: `gzip` (default), `none` or empty.
pub fn parse_compression(v: &str) -> Result<Compression, ConfigError> {
    match v {
        "gzip" => Ok(Compression::Gzip),
        "" | "none" => Ok(Compression::None),
        other => Err(ConfigError::new(format!(
            "unsupported compression {other:?} (supported: gzip, none)"
        ))
        .field("compression")),
    }
}

/// Checks header names and values.
pub fn check_headers(h: &BTreeMap<String, crate::config::Secret>) -> Vec<ConfigError> {
    let mut e = Vec::new();
    for (k, v) in h {
        if http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).is_err() {
            e.push(ConfigError::new(format!("invalid header name {k:?}")).field("headers"));
        }
        if http::HeaderValue::from_str(v.expose()).is_err() {
            // The value may be a secret: name the header, not the value.
            e.push(ConfigError::new(format!("invalid value for header {k:?}")).field("headers"));
        }
    }
    e
}

fn default_compression() -> String {
    "gzip".into()
}
