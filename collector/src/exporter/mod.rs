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

/// gzip level when `compression_params.level` is not set. The Collector uses zlib's default
/// (6); on sidecar spans level 1 takes half its CPU for 12 % more bytes (BENCHMARKS.md,
/// `gzip/8200_spans`), and compression is the largest cost of a forwarding collector.
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// `compression_params`, as in the Collector's client settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressionParams {
    /// gzip level: `-1` (zlib's default, 6) or `0` (stored) to `9` (smallest).
    #[serde(default)]
    pub level: Option<i32>,
}

impl CompressionParams {
    /// Checks the level against the compression in use.
    pub fn validate(&self, compression: Compression) -> Vec<ConfigError> {
        match (self.level, compression) {
            (None, _) | (Some(-1..=9), Compression::Gzip) => Vec::new(),
            (Some(l), Compression::Gzip) => vec![
                ConfigError::new(format!(
                    "unsupported gzip level {l} (use -1 for the default, or 0 to 9)"
                ))
                .field("compression_params.level"),
            ],
            (Some(_), Compression::None) => vec![
                ConfigError::new("a compression level needs `compression: gzip`")
                    .field("compression_params.level"),
            ],
        }
    }

    /// The gzip level to compress with.
    pub fn gzip_level(&self) -> u32 {
        match self.level {
            None => DEFAULT_GZIP_LEVEL,
            Some(l) => u32::try_from(l).unwrap_or(6).min(9),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_levels() {
        let p = |level| CompressionParams { level };
        let table = [
            (None, Compression::Gzip, Some(DEFAULT_GZIP_LEVEL)),
            (Some(-1), Compression::Gzip, Some(6)),
            (Some(0), Compression::Gzip, Some(0)),
            (Some(9), Compression::Gzip, Some(9)),
            (Some(10), Compression::Gzip, None),
            (Some(-2), Compression::Gzip, None),
            (Some(1), Compression::None, None),
        ];
        for (level, compression, want) in table {
            let errors = p(level).validate(compression);
            match want {
                Some(l) => {
                    assert!(errors.is_empty(), "{level:?}: {errors:?}");
                    assert_eq!(p(level).gzip_level(), l, "{level:?}");
                }
                None => {
                    assert_eq!(errors.len(), 1, "{level:?}");
                    assert_eq!(errors[0].field.as_deref(), Some("compression_params.level"));
                }
            }
        }
    }
}
