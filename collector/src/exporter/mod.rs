//! Exporters: where data leaves. The network exporters send the batch bytes as they are
//! and run behind the [`helper`] (timeout, retry, queue).

pub mod balance;
mod connector;
pub mod cookies;
pub mod debug;
pub mod file;
pub mod helper;
pub mod loadbalancing;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod proxy;
mod tls;

pub use tls::ClientTlsConfig;

use crate::config::ConfigError;
use std::collections::BTreeMap;

/// An error and its sources, `: `-separated: a transport error says little on its own
/// ("transport error"), its sources say what happened ("Connection refused").
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = String::new();
        for e in std::iter::successors(Some(self.0), |e| e.source()) {
            // Wrappers often print their source as their own message: say it once.
            let next = e.to_string();
            if next != shown {
                if !shown.is_empty() {
                    f.write_str(": ")?;
                }
                f.write_str(&next)?;
                shown = next;
            }
        }
        Ok(())
    }
}

/// Compression for network exporters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip (the default, as in the Collector).
    #[default]
    Gzip,
    /// zstd: about gzip's size at a fraction of its CPU, for backends that take it (another
    /// meshtrace or OpenTelemetry Collector does).
    Zstd,
    /// No compression.
    None,
}

/// Parses the `compression` field: `gzip` (default), `zstd`, `none` or empty.
pub fn parse_compression(v: &str) -> Result<Compression, ConfigError> {
    match v {
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        "" | "none" => Ok(Compression::None),
        other => Err(ConfigError::new(format!(
            "unsupported compression {other:?} (supported: gzip, zstd, none)"
        ))
        .field("compression")),
    }
}

/// How a network exporter compresses what it sends, at which level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// gzip at a level 0–9.
    Gzip(u32),
    /// zstd at a level 1–22.
    Zstd(i32),
}

impl Codec {
    /// The codec for `compression` at `params`' level (`None`: send uncompressed).
    pub fn new(compression: Compression, params: &CompressionParams) -> Option<Codec> {
        match compression {
            Compression::Gzip => Some(Codec::Gzip(params.gzip_level())),
            Compression::Zstd => Some(Codec::Zstd(params.zstd_level())),
            Compression::None => None,
        }
    }

    /// Its name in `Content-Encoding` and `grpc-encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip(_) => "gzip",
            Codec::Zstd(_) => "zstd",
        }
    }

    /// `out` followed by `input` compressed (a gRPC message writes its prefix first).
    pub fn compress_after(self, mut out: Vec<u8>, input: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Codec::Gzip(level) => Ok(crate::otlp::gzip::compress_after(out, input, level)),
            Codec::Zstd(level) => {
                out.reserve(input.len() / 4 + 64);
                zstd::stream::copy_encode(input, &mut out, level)
                    .map_err(|e| format!("zstd compression failed: {e}"))?;
                Ok(out)
            }
        }
    }
}

/// gzip level when `compression_params.level` is not set. The Collector uses zlib's default
/// (6); on sidecar spans level 1 takes half its CPU for 12 % more bytes (BENCHMARKS.md,
/// `gzip/8200_spans`), and compression is the largest cost of a forwarding collector.
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// zstd level when `compression_params.level` is not set: zstd's fastest, for the same reason
/// as [`DEFAULT_GZIP_LEVEL`].
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// `compression_params`, as in the Collector's client settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressionParams {
    /// gzip level: `-1` (zlib's default, 6) or `0` (stored) to `9` (smallest); zstd level:
    /// `1` (fastest) to `22` (smallest).
    #[serde(default)]
    pub level: Option<i32>,
}

impl CompressionParams {
    /// Checks the level against the compression in use.
    pub fn validate(&self, compression: Compression) -> Vec<ConfigError> {
        let error = |m: String| vec![ConfigError::new(m).field("compression_params.level")];
        match (self.level, compression) {
            (None, _) | (Some(-1..=9), Compression::Gzip) | (Some(1..=22), Compression::Zstd) => {
                Vec::new()
            }
            (Some(l), Compression::Gzip) => error(format!(
                "unsupported gzip level {l} (use -1 for the default, or 0 to 9)"
            )),
            (Some(l), Compression::Zstd) => {
                error(format!("unsupported zstd level {l} (use 1 to 22)"))
            }
            (Some(_), Compression::None) => {
                error("a compression level needs `compression: gzip` or `zstd`".into())
            }
        }
    }

    /// The zstd level to compress with.
    pub fn zstd_level(&self) -> i32 {
        self.level.map_or(DEFAULT_ZSTD_LEVEL, |l| l.clamp(1, 22))
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
            (None, Compression::Zstd, Some(DEFAULT_ZSTD_LEVEL as u32)),
            (Some(-1), Compression::Gzip, Some(6)),
            (Some(0), Compression::Gzip, Some(0)),
            (Some(9), Compression::Gzip, Some(9)),
            (Some(10), Compression::Gzip, None),
            (Some(-2), Compression::Gzip, None),
            (Some(1), Compression::None, None),
            (Some(1), Compression::Zstd, Some(1)),
            (Some(22), Compression::Zstd, Some(22)),
            (Some(0), Compression::Zstd, None),
            (Some(23), Compression::Zstd, None),
        ];
        for (level, compression, want) in table {
            let errors = p(level).validate(compression);
            match want {
                Some(l) => {
                    assert!(errors.is_empty(), "{level:?}: {errors:?}");
                    let got = match Codec::new(compression, &p(level)) {
                        Some(Codec::Gzip(l)) => l,
                        Some(Codec::Zstd(l)) => u32::try_from(l).unwrap(),
                        None => unreachable!(),
                    };
                    assert_eq!(got, l, "{level:?}");
                }
                None => {
                    assert_eq!(errors.len(), 1, "{level:?}");
                    assert_eq!(errors[0].field.as_deref(), Some("compression_params.level"));
                }
            }
        }
    }
}
